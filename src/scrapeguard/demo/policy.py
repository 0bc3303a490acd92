"""The policy `scrapeguard demo` runs with: the built-in defaults plus the demo site's honeypot.

The defaults cannot name traps or canaries (every site has its own); the demo
site has both, so the demo shows them at work.
"""

from __future__ import annotations

from scrapeguard.demo.members import canary_ids
from scrapeguard.policy import Policy, load_policy_text

#: The hidden link in the demo directory points here (and robots.txt disallows it).
TRAP_PATHS = ("/members/export/*",)


def demo_policy_text(members: int) -> str:
    canaries = ", ".join(f'"id:{i}"' for i in canary_ids(members))
    paths = ", ".join(f'"{p}"' for p in TRAP_PATHS)
    return f"[detectors.honeypot]\ntrap_paths = [{paths}]\ncanary_members = [{canaries}]\n"


def demo_policy(members: int) -> Policy:
    return load_policy_text(demo_policy_text(members), source="<defaults + the demo site's honeypot>")
