"""Run a drill: named strategies and personas against the built-in demo or a target, into a
`Scorecard`.

Against the built-in demo (no target) every strategy and persona gets its own
fresh demo site and guard on loopback, on a fake clock: a week of "low and
slow" takes seconds, the same way every run. Against a target, they run in
real time, one after the other, within the drill's bounds (`bounds`).
"""

from __future__ import annotations

import hashlib
import importlib
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path

import httpx

import scrapeguard.drill.accounts  # registers the account and contact-form strategies
import scrapeguard.drill.browser
import scrapeguard.drill.scrapy_crawl  # noqa: F401 (registers the real Scrapy strategy)
from scrapeguard.drill.bounds import (
    DEFAULT_MAX_RATE,
    DEFAULT_MAX_REQUESTS,
    DEFAULT_MAX_SECONDS,
    BoundedClock,
    DrillError,
    TimeUp,
    check_target,
    is_loopback_url,
)
from scrapeguard.drill.browser import Unavailable
from scrapeguard.drill.client import Tally
from scrapeguard.drill.harness import FakeClock, Stage, WallClock
from scrapeguard.drill.personas import PERSONAS, PersonaResult, run_persona
from scrapeguard.drill.scorecard import PersonaScore, Scorecard, StrategyScore
from scrapeguard.drill.strategies import (
    REGISTRY,
    Result,
    Strategy,
    Target,
    register,
    run_strategy,
    walk_from_mapping,
    walk_strategy,
)
from scrapeguard.policy import Policy, default_policy, load_policy

#: Entry point group of strategy plug-ins: each names a `Strategy` (registered) or a module
#: whose import registers some (`@strategy(...)`).
ENTRY_POINT_GROUP = "scrapeguard.drill_strategies"

#: What `scrapeguard drill` runs unless told: one strategy of each kind, and every persona.
DEFAULT_STRATEGIES = (
    "python-requests",       # a library client
    "curl",                  # a declared scripting tool
    "browser-headers-css",   # a browser-like HTTP client (Chrome's headers, cookies, stylesheets)
    "browser-headers",       # a page-only client with browser headers
    "low-and-slow",          # one address, a week at 55 profiles an hour
    "distributed",           # 100 addresses in 100 /24s, rotating user agents
    "fresh-accounts",        # fresh-account enumeration
    "lookup-sweep",          # a contact look-up sweep
    "signup-probe",          # sign-up form probing
    "scrapy-default",        # Scrapy's headers and crawl order (imitated: runs everywhere)
    "scrapy",                # a real Scrapy crawl, where Scrapy is installed
    "group-members",         # a member walking every chat room's member list
    "headless-chromium",     # Playwright and Chromium, where installed
)
DEFAULT_PERSONAS = ("reader", "office-nat", "recruiter", "no-javascript", "screen-reader")
#: Strategies that send from many loopback source addresses (127.x.y.z): on loopback targets only.
LOOPBACK_SOURCES = frozenset({"distributed", "residential", "residential-slices"})


@dataclass
class DrillSettings:
    """What to run, against what, within which bounds (the options of `scrapeguard drill`)."""

    target: str | None = None
    policy_path: Path | None = None
    strategies: Sequence[str] = DEFAULT_STRATEGIES
    personas: Sequence[str] = DEFAULT_PERSONAS
    i_own_this_site: bool = False
    #: Requests a second (clock time); against the demo's fake clock, None (as fast as it answers).
    max_rate: float | None = DEFAULT_MAX_RATE
    max_seconds: float = DEFAULT_MAX_SECONDS
    max_requests: int = DEFAULT_MAX_REQUESTS
    #: The member id space of an external target (the demo's is each strategy's own).
    members: int = 1000
    plugins: Sequence[str] = field(default_factory=tuple)


Step = Callable[[str, int, int], None]


def load_walks(path: Path) -> list[str]:
    """Strategies as data: each `[strategy.NAME]` table of a TOML file is a `Walk` (see
    `walk_from_mapping`) with a `description`. Returns their names."""
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8")).get("strategy", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DrillError(f"--plugin {path}: cannot read it ({exc})") from exc
    if not isinstance(tables, dict) or not tables:
        raise DrillError(f"--plugin {path}: no [strategy.NAME] tables")
    added = []
    for name, table in tables.items():
        fields = dict(table)
        description = str(fields.pop("description", f"{name} (from {path.name})"))
        try:
            walk_strategy(name, description, walk_from_mapping(fields))
        except (ValueError, TypeError) as exc:
            raise DrillError(f"--plugin {path} [strategy.{name}]: {exc}") from exc
        added.append(name)
    return added


def load_plugin(spec: str) -> list[str]:
    """Load `module` or `module:attr`: importing the module registers what it declares with
    `@strategy`; `attr` may name a `Strategy` (or a list of them) to register. A path ending in
    .toml is walks as data (`load_walks`). Returns the names of the strategies it added."""
    if spec.endswith(".toml"):
        return load_walks(Path(spec))
    module_name, _, attr = spec.partition(":")
    before = set(REGISTRY)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DrillError(f"--plugin {spec!r}: cannot import {module_name!r} ({exc})") from exc
    if attr:
        try:
            found = getattr(module, attr)
        except AttributeError:
            raise DrillError(f"--plugin {spec!r}: {module_name} has no {attr!r}") from None
        entries = found if isinstance(found, list | tuple) else [found]
        for entry in entries:
            if not isinstance(entry, Strategy):
                raise DrillError(f"--plugin {spec!r}: {entry!r} is not a scrapeguard.drill.Strategy")
            if REGISTRY.get(entry.name) is not entry:
                try:
                    register(entry)
                except ValueError as exc:
                    raise DrillError(f"--plugin {spec!r}: {exc}") from exc
    return [name for name in REGISTRY if name not in before]


def load_entry_points() -> list[str]:
    """Strategies installed packages declare under the `scrapeguard.drill_strategies` group."""
    added = []
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        added += load_plugin(point.value)
    return added


def policy_hash(policy_path: Path | None) -> str:
    """SHA-256 of what the policy is made of: the shipped defaults, then the policy file laid
    over them (none: the defaults alone)."""
    digest = hashlib.sha256(resources.files("scrapeguard.policy").joinpath("defaults.toml").read_bytes())
    if policy_path is not None:
        digest.update(b"\0" + policy_path.read_bytes())
    return digest.hexdigest()


def check_names(settings: DrillSettings) -> None:
    unknown = [n for n in settings.strategies if n not in REGISTRY]
    if unknown:
        raise DrillError(f"unknown strategies: {', '.join(unknown)} (known: {', '.join(REGISTRY)})")
    unknown = [n for n in settings.personas if n not in PERSONAS]
    if unknown:
        raise DrillError(f"unknown personas: {', '.join(unknown)} (known: {', '.join(PERSONAS)})")


def run_drill(settings: DrillSettings, step: Step | None = None,
              now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Scorecard:
    """Run the drill `settings` describe; `step(name, done, total)` before each strategy or persona."""
    for spec in settings.plugins:
        load_plugin(spec)
    load_entry_points()
    check_names(settings)
    if settings.target is not None:
        check_target(settings.target, settings.i_own_this_site)
    policy = load_policy(settings.policy_path) if settings.policy_path else default_policy()
    simulated = settings.target is None
    # against the demo the clock is fake: pacing it would only change what the strategies do
    clock = BoundedClock(FakeClock() if simulated else WallClock(),
                         None if simulated else settings.max_rate, settings.max_seconds,
                         settings.max_requests)
    card = Scorecard(target=settings.target or "built-in demo (loopback)", policy=policy.source,
                     policy_hash=policy_hash(settings.policy_path), started_at=now(),
                     clock="simulated" if simulated else "real")
    total = len(settings.strategies) + len(settings.personas)
    for done, name in enumerate([*settings.strategies, *settings.personas]):
        if step is not None:
            step(name, done, total)
        is_strategy = done < len(settings.strategies)
        clock.restart()
        started = time.perf_counter()
        if is_strategy:
            card.strategies.append(_strategy(name, settings, policy, clock))
            card.strategies[-1].wall_seconds = time.perf_counter() - started
        else:
            card.personas.append(_persona(name, settings, policy, clock))
            card.personas[-1].wall_seconds = time.perf_counter() - started
    if step is not None:
        step("", total, total)
    return card


def _target(settings: DrillSettings, clock: BoundedClock, members: int, stage: Stage | None) -> Target:
    """The demo stage's guard, or the drill's target (then its member count is the option's)."""
    if stage is not None:
        return Target(stage.url, clock, members=members)
    assert settings.target is not None
    return Target(settings.target.rstrip("/"), clock, members=settings.members)


def _strategy(name: str, settings: DrillSettings, policy: Policy, clock: BoundedClock) -> StrategyScore:
    entry = REGISTRY[name]
    if name in LOOPBACK_SOURCES and settings.target is not None and not is_loopback_url(settings.target):
        return StrategyScore.not_run(entry, "sends from loopback source addresses: loopback targets only")
    stage = Stage(policy, members=entry.members, clock=clock) if settings.target is None else None
    try:
        if stage is not None:
            stage.start()
        target = _target(settings, clock, entry.members, stage)
        started = clock.time()
        try:
            result = run_strategy(name, target)
            stopped = None
        except Unavailable as exc:
            return StrategyScore.not_run(entry, str(exc))
        except (TimeUp, httpx.HTTPError) as exc:
            result = Result(name, clock.last_tally or Tally(), seconds=clock.time() - started)
            stopped = f"stopped: {exc}"
    finally:
        if stage is not None:
            stage.stop()
    return StrategyScore.of(entry, result, stopped)


def _persona(name: str, settings: DrillSettings, policy: Policy, clock: BoundedClock) -> PersonaScore:
    entry = PERSONAS[name]
    stage = Stage(policy, members=entry.members, clock=clock) if settings.target is None else None
    try:
        if stage is not None:
            stage.start()
        target = _target(settings, clock, entry.members, stage)
        try:
            outcome = run_persona(name, target)
            stopped = None
        except (TimeUp, httpx.HTTPError) as exc:
            outcome = PersonaResult(name, tally=clock.last_tally or Tally())
            stopped = f"stopped: {exc}"
    finally:
        if stage is not None:
            stage.stop()
    return PersonaScore.of(entry, outcome, stopped)
