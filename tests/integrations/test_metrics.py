"""Prometheus metrics: scraped after real refusals through the proxy and the ASGI middleware, the
store state through a Redis that goes down, local calls only, one registry per guard."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import httpx
from starlette.testclient import TestClient

from scrapeguard.challenge.pow import solve
from scrapeguard.decisions import Decision, Reason
from scrapeguard.drill.harness import FakeClock
from scrapeguard.integrations.adapter import METRICS_PATH, build_guard
from scrapeguard.integrations.asgi import ScrapeGuardMiddleware
from scrapeguard.integrations.metrics import GuardMetrics, metric_samples, metrics_asgi_app, metrics_wsgi_app
from scrapeguard.policy import load_policy_text
from scrapeguard.stores import MemoryStore

PATIENT = 60.0
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
           "Accept": "text/html,application/xhtml+xml", "Accept-Language": "en", "Accept-Encoding": "gzip"}
#: A scraping library as scrapers run it, asking the member API.
TOOL = {"User-Agent": "python-requests/2.32.3", "Accept": "application/json"}
#: A page's script asking the site's API from a browser.
API = {**BROWSER, "Accept": "application/json"}
PEER = ("127.0.0.1", 50000)
EASY_CHALLENGES = "[challenge]\ndifficulty = 3000\ndifficulty_max = 6000\n"


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples called `name` of a metrics page, by their sorted labels."""
    return {tuple(sorted(labels.items())): value for sample, labels, value in metric_samples(text)
            if sample == name}


def value(text: str, name: str, **labels: str) -> float:
    return samples(text, name).get(tuple(sorted(labels.items())), 0.0)


def refused_by_file(lines: list[dict[str, Any]]) -> dict[str, int]:
    by_action: dict[str, int] = {}
    for line in lines:
        by_action[line["action"]] = by_action.get(line["action"], 0) + 1
    return by_action


def test_the_proxy_counts_a_scraper_s_refusals_by_action_detector_and_route(
        demo_site: str, make_guard: Callable[..., Any]) -> None:
    guard = make_guard(demo_site, clock=FakeClock())
    with httpx.Client(base_url=guard.url, timeout=PATIENT) as client:
        people = [client.get(f"/api/v1/members/{i}", headers=API).status_code for i in (40, 90)]
        scraper = [client.get(f"/api/v1/members/{i}", headers=TOOL).status_code for i in range(1, 13)]
        page = client.get(METRICS_PATH)
    assert people == [200, 200]
    challenged, throttled = scraper.count(403), scraper.count(429)
    assert challenged + throttled == 12 and challenged >= 1 and throttled >= 1, scraper
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/plain")
    text = page.text
    # the tool is challenged for what its user agent says it is, then throttled for walking the ids
    assert value(text, "scrapeguard_decisions_total", action="challenge", detector="bot_agents") == challenged
    assert value(text, "scrapeguard_decisions_total", action="throttle", detector="enumeration") == throttled
    assert value(text, "scrapeguard_decisions_total", action="allow", detector="none") == 2
    assert value(text, "scrapeguard_refusals_total", route="profile", action="challenge") == challenged
    assert value(text, "scrapeguard_refusals_total", route="profile", action="throttle") == throttled
    assert value(text, "scrapeguard_challenges_total", outcome="issued") == challenged
    assert value(text, "scrapeguard_challenges_total", outcome="solved") == 0
    # the decisions file says the same
    lines = [json.loads(line) for line in guard.decisions_path.read_text().splitlines()]
    assert refused_by_file(lines) == {"challenge": challenged, "throttle": throttled}
    detectors = {"challenge": "bot_agents", "throttle": "enumeration"}
    assert all(detectors[line["action"]] in {r["detector"] for r in line["reasons"]} for line in lines)
    assert value(text, "scrapeguard_store_degraded") == 0
    assert value(text, "scrapeguard_guard_events_total", event="challenge") == challenged
    # labels name actions, detectors and route kinds: never an address or a path
    assert "127.0.0.1" not in text and "/api/v1" not in text


def test_the_metrics_answer_direct_local_calls_only(demo_site: str, make_guard: Callable[..., Any]) -> None:
    guard = make_guard(demo_site)
    relayed = httpx.get(guard.url + METRICS_PATH, headers={"X-Forwarded-For": "203.0.113.7"}, timeout=PATIENT)
    # not the guard's answer: the request goes to the site like any other (which has no such page)
    assert relayed.status_code == 404 and "scrapeguard_decisions" not in relayed.text
    assert "scrapeguard_decisions" in httpx.get(guard.url + METRICS_PATH, timeout=PATIENT).text


def test_the_store_state_gauge_flips_to_degraded_when_redis_goes_down(
        demo_site: str, own_redis: Any, make_guard: Callable[..., Any]) -> None:
    clock = FakeClock()
    guard = make_guard(demo_site, store=f"{own_redis.url}?prefix=met&retry_seconds=0.5&timeout_ms=3000",
                       clock=clock)
    with httpx.Client(base_url=guard.url, timeout=PATIENT, headers=API) as client:
        assert client.get("/api/v1/members/5").status_code == 200
        before = client.get(METRICS_PATH).text
        own_redis.stop()
        assert client.get("/api/v1/members/60").status_code == 200  # the local fallback answers
        during = client.get(METRICS_PATH).text
        own_redis.start()
        clock.sleep(0.5)  # the retry window passes: the next call asks Redis again, and it answers
        assert client.get("/api/v1/members/110").status_code == 200
        after = client.get(METRICS_PATH).text
    assert value(before, "scrapeguard_store_degraded") == 0
    assert value(during, "scrapeguard_store_degraded") == 1
    assert value(after, "scrapeguard_store_degraded") == 0
    # the calls to Redis were timed, by operation
    assert value(before, "scrapeguard_store_call_seconds_count", operation="observe") >= 1
    assert value(after, "scrapeguard_store_call_seconds_count", operation="observe") > \
        value(during, "scrapeguard_store_call_seconds_count", operation="observe")


def test_the_asgi_middleware_counts_refusals_and_solved_challenges(
        example: Callable[[str], ModuleType]) -> None:
    guard = build_guard(load_policy_text(EASY_CHALLENGES))
    app = ScrapeGuardMiddleware(example("starlette_app").create_app(guarded=False), guard=guard,
                                clock=FakeClock().time)
    with TestClient(app, client=PEER) as client:
        refused = [client.get(f"/api/v1/members/{i}", headers=TOOL) for i in range(1, 6)]
        assert [r.status_code for r in refused] == [403] * 5
        spec = refused[-1].json()["challenge"]
        cleared = client.post(spec["submit"], data={"altcha": solve(spec["pow"]), "next": spec["next"]},
                              headers=TOOL)
        assert cleared.status_code == 200 and cleared.json()["cleared"]
        assert client.get("/api/v1/members/5", headers=TOOL).status_code == 200
        text = client.get(METRICS_PATH).text
    assert value(text, "scrapeguard_decisions_total", action="challenge", detector="bot_agents") == 5
    assert value(text, "scrapeguard_refusals_total", route="profile", action="challenge") == 5
    assert value(text, "scrapeguard_challenges_total", outcome="issued") == 5
    assert value(text, "scrapeguard_challenges_total", outcome="solved") == 1
    assert value(text, "scrapeguard_decisions_total", action="allow", detector="none") == 1
    # the app to mount on an internal route serves the same registry
    with TestClient(metrics_asgi_app(guard)) as internal:
        mounted = internal.get("/").text
    assert value(mounted, "scrapeguard_challenges_total", outcome="solved") == 1


def test_the_asgi_middleware_serves_no_metrics_to_a_remote_or_relayed_client(
        example: Callable[[str], ModuleType]) -> None:
    app = example("starlette_app").create_app(clock=FakeClock().time)
    with TestClient(app, client=("203.0.113.9", 40000)) as remote:
        assert remote.get(METRICS_PATH).status_code == 404  # the app's own answer
    with TestClient(app, client=PEER) as local:
        relayed = local.get(METRICS_PATH, headers={"X-Forwarded-For": "203.0.113.9"})
        assert relayed.status_code == 404 and "scrapeguard" not in relayed.text
        assert local.get(METRICS_PATH).status_code == 200


def test_each_guard_has_its_own_registry(example: Callable[[str], ModuleType]) -> None:
    first = example("starlette_app").create_app(clock=FakeClock().time)
    second = example("starlette_app").create_app(clock=FakeClock().time)
    with TestClient(first, client=PEER) as client:
        assert client.get("/api/v1/members/1", headers=TOOL).status_code == 403
        first_text = client.get(METRICS_PATH).text
    with TestClient(second, client=PEER) as client:
        second_text = client.get(METRICS_PATH).text
    assert value(first_text, "scrapeguard_refusals_total", route="profile", action="challenge") == 1
    assert value(second_text, "scrapeguard_refusals_total", route="profile", action="challenge") == 0


def test_a_guard_without_metrics_serves_none(example: Callable[[str], ModuleType]) -> None:
    guard = build_guard(metrics=False)
    app = ScrapeGuardMiddleware(example("starlette_app").create_app(guarded=False), guard=guard)
    with TestClient(app, client=PEER) as client:
        assert client.get(METRICS_PATH).status_code == 404
    assert guard.metrics is None


def test_labels_outside_the_known_names_are_counted_as_other() -> None:
    metrics = GuardMetrics(["bot_agents"], MemoryStore())
    odd = Decision("block", 0.0, (Reason("made-up-by-another-version", "ip:198.51.100.1", 1.0, "?"),),
                   route="/some/path")
    metrics.decision(odd)
    metrics.refusal(odd)
    two = Decision("throttle", 0.0, (Reason("bot_agents", "ip:x", 0.4, "a"),
                                     Reason("escalation", "", 1.0, "b")), route="listing")
    metrics.decision(two)
    text = metrics.exposition()[0].decode()
    assert value(text, "scrapeguard_decisions_total", action="block", detector="other") == 1
    assert value(text, "scrapeguard_refusals_total", route="other", action="block") == 1
    # the reason that scored highest names the decision's detector
    assert value(text, "scrapeguard_decisions_total", action="throttle", detector="escalation") == 1
    assert "made-up" not in text and "/some/path" not in text


def test_the_grafana_dashboard_asks_only_for_metrics_the_guard_exposes() -> None:
    dashboard = json.loads((EXAMPLES / "grafana-dashboard.json").read_text())
    asked = {name for panel in dashboard["panels"] for target in panel["targets"]
             for name in re.findall(r"\bscrapeguard_[a-z_]+", target["expr"])}
    records = SimpleNamespace(backlog=0)  # the sink's queue depth is all the gauge reads
    metrics = GuardMetrics(["bot_agents"], MemoryStore(), records,  # type: ignore[arg-type]
                           store_backlog=lambda: 0, guard_counts=dict, engine_counts=dict)
    metrics.store_call("observe", 0.001)
    metrics.decision(Decision("allow", 0.0))
    metrics.refusal(Decision("block", 0.0, route="profile"))
    exposed = {sample for sample, _, _ in metric_samples(metrics.exposition()[0].decode())}
    assert asked and asked <= exposed, asked - exposed
    titles = " ".join(panel["title"] for panel in dashboard["panels"])
    for topic in ("Decisions by action", "Refusals by route kind", "p50 / p99", "Store state", "Challenges",
                  "Records queue"):
        assert topic in titles


def test_the_wsgi_middleware_counts_refusals_and_its_metrics_app_serves_them(
        example: Callable[[str], ModuleType]) -> None:
    from werkzeug.test import Client

    app = example("flask_app").create_app(clock=FakeClock().time)
    guard = app.wsgi_app.guard
    client = app.test_client()  # REMOTE_ADDR 127.0.0.1: a direct local call
    assert [client.get(f"/api/v1/members/{i}", headers=TOOL).status_code for i in (1, 2, 3)] == [403] * 3
    text = client.get(METRICS_PATH).get_data(as_text=True)
    assert value(text, "scrapeguard_refusals_total", route="profile", action="challenge") == 3
    assert value(text, "scrapeguard_decisions_total", action="challenge", detector="bot_agents") == 3
    relayed = client.get(METRICS_PATH, headers={"X-Forwarded-For": "203.0.113.9"})
    assert relayed.status_code == 404
    mounted = Client(metrics_wsgi_app(guard)).get("/").get_data(as_text=True)
    assert value(mounted, "scrapeguard_refusals_total", route="profile", action="challenge") == 3


def test_the_django_middleware_counts_refusals_and_metrics_view_serves_them(
        example: Callable[[str], ModuleType]) -> None:
    from django.test import RequestFactory

    from scrapeguard.integrations.django import metrics_view

    from .test_django import django_site  # type: ignore[import-not-found]

    with django_site(example) as client:
        assert [client.get(f"/api/v1/members/{i}", headers=TOOL).status_code for i in (1, 2)] == [403] * 2
        text = client.get(METRICS_PATH).content.decode()
        view = metrics_view(RequestFactory().get("/internal/metrics")).content.decode()
    assert value(text, "scrapeguard_refusals_total", route="profile", action="challenge") == 2
    assert value(view, "scrapeguard_refusals_total", route="profile", action="challenge") == 2
    with django_site(example, metrics=False) as client:
        assert client.get(METRICS_PATH).status_code == 404
