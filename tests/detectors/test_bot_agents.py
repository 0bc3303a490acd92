"""bot_agents on realistic traffic: real and fake search crawlers, AI crawlers, tools, people."""

from __future__ import annotations

import threading

from scrapeguard.decisions import ALLOW, BLOCK, CHALLENGE
from scrapeguard.detectors.bot_agents import BotAgents
from scrapeguard.detectors.profile_quota import ProfileQuota
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.intel.crawlers import PENDING, SEARCH_CRAWLERS, VERIFIED, CrawlerVerifier, Resolver
from scrapeguard.policy import Policy, default_policy, load_policy_text
from scrapeguard.routes import RouteMap

T0 = 1_800_000_000.0
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GPTBOT = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
LYNX = "Lynx/2.9.0dev.12 libwww-FM/2.14 SSL-MM/1.4.1 GNUTLS/3.7.8"  # a text browser, no JavaScript
NVDA_CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/131.0.0.0 Safari/537.36")  # screen readers use an ordinary browser


class FakeDNS(Resolver):
    """Reverse and forward DNS from a table (no network in tests)."""

    def __init__(self, reverse: dict[str, str], forward: dict[str, list[str]]) -> None:
        self.reverse_table, self.forward_table = reverse, forward
        self.asked: list[str] = []

    def reverse(self, ip: str) -> str | None:
        self.asked.append(ip)
        return self.reverse_table.get(ip)

    def forward(self, host: str) -> list[str]:
        return self.forward_table.get(host, [])


def engine_with(dns: Resolver | None, policy: Policy | None = None, background: bool = False) -> Engine:
    policy = policy or default_policy()
    quota = ProfileQuota.from_policy(policy)
    assert quota is not None
    bots = BotAgents(policy.bot_agents, CrawlerVerifier(dns, background=background))
    return Engine(policy, detectors=[quota, bots])


def crawl(engine: Engine, ip: str, ua: str, profiles: int, step: float = 1.0) -> list[str]:
    routes = RouteMap(engine.policy.routes)
    actions = []
    for i in range(profiles):
        path = f"/u/member{i}"
        actions.append(engine.decide(Event(ts=T0 + i * step, ip=ip, path=path, route=routes.match(path),
                                           user_agent=ua)).action)
    return actions


def test_real_googlebot_in_published_ranges_is_never_counted() -> None:
    engine = engine_with(None)
    assert set(crawl(engine, "66.249.66.1", GOOGLEBOT, 500)) == {ALLOW}
    assert engine.counts["exempt.bot_agents"] == 500


def test_real_googlebot_outside_the_ranges_is_recognised_by_reverse_dns() -> None:
    dns = FakeDNS({"192.0.2.80": "crawl-192-0-2-80.googlebot.com"},
                  {"crawl-192-0-2-80.googlebot.com": ["192.0.2.80"]})
    engine = engine_with(dns)
    assert set(crawl(engine, "192.0.2.80", GOOGLEBOT, 200)) == {ALLOW}
    assert dns.asked == ["192.0.2.80"]  # asked once, then remembered


def test_a_fake_googlebot_is_blocked_as_a_liar() -> None:
    dns = FakeDNS({"203.0.113.5": "host5.cheap-vps.example"}, {})
    engine = engine_with(dns)
    routes = RouteMap(engine.policy.routes)
    decision = engine.decide(Event(ts=T0, ip="203.0.113.5", path="/u/anna", route=routes.match("/u/anna"),
                                   user_agent=GOOGLEBOT))
    assert decision.action == BLOCK
    assert decision.reasons[0].detector == "bot_agents"
    assert "claims to be Googlebot but 203.0.113.5 is not Google's" in decision.reasons[0].detail


def test_reverse_dns_that_does_not_resolve_back_is_not_believed() -> None:
    dns = FakeDNS({"203.0.113.6": "crawl-1.googlebot.com"}, {"crawl-1.googlebot.com": ["66.249.66.9"]})
    assert crawl(engine_with(dns), "203.0.113.6", GOOGLEBOT, 1) == [BLOCK]


def test_search_engines_can_be_counted_like_anyone() -> None:
    policy = load_policy_text('[detectors.bot_agents]\nsearch_engines = "count"\n', "p.toml")
    actions = crawl(engine_with(None, policy), "66.249.66.1", GOOGLEBOT, 100)
    assert actions.count(ALLOW) == 60


def test_ai_training_crawlers_are_refused_unless_the_policy_allows_them() -> None:
    assert crawl(engine_with(None), "198.51.100.20", GPTBOT, 3) == [BLOCK] * 3
    policy = load_policy_text("[detectors.bot_agents]\nrefuse_ai_training = false\n", "p.toml")
    assert crawl(engine_with(None, policy), "198.51.100.20", GPTBOT, 100).count(ALLOW) == 60


def test_a_scraping_tool_asking_for_member_data_is_challenged_at_once() -> None:
    engine = engine_with(None)
    routes = RouteMap(engine.policy.routes)
    decisions = [engine.decide(Event(ts=T0 + i, ip="198.51.100.30", path=f"/u/m{i}",
                                     route=routes.match(f"/u/m{i}"), user_agent="python-requests/2.32.3"))
                 for i in range(5)]
    assert [d.action for d in decisions] == [CHALLENGE] * 5
    assert "scraping tool (python-requests)" in decisions[0].reasons[0].detail
    # pages that show no member data are not its business
    assert engine.decide(Event(ts=T0 + 9, ip="198.51.100.30", path="/jobs", route=routes.match("/jobs"),
                               user_agent="python-requests/2.32.3")).action == ALLOW


def test_with_challenges_off_a_scraping_tool_is_named_in_the_refusal_but_not_refused_alone() -> None:
    policy = load_policy_text("[challenge]\nenabled = false\n[detectors.automation]\nenabled = false\n",
                              "p.toml")
    engine = engine_with(None, policy)
    routes = RouteMap(engine.policy.routes)
    decisions = [engine.decide(Event(ts=T0 + i, ip="198.51.100.30", path=f"/u/m{i}",
                                     route=routes.match(f"/u/m{i}"), user_agent="python-requests/2.32.3"))
                 for i in range(61)]
    assert [d.action for d in decisions[:60]] == [ALLOW] * 60
    assert {r.detector for r in decisions[60].reasons} == {"profile_quota", "bot_agents"}
    assert "scraping tool (python-requests)" in decisions[60].reasons[1].detail


def test_people_are_not_flagged() -> None:
    for ua in (FIREFOX, LYNX, NVDA_CHROME):
        engine = engine_with(None)
        assert set(crawl(engine, "192.0.2.44", ua, 40, step=30)) == {ALLOW}, ua


def test_signals_only_on_member_data() -> None:
    engine = engine_with(FakeDNS({}, {}))
    routes = RouteMap(engine.policy.routes)
    for path in ("/static/site.css", "/", "/jobs", "/robots.txt"):
        assert engine.decide(Event(ts=T0, ip="203.0.113.7", path=path, route=routes.match(path),
                                   user_agent=GOOGLEBOT)).action == ALLOW


NIKTO = "Mozilla/5.00 (Nikto/2.1.5) (Evasions:None) (Test:Port Check)"  # as CrowdSec's hub test logs it
SQLMAP = "sqlmap/1.8.2#stable (https://sqlmap.org)"


def test_vulnerability_scanners_are_blocked_on_any_route() -> None:
    # they probe pages, login and admin URLs before any member page: refused there too, with a reason
    engine = engine_with(None)
    routes = RouteMap(engine.policy.routes)
    for ip, ua in (("203.0.113.8", NIKTO), ("203.0.113.9", SQLMAP)):
        for path in ("/", "/login", "/wp-login.php", "/u/member1"):
            decision = engine.decide(Event(ts=T0, ip=ip, path=path, route=routes.match(path), user_agent=ua))
            assert decision.action == BLOCK, (ua, path)
            assert decision.reasons[0].detail.startswith("vulnerability scanner (")


def test_people_and_ordinary_tools_on_pages_are_not_taken_for_scanners() -> None:
    engine = engine_with(None)
    routes = RouteMap(engine.policy.routes)
    for ua in (FIREFOX, LYNX, NVDA_CHROME, "curl/8.5.0", "python-requests/2.32.3", "-", ""):
        for path in ("/", "/login", "/jobs"):
            assert engine.decide(Event(ts=T0, ip="192.0.2.45", path=path, route=routes.match(path),
                                       user_agent=ua)).action == ALLOW, (ua, path)


def test_scanner_score_zero_switches_the_scanner_signal_off() -> None:
    policy = load_policy_text("[detectors.bot_agents]\nscanner_score = 0\n", "p.toml")
    engine = engine_with(None, policy)
    routes = RouteMap(policy.routes)
    assert engine.decide(Event(ts=T0, ip="203.0.113.8", path="/", route=routes.match("/"),
                               user_agent=NIKTO)).action == ALLOW


def test_live_verification_does_not_wait_for_dns() -> None:
    release = threading.Event()

    class SlowDNS(FakeDNS):
        def reverse(self, ip: str) -> str | None:
            release.wait(5)
            return super().reverse(ip)

    dns = SlowDNS({"192.0.2.90": "crawl.googlebot.com"}, {"crawl.googlebot.com": ["192.0.2.90"]})
    verifier = CrawlerVerifier(dns, background=True)
    googlebot = SEARCH_CRAWLERS[0]
    assert verifier.verify("192.0.2.90", googlebot) == PENDING  # judged neither way meanwhile
    release.set()
    for _ in range(100):
        if verifier.verify("192.0.2.90", googlebot) == VERIFIED:
            break
        threading.Event().wait(0.02)
    assert verifier.verify("192.0.2.90", googlebot) == VERIFIED
