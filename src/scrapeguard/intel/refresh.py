"""Refreshing the shipped intel snapshot from a directory (ScrapeGuard fetches nothing itself).

The directory is laid out like the sources: `ai-crawlers/robots.json` (from
ai-robots-txt/ai.robots.txt) and `ipranges/<provider>/ipv4_merged.txt`,
`ipv6_merged.txt` (from lord-alfred/ipranges). Everything is validated before
anything is replaced, so a bad download never leaves half a snapshot.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
from importlib import resources
from pathlib import Path

from scrapeguard.intel.reputation import DATACENTERS, RELAYS, VPNS

PROVIDERS = ("googlebot", "bing", "duckduckbot", "openai", *DATACENTERS, *VPNS, *RELAYS)


class RefreshError(ValueError):
    pass


def data_dir() -> Path:
    return Path(str(resources.files("scrapeguard.intel").joinpath("data")))


def refresh(source: Path, target: Path | None = None) -> list[str]:
    """Validate and copy the snapshot files found under `source`; returns what was updated."""
    target = target or data_dir()
    plan: list[tuple[Path, Path]] = []
    robots = source / "ai-crawlers" / "robots.json"
    if robots.is_file():
        try:
            data = json.loads(robots.read_text("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise RefreshError(f"{robots}: not JSON: {exc}") from exc
        if not isinstance(data, dict) or not data or not all(isinstance(v, dict) for v in data.values()):
            raise RefreshError(f"{robots}: expected an object of crawler tokens")
        plan.append((robots, target / "ai-crawlers.json"))
    for provider in PROVIDERS:
        for name in ("ipv4_merged.txt", "ipv6_merged.txt"):
            path = source / "ipranges" / provider / name
            if not path.is_file():
                continue
            for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
                if line.strip() and not line.startswith("#"):
                    try:
                        ipaddress.ip_network(line.strip(), strict=False)
                    except ValueError as exc:
                        bad = line.strip()[:50]
                        raise RefreshError(f"{path}:{number}: {bad!r} is not a network") from exc
            plan.append((path, target / "ipranges" / provider / name))
    if not plan:
        raise RefreshError(f"{source}: found neither ai-crawlers/robots.json nor ipranges/<provider>/*.txt "
                           f"(providers: {', '.join(PROVIDERS)})")
    for src, dst in plan:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    return [str(dst.relative_to(target)) for _, dst in plan]
