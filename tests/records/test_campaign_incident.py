"""One incident per campaign, not per address: a distributed sweep through the real proxy
(100 source addresses in 100 networks rotating three browsers' user agents, the campaign
detector) opens one incident whose ledger holds every member the campaign received, including
what its addresses took before it was recognised."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from scrapeguard.records import incidents
from scrapeguard.records.db import Database
from scrapeguard.records.exposure import ledger
from scrapeguard.serving import SiteServer, start_site

_sweep_path = Path(__file__).parents[1] / "integrations" / "test_proxy_campaign.py"
_spec = importlib.util.spec_from_file_location("sweep_helpers", _sweep_path)
assert _spec is not None and _spec.loader is not None
_sweep = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_sweep)
sweep_slice: Callable[[str, int], list[int]] = _sweep.sweep_slice

POLICY = '[incidents]\npseudonym_key = "env:SG_CAMPAIGN_TEST_KEY"\n'


@pytest.fixture(scope="module")
def site_of_1200(loop_thread: Any) -> Iterator[str]:
    server: SiteServer = loop_thread.run(start_site("127.0.0.1", 0, 1200, 7, False))
    yield f"http://127.0.0.1:{server.server.servers[0].sockets[0].getsockname()[1]}"
    loop_thread.run(server.stop())


def test_a_distributed_sweep_is_one_incident(site_of_1200: str, make_guard: Callable[..., Any], db_url: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SG_CAMPAIGN_TEST_KEY", "campaign-test-key-0123456789")
    guard = make_guard(site_of_1200, POLICY, db=db_url)
    with ThreadPoolExecutor(8) as pool:
        slices = list(pool.map(lambda n: sweep_slice(guard.url, n), range(1, 101)))
    assert guard.proxy.records.flush()
    decisions = guard.decisions()
    in_campaign = {d["keys"]["ip"] for d in decisions
                   if any(r["key"].startswith("campaign:") for r in d["reasons"])}
    in_campaign |= {key.removeprefix("ip:") for d in decisions for key in d.get("related", ())}
    assert in_campaign == {f"127.{n}.0.1" for n in range(1, 101)}
    received = {str(m) for got in slices for m in got}
    assert 0 < len(received) <= 100
    db = Database(db_url)
    with db.session() as s:
        (incident,) = incidents.list_incidents(s, incidents.GUARD)
        assert incident.group_key.startswith("campaign:") and "campaign" in incident.title
        actors = incidents.actors_of(s, incident.id)
        # every address of the campaign (those that swept before it was recognised too), and no other
        assert len([a for a in actors if a.startswith("ip:")]) == 100
        # every member the campaign received, and no other
        assert {m.member.removeprefix("id:") for m in ledger(s, actors)} == received
    db.dispose()
