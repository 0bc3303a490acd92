"""The drill on a terminal: a progress bar while it runs (stderr) and the scorecard as tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from scrapeguard.drill.run import Step
from scrapeguard.drill.scorecard import Scorecard, actions_text, duration


@contextmanager
def progress_bar(console: Console) -> Iterator[Step]:
    """A `step` callback for `run_drill` drawing a progress bar on `console` (nothing when it is not
    a terminal)."""
    with Progress(TextColumn("drill {task.description:<24}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task("", total=None)

        def step(name: str, done: int, total: int) -> None:
            bar.update(task, description=name, completed=done, total=total)

        yield step


def scorecard_tables(card: Scorecard) -> list[Table | str]:
    """What `scrapeguard drill` prints: a heading, the strategies' table, the personas' table."""
    clock = "simulated clock" if card.clock == "simulated" else "real time"
    heading = (f"drill of {card.target}, policy {card.policy} (sha256 {card.policy_hash[:12]}), "
               f"{card.started_at:%Y-%m-%d %H:%M} UTC, {clock}")
    strategies = Table("strategy", "profiles leaked", "requests until first refusal", "contained after",
                       "actions seen", box=box.SIMPLE_HEAD, title_justify="left")
    for s in card.strategies:
        if s.skipped is not None:
            strategies.add_row(s.name, "-", "skipped", "-", s.skipped)
            continue
        first = "never" if s.first_refusal is None else \
            f"{s.first_refusal} of {s.requests} ({duration(s.first_refusal_seconds)})"
        contained = "not contained" if s.containment_seconds is None else duration(s.containment_seconds)
        seen = actions_text(s.actions) + (f" ({s.stopped})" if s.stopped else "")
        strategies.add_row(s.name, str(s.profiles), first, contained, seen)
    personas = Table("persona", "people refused", "requests", "actions seen", box=box.SIMPLE_HEAD)
    for p in card.personas:
        personas.add_row(p.name, f"{p.refused} of {p.people}", str(p.requests),
                         actions_text(p.actions) + (f" ({p.stopped})" if p.stopped else ""))
    return [heading, strategies, personas, card.summary()]
