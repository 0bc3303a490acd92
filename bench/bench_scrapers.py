"""Benchmark: how far each scraping strategy gets, and whether any person is refused.

Run: `make bench-scrapers` (or `.venv/bin/python bench/bench_scrapers.py [--only NAME ...]
[--policy FILE] [--json]`).

Every strategy (scrapeguard.drill.strategies) and every persona
(scrapeguard.drill.personas) runs against its own fresh demo site and guard
(default policy unless --policy), on loopback, with a fake clock: pauses of
seconds to days pass at once, the same way every run. Prints one table:
strategy | profiles leaked | requests until first refusal | actions seen, then
persona | people refused.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from scrapeguard.drill.harness import FakeClock, Stage
from scrapeguard.drill.personas import PERSONAS, run_persona
from scrapeguard.drill.strategies import REGISTRY, run_strategy
from scrapeguard.policy import Policy, default_policy, load_policy


def actions_text(actions: Counter[str]) -> str:
    """'200×60 throttle×9 block×81': statuses first, then the guard's actions."""
    order = sorted(actions, key=lambda a: (not a.isdigit(), a))
    return " ".join(f"{a}×{actions[a]}" for a in order)


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def run(names: list[str], policy: Policy) -> dict[str, Any]:
    rows: dict[str, Any] = {"strategies": [], "personas": []}
    for name in names:
        started = time.perf_counter()
        if name in REGISTRY:
            with Stage(policy, members=REGISTRY[name].members, clock=FakeClock()) as stage:
                result = run_strategy(name, stage.target())
            rows["strategies"].append({
                "strategy": name, "profiles": result.profiles, "requests": result.requests,
                "first_refusal": result.first_refusal,
                "first_refusal_seconds": result.tally.first_refusal_seconds,
                "actions": dict(result.actions), "simulated_seconds": result.seconds,
                "wall_seconds": time.perf_counter() - started, "notes": result.notes,
                "description": REGISTRY[name].description})
        else:
            with Stage(policy, members=PERSONAS[name].members, clock=FakeClock()) as stage:
                outcome = run_persona(name, stage.target())
            rows["personas"].append({
                "persona": name, "people": outcome.people, "refused": len(outcome.refused),
                "requests": outcome.tally.requests, "actions": dict(outcome.actions),
                "simulated_seconds": outcome.seconds, "wall_seconds": time.perf_counter() - started,
                "description": PERSONAS[name].description})
        print(f"  done: {name} ({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
    return rows


def table(rows: dict[str, Any], policy: Policy) -> str:
    lines = [f"policy: {policy.source}", ""]
    head = ("strategy", "profiles leaked", "requests until first refusal", "actions seen")
    body = []
    for r in rows["strategies"]:
        first = "never" if r["first_refusal"] is None else \
            f"{r['first_refusal']} of {r['requests']} ({duration(r['first_refusal_seconds'])})"
        body.append((r["strategy"], str(r["profiles"]), first, actions_text(Counter(r["actions"]))))
    head2 = ("persona", "people refused", "requests", "actions seen")
    body2 = [(r["persona"], f"{r['refused']} of {r['people']}", str(r["requests"]),
              actions_text(Counter(r["actions"]))) for r in rows["personas"]]
    for header, content in ((head, body), (head2, body2)):
        if not content:
            continue
        widths = [max(len(str(c)) for c in column) for column in zip(header, *content, strict=True)]
        lines.append(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
        lines.append("-|-".join("-" * w for w in widths))
        lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                  for row in content]
        lines.append("")
    for r in rows["strategies"]:
        per_day = r["notes"].get("per_day")
        if per_day:
            lines.append(f"{r['strategy']}: profiles per day {per_day}")
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    everything = ", ".join([*REGISTRY, *PERSONAS])
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help=f"strategies and personas to run (default: all): {everything}")
    parser.add_argument("--policy", type=Path, help="a policy file (laid over the defaults)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the guard's start-up warnings are not results
    names = args.only or [*REGISTRY, *PERSONAS]
    unknown = [n for n in names if n not in REGISTRY and n not in PERSONAS]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    policy = load_policy(args.policy) if args.policy else default_policy()
    rows = run(names, policy)
    print(json.dumps(rows, indent=2) if args.json else table(rows, policy), end="")
    refused = sum(r["refused"] for r in rows["personas"])
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
