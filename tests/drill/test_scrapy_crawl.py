"""The real Scrapy strategy through the real proxy (fake time for the guard; Scrapy in its own
process): its own user agent is challenged at once; unguarded (observe mode) it really crawls."""

from __future__ import annotations

import importlib.util

import pytest

from scrapeguard.drill.browser import Unavailable
from scrapeguard.drill.harness import FakeClock, Stage
from scrapeguard.drill.scrapy_crawl import scrapy_crawl
from scrapeguard.drill.strategies import Target, run_strategy

needs_scrapy = pytest.mark.skipif(importlib.util.find_spec("scrapy") is None,
                                  reason="Scrapy is not installed (pip install -e '.[dev]' installs it)")


@needs_scrapy
def test_scrapy_is_challenged_at_its_first_request_and_gets_no_profile() -> None:
    with Stage(members=200, clock=FakeClock()) as stage:
        result = run_strategy("scrapy", stage.target())
        decisions = stage.decisions()
    assert result.profiles == 0
    assert result.tally.first_refusal == 1 and result.tally.actions["challenge"] >= 1
    assert decisions[0]["reasons"][0]["detector"] == "bot_agents"
    assert "Scrapy" in decisions[0]["reasons"][0]["detail"]


@needs_scrapy
def test_unguarded_scrapy_really_crawls_the_profiles_it_finds() -> None:
    with Stage('mode = "observe"\n', members=200, clock=FakeClock()) as stage:
        result = run_strategy("scrapy", stage.target())
    assert result.tally.first_refusal is None
    assert result.profiles >= 40  # the directory's first page links 50 members


def test_without_scrapy_the_strategy_is_skipped_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(Unavailable, match="pip install scrapy"):
        scrapy_crawl(Target("http://127.0.0.1:9", FakeClock()))
