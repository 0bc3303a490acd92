"""Structured JSON logs: every line parses, decisions carry their id and action."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from scrapeguard.cli import main
from scrapeguard.drill.harness import FakeClock
from scrapeguard.integrations.asgi import ScrapeGuardMiddleware
from scrapeguard.jsonlog import configure_logging

TOOL = {"User-Agent": "python-requests/2.32.3", "Accept": "application/json"}


@pytest.fixture
def restored_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_every_line_is_one_json_object_and_refusals_name_their_decision(restored_root_logger: None) -> None:
    stream = io.StringIO()
    configure_logging("json", stream)

    async def page(request: object) -> Response:
        return PlainTextResponse("a profile")

    app = ScrapeGuardMiddleware(Starlette(routes=[Route("/u/{name}", page)]), clock=FakeClock().time)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        refused = client.get("/u/alice", headers=TOOL)
    logging.getLogger("scrapeguard.test").warning("odd value: %s", "ünïcode \"quoted\"\nnext line")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("scrapeguard.test").exception("it failed")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]  # each line parses alone
    assert all({"ts", "level", "logger", "message"} <= line.keys() for line in lines)
    decisions = [line for line in lines if line["logger"] == "scrapeguard.decisions"]
    assert len(decisions) == 1
    assert decisions[0]["decision_id"] == refused.headers["X-ScrapeGuard-Decision"]
    assert decisions[0]["action"] == "challenge" and decisions[0]["enforced"] is True
    assert decisions[0]["route"] == "profile" and decisions[0]["level"] == "info"
    assert decisions[0]["ts"].endswith("+00:00")
    odd = next(line for line in lines if line["message"].startswith("odd value"))
    assert odd["message"] == "odd value: ünïcode \"quoted\"\nnext line" and odd["level"] == "warning"
    failed = next(line for line in lines if line["message"] == "it failed")
    assert "RuntimeError: boom" in failed["exc"]


def test_the_text_format_sets_nothing_up_and_an_unknown_one_is_refused(restored_root_logger: None) -> None:
    before = list(logging.getLogger().handlers)
    configure_logging("text")
    assert logging.getLogger().handlers == before
    with pytest.raises(ValueError, match="not one of text, json"):
        configure_logging("xml")


def test_the_proxy_command_takes_the_log_format() -> None:
    runner = CliRunner()
    assert "--log-format [text|json]" in runner.invoke(main, ["proxy", "--help"]).output
    wrong = runner.invoke(main, ["proxy", "--upstream", "http://127.0.0.1:9", "--log-format", "xml"])
    assert wrong.exit_code == 2 and "'xml' is not one of 'text', 'json'" in wrong.output
