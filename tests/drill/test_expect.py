"""Thresholds from drill.toml: what breaks them, and clear errors for a bad file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from scrapeguard.drill.bounds import DrillError
from scrapeguard.drill.expect import Expectations, check, load_expectations
from scrapeguard.drill.scorecard import PersonaScore, Scorecard, StrategyScore


def card(*strategies: StrategyScore, refused: int = 0) -> Scorecard:
    return Scorecard("demo", "<defaults>", "0" * 64, datetime(2027, 1, 15, tzinfo=UTC), "simulated",
                     list(strategies), [PersonaScore("reader", "a reader", people=3, refused=refused)])


def expectations(tmp_path: Path, text: str) -> Expectations:
    path = tmp_path / "drill.toml"
    path.write_text(text)
    return load_expectations(path)


def test_every_threshold_is_checked_and_one_strategy_can_have_its_own(tmp_path: Path) -> None:
    expected = expectations(tmp_path, """
max_profiles = 50
max_requests_until_refusal = 20
[strategy.slow]
max_profiles = 300
max_containment_seconds = 3600
""")
    scores = card(StrategyScore("curl", "", profiles=60, first_refusal=12, containment_seconds=5),
                  StrategyScore("slow", "", profiles=250, first_refusal=30, containment_seconds=None),
                  StrategyScore("fine", "", profiles=50, first_refusal=20, containment_seconds=1))
    failures, notes = check(scores, expected)
    assert failures == ["strategy curl: profiles 60 > 50",
                        "strategy slow: requests_until_refusal 30 > 20",
                        "strategy slow: containment_seconds never > 3600"]
    assert notes == []


def test_a_strategy_never_refused_breaks_a_refusal_threshold(tmp_path: Path) -> None:
    expected = expectations(tmp_path, "max_requests_until_refusal = 1000\n")
    failures, _ = check(card(StrategyScore("quiet", "", profiles=0, first_refusal=None)), expected)
    assert failures == ["strategy quiet: requests_until_refusal never > 1000"]


def test_people_refused_fail_even_without_a_line_for_them(tmp_path: Path) -> None:
    failures, _ = check(card(refused=1), expectations(tmp_path, "max_profiles = 10\n"))
    assert failures == ["people refused: 1 > 0 (reader (1 of 3))"]
    assert check(card(refused=1), expectations(tmp_path, "max_people_refused = 1\n"))[0] == []


def test_skipped_and_missing_strategies_are_noted_not_failed(tmp_path: Path) -> None:
    expected = expectations(tmp_path, "max_profiles = 0\n[strategy.absent]\nmax_profiles = 1\n")
    failures, notes = check(card(StrategyScore("chromium", "", skipped="not installed")), expected)
    assert failures == []
    assert notes == ["strategy absent: expected but not run",
                     "strategy chromium: not checked, skipped (not installed)"]


@pytest.mark.parametrize(("text", "message"), [
    ("max_profile = 3\n", "unknown keys max_profile"),
    ("max_profiles = -1\n", "at least 0"),
    ("max_profiles = 'ten'\n", "at least 0"),
    ("[strategy.curl]\nmax_people_refused = 0\n", r"\[strategy.curl\]: unknown keys max_people_refused"),
    ("max_profiles = \n", "not valid TOML"),
])
def test_a_bad_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DrillError, match=message):
        expectations(tmp_path, text)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DrillError, match="cannot read"):
        load_expectations(tmp_path / "nope.toml")
