"""The scorecard: its summary (as the regulator report cites it) and its JSON form."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from scrapeguard.drill.scorecard import PersonaScore, Scorecard, StrategyScore, actions_text, duration


def sample() -> Scorecard:
    return Scorecard(
        "built-in demo (loopback)", "<defaults>", "ab" * 32, datetime(2027, 1, 15, 8, 0, tzinfo=UTC),
        "simulated",
        [StrategyScore("curl", "curl in a loop", profiles=0, requests=80, first_refusal=1,
                       first_refusal_seconds=0.0, containment_seconds=0.0, actions={"block": 64, "200": 3}),
         StrategyScore("slow", "low and slow", profiles=41, requests=900, notes={"per_day": [30, 11]}),
         StrategyScore("chromium", "a browser", skipped="no Chromium")],
        [PersonaScore("reader", "a reader", people=1, requests=70),
         PersonaScore("office", "an office", people=20, refused=2, requests=900)])


def test_the_summary_counts_strategies_that_ran_and_the_worst_leak() -> None:
    card = sample()
    assert card.summary() == ("controls tested on 2027-01-15: 2 strategies, 41 profiles leaked at most, "
                              "2 people refused")
    one = Scorecard("demo", "<defaults>", "", card.started_at, "simulated",
                    [StrategyScore("curl", "", profiles=1), *card.strategies[2:]],
                    [PersonaScore("office", "an office", people=20, refused=1)])
    assert one.summary() == ("controls tested on 2027-01-15: 1 strategy, 1 profile leaked at most, "
                             "1 person refused")


def test_the_scorecard_comes_back_from_its_json() -> None:
    card = sample()
    data = json.loads(json.dumps(card.to_dict()))
    assert data["summary"] == {"strategies": 2, "max_profiles": 41, "people_refused": 2,
                               "text": card.summary()}
    assert Scorecard.from_dict(data) == card


def test_actions_and_durations_read_well() -> None:
    assert actions_text({"throttle": 9, "block": 64, "200": 3}) == "200×3 block×64 throttle×9"
    assert [duration(s) for s in (None, 42, 600, 4 * 3600, 3 * 86400)] == ["-", "42 s", "10 min", "4.0 h",
                                                                          "3.0 d"]
