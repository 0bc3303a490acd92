"""Actors and campaigns: who the guard refused in the last day, what the guard's store holds against
whom now, an actor's timeline (refusals with every reason, members reached and which data, its
campaign and incident, the team's notes), and the actions: block, unblock, allowlist for a time,
annotate. Every action is a records function (`records/actor_actions.py`): audited, and written to
the guard's store so that the guard acts on it at once.

Actors are shown as the records keep them (addresses pseudonymised, "ip:p-3f9a…"); the store's clear
keys are found through `clear_keys`, or typed by a person and checked against the pseudonym."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from starlette.responses import Response

from scrapeguard.console.countdown import span
from scrapeguard.console.web import Page, PageError, Routes, format_time
from scrapeguard.events import network_of
from scrapeguard.records import actor_actions, decisions, exposure, incidents
from scrapeguard.records.errors import NotFound, RecordsError
from scrapeguard.records.privacy import Pseudonymiser
from scrapeguard.stores.base import Penalty, StoreUnavailable

routes = Routes()

#: The window of "current" top actors and campaigns.
RECENT = timedelta(hours=24)
#: Refusals shown on an actor's timeline (the latest).
TIMELINE = 100
#: Block lengths offered (minutes) and allowlisting units.
BLOCK_CHOICES = ((60, "1 hour"), (24 * 60, "1 day"), (7 * 24 * 60, "7 days"), (30 * 24 * 60, "30 days"))
UNITS = {"hours": 3600, "days": 86400}


def actor_url(actor: str) -> str:
    return "/actors/" + quote(actor, safe=":")


@dataclass(frozen=True)
class Held:
    """Something the store holds against (or for) an actor now, shown with the actor's records key."""

    actor: str
    what: str
    until: float
    left: str
    decision_id: str = ""


def _store_state(page: Page, pseudonymiser: Pseudonymiser) -> tuple[str, list[Held], list[Held], str]:
    """(health, penalties, pardons, error) from the guard's store."""
    store = page.console.settings.store
    if store is None:
        return "not connected", [], [], ""
    health = page.store_health
    try:
        penalties = store.penalties(page.now, limit=200)
        pardons = store.pardons(page.now, limit=200)
    except StoreUnavailable as exc:
        return "unreachable", [], [], str(exc)
    held = [Held(pseudonymiser.actor(p.key), p.action, p.until, span(p.until - page.now), p.decision_id)
            for p in sorted(penalties, key=lambda p: -p.until)]
    pardoned = [Held(pseudonymiser.actor(key), "allowlisted", until, span(until - page.now))
                for key, until in sorted(pardons, key=lambda kv: -kv[1])]
    return health, held, pardoned, ""


class WideNetwork(ValueError):
    """A network wider than the guard's /24 or /64: it is many actors, not one."""


def _address_key(text: str, network: bool = False) -> str | None:
    """"ip:…" for an address, "net:…" for a network or, with `network`, an address's network (as
    the guard counts networks: IPv4 /24, IPv6 /64); None if `text` is neither."""
    try:
        if "/" in text:
            typed = ipaddress.ip_network(text, strict=False)
            mapped = isinstance(typed, ipaddress.IPv6Network) \
                and typed.network_address.ipv4_mapped is not None  # (an IPv4 network, as IPv6)
            if typed.prefixlen - (96 if mapped else 0) < (24 if typed.version == 4 or mapped else 64):
                raise WideNetwork(f"{text} is wider than the networks the guard counts (IPv4 /24, "
                                  "IPv6 /64): look up one of them")
            address, network = typed.network_address, True
        else:
            address = ipaddress.ip_address(text)
    except WideNetwork:
        raise
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # as the guard reads a client's address
    if not network:
        return f"ip:{address}"
    counted = network_of(str(address))
    return None if counted is None else f"net:{counted}"


def looked_up_key(text: str) -> str:
    """The actor key for what someone typed in the look-up form: a bare address or network, or a
    key as the guard writes it (`ip:…`, `net:…`, `account:42`). Raises ValueError saying what is
    wrong."""
    text = text.strip()
    bare = _address_key(text)
    if bare is not None:
        return bare
    name, sep, value = text.partition(":")
    if sep and name in ("ip", "net") and value.startswith("p-") and len(value) > 2:
        return text  # a pseudonym, as the records show it
    if sep and name == "ip":
        typed = _address_key(value)
        if typed is not None and typed.startswith("ip:"):
            return typed
    elif sep and name == "net":
        typed = _address_key(value, network=True)
        if typed is not None:
            return typed
    elif sep and name.isidentifier() and value.strip():
        return f"{name}:{value.strip()}"
    raise ValueError(f"{text!r} is not an address (198.51.100.23), a network (198.51.100.0/24, "
                     "2001:db8::/64) or an actor key (ip:…, net:…, account:42)")


@routes.post("/actors/look-up", "read")
async def look_up(page: Page) -> Response:
    """The look-up form: to the actor's page, under its pseudonym. A POST, so that a clear address
    typed in never sits in a URL (a proxy's access log, the browser's history)."""
    try:
        key = looked_up_key(await page.field("key"))
    except ValueError as exc:
        raise PageError(400, str(exc)) from None
    with page.records() as session:
        return page.redirect(actor_url(actor_actions.pseudonymiser_of(session).actor(key)))


@routes.get("/actors", "read")
async def actors_page(page: Page) -> Response:
    campaign = page.request.query_params.get("campaign") or None
    since = page.now_datetime - RECENT
    with page.records() as session:
        pseudonymiser = actor_actions.pseudonymiser_of(session)
        if campaign is not None:  # all of a campaign's actors, whenever they acted
            top = actor_actions.top_actors(session, datetime(1970, 1, 1, tzinfo=UTC), limit=200,
                                           campaign=campaign)
        else:
            top = actor_actions.top_actors(session, since)
        campaigns = actor_actions.campaigns_since(session, since)
    health, penalties, pardons, store_error = _store_state(page, pseudonymiser)
    return page.render("actors.html", top=top, campaigns=campaigns, campaign=campaign, penalties=penalties,
                       pardons=pardons, store_health=health, store_error=store_error, actor_url=actor_url,
                       incident_ref=incidents.public_id)


@dataclass(frozen=True)
class StoreView:
    """The actor in the guard's store: its clear key (when known), penalty and pardon."""

    connected: bool
    known: bool
    penalty: Penalty | None = None
    pardon_until: float | None = None
    error: str = ""


def _actor_in_store(page: Page, pseudonymiser: Pseudonymiser, actor: str) -> StoreView:
    store = page.console.settings.store
    if store is None:
        return StoreView(False, False)
    try:
        clear = actor_actions.clear_keys(store, pseudonymiser, [actor], page.now_datetime).get(actor)
        if clear is None:
            return StoreView(True, False)
        penalty = next((p for p in store.penalties(page.now, limit=100_000) if p.key == clear), None)
        pardon = next((until for key, until in store.pardons(page.now, limit=100_000) if key == clear), None)
    except (StoreUnavailable, RecordsError) as exc:
        return StoreView(True, False, error=str(exc))
    return StoreView(True, True, penalty, pardon)


def _actor_key(page: Page, pseudonymiser: Pseudonymiser) -> str:
    """The actor of the path, as the records keep it (a clear address given is pseudonymised)."""
    key = page.param("key").strip()
    name, sep, value = key.partition(":")
    if not sep or not name or not value:
        raise NotFound(f"no actor {key!r} (actor keys look like ip:p-…, net:p-…, account:42; "
                       "the look-up form on the Actors page takes addresses and networks)")
    return pseudonymiser.actor(key)


@routes.get("/actors/{key}", "read")
async def actor_page(page: Page) -> Response:
    with page.records() as session:
        pseudonymiser = actor_actions.pseudonymiser_of(session)
        actor = _actor_key(page, pseudonymiser)
        if actor != page.param("key"):
            return page.redirect(actor_url(actor))
        refusals = decisions.decisions_of(session, {actor})
        total = len(refusals)
        refusals = list(reversed(refusals[-TIMELINE:]))
        members = exposure.ledger(session, {actor})
        listing_pages = exposure.listing_pages(session, {actor})
        campaign = actor_actions.campaigns_of(session, [actor]).get(actor)
        incident = actor_actions.incidents_of(session, [actor]).get(actor)
        history = actor_actions.history_of(session, actor)
    in_store = _actor_in_store(page, pseudonymiser, actor)
    categories = sorted({c for m in members for c in m.categories})
    name = actor.partition(":")[0]
    return page.render(
        "actor.html", actor=actor, refusals=refusals, total=total, members=members, categories=categories,
        listing_pages=listing_pages, campaign=campaign, incident=incident, history=history,
        in_store=in_store, actionable=name in actor_actions.ACTIONABLE,
        address=name in ("ip", "net"), block_choices=BLOCK_CHOICES, now=page.now,
        incident_ref=incidents.public_id, span=span)


async def _target(page: Page) -> tuple[str, str]:
    """(records key, clear store key) of the actor a form acts on."""
    with page.records() as session:
        pseudonymiser = actor_actions.pseudonymiser_of(session)
    actor = _actor_key(page, pseudonymiser)
    typed = await page.field("address", required=False)
    clear = actor_actions.resolve_key(page.console.settings.store, pseudonymiser, actor, typed,
                                      page.now_datetime)
    return actor, clear


def _after(page: Page, actor: str) -> str:
    """Where a form goes back to: the actor's page, or (support, who may not read the records) the
    appeals."""
    return actor_url(actor) if page.can("read") else "/appeals"


def _until_text(until: float) -> str:
    return format_time(until)


@routes.post("/actors/{key}/block", "actor.act")
async def block(page: Page) -> Response:
    minutes_text = await page.field("minutes")
    note = await page.field("note")
    try:
        minutes = int(minutes_text)
    except ValueError:
        raise PageError(400, f"{minutes_text!r} is not a number of minutes") from None
    actor, clear = await _target(page)
    with page.records() as session:
        penalty = actor_actions.block(session, page.actor, page.console.settings.store, clear, minutes, note,
                                      page.now_datetime)
    return page.redirect(_after(page, actor), f"Blocked {actor} until {_until_text(penalty.until)} "
                                              f"(reference {penalty.decision_id}): the guard refuses it now.")


@routes.post("/actors/{key}/unblock", "actor.act")
async def unblock(page: Page) -> Response:
    note = await page.field("note", required=False)
    actor, clear = await _target(page)
    with page.records() as session:
        lifted = actor_actions.unblock(session, page.actor, page.console.settings.store, clear, note,
                                       page.now_datetime)
    if lifted is None:
        return page.redirect(_after(page, actor), f"{actor} had no penalty in force: nothing to unblock.",
                             "warn")
    return page.redirect(_after(page, actor), f"Unblocked {actor}: its {lifted.action} (until "
                                              f"{_until_text(lifted.until)}) is lifted; the guard serves it "
                                              "now.")


@routes.post("/actors/{key}/allowlist", "appeal.resolve")
async def allowlist(page: Page) -> Response:
    amount_text = await page.field("duration")
    unit = await page.field("unit", required=False, default="days")
    note = await page.field("note")
    if unit not in UNITS:
        raise PageError(400, f"the unit is hours or days, not {unit!r}")
    try:
        amount = float(amount_text)
    except ValueError:
        raise PageError(400, f"{amount_text!r} is not a number of {unit}") from None
    if not 0 < amount < 10_000:
        raise PageError(400, "give a duration above zero")
    actor, clear = await _target(page)
    until = page.now_datetime + timedelta(seconds=amount * UNITS[unit])
    with page.records() as session:
        actor_actions.allowlist(session, page.actor, page.console.settings.store, clear, until, note,
                                page.now_datetime)
    return page.redirect(_after(page, actor), f"Allowlisted {actor} until {_until_text(until.timestamp())}: "
                                              "the guard neither counts nor refuses it meanwhile.")


@routes.post("/actors/{key}/annotate", "actor.act")
async def annotate(page: Page) -> Response:
    text = await page.field("note")
    with page.records() as session:
        actor = _actor_key(page, actor_actions.pseudonymiser_of(session))
        actor_actions.annotate(session, page.actor, actor, text, page.now_datetime)
    return page.redirect(actor_url(actor), "Note added.")
