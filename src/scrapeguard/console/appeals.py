"""Appeals: the support team's page. A refused person quotes the reference of the refusal page;
support looks it up (what was decided, why in words, which keys, what else that client did, what
the guard's store holds against it now) and acts: lifts the penalty, allowlists the account or the
network for a while, records how the appeal ended. Every rule is the records layer's
(`records/appeals.py`); this module only shows and asks."""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from urllib.parse import quote

from starlette.responses import Response

from scrapeguard.console.web import Page, PageError, Routes
from scrapeguard.records import actor_actions, appeals
from scrapeguard.records.errors import RecordsError

routes = Routes()

#: The allowlist's longest time (the records refuse more, too).
MAX_ALLOWLIST_DAYS = actor_actions.MAX_DAYS
UNITS = {"hours": 3600.0, "days": 86400.0}


def _page_of(reference: str) -> str:
    return f"/appeals/{quote(reference, safe='')}"


@routes.get("/appeals", "appeal.resolve")
async def appeals_home(page: Page) -> Response:
    typed = page.request.query_params.get("reference")
    if typed is not None:
        if not typed.strip():
            raise PageError(400, f"type the reference the person quotes (it looks like "
                                 f"{appeals.REFERENCE_EXAMPLE})")
        with suppress(RecordsError):  # (if it is not a reference, the page says what is wrong with it)
            typed = appeals.check_reference(typed)
        return page.redirect(_page_of(typed.strip()))
    with page.records() as session:
        latest = appeals.latest_outcomes(session, page.actor)
    return page.render("appeals.html", latest=latest, example=appeals.REFERENCE_EXAMPLE)


@routes.get("/appeals/{reference}", "appeal.resolve")
async def appeal(page: Page) -> Response:
    with page.records() as session:
        found = appeals.look_up(session, page.actor, page.param("reference"))
        state = appeals.store_state(session, page.actor, page.console.settings.store, found,
                                    page.now_datetime)
    return page.render("appeal.html", appeal=found, state=state, outcomes=appeals.OUTCOMES,
                       max_days=MAX_ALLOWLIST_DAYS, store_connected=page.console.settings.store is not None)


async def _note(page: Page) -> str:
    return await page.field("note", required=False)


@routes.post("/appeals/{reference}/lift", "appeal.resolve")
async def lift(page: Page) -> Response:
    reference = appeals.check_reference(page.param("reference"))
    note = await _note(page)
    only = await page.field("key", required=False) or None
    with page.records() as session:
        lifted = appeals.lift_penalties(session, page.actor, page.console.settings.store, reference, note,
                                        page.now_datetime, only=only)
    what = ", ".join(appeals.key_words(p) for p in lifted)
    return page.redirect(_page_of(reference), f"Penalty lifted ({what}); outcome recorded: "
                                              f"{appeals.LIFTED}.")


@routes.post("/appeals/{reference}/allowlist", "appeal.resolve")
async def allowlist(page: Page) -> Response:
    reference = appeals.check_reference(page.param("reference"))
    which = await page.field("which")
    amount_text = await page.field("amount")
    unit = await page.field("unit", required=False, default="days")
    if unit not in UNITS:
        raise PageError(400, "the time is in hours or days")
    try:
        amount = float(amount_text)
    except ValueError:
        raise PageError(400, f"{amount_text!r} is not a number of {unit}") from None
    seconds = amount * UNITS[unit]
    if not 0 < seconds <= MAX_ALLOWLIST_DAYS * 86400:
        raise PageError(400, f"an allowlisting lasts more than nothing and at most {MAX_ALLOWLIST_DAYS} days")
    note = await _note(page)
    with page.records() as session:
        key, until = appeals.allowlist_client(session, page.actor, page.console.settings.store, reference,
                                              which, page.now_datetime + timedelta(seconds=seconds), note,
                                              page.now_datetime)
    return page.redirect(_page_of(reference), f"Allowlisted the {appeals.key_words(key)} until "
                                              f"{until:%Y-%m-%d %H:%M} UTC; outcome recorded: "
                                              f"{appeals.ALLOWLISTED}.")


@routes.post("/appeals/{reference}/outcome", "appeal.resolve")
async def outcome(page: Page) -> Response:
    reference = appeals.check_reference(page.param("reference"))
    chosen = await page.field("outcome")
    note = await _note(page)
    with page.records() as session:
        appeals.record_outcome(session, page.actor, reference, chosen, note, at=page.now_datetime)
    return page.redirect(_page_of(reference), f"Outcome recorded: {chosen}.")
