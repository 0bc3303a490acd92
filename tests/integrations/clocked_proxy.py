"""The guard proxy as a process of its own, its events timed by a clock file.

`scrapeguard proxy` takes its events' time from the wall clock; a test of several guard processes
sharing a store (tests/integrations/test_proxy_shared_state.py) needs them on one fake timeline
instead, paced by the test (`file_clock` in tests/conftest.py writes the file whenever the test's
clock moves). Otherwise it serves as `scrapeguard proxy` does, with the default policy:

    python clocked_proxy.py CLOCK_FILE HOST:PORT UPSTREAM STORE_URI DECISIONS_OUT
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from scrapeguard.integrations.proxy import start_proxy
from scrapeguard.policy import default_policy
from scrapeguard.serving import build_proxy, run_until_signalled


def read_clock(path: Path) -> Callable[[], float]:
    """A clock reading the time (seconds since the epoch) the test last wrote to `path`."""
    def now() -> float:
        return float(path.read_text())

    return now


async def serve(clock_file: Path, listen: str, upstream: str, store_uri: str, decisions_out: str) -> None:
    guard = build_proxy(default_policy(), upstream, store_uri, decisions_out)
    guard.config.clock = read_clock(clock_file)
    host, port = listen.rsplit(":", 1)
    runner = await start_proxy(guard, host, int(port))
    print(f"guard on http://{listen}/ -> {upstream} (clock {clock_file})", flush=True)
    await run_until_signalled(runner.cleanup)
    if guard.decisions is not None:
        guard.decisions.close()
    guard.engine.store.close()


if __name__ == "__main__":
    clock_file, listen, upstream, store_uri, decisions_out = sys.argv[1:]
    asyncio.run(serve(Path(clock_file), listen, upstream, store_uri, decisions_out))
