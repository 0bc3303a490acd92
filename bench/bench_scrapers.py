"""Benchmark: how far each scraping strategy gets, and whether any person is refused.

Run: `make bench-scrapers` (or `.venv/bin/python bench/bench_scrapers.py [--only NAME ...]
[--policy FILE] [--json]`).

Every strategy (scrapeguard.drill.strategies and its plug-ins) and every persona
(scrapeguard.drill.personas) runs as `scrapeguard drill --strategies all --personas all`
does: against its own fresh demo site and guard (default policy unless --policy), on
loopback, with a fake clock: pauses of seconds to days pass at once, the same way every
run. Prints the drill's scorecard, then each strategy's profiles per day where it notes
them, and the wall time each took.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rich.console import Console

from scrapeguard.drill.personas import PERSONAS
from scrapeguard.drill.run import DrillSettings, run_drill
from scrapeguard.drill.strategies import REGISTRY
from scrapeguard.drill.terminal import scorecard_tables


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="strategies and personas to run (default: all; `scrapeguard drill --strategies "
                             "list` names the strategies)")
    parser.add_argument("--policy", type=Path, help="a policy file (laid over the defaults)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the guard's start-up warnings are not results
    import scrapeguard.drill.run  # noqa: F401 (registers the plug-in strategies)

    names = args.only or [*REGISTRY, *PERSONAS]
    unknown = [n for n in names if n not in REGISTRY and n not in PERSONAS]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    settings = DrillSettings(policy_path=args.policy, strategies=[n for n in names if n in REGISTRY],
                             personas=[n for n in names if n in PERSONAS], max_seconds=24 * 3600,
                             max_requests=1_000_000)

    def step(name: str, done: int, total: int) -> None:
        if name:
            print(f"  {done + 1}/{total}: {name}", file=sys.stderr, flush=True)

    card = run_drill(settings, step)
    if args.json:
        print(json.dumps(card.to_dict(), indent=2))
    else:
        out = Console(width=160)
        for part in scorecard_tables(card):
            out.print(part)
        for s in card.strategies:
            if s.notes.get("per_day"):
                out.print(f"{s.name}: profiles per day {s.notes['per_day']}")
        out.print("wall seconds: " + ", ".join(f"{r.name} {r.wall_seconds:.1f}"
                                               for r in [*card.strategies, *card.personas]))
    return 1 if card.people_refused else 0


if __name__ == "__main__":
    sys.exit(main())
