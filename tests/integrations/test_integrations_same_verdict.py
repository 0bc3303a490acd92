"""One scraper scenario against every integration: the proxy, the ASGI, WSGI and Django middlewares
and nginx + `scrapeguard decide`.
Each must refuse the scraper with the same actions, for the same reasons, at the same request
numbers, and let the person read. All share one request adapter (integrations/adapter.py); this
test is what keeps it that way.

Another integration joins by adding a factory to INTEGRATIONS: a context manager that, given a
`Setup` (fake clock, decisions file, policy), yields a `Client` whose requests reach the guarded
example site and keep its cookies.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import httpx
import pytest
import uvicorn

from scrapeguard.drill.harness import FakeClock, LoopThread, start_guard, stop_guard
from scrapeguard.policy import Policy, default_policy, load_policy_text
from scrapeguard.refusals import DECISION_HEADER

#: The guard trusts the one proxy in front (every test client's peer): each client's address is
#: the X-Forwarded-For it sends.
TRUSTED = ("127.0.0.1",)
TOOL_IP = "203.0.113.9"
SWEEPER_IP = "203.0.113.77"
HARVESTER_IP = "203.0.113.150"
PERSON_IP = "198.51.100.23"
CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/131.0.0.0 Safari/537.36")
#: A library client as scrapers run it (python-requests' own headers).
TOOL_HEADERS = {"User-Agent": "python-requests/2.32.3", "Accept": "*/*",
                "Accept-Encoding": "gzip, deflate", "X-Forwarded-For": TOOL_IP}
#: A library client dressed as a browser (Chrome's user agent), as scrapers that adapt send.
SWEEPER_HEADERS = {"User-Agent": CHROME_UA, "Accept": "application/json",
                   "Accept-Language": "en-US,en;q=0.9", "Accept-Encoding": "gzip, deflate",
                   "X-Forwarded-For": SWEEPER_IP}
#: Chrome opening a page, and loading the page's stylesheet.
PAGE_HEADERS = {"User-Agent": CHROME_UA, "X-Forwarded-For": PERSON_IP,
                "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8",
                "Accept-Language": "en-GB,en;q=0.9", "Accept-Encoding": "gzip, deflate, br",
                "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document",
                "Upgrade-Insecure-Requests": "1"}
ASSET_HEADERS = {"User-Agent": CHROME_UA, "X-Forwarded-For": PERSON_IP, "Accept": "text/css,*/*;q=0.1",
                 "Accept-Language": "en-GB,en;q=0.9", "Accept-Encoding": "gzip, deflate, br",
                 "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "style"}
TOOL_IDS = 5
SCRAPED_IDS = 60
#: More member pages than the anonymous hourly quota (60), each with its stylesheet, as a browser.
HARVESTED_PAGES = 66
#: The person: the home page, then a few member profiles, each page with its stylesheet.
PERSON_PAGES = ("/", "/u/member12", "/u/member40", "/u/member7", "/u/member211", "/u/member95")


@dataclass(frozen=True)
class Answer:
    status: int
    decision_id: str
    text: str
    #: The RateLimit header of a throttle ("" if none).
    ratelimit: str = ""


class Client(Protocol):
    """A client of the guarded site that keeps the cookies it is given."""

    def get(self, path: str, headers: dict[str, str]) -> Answer: ...

    def post(self, path: str, form: dict[str, str], headers: dict[str, str]) -> Answer: ...


@dataclass(frozen=True)
class Setup:
    example: Callable[[str], ModuleType]
    loop: LoopThread
    clock: FakeClock
    decisions: Path
    policy: Policy


@dataclass(frozen=True)
class Step:
    """One request of the scenario and what the guard made of it."""

    number: int
    who: str
    path: str
    status: int
    action: str
    reasons: tuple[tuple[str, str, str], ...]
    ratelimit: str


def run_scenario(client: Client, clock: FakeClock, decisions: Path) -> list[Step]:
    """A scraping tool asks for a few members under its own name; a scraper dressed as a browser
    walks the member API one id a second; a harvester reads member pages out of order like a
    browser (stylesheet and all), past the hourly quota; then a person reads a few profiles, half a
    minute apart. Each request's action and reasons are read from the decisions file."""
    plan: list[tuple[str, str, dict[str, str], float]] = [
        ("tool", f"/api/v1/members/{i}", TOOL_HEADERS, 1.0) for i in range(1, TOOL_IDS + 1)]
    plan += [("scraper", f"/api/v1/members/{i}", SWEEPER_HEADERS, 1.0) for i in range(1, SCRAPED_IDS + 1)]
    for i in range(HARVESTED_PAGES):
        member = (i * 197) % 500 + 1  # every member once, in no order a sweep detector would see
        plan += [("harvester", f"/u/member{member}", {**PAGE_HEADERS, "X-Forwarded-For": HARVESTER_IP},
                  17.0 + (i * i * 13) % 23),
                 ("harvester", "/static/site.css", {**ASSET_HEADERS, "X-Forwarded-For": HARVESTER_IP}, 0.3)]
    for page in PERSON_PAGES:
        plan += [("person", page, PAGE_HEADERS, 30.0), ("person", "/static/site.css", ASSET_HEADERS, 0.2)]
    answers = []
    for who, path, headers, pause in plan:
        clock.sleep(pause)
        answers.append((who, path, client.get(path, headers)))
    written = {line["id"]: line for line in map(json.loads, decisions.read_text().splitlines())} \
        if decisions.exists() else {}
    steps = []
    for number, (who, path, answer) in enumerate(answers, 1):
        decision = written.get(answer.decision_id, {})
        reasons = tuple((r["detector"], r["key"], r["detail"]) for r in decision.get("reasons", ()))
        steps.append(Step(number, who, path, answer.status, decision.get("action", "allow"), reasons,
                          answer.ratelimit))
    return steps


# -- the integrations ---------------------------------------------------------------------

class HttpxClient:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def get(self, path: str, headers: dict[str, str]) -> Answer:
        return self._answer(self.client.get(path, headers=headers))

    def post(self, path: str, form: dict[str, str], headers: dict[str, str]) -> Answer:
        return self._answer(self.client.post(path, data=form, headers=headers))

    @staticmethod
    def _answer(response: httpx.Response) -> Answer:
        return Answer(response.status_code, response.headers.get(DECISION_HEADER, ""), response.text,
                      response.headers.get("RateLimit", ""))


@contextlib.contextmanager
def served_asgi(loop: LoopThread, app: Any) -> Iterator[str]:
    """`app` served by uvicorn on a loopback port (the upstream behind the proxy)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False,
                            lifespan="off")
    server = uvicorn.Server(config)

    async def start() -> asyncio.Task[None]:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        return task

    task = loop.run(start())
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True

        async def stop() -> None:
            await task

        loop.run(stop())


@contextlib.contextmanager
def through_proxy(setup: Setup) -> Iterator[Client]:
    site = setup.example("starlette_app").create_app(guarded=False)
    with served_asgi(setup.loop, site) as upstream:
        guard = start_guard(setup.loop, upstream, setup.decisions, setup.policy, TRUSTED,
                            clock=setup.clock.time)
        try:
            with httpx.Client(base_url=guard.url, timeout=60) as client:
                yield HttpxClient(client)
        finally:
            stop_guard(setup.loop, guard)


@contextlib.contextmanager
def through_asgi(setup: Setup) -> Iterator[Client]:
    from starlette.testclient import TestClient

    app = setup.example("starlette_app").create_app(setup.policy, trusted_proxies=TRUSTED,
                                                    decisions_out=str(setup.decisions),
                                                    clock=setup.clock.time)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        yield HttpxClient(client)


class WerkzeugClient:
    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, path: str, headers: dict[str, str]) -> Answer:
        return self._answer(self.client.get(path, headers=headers))

    def post(self, path: str, form: dict[str, str], headers: dict[str, str]) -> Answer:
        return self._answer(self.client.post(path, data=form, headers=headers))

    @staticmethod
    def _answer(response: Any) -> Answer:
        return Answer(response.status_code, response.headers.get(DECISION_HEADER, ""), response.text,
                      response.headers.get("RateLimit", ""))


@contextlib.contextmanager
def through_wsgi(setup: Setup) -> Iterator[Client]:
    app = setup.example("flask_app").create_app(setup.policy, trusted_proxies=TRUSTED,
                                                decisions_out=str(setup.decisions), clock=setup.clock.time)
    yield WerkzeugClient(app.test_client())  # REMOTE_ADDR 127.0.0.1


class DjangoClient:
    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, path: str, headers: dict[str, str]) -> Answer:
        return self._answer(self.client.get(path, headers=headers))

    def post(self, path: str, form: dict[str, str], headers: dict[str, str]) -> Answer:
        return self._answer(self.client.post(path, form, headers=headers))

    @staticmethod
    def _answer(response: Any) -> Answer:
        return Answer(response.status_code, response.headers.get(DECISION_HEADER, ""),
                      response.content.decode(), response.headers.get("RateLimit", ""))


@contextlib.contextmanager
def django_site(example: Callable[[str], ModuleType], **scrapeguard: Any) -> Iterator[Any]:
    """The Django example with SCRAPEGUARD settings laid over its own; yields a test Client."""
    from django.test import Client as TestClient
    from django.test import override_settings

    module = example("django_app")
    module.configure()  # a no-op when another test configured Django already
    options = {**module.SCRAPEGUARD, "account": module.logged_in, **scrapeguard}
    with override_settings(ROOT_URLCONF=module.__name__, MIDDLEWARE=module.MIDDLEWARE, SCRAPEGUARD=options,
                           ALLOWED_HOSTS=["*"]):
        yield TestClient()  # REMOTE_ADDR 127.0.0.1; the middleware is built on the first request


@contextlib.contextmanager
def through_django(setup: Setup) -> Iterator[Client]:
    with django_site(setup.example, policy=setup.policy, trusted_proxies=list(TRUSTED),
                     decisions_out=str(setup.decisions), clock=setup.clock.time) as client:
        yield DjangoClient(client)


class NginxClient(HttpxClient):
    """A client of nginx in front of the site: each answer waits until the decide server has read
    nginx's log line of it (what the site answered is learned after the response, as in the
    proxy), so that the next request is decided knowing it."""

    def __init__(self, client: httpx.Client, loop: LoopThread, server: Any) -> None:
        super().__init__(client)
        self.loop = loop
        self.server = server
        self.sent = 0

    def get(self, path: str, headers: dict[str, str]) -> Answer:
        answer = super().get(path, headers)
        self._logged(path)
        return answer

    def post(self, path: str, form: dict[str, str], headers: dict[str, str]) -> Answer:
        answer = super().post(path, form, headers)
        self._logged(path)
        return answer

    def _logged(self, path: str) -> None:
        if path.startswith("/.well-known/scrapeguard/"):
            return  # the guard's own answers are not logged
        self.sent += 1
        self.loop.run(self.server.logged(self.sent), timeout=30)


@contextlib.contextmanager
def through_nginx(setup: Setup) -> Iterator[Client]:
    """Debian's nginx in front of the site, asking `scrapeguard decide` (auth_request); the
    stylesheets are served without asking (their log lines are recorded after)."""
    from scrapeguard.drill.nginx import Nginx, free_port, nginx_binary, nginx_conf
    from scrapeguard.integrations.adapter import build_guard
    from scrapeguard.integrations.auth_request import DecideServer, decide_port, start_decide

    binary = nginx_binary()
    if binary is None:
        message = "nginx is not installed (apt-get install nginx-light)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    site = setup.example("starlette_app").create_app(guarded=False)
    with served_asgi(setup.loop, site) as upstream:
        guard = build_guard(setup.policy, "memory://", TRUSTED, setup.decisions)
        server = DecideServer(guard, clock=setup.clock.time)
        runner = setup.loop.run(start_decide(server, "127.0.0.1", 0))
        workdir = setup.decisions.parent / "nginx"
        workdir.mkdir()
        port = free_port()
        conf = nginx_conf(workdir, port, upstream.removeprefix("http://"), f"127.0.0.1:{decide_port(runner)}")
        nginx = Nginx(binary, workdir, conf, port)
        try:
            with httpx.Client(base_url=nginx.url, timeout=60) as client:
                yield NginxClient(client, setup.loop, server)
        finally:
            nginx.stop()
            setup.loop.run(runner.cleanup())


Integration = Callable[[Setup], contextlib.AbstractContextManager[Client]]
INTEGRATIONS: dict[str, Integration] = {
    "proxy": through_proxy,
    "asgi": through_asgi,
    "wsgi": through_wsgi,
    "django": through_django,
    "nginx": through_nginx,
}
#: What the others are compared with.
REFERENCE = "proxy"


@pytest.fixture(scope="module")
def transcripts(example: Callable[[str], ModuleType], loop_thread: LoopThread,
                tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[Step]]:
    """The scenario's steps through an integration (run once per integration and module)."""
    done: dict[str, list[Step]] = {}

    def run(name: str) -> list[Step]:
        if name not in done:
            decisions = tmp_path_factory.mktemp(name) / "decisions.jsonl"
            setup = Setup(example, loop_thread, FakeClock(), decisions, default_policy())
            with INTEGRATIONS[name](setup) as client:
                done[name] = run_scenario(client, setup.clock, setup.decisions)
        return done[name]

    return run


@pytest.mark.parametrize("name", list(INTEGRATIONS))
def test_the_scraper_is_refused_and_the_person_is_not(name: str,
                                                      transcripts: Callable[[str], list[Step]]) -> None:
    steps = transcripts(name)
    assert all(s.action != "allow" and s.status in (403, 429) for s in steps if s.who == "tool")
    scraper = [s for s in steps if s.who == "scraper"]
    refused = [s for s in scraper if s.action != "allow"]
    assert refused, f"{name}: the scraper walked {SCRAPED_IDS} member ids unrefused"
    assert all(s.status in (403, 429) for s in refused)
    # once refused, the sweep stays refused: the last ids are not served
    assert scraper[-1].action != "allow" and scraper[-1].status != 200
    assert sum(s.status == 200 for s in scraper) < SCRAPED_IDS // 2
    # the harvester reads its hourly quota of member pages (and every stylesheet), then is throttled
    # with the quota named in its RateLimit header
    harvested = [s for s in steps if s.who == "harvester" and s.path.startswith("/u/")]
    assert [s.status for s in harvested[:60]] == [200] * 60
    assert harvested[60].action == "throttle" and harvested[60].status == 429
    assert harvested[60].ratelimit.startswith('"profiles') and ";r=0;" in harvested[60].ratelimit
    assert all(s.status == 200 for s in steps if s.who == "harvester" and s.path.startswith("/static/"))
    person = [s for s in steps if s.who == "person"]
    assert [(s.path, s.status, s.action) for s in person] == [(s.path, 200, "allow") for s in person]


@pytest.mark.parametrize("name", [n for n in INTEGRATIONS if n != REFERENCE])
def test_every_integration_decides_as_the_proxy_does(name: str,
                                                     transcripts: Callable[[str], list[Step]]) -> None:
    expected = transcripts(REFERENCE)
    got = transcripts(name)
    differences = [(e, g) for e, g in zip(expected, got, strict=True) if e != g]
    assert not differences, f"{name} differs from the {REFERENCE} at steps {differences[:3]}"


#: Easy puzzles, so that the solver is quick.
EASY_CHALLENGES = "[challenge]\ndifficulty = 3000\ndifficulty_max = 6000\n"


def solve(challenge: dict[str, Any]) -> str:
    """A real solver, written from the ALTCHA format: find n with sha256(salt + n) == challenge."""
    salt, target = challenge["salt"], challenge["challenge"]
    for n in range(int(challenge["maxnumber"]) + 1):
        if hashlib.sha256(f"{salt}{n}".encode()).hexdigest() == target:
            payload = {"algorithm": challenge["algorithm"], "challenge": target, "number": n,
                       "salt": salt, "signature": challenge["signature"]}
            return base64.b64encode(json.dumps(payload).encode()).decode()
    raise AssertionError("no solution within maxnumber")


@pytest.mark.parametrize("name", list(INTEGRATIONS))
def test_a_solved_challenge_clears_the_way_through_every_integration(
        name: str, example: Callable[[str], ModuleType], loop_thread: LoopThread, tmp_path: Path) -> None:
    setup = Setup(example, loop_thread, FakeClock(), tmp_path / "decisions.jsonl",
                  load_policy_text(EASY_CHALLENGES))
    api = {**TOOL_HEADERS, "Accept": "application/json"}
    with INTEGRATIONS[name](setup) as client:
        challenged = client.get("/api/v1/members/3", api)
        assert challenged.status == 403
        spec = json.loads(challenged.text)["challenge"]
        assert spec["next"] == "/api/v1/members/3"
        # a wrong answer is challenged again; the right one sets the clearance cookie
        assert client.post(spec["submit"], {"altcha": "wrong", "next": spec["next"]}, api).status == 403
        cleared = client.post(spec["submit"], {"altcha": solve(spec["pow"]), "next": spec["next"]}, api)
        assert (cleared.status, json.loads(cleared.text)["cleared"]) == (200, True)
        assert client.get("/api/v1/members/3", api).status == 200
