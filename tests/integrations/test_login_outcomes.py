"""A login's outcome is counted before its answer is sent, with a shared store too: a guesser who
waits for each answer has every failure counted before its next try is judged, however slowly the
store writes. (Other outcomes are recorded in the background, off the response's path.)

The store here is a memory store behind the failover wrapper, as a shared store is used, whose
outcome writes take DELAY seconds: were the answer sent before the write, the next tries would be
judged on a count missing the last failures, and more than the threshold would reach the site."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from multidict import CIMultiDict
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from werkzeug.test import Client

from scrapeguard.engine import Engine
from scrapeguard.integrations.adapter import GuardAdapter, RequestView, ResponseEdit
from scrapeguard.integrations.asgi import ScrapeGuardMiddleware
from scrapeguard.integrations.wsgi import ScrapeGuardWSGI
from scrapeguard.policy import default_policy
from scrapeguard.stores import MemoryStore, StoreRequest
from scrapeguard.stores.base import Escalation, Observation
from scrapeguard.stores.failover import FailoverStore

BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
           "Accept": "text/html,application/xhtml+xml", "Accept-Language": "en", "Accept-Encoding": "gzip"}
FORM = {"username": "member7", "password": "wrong"}
FORM_TYPE = "application/x-www-form-urlencoded"
#: How long an outcome write takes in the slow store (seconds): far longer than a request here.
DELAY = 0.15
#: The default policy's failed_logins.address_throttle: failures in the window before throttling.
THRESHOLD = 10


class SlowOutcomes(MemoryStore):
    """A memory store whose outcome writes (an observe without keys: nothing judged) are slow."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcome_writes = 0

    def observe(self, now: float, keys: Sequence[str], requests: Sequence[StoreRequest],
                escalation: Escalation, decision_id: str, pardon_keys: Sequence[str] = ()) -> Observation:
        if not keys:
            time.sleep(DELAY)
            self.outcome_writes += 1
        return super().observe(now, keys, requests, escalation, decision_id, pardon_keys)


def shared_guard() -> tuple[GuardAdapter, SlowOutcomes]:
    """A guard on a store it treats as shared (called from worker threads), with slow outcome writes."""
    policy = default_policy()
    slow = SlowOutcomes()
    store = FailoverStore(slow, MemoryStore(), fail_open=True, retry_seconds=1.0)
    guard = GuardAdapter(Engine(policy, store), metrics=False)
    assert guard.offload  # the path under test: outcomes written off the request's thread
    return guard, slow


def login_fails(request: Request) -> PlainTextResponse:
    return PlainTextResponse("wrong password", status_code=401)


def wsgi_login_fails(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    environ["wsgi.input"].read()
    start_response("401 Unauthorized", [("Content-Type", "text/plain")])
    return [b"wrong password"]


def test_asgi_each_failure_is_counted_before_the_next_try_is_judged() -> None:
    guard, slow = shared_guard()
    app = ScrapeGuardMiddleware(Starlette(routes=[Route("/login", login_fails, methods=["POST"])]),
                                guard=guard)
    with TestClient(app, client=("198.51.100.7", 50000), headers=BROWSER) as client:
        statuses = [client.post("/login", data=FORM).status_code for _ in range(THRESHOLD + 5)]
    assert statuses == [401] * THRESHOLD + [429] * 5
    assert slow.outcome_writes >= THRESHOLD  # every failure that reached the site was written


def test_wsgi_each_failure_is_counted_before_the_next_try_is_judged() -> None:
    guard, slow = shared_guard()
    client = Client(ScrapeGuardWSGI(wsgi_login_fails, guard=guard))
    statuses = [client.post("/login", data=FORM, headers=BROWSER,
                            environ_base={"REMOTE_ADDR": "198.51.100.8"}).status_code
                for _ in range(THRESHOLD + 5)]
    assert statuses == [401] * THRESHOLD + [429] * 5
    assert slow.outcome_writes >= THRESHOLD


def test_only_a_login_s_outcome_holds_the_answer() -> None:
    """A missing profile's 404 is an outcome too (enumeration), written in the background: its
    answer is not held for the store. A failed login's answer is."""
    guard, _ = shared_guard()
    now = time.time()
    profile = RequestView("GET", "/u/nobody-1", CIMultiDict(BROWSER), "198.51.100.9")
    event, _ = guard.decide(profile, "198.51.100.9", now, guard.read(profile))
    assert guard.after_response(event, 404, CIMultiDict(), now).counting is None
    login = RequestView("POST", "/login", CIMultiDict({**BROWSER, "Content-Type": FORM_TYPE}),
                        "198.51.100.9")
    event, _ = guard.decide(login, "198.51.100.9", now, guard.read(login))
    # nginx's access log tells of an answer sent long ago: nothing waits, the outcome is queued
    assert guard.after_response(event, 401, CIMultiDict(), now, answer_waits=False).counting is None
    edit = guard.after_response(event, 401, CIMultiDict(), now)
    assert edit.counting is not None
    edit.counted()
    assert edit.counting.done()


def test_a_request_cancelled_while_waiting_still_has_its_failure_counted() -> None:
    """A client that goes away (or a server timeout) cancels the request waiting for the count: the
    write is shielded and goes on, even one still queued behind the store's other calls."""
    release, ran = threading.Event(), []

    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(release.wait, 30)  # the worker busy: the write below waits in the queue
        edit = ResponseEdit(frozenset(), counting=executor.submit(lambda: ran.append(True)))

        async def cancel_the_waiting_request() -> None:
            waiting = asyncio.ensure_future(edit.counted_async())
            await asyncio.sleep(0)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting

        asyncio.run(cancel_the_waiting_request())
        release.set()
        assert edit.counting is not None
        edit.counting.result(timeout=30)
    assert ran == [True] and not edit.counting.cancelled()


def test_a_write_cancelled_at_shutdown_does_not_fail_the_request() -> None:
    busy, release = threading.Event(), threading.Event()
    executor = ThreadPoolExecutor(max_workers=1)
    executor.submit(lambda: (busy.set(), release.wait(30)))
    busy.wait(30)
    queued = executor.submit(lambda: None)  # waits behind the busy worker
    executor.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled()
    release.set()
    edit = ResponseEdit(frozenset(), counting=queued)
    edit.counted()  # nothing raised (WSGI, Django)
    asyncio.run(edit.counted_async())  # nor here (ASGI, the proxy)


def test_a_request_cancelled_as_the_write_is_cancelled_at_shutdown_is_still_cancelled() -> None:
    """Both at once (the server cancels its requests while the guard's executor drops its queue):
    the request's own cancellation is not swallowed."""
    release = threading.Event()
    executor = ThreadPoolExecutor(max_workers=1)
    executor.submit(release.wait, 30)
    edit = ResponseEdit(frozenset(), counting=executor.submit(lambda: None))
    try:
        async def cancelled_together() -> None:
            waiting = asyncio.ensure_future(edit.counted_async())
            await asyncio.sleep(0)
            waiting.cancel()
            executor.shutdown(wait=False, cancel_futures=True)
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert waiting.cancelled()

        asyncio.run(cancelled_together())
    finally:
        release.set()
