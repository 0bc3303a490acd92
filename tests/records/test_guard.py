"""The proxy with --db: records written off the hot path, and a database that is down costs
the visitors nothing (their requests are answered as fast; records wait on disk)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from scrapeguard.policy import load_policy_text
from scrapeguard.records.db import Database
from scrapeguard.records.errors import SchemaOutOfDate
from scrapeguard.records.guard import open_sink, spill_path_for
from scrapeguard.records.models import DecisionRecord, ExposureRecord

POLICY = '[incidents]\nopen_at_members = 5\npseudonym_key = "env:SG_GUARD_TEST_KEY"\n'


BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SG_GUARD_TEST_KEY", "guard-test-key-0123456789")


def test_the_proxy_records_refusals_and_exposure(demo_site: str, make_guard: Callable[..., Any],
                                                 db_url: str) -> None:
    guard = make_guard(demo_site, POLICY, db=db_url)
    # a browser's user agent (an HTTP library's own would be challenged at once: no exposure)
    with httpx.Client(base_url=guard.url, headers={"User-Agent": BROWSER, "Accept-Language": "en"}) as client:
        statuses = [client.get(f"/api/v1/members/{i}").status_code for i in range(1, 71)]
        client.get("/static/site.css")  # not member data
    assert statuses.count(200) > 0 and len(guard.decisions()) > 0
    assert guard.proxy.records.flush()
    db = Database(db_url)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(DecisionRecord)) == len(guard.decisions())
        assert s.scalar(select(func.count(func.distinct(ExposureRecord.member)))) == statuses.count(200)
    db.dispose()


def test_a_database_that_is_down_does_not_slow_the_guard(
    demo_site: str, make_guard: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a database server's spill file goes to the working directory
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = f"postgresql://postgres@127.0.0.1:{port}/test"
    plain = make_guard(demo_site, POLICY, name="plain.jsonl")
    guard = make_guard(demo_site, POLICY, name="down.jsonl", db=down)

    def timed(base: str) -> float:
        with httpx.Client(base_url=base) as client:
            start = time.perf_counter()
            for i in range(1, 41):
                client.cookies.clear()
                client.get(f"/api/v1/members/{i}")
            return time.perf_counter() - start

    # the same 40 requests through each guard (refused or not, alike on both), three rounds side by
    # side: the best of each, so one unlucky moment on a loaded machine decides nothing
    rounds = [(timed(guard.url), timed(plain.url)) for _ in range(3)]
    slow, fast = min(r[0] for r in rounds), min(r[1] for r in rounds)
    assert slow < 3 * fast + 0.5, rounds
    deadline = time.time() + 20
    while time.time() < deadline:
        status = httpx.get(f"{guard.url}/.well-known/scrapeguard/status").json()["records"]
        if status["database"] == "down":
            break
        time.sleep(0.1)
    assert status["database"] == "down" and status["dropped"] == 0 and status["written"] == 0
    assert status["queued"] + status["pending"] + status["spilled"] > 0
    assert status["spill_file"] in (None, str(tmp_path / "scrapeguard-records.spill.jsonl"))


def test_an_out_of_date_schema_stops_the_guard_at_start_with_the_command_to_run(db_url: str) -> None:
    db = Database(db_url)
    db.ensure_schema()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    db.dispose()
    with pytest.raises(SchemaOutOfDate, match="scrapeguard db upgrade"):
        open_sink(load_policy_text(POLICY), db_url)


def test_the_spill_file_sits_beside_a_sqlite_database(tmp_path: Path) -> None:
    assert spill_path_for(Database(str(tmp_path / "r.db"))) == tmp_path / "r.db.spill.jsonl"


def test_the_policy_in_force_is_audited_when_it_changes(db_url: str, tmp_path: Path) -> None:
    from scrapeguard.policy import load_policy
    from scrapeguard.records import audit

    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    for text in (POLICY, POLICY, POLICY + '[allowlist]\ncidrs = ["192.0.2.0/24"]\n'):
        path.write_text(text)
        open_sink(load_policy(path), db_url).close()
    db = Database(db_url)
    with db.session() as s:
        entries = audit.entries_for(s, "policy", str(path)[:100])
        assert audit.verify(s).ok
    db.dispose()
    assert [e.action for e in entries] == ["policy.in_force", "policy.in_force"]  # unchanged: once
    assert '"192.0.2.0/24"' in entries[1].details


def test_the_proxy_records_whom_each_response_was_shown_to(
        start_upstream: Callable[[Any], str], make_guard: Callable[..., Any], db_url: str) -> None:
    """The site's X-Account-Id makes a response a member's; its X-Viewer-Audience header a
    connection's; the guard strips the header; the ledger keeps each audience's categories."""
    from aiohttp import web

    async def member(request: web.Request) -> web.Response:
        who = request.headers.get("X-Test-Viewer", "")
        headers = {"X-Account-Id": who} if who else {}
        if who == "51":
            headers["X-Viewer-Audience"] = "connection"
        return web.json_response({"id": request.match_info["id"]}, headers=headers)

    app = web.Application()
    app.router.add_get("/p/{id}", member)
    routes = ('\n[[routes]]\npattern = "/p/{id}"\nkind = "profile"\nsubject = "id"\n'
              'categories = { anonymous = ["user.name"], member = ["user.name", "user.contact.email"], '
              'connection = ["user.name", "user.contact.email", "user.contact.phone_number"] }\n')
    guard = make_guard(start_upstream(app), POLICY + routes, db=db_url)
    with httpx.Client(base_url=guard.url, headers={"User-Agent": BROWSER, "Accept-Language": "en"}) as client:
        assert client.get("/p/1").status_code == 200
        assert client.get("/p/2", headers={"X-Test-Viewer": "50"}).status_code == 200
        shown = client.get("/p/3", headers={"X-Test-Viewer": "51"})
        assert shown.status_code == 200 and "x-viewer-audience" not in shown.headers
    assert guard.proxy.records.flush()
    db = Database(db_url)
    try:
        with db.session() as s:
            found = s.scalars(select(ExposureRecord).where(ExposureRecord.route == "/p/{id}"))
            rows = {r.member: r for r in found}
    finally:
        db.dispose()
    assert rows["id:1"].audiences == ["anonymous"] and rows["id:1"].categories == ["user.name"]
    assert rows["id:2"].audiences == ["member"]
    assert rows["id:2"].categories == ["user.contact.email", "user.name"]
    assert rows["id:3"].audiences == ["connection"] and "user.contact.phone_number" in rows["id:3"].categories
