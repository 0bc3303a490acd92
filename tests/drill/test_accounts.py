"""The account and contact-form strategies: what they get from an open site, and from the guard."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from scrapeguard.demo.site import SiteData
from scrapeguard.drill.accounts import DEMO_SEED, fresh_accounts, leaked_addresses, lookup_sweep, signup_probe
from scrapeguard.drill.harness import FakeClock, Stage
from scrapeguard.drill.strategies import Target

OBSERVE = 'mode = "observe"\n'


def test_a_lookup_sweep_on_an_open_site_finds_every_member_on_its_list() -> None:
    clock = FakeClock()
    with Stage(OBSERVE, members=200, clock=clock) as stage:
        target = stage.target()
        result = lookup_sweep(target, count=60)
    members = SiteData.generate(200, DEMO_SEED, False).by_email
    listed = leaked_addresses(Target("", clock, members=200), 60, 9)
    assert result.profiles == sum(1 for email in listed if email in members) > 0
    assert result.requests == 60 and result.first_refusal is None


def test_the_guard_stops_a_lookup_sweep_early() -> None:
    with Stage(members=200, clock=FakeClock()) as stage:
        result = lookup_sweep(stage.target(), count=60)
    assert result.first_refusal is not None and result.first_refusal < 30
    assert result.profiles < 10


def test_fresh_accounts_get_what_members_see_until_refused() -> None:
    with Stage(OBSERVE, members=40, clock=FakeClock()) as stage:
        open_site = fresh_accounts(stage.target(), accounts=2, per_account=100)
    assert open_site.profiles == 40 and open_site.notes == {"accounts": 2}
    with Stage(members=400, clock=FakeClock()) as stage:
        guarded = fresh_accounts(stage.target(), accounts=3, per_account=400)
    assert guarded.first_refusal is not None and guarded.profiles < 100
    assert guarded.actions["303"] == 3  # each account signed up


def test_a_signup_form_that_tells_which_addresses_are_taken_leaks_them(
        start_upstream: Callable[[web.Application], str]) -> None:
    taken = {"ann@example.org", "bob@example.org"}

    async def signup(request: web.Request) -> web.Response:
        email = (await request.post()).get("email")
        if email in taken:
            return web.Response(status=400, text="<p>This address is already registered.</p>",
                                content_type="text/html")
        raise web.HTTPSeeOther("/welcome")

    app = web.Application()
    app.router.add_post("/signup", signup)
    url = start_upstream(app)
    clock = FakeClock()
    target = Target(url, clock, members=300)
    listed = leaked_addresses(target, 30, 13)
    taken |= set(listed[:5])
    result = signup_probe(target, count=30)
    assert result.profiles == 5 and result.requests == 30


def test_the_demo_sign_up_form_gives_no_address_away() -> None:
    with Stage(OBSERVE, members=100, clock=FakeClock()) as stage:
        result = signup_probe(stage.target(), count=20)
    assert result.requests == 20 and result.profiles == 0
