"""Running a drill: plug-in strategies, the demo on a fake clock, a target in real time within bounds."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from scrapeguard.drill.bounds import DrillError
from scrapeguard.drill.harness import Stage
from scrapeguard.drill.run import DrillSettings, load_plugin, policy_hash, run_drill
from scrapeguard.drill.strategies import REGISTRY, Strategy

#: A team's own strategy, as a module of theirs: a walk over the API with their client's headers.
PLUGIN = '''
from scrapeguard.drill.client import Tally, Visitor
from scrapeguard.drill.strategies import Result, Strategy, Target, walk_from_mapping, run_walk


def _their_bot(target: Target) -> Result:
    return run_walk(walk_from_mapping({"like": "chrome", "user_agent": "TeamBot/1.0",
                                       "targets": "ids", "order": "sequential", "count": 30}), target)


THEIR_BOT = Strategy("team-bot", "our partner's bot, with its own user agent", _their_bot)
'''


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module `team_strategies` on the path; the registry as it was afterwards."""
    (tmp_path / "team_strategies.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    before = dict(REGISTRY)
    yield "team_strategies"
    REGISTRY.clear()
    REGISTRY.update(before)
    sys.modules.pop("team_strategies", None)


def test_a_strategy_added_as_a_plug_in_runs_in_the_drill(plugin_module: str) -> None:
    settings = DrillSettings(strategies=["team-bot"], personas=[], plugins=[f"{plugin_module}:THEIR_BOT"])
    card = run_drill(settings)
    [score] = card.strategies
    assert score.name == "team-bot" and score.description.startswith("our partner's bot")
    assert score.requests == 30
    # member data behind the default policy: refused before the bot had it all
    assert score.first_refusal is not None and score.profiles < 30
    assert sum(score.actions.values()) == 30


def test_plug_in_errors_are_clear(plugin_module: str) -> None:
    with pytest.raises(DrillError, match="cannot import"):
        load_plugin("no_such_module_here:X")
    with pytest.raises(DrillError, match="has no 'NOPE'"):
        load_plugin(f"{plugin_module}:NOPE")
    with pytest.raises(DrillError, match=r"not a scrapeguard\.drill\.Strategy"):
        load_plugin(f"{plugin_module}:_their_bot")
    module = __import__(plugin_module)
    module.CLASH = Strategy("curl", "another curl", module._their_bot)
    with pytest.raises(DrillError, match="a strategy named 'curl' is already registered"):
        load_plugin(f"{plugin_module}:CLASH")


def test_strategies_as_data_from_a_toml_file(tmp_path: Path) -> None:
    walks = tmp_path / "walks.toml"
    walks.write_text("""
[strategy.partner-feed]
description = "the partner's feed reader over member ids"
like = "curl"
user_agent = "PartnerFeed/2.0"
targets = "ids"
order = "sequential"
count = 12
""")
    before = dict(REGISTRY)
    try:
        card = run_drill(DrillSettings(strategies=["partner-feed"], personas=[], plugins=[str(walks)]))
    finally:
        REGISTRY.clear()
        REGISTRY.update(before)
    [score] = card.strategies
    assert score.description == "the partner's feed reader over member ids" and score.requests == 12
    walks.write_text('[strategy.bad]\norder = "backwards"\n')
    with pytest.raises(DrillError, match=r"\[strategy.bad\]: order = 'backwards'"):
        load_plugin(str(walks))


def test_unknown_names_are_refused_before_anything_runs() -> None:
    with pytest.raises(DrillError, match="unknown strategies: nope"):
        run_drill(DrillSettings(strategies=["curl", "nope"], personas=[]))
    with pytest.raises(DrillError, match="unknown personas: ghost"):
        run_drill(DrillSettings(strategies=[], personas=["ghost"]))


def test_an_external_target_needs_the_owners_statement() -> None:
    with pytest.raises(DrillError, match="--i-own-this-site"):
        run_drill(DrillSettings(target="http://192.0.2.1/", strategies=["curl"], personas=[]))


def test_a_target_runs_in_real_time_and_a_strategy_stops_at_its_budget() -> None:
    with Stage(members=100) as stage:
        settings = DrillSettings(target=stage.url, strategies=["curl", "headless-chromium"],
                                 personas=["reader"], max_rate=200, max_requests=5)
        card = run_drill(settings)
    curl, chromium = card.strategies
    assert card.clock == "real"
    assert curl.requests == 5 and curl.stopped == "stopped: 5 requests (--max-requests)"
    assert card.personas[0].stopped == "stopped: 5 requests (--max-requests)"
    assert chromium.skipped is not None or chromium.requests <= 5


def test_the_policy_hash_names_the_file_laid_over_the_defaults(tmp_path: Path) -> None:
    one, two = tmp_path / "one.toml", tmp_path / "two.toml"
    one.write_text('mode = "observe"\n')
    two.write_text('mode = "enforce"\n')
    assert len({policy_hash(None), policy_hash(one), policy_hash(two)}) == 3
    assert policy_hash(one) == policy_hash(one)
