"""User-agent classification and the shipped published ranges."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrapeguard.intel.crawlers import (
    AI_OTHER,
    AI_TRAINING,
    BROWSER,
    CRAWLER,
    EMPTY,
    PENDING,
    SEARCH,
    TOOL,
    UNVERIFIED,
    CrawlerVerifier,
    Resolver,
    classify,
    published_ranges,
    scanner_name,
)
from scrapeguard.intel.networks import NetworkSet


@pytest.mark.parametrize("ua,kind,name", [
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", SEARCH, "Googlebot"),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", SEARCH, "Bingbot"),
    ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", SEARCH, "DuckDuckBot"),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
     AI_TRAINING, "GPTBot"),
    ("Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)", AI_TRAINING, "ClaudeBot"),
    ("CCBot/2.0 (https://commoncrawl.org/faq/)", AI_TRAINING, "CCBot"),
    ("Mozilla/5.0 (compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)", AI_OTHER,
     "PerplexityBot"),
    ("python-requests/2.32.3", TOOL, "python-requests"),
    ("curl/8.5.0", TOOL, "curl"),
    ("Scrapy/2.11.0 (+https://scrapy.org)", TOOL, "Scrapy"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 "
     "Safari/537.36", TOOL, "HeadlessChrome"),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", CRAWLER, None),
    ("", EMPTY, ""),
    ("-", EMPTY, ""),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", BROWSER, ""),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Mobile/15E148 Safari/604.1", BROWSER, ""),
    # apps people use, which crawler lists match by mistake (from isbot's browser list)
    ("Mozilla/5.0 (Windows NT 10.0.18362; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Slack/4.4.2 "
     "Chrome/78.0.3904.130 Electron/7.2.1 Safari/537.36", BROWSER, ""),
    ("Mozilla/5.0 (Linux; Android 15; CPH2557 Build/AP3A.240617.008; wv) AppleWebKit/537.36 "
     "(KHTML, like Gecko) Version/4.0 Chrome/142.0.7444.142 Mobile Safari/537.36", BROWSER, ""),
    ("Viber/12.8.0.1 CFNetwork/1121.2.2 Darwin/19.3.0", BROWSER, ""),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Code/1.115.0 "
     "Chrome/142.0.7444.265 Electron/39.8.5 Safari/537.36", BROWSER, ""),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Mobile/15E148 [FBAN/FBIOS;FBAV/440.0.0.34.103]", BROWSER, ""),
])
def test_classify(ua: str, kind: str, name: str | None) -> None:
    agent = classify(ua)
    assert agent.kind == kind
    if name is not None:
        assert agent.name == name


@pytest.mark.parametrize("ua,name", [
    ("Mozilla/5.00 (Nikto/2.1.5) (Evasions:None) (Test:Port Check)", "Nikto"),
    ("sqlmap/1.1.8.2#dev (http://sqlmap.org)", "sqlmap"),
    ("WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)", "WPScan"),
    ("Nuclei - Open-source project (github.com/projectdiscovery/nuclei)", "Nuclei"),
    ("curl/8.5.0", None),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", None),
    ("", None),
])
def test_scanner_name(ua: str, name: str | None) -> None:
    assert scanner_name(ua) == name
    if name is not None:
        assert classify(ua).kind == TOOL  # still a tool for the survey and the member-data signal


def test_operators_are_plain_names() -> None:
    assert classify("GPTBot/1.2").operator == "OpenAI"


def test_shipped_ranges() -> None:
    google = published_ranges("googlebot")
    assert "66.249.66.1" in google and "2001:4860:4801:10::1" in google
    assert "203.0.113.1" not in google and "not an ip" not in google
    assert "157.55.39.1" in published_ranges("bing")


def test_network_set_merges_and_bisects() -> None:
    nets = NetworkSet(["10.0.0.0/24", "10.0.1.0/24", "# comment", "", "2001:db8::/32", "192.0.2.7"])
    assert len(nets) == 3  # the two /24s merge
    assert "10.0.1.255" in nets and "10.0.2.0" not in nets
    assert "2001:db8:ffff::1" in nets and "192.0.2.7" in nets and "192.0.2.8" not in nets


@given(st.text(max_size=300))
def test_any_user_agent_is_classified(ua: str) -> None:
    assert classify(ua).kind in (SEARCH, AI_TRAINING, AI_OTHER, TOOL, CRAWLER, EMPTY, BROWSER)


def test_googlebot_reverse_dns_must_be_google_not_google_cloud_customers() -> None:
    from scrapeguard.intel.crawlers import SEARCH_CRAWLERS
    googlebot = next(c for c in SEARCH_CRAWLERS if c.name == "Googlebot")
    assert not any(suffix.endswith("googleusercontent.com") for suffix in googlebot.rdns)

    class CloudVM(Resolver):  # anyone's Google Cloud machine reverse-resolves like this
        def reverse(self, ip: str) -> str | None:
            return "9.8.7.6.bc.googleusercontent.com"

        def forward(self, host: str) -> list[str]:
            return ["6.7.8.9"]

    verifier = CrawlerVerifier(CloudVM(), range_source=lambda name: NetworkSet())
    assert verifier.verify("6.7.8.9", googlebot) == UNVERIFIED


def test_background_verification_is_bounded_and_gives_up_on_slow_answers(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from scrapeguard.intel import crawlers

    release = threading.Event()

    class Hanging(Resolver):
        def reverse(self, ip: str) -> str | None:
            release.wait(5)
            return None

    googlebot = crawlers.SEARCH_CRAWLERS[0]
    verifier = CrawlerVerifier(Hanging(), background=True, range_source=lambda name: NetworkSet())
    monkeypatch.setattr(crawlers, "MAX_PENDING", 3)
    verdicts = [verifier.verify(f"203.0.113.{i}", googlebot) for i in range(5)]
    assert verdicts == [PENDING] * 3 + [UNVERIFIED] * 2
    assert verifier.verify("203.0.113.0", googlebot) == PENDING  # still waiting, not queued twice
    monkeypatch.setattr(crawlers, "PENDING_SECONDS", 0.0)
    assert verifier.verify("203.0.113.0", googlebot) == UNVERIFIED  # too slow: not believed meanwhile
    release.set()
