"""What strategies and personas share: who a client says it is (header sets), an HTTP client that
records what it got, and running many clients side by side on one clock.

A profile counts as received only on a 200 that carries the member's data: a page with
`data-member-id="N"` or a JSON object with an `"id"` (the demo site's profile and API).
"""

from __future__ import annotations

import functools
import heapq
import json
import re
import ssl
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import httpx

from scrapeguard.drill.harness import Clock
from scrapeguard.refusals import DECISION_HEADER

MEMBER_ID = re.compile(r'data-member-id="(\d+)"')
PROFILE_LINK = re.compile(r'href="/u/([^"/?#]+)"')
ASSET_LINK = re.compile(r'(?:href|src)="(/static/[^"]+)"')

Headers = tuple[tuple[str, str], ...]

CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/131.0.0.0 Safari/537.36")
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/18.1 Safari/605.1.15")
EDGE_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0")
#: Browser user agents a distributed scraper rotates among.
BROWSER_UAS = (CHROME_UA, FIREFOX_UA, SAFARI_UA, EDGE_UA)

#: Chrome 131's navigation request over HTTP/1.1, headers in Chrome's order (Host goes first).
CHROME: Headers = (
    ("Connection", "keep-alive"),
    ("sec-ch-ua", '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", '"Windows"'),
    ("Upgrade-Insecure-Requests", "1"),
    ("User-Agent", CHROME_UA),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,"
               "*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"),
    ("Sec-Fetch-Site", "same-origin"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-User", "?1"),
    ("Sec-Fetch-Dest", "document"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Accept-Language", "en-US,en;q=0.9"),
)
#: Firefox 133's navigation request, in Firefox's order.
FIREFOX: Headers = (
    ("User-Agent", FIREFOX_UA),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en-GB,en;q=0.5"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Connection", "keep-alive"),
    ("Upgrade-Insecure-Requests", "1"),
    ("Sec-Fetch-Dest", "document"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-Site", "same-origin"),
    ("Sec-Fetch-User", "?1"),
    ("Priority", "u=0, i"),
)
CURL: Headers = (("User-Agent", "curl/8.5.0"), ("Accept", "*/*"))
PYTHON_REQUESTS: Headers = (("User-Agent", "python-requests/2.32.3"), ("Accept-Encoding", "gzip, deflate"),
                            ("Accept", "*/*"), ("Connection", "keep-alive"))
SCRAPY_UA = "Scrapy/2.11.2 (+https://scrapy.org)"
#: Scrapy's DEFAULT_REQUEST_HEADERS, its user agent, and what its compression middleware asks for.
SCRAPY: Headers = (
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en"),
    ("User-Agent", SCRAPY_UA),
    ("Accept-Encoding", "gzip, deflate"),
)

#: What a browser sends for a page's sub-resources, by kind (Accept, Sec-Fetch-Dest).
_ASSET_KIND = {
    ".css": ("text/css,*/*;q=0.1", "style"),
    ".js": ("*/*", "script"),
    ".svg": ("image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", "image"),
}


def with_user_agent(headers: Headers, user_agent: str) -> Headers:
    """The same header set (and order) naming another user agent."""
    return tuple((name, user_agent if name.lower() == "user-agent" else value) for name, value in headers)


def user_agent_of(headers: Headers) -> str:
    return next((value for name, value in headers if name.lower() == "user-agent"), "")


def is_refusal(response: httpx.Response) -> bool:
    """Whether the guard refused the request (its decision id travels with every refusal)."""
    return DECISION_HEADER in response.headers


def action_of(response: httpx.Response) -> str:
    """What the client saw: the guard's action for a refusal, else the status code."""
    if not is_refusal(response):
        return str(response.status_code)
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            action = json.loads(response.content).get("action")
        except (ValueError, AttributeError):
            action = None
        if isinstance(action, str):
            return action
    if response.status_code == 429:
        return "throttle"
    # a challenge page carries no Retry-After (solving it is the way on); a block does
    return "block" if "retry-after" in response.headers else "challenge"


def member_of(response: httpx.Response) -> str | None:
    """The member id whose data a response carries, if it is a 200 with a member's data."""
    if response.status_code != 200:
        return None
    kind = response.headers.get("content-type", "")
    if kind.startswith("application/json"):
        try:
            document = json.loads(response.content)
        except ValueError:
            return None
        member = document.get("id") if isinstance(document, dict) else None
        return str(member) if isinstance(member, int | str) and not isinstance(member, bool) else None
    if kind.startswith("text/html"):
        found = MEMBER_ID.search(response.text)
        return found.group(1) if found else None
    return None


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


@dataclass
class Tally:
    """What one or more clients sent and got."""

    requests: int = 0
    #: Member ids whose data was received (distinct).
    profiles: set[str] = field(default_factory=set)
    #: Actions seen: the guard's action for refusals, else the status code; with counts.
    actions: Counter[str] = field(default_factory=Counter)
    #: Requests sent up to and including the first refusal (None: never refused).
    first_refusal: int | None = None
    #: Clock seconds from the first request to the first refusal.
    first_refusal_seconds: float | None = None
    #: Clock seconds from the first request to the first refusal after the last profile received
    #: (None: the last response with a new profile was not followed by any refusal).
    contained_seconds: float | None = None
    started: float | None = None

    def see(self, response: httpx.Response, now: float) -> None:
        self.requests += 1
        if self.started is None:
            self.started = now
        action = action_of(response)
        self.actions[action] += 1
        if is_refusal(response) and self.first_refusal is None:
            self.first_refusal = self.requests
            self.first_refusal_seconds = now - self.started
        if is_refusal(response) and self.contained_seconds is None:
            self.contained_seconds = now - self.started
        member = member_of(response)
        if member is not None:
            self.leaked(member)

    def leaked(self, member: str) -> None:
        """Count a member's data as received (a new member re-opens containment)."""
        if member not in self.profiles:
            self.profiles.add(member)
            self.contained_seconds = None

    @property
    def refused(self) -> int:
        return sum(n for action, n in self.actions.items() if not action.isdigit())


class Visitor:
    """One HTTP client with one identity: its headers (exact set and order), whether it keeps
    cookies, and its source address. Every response is recorded in `tally`."""

    def __init__(self, base_url: str, clock: Clock, headers: Headers, tally: Tally | None = None,
                 cookies: bool = True, source_address: str | None = None, timeout: float = 60,
                 cache: bool = False) -> None:
        tls = _tls_context()  # one for all clients: making one per client costs milliseconds
        transport = httpx.HTTPTransport(local_address=source_address, verify=tls) if source_address else None
        self.client = httpx.Client(base_url=base_url, transport=transport, timeout=timeout,
                                   follow_redirects=False, verify=tls)
        self.client.headers = httpx.Headers(list(headers))  # exactly these, in this order
        self.headers = headers
        self.clock = clock
        self.tally = tally if tally is not None else Tally()
        self.keep_cookies = cookies
        #: With a cache, each asset is fetched once (a browser's warm cache), else with every page.
        self.cached: set[str] | None = set() if cache else None

    def __enter__(self) -> Visitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, path: str, headers: Headers = (), **kwargs: object) -> httpx.Response:
        gate = getattr(self.clock, "before_request", None)
        if gate is not None:  # a drill's bounds: rate, duration (see scrapeguard.drill.bounds)
            gate(self.tally)
        if not self.keep_cookies:
            self.client.cookies.clear()
        response = self.client.request(method, path, headers=list(headers) or None, **kwargs)  # type: ignore[arg-type]
        if not self.keep_cookies:
            self.client.cookies.clear()
        self.tally.see(response, self.clock.time())
        return response

    def get(self, path: str, headers: Headers = ()) -> httpx.Response:
        return self.request("GET", path, headers)

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self.request("POST", path, data=data)

    def assets(self, page: httpx.Response, kinds: tuple[str, ...] = (".css", ".js", ".svg"),
               gap: float = 0.05) -> list[httpx.Response]:
        """What a browser loads with a page: its stylesheet, script and images (of `kinds`), with
        the headers a browser sends for each, a moment apart."""
        got = []
        referer = str(page.url)
        for path in dict.fromkeys(ASSET_LINK.findall(page.text)):
            kind = next((k for k in kinds if path.endswith(k)), None)
            if kind is None or (self.cached is not None and path in self.cached):
                continue
            if self.cached is not None:
                self.cached.add(path)
            accept, dest = _ASSET_KIND[kind]
            self.clock.sleep(gap)
            got.append(self.get(path, (("Accept", accept), ("Sec-Fetch-Dest", dest),
                                       ("Sec-Fetch-Mode", "no-cors"), ("Referer", referer))))
        return got


def directory_names(visitor: Visitor, pages: int, pause: float = 0.0) -> list[str]:
    """Usernames from the directory's first `pages` pages (50 a page), as a scraper harvests them."""
    names: list[str] = []
    for page in range(1, pages + 1):
        response = visitor.get(f"/directory?page={page}")
        names += PROFILE_LINK.findall(response.text)
        visitor.clock.sleep(pause)
    return list(dict.fromkeys(names))


#: An actor in a simulation: each step makes its requests and yields the seconds to its next step.
Actor = Iterator[float]


def interleave(clock: Clock, actors: Iterable[tuple[float, Actor]]) -> None:
    """Run actors side by side on one clock: (start delay, actor) pairs; each step happens at its
    time, in time order (ties in the order given). With a FakeClock the whole run is instant and
    repeatable; with the wall clock it really waits."""
    start = clock.time()
    queue: list[tuple[float, int, Actor]] = []
    for order, (delay, actor) in enumerate(actors):
        heapq.heappush(queue, (start + delay, order, actor))
    while queue:
        at, order, actor = heapq.heappop(queue)
        clock.sleep(at - clock.time())
        try:
            pause = next(actor)
        except StopIteration:
            continue
        heapq.heappush(queue, (clock.time() + max(0.0, pause), order, actor))
