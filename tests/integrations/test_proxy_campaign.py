"""A distributed sweep through the real proxy: 100 source addresses in 100 networks, one campaign."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from scrapeguard.serving import SiteServer, start_site

BROWSER = {
    "Accept": "application/json,text/html;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-GB,en;q=0.9",
}
#: The campaign rotates among browsers' user agents, one per address.
AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7_1) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
)


@pytest.fixture(scope="module")
def site_of_1200(loop_thread) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A demo site with enough members for 100 slices of 10."""
    server: SiteServer = loop_thread.run(start_site("127.0.0.1", 0, 1200, 7, False))
    yield f"http://127.0.0.1:{server.server.servers[0].sockets[0].getsockname()[1]}"
    loop_thread.run(server.stop())


def sweep_slice(base: str, n: int) -> list[int]:
    """Address 127.n.0.1 fetches members 10(n-1)+1 .. 10n in sequence, with the n-th of three browsers'
    user agents; returns the ids it received."""
    transport = httpx.HTTPTransport(local_address=f"127.{n}.0.1")
    received = []
    headers = {**BROWSER, "User-Agent": AGENTS[n % len(AGENTS)]}
    with httpx.Client(base_url=base, transport=transport, headers=headers) as client:
        for member in range(10 * (n - 1) + 1, 10 * n + 1):
            r = client.get(f"/api/v1/members/{member}")
            if r.status_code == 200:
                received.append(r.json()["id"])
    return received


def test_one_hundred_addresses_rotating_user_agents_sweeping_slices_are_one_campaign(
    site_of_1200: str, make_guard: Callable
) -> None:
    guard = make_guard(site_of_1200)
    with ThreadPoolExecutor(8) as pool:
        slices = list(pool.map(lambda n: sweep_slice(guard.url, n), range(1, 101)))
    leaked = sum(len(s) for s in slices)
    print(f"members leaked to the campaign: {leaked} of 1000 asked for")
    # 8 concurrent addresses get a few each before the campaign is recognised; every later address
    # asks the campaign's way (its headers, whatever its user agent) and is challenged at its first
    # id. Without the campaign detector each address gets 7: 700
    assert leaked <= 100
    assert len({member for s in slices for member in s}) == leaked  # disjoint slices, as a campaign does
    decisions = guard.decisions()
    campaign_keys = {r["key"] for d in decisions for r in d["reasons"]
                     if r["detector"] == "campaign" and r["key"].startswith("campaign:")}
    assert len(campaign_keys) == 1  # one actor, not a hundred, nor one per user agent
    refused_addresses = {d["keys"]["ip"] for d in decisions}
    assert len(refused_addresses) >= 90
    last = next(d for d in reversed(decisions) if any(r["detector"] == "campaign" for r in d["reasons"]))
    detail = next(r["detail"] for r in last["reasons"] if r["detector"] == "campaign")
    assert "networks sweeping member pages in order" in detail
    assert json.dumps(last)  # the decision line is plain JSON

