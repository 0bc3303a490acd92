"""agent_list: user agents the policy's own list names (the worked example of "Adding a detector")."""

from __future__ import annotations

import pytest

from scrapeguard.decisions import ALLOW, BLOCK, THROTTLE
from scrapeguard.detectors import REGISTRY, build_detectors
from scrapeguard.detectors.agent_list import AgentList
from scrapeguard.engine import Engine
from scrapeguard.events import Event
from scrapeguard.policy import PolicyError, default_policy, load_policy_text
from scrapeguard.routes import RouteMap

T0 = 1_800_000_000.0
POLICY = load_policy_text('[detectors.agent_list]\nagents = ["ExampleScraper/", "contractor-bot"]\n')
ROUTES = RouteMap(POLICY.routes)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def decide(engine: Engine, path: str, agent: str, ip: str = "198.51.100.7") -> str:
    return engine.decide(Event(ts=T0, ip=ip, path=path, route=ROUTES.match(path), user_agent=agent)).action


def test_it_is_registered_and_off_with_the_shipped_empty_list() -> None:
    assert REGISTRY["agent_list"] is AgentList
    assert "agent_list" not in [d.name for d in build_detectors(default_policy())]
    assert "agent_list" in [d.name for d in build_detectors(POLICY)]


def test_a_listed_agent_is_refused_member_data_and_names_the_entry() -> None:
    engine = Engine(POLICY)
    decision = engine.decide(Event(ts=T0, ip="198.51.100.7", path="/u/alice", route=ROUTES.match("/u/alice"),
                                   user_agent="examplescraper/2.1 (+https://scraper.example)"))
    assert decision.action == BLOCK
    [reason] = [r for r in decision.reasons if r.detector == "agent_list"]
    assert reason.detail == ("user agent 'examplescraper/2.1 (+https://scraper.example)' is on the "
                             "policy's list ('examplescraper/')")


def test_pages_and_unlisted_agents_are_not_judged() -> None:
    engine = Engine(POLICY)
    assert decide(engine, "/jobs", "ExampleScraper/2.1") == ALLOW  # not member data
    assert decide(engine, "/u/alice", BROWSER, ip="198.51.100.8") == ALLOW
    assert decide(engine, "/u/alice", "", ip="198.51.100.9") == ALLOW


def test_its_score_is_the_policys() -> None:
    policy = load_policy_text('[detectors.agent_list]\nagents = ["contractor-bot"]\nscore = 0.6\n')
    engine = Engine(policy)
    assert decide(engine, "/u/alice", "Mozilla/5.0 contractor-bot/1") == THROTTLE


@pytest.mark.parametrize(("text", "key", "message"), [
    ('agents = ["ab"]', "detectors.agent_list.agents[0]", "'ab' is too short"),
    ('agents = "ExampleScraper"', "detectors.agent_list.agents", "must be a list of strings"),
    ("score = 2", "detectors.agent_list.score", "2 is out of range"),
])
def test_bad_options_are_named(text: str, key: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(f"[detectors.agent_list]\n{text}\n", "p.toml")
    [problem] = caught.value.problems
    assert problem.key == key and message in problem.message and problem.line == 2
