"""Scraping strategies as plug-ins: a registry of name -> strategy, most of them plain data.

A strategy runs against a `Target` (a base URL and a clock) and returns a
`Result`: the member profiles it received (a 200 with the member's data),
requests sent, requests until the first refusal, and the actions it saw.

Most scrapers differ only in what they send and how they walk: those are a
`Walk` (data: headers, cookies, what to fetch in which order, pauses) run by
one function; `walk_from_mapping` builds one from a TOML/JSON table, so a team
can describe its own. Strategies that need more (many source addresses, days
of pacing) are small functions, registered with `@strategy(...)`.

Pauses go through the target's clock: with the harness's FakeClock a
scraper that waits for days finishes in seconds.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from scrapeguard.drill.client import (
    BROWSER_UAS,
    CHROME,
    CHROME_UA,
    CURL,
    PYTHON_REQUESTS,
    SCRAPY,
    Headers,
    Tally,
    Visitor,
    directory_names,
    interleave,
    is_refusal,
    with_user_agent,
)
from scrapeguard.drill.harness import Clock

#: Names a page of the demo directory lists.
PAGE_SIZE = 50


@dataclass
class Target:
    """Where a strategy runs: the guarded site's URL, the clock its pauses use, the size of the
    member id space (ids 1..members), and the source address of single-address strategies."""

    url: str
    clock: Clock
    members: int = 1000
    address: str | None = None


@dataclass
class Result:
    name: str
    tally: Tally
    #: Clock seconds the strategy ran.
    seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def profiles(self) -> int:
        return len(self.tally.profiles)

    @property
    def requests(self) -> int:
        return self.tally.requests

    @property
    def first_refusal(self) -> int | None:
        return self.tally.first_refusal

    @property
    def actions(self) -> Counter[str]:
        return self.tally.actions


StrategyFn = Callable[[Target], Result]


@dataclass(frozen=True)
class Strategy:
    name: str
    description: str
    run: StrategyFn
    #: Members the demo site needs for this strategy to show what it does.
    members: int = 1000


REGISTRY: dict[str, Strategy] = {}


def register(entry: Strategy) -> Strategy:
    if entry.name in REGISTRY:
        raise ValueError(f"a strategy named {entry.name!r} is already registered")
    REGISTRY[entry.name] = entry
    return entry


def strategy(name: str, description: str, members: int = 1000) -> Callable[[StrategyFn], StrategyFn]:
    """Register a function `(Target) -> Result` as a strategy."""

    def add(fn: StrategyFn) -> StrategyFn:
        register(Strategy(name, description, fn, members))
        return fn

    return add


def run_strategy(name: str, target: Target) -> Result:
    entry = REGISTRY[name]
    started = target.clock.time()
    result = entry.run(target)
    result.name = name
    result.seconds = target.clock.time() - started
    return result


# -- data-driven: one walk over member pages -----------------------------------------------------

Order = Literal["listed", "reversed", "shuffled", "sequential"]


@dataclass(frozen=True)
class Walk:
    """A scraper that walks member pages one by one.

    `targets`: "names" walks /u/<name> with names harvested from the directory (through the
    guard: those requests count), "ids" walks /api/v1/members/<id>. `order`: "listed" (the
    directory's order, or ids ascending), "reversed" (Scrapy's default LIFO queue fetches the
    last link found first), "shuffled", "sequential" (ids 1, 2, 3...). `pause`: seconds between
    requests, uniform in [low, high]; `autothrottle`: Scrapy's AutoThrottle (starts at 5 s,
    halves towards the latency). `robots`: fetch /robots.txt and skip what it disallows."""

    headers: Headers
    cookies: bool = False
    targets: Literal["names", "ids"] = "names"
    order: Order = "listed"
    count: int = 150
    assets: tuple[str, ...] = ()
    pause: tuple[float, float] = (0.0, 0.0)
    autothrottle: bool = False
    robots: bool = False
    seed: int = 1


def _disallowed(visitor: Visitor) -> list[str]:
    """Path prefixes /robots.txt disallows for every agent (the only group the demo has)."""
    text = visitor.get("/robots.txt").text
    rules, applies = [], False
    for line in text.splitlines():
        key, _, value = line.partition("#")[0].partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "user-agent":
            applies = value == "*"
        elif key == "disallow" and applies and value:
            rules.append(value)
    return rules


def run_walk(walk: Walk, target: Target) -> Result:
    tally = Tally()
    pace = random.Random(walk.seed)
    clock = target.clock
    delay = 5.0  # AutoThrottle's start delay
    latency = 0.01

    def pause() -> None:
        nonlocal delay
        if walk.autothrottle:
            delay = max(latency, (delay + latency) / 2)
            clock.sleep(delay * pace.uniform(0.5, 1.5))  # RANDOMIZE_DOWNLOAD_DELAY
        else:
            clock.sleep(pace.uniform(*walk.pause))

    with Visitor(target.url, clock, walk.headers, tally, cookies=walk.cookies,
                 source_address=target.address) as visitor:
        blocked = _disallowed(visitor) if walk.robots else []
        if walk.targets == "names":
            pages = -(-walk.count // PAGE_SIZE)
            paths = [f"/u/{n}" for n in directory_names(visitor, pages)][: walk.count]
        else:
            paths = [f"/api/v1/members/{i}" for i in range(1, min(walk.count, target.members) + 1)]
        if walk.order == "reversed":
            paths.reverse()
        elif walk.order == "shuffled":
            pace.shuffle(paths)
        for path in paths:
            if any(path.startswith(rule) for rule in blocked):
                continue
            pause()
            page = visitor.get(path)
            if walk.assets:
                visitor.assets(page, walk.assets)
    return Result("", tally)


def walk_strategy(name: str, description: str, walk: Walk) -> Strategy:
    return register(Strategy(name, description, lambda target: run_walk(walk, target)))


_WALK_FIELDS = {"cookies", "targets", "order", "count", "assets", "pause", "autothrottle", "robots", "seed"}


def walk_from_mapping(table: Mapping[str, Any]) -> Walk:
    """A Walk from a TOML/JSON table: `headers` is a list of [name, value] pairs in order (or
    `like` = "chrome", "curl", "python-requests", "scrapy" and an optional `user_agent`)."""
    known = {"chrome": CHROME, "curl": CURL, "python-requests": PYTHON_REQUESTS, "scrapy": SCRAPY}
    unknown = set(table) - _WALK_FIELDS - {"headers", "like", "user_agent"}
    if unknown:
        raise ValueError(f"unknown walk fields: {', '.join(sorted(unknown))}")
    if "headers" in table:
        headers: Headers = tuple((str(n), str(v)) for n, v in table["headers"])
    else:
        like = str(table.get("like", "chrome"))
        if like not in known:
            raise ValueError(f"like = {like!r}: one of {', '.join(known)}")
        headers = known[like]
    if "user_agent" in table:
        headers = with_user_agent(headers, str(table["user_agent"]))
    options = {k: v for k, v in table.items() if k in _WALK_FIELDS}
    if "pause" in options:
        low, high = options["pause"]
        options["pause"] = (float(low), float(high))
    if "assets" in options:
        options["assets"] = tuple(options["assets"])
    for name, allowed in (("targets", ("names", "ids")), ("order", get_args(Order))):
        if name in options and options[name] not in allowed:
            raise ValueError(f"{name} = {options[name]!r}: one of {', '.join(allowed)}")
    return Walk(headers=headers, **options)


HTTPX: Headers = (("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate"), ("Connection", "keep-alive"),
                  ("User-Agent", "python-httpx/0.28.1"))
SCRAPY_CHROME = with_user_agent(SCRAPY, CHROME_UA)

walk_strategy("curl", "curl in a loop over the API's member ids, no cookies (the README's example)",
              Walk(CURL, targets="ids", order="sequential", count=80))
walk_strategy("curl-cookies", "the same curl loop keeping its cookies (-b/-c cookie jar)",
              Walk(CURL, cookies=True, targets="ids", order="sequential", count=80))
walk_strategy("python-requests", "requests.get() in a loop over names from the directory, library user agent",
              Walk(PYTHON_REQUESTS, targets="names", count=150))
walk_strategy("python-httpx", "an httpx.Client (keeps cookies) over names from the directory, "
              "library user agent",
              Walk(HTTPX, cookies=True, targets="names", count=150))
walk_strategy("scrapy-default", "Scrapy with default settings: its user agent and headers, cookies, "
              "LIFO order, robots.txt ignored (ROBOTSTXT_OBEY's default)",
              Walk(SCRAPY, cookies=True, targets="names", order="reversed", count=150))
walk_strategy("scrapy-robots", "Scrapy as `scrapy startproject` sets it up: robots.txt obeyed",
              Walk(SCRAPY, cookies=True, targets="names", order="reversed", count=150, robots=True))
walk_strategy("scrapy-chrome-autothrottle", "Scrapy with a Chrome user agent and AutoThrottle, "
              "robots.txt obeyed",
              Walk(SCRAPY_CHROME, cookies=True, targets="names", order="reversed", count=150,
                   autothrottle=True, robots=True))
walk_strategy("browser-headers", "an HTTP client sending Chrome's exact headers in Chrome's order (TLS "
              "impersonation aside), cookies kept, names shuffled, 1-4 s pauses, no assets",
              Walk(CHROME, cookies=True, targets="names", order="shuffled", count=150, pause=(1.0, 4.0)))
walk_strategy("browser-headers-css", "the same, also fetching each page's stylesheet (not scripts or images)",
              Walk(CHROME, cookies=True, targets="names", order="shuffled", count=150, pause=(1.0, 4.0),
                   assets=(".css",)))


# -- plug-ins --------------------------------------------------------------------------------------


def distributed(target: Target, addresses: int = 100, per_address: int = 10,
                user_agents: tuple[str, ...] = BROWSER_UAS[:3], pause: tuple[float, float] = (1.0, 5.0),
                seed: int = 7) -> Result:
    """`addresses` source addresses, each in its own /24 (127.10.N.1: loopback on Linux), all at
    once (interleaved on the clock), each taking `per_address` sequential member ids from its own
    slice of the API; the user agent rotates among `user_agents` by address, the rest of the
    header set is one (Chrome's) for all."""
    tally = Tally()
    pace = random.Random(seed)
    clock = target.clock

    def worker(n: int) -> Iterator[float]:
        headers = with_user_agent(CHROME, user_agents[n % len(user_agents)])
        address = f"127.{10 + n // 256}.{n % 256}.1"
        with Visitor(target.url, clock, headers, tally, cookies=False, source_address=address) as visitor:
            for k in range(1, per_address + 1):
                visitor.get(f"/api/v1/members/{n * per_address + k}")
                yield pace.uniform(*pause)

    interleave(clock, [(pace.uniform(0, pause[1]), worker(n)) for n in range(addresses)])
    return Result("", tally, notes={"addresses": addresses, "networks": addresses})


def low_and_slow(target: Target, per_hour: float = 55, days: float = 7, seed: int = 3,
                 fresh_session_daily: bool = False, wait_when_refused: float = 0.0) -> Result:
    """One address, `per_hour` member profiles an hour around the clock for `days`, each id once
    (random order over the API), Chrome's headers, uneven pauses (±40 %). When refused it keeps its
    pace, or with `wait_when_refused` pauses that many seconds first (a patient scraper avoids the
    escalation to blocks). Without cookies; or, with `fresh_session_daily`, keeping the session the
    site gives it and starting a new one every day. Notes: profiles received per day."""
    tally = Tally()
    pace = random.Random(seed)
    clock = target.clock
    start = clock.time()
    ids = list(range(1, target.members + 1))
    pace.shuffle(ids)
    mean = 3600 / per_hour
    per_day: Counter[int] = Counter()
    headers = (*CHROME[:6], ("Accept", "application/json"), *CHROME[7:])
    with Visitor(target.url, clock, headers, tally, cookies=fresh_session_daily,
                 source_address=target.address) as visitor:
        today = -1
        for member in ids:
            day = int((clock.time() - start) // 86400)
            if day >= days:
                break
            if fresh_session_daily and day != today:
                visitor.client.cookies.clear()
                visitor.get("/")  # the site's front page gives the new session
                today = day
            before = len(tally.profiles)
            response = visitor.get(f"/api/v1/members/{member}")
            if len(tally.profiles) > before:
                per_day[day] += 1
            if is_refusal(response):
                clock.sleep(wait_when_refused)
            clock.sleep(mean * pace.uniform(0.6, 1.4))
    return Result("", tally, notes={"per_day": [per_day[d] for d in range(int(-(-days // 1)))],
                                    "per_hour": per_hour, "days": days})


def residential(target: Target, addresses: int = 1000, per_address: int = 3,
                user_agents: tuple[str, ...] = BROWSER_UAS, pause: tuple[float, float] = (2.0, 30.0),
                seed: int = 11, slices: bool = False) -> Result:
    """A residential proxy pool: `addresses` source addresses, each in its own /24, all at once,
    each taking `per_address` member profiles (random ids, or with `slices` consecutive ids; no
    two addresses the same), a browser user agent each, Chrome's other headers, no cookies."""
    tally = Tally()
    pace = random.Random(seed)
    clock = target.clock
    wanted = min(target.members, addresses * per_address)
    ids = list(range(1, wanted + 1)) if slices else pace.sample(range(1, target.members + 1), wanted)

    def worker(n: int) -> Iterator[float]:
        headers = with_user_agent(CHROME, user_agents[n % len(user_agents)])
        address = f"127.{10 + n // 256}.{n % 256}.1"
        with Visitor(target.url, clock, headers, tally, cookies=False, source_address=address) as visitor:
            for member in ids[n * per_address:(n + 1) * per_address]:
                visitor.get(f"/api/v1/members/{member}")
                yield pace.uniform(*pause)

    interleave(clock, [(pace.uniform(0, 600), worker(n)) for n in range(addresses)])
    return Result("", tally, notes={"addresses": addresses, "networks": addresses})


@strategy("distributed", "100 addresses in 100 /24 networks, 10 sequential ids each, rotating among "
          "three browser user agents, all at once")
def _distributed(target: Target) -> Result:
    return distributed(target)


@strategy("low-and-slow", "one address, 55 profiles an hour around the clock for a week, keeping its pace "
          "when refused", members=10000)
def _low_and_slow(target: Target) -> Result:
    return low_and_slow(target, per_hour=55, days=7)


@strategy("low-and-slow-under-daily", "one address staying just under the anonymous daily quota "
          "(12 profiles an hour, 288 a day) for ten days", members=4000)
def _under_daily(target: Target) -> Result:
    return low_and_slow(target, per_hour=12, days=10)


@strategy("low-and-slow-fresh-sessions", "one address under the daily quota (12 profiles an hour) "
          "for ten days, keeping the site's session and starting a new one every day", members=4000)
def _fresh_sessions(target: Target) -> Result:
    return low_and_slow(target, per_hour=12, days=10, fresh_session_daily=True)


@strategy("residential", "1,000 addresses in 1,000 /24 networks (a residential proxy pool), 3 profiles "
          "each, rotating browser user agents, all at once", members=3000)
def _residential(target: Target) -> Result:
    return residential(target)


@strategy("residential-slices", "the same pool, each address taking 3 consecutive ids", members=3000)
def _residential_slices(target: Target) -> Result:
    return residential(target, slices=True)


def names() -> list[str]:
    return list(REGISTRY)


__all__ = ["REGISTRY", "Result", "Strategy", "Target", "Walk", "distributed", "low_and_slow", "register",
           "run_strategy", "run_walk", "strategy", "walk_from_mapping", "walk_strategy"]


#: A member card's avatar names the member's id (the demo site's member lists and room pages).
AVATAR_ID = re.compile(r'src="/static/avatars/(\d+)\.svg"')
ROOM_SLUG = re.compile(r'data-room="([^"]+)"')
NEXT_PAGE = re.compile(r'rel="next" href="([^"]+)"')


@strategy("group-members", "a logged-in member (browser headers, assets from a warm cache, pauses of "
          "2-9 s) walking every page of every chat room's member list: group-member scraping")
def _group_members(target: Target) -> Result:
    """The members shown on the member lists it received count as leaked (their names, jobs, cities)."""
    tally = Tally()
    pace = random.Random(61)
    with Visitor(target.url, target.clock, CHROME, tally, source_address=target.address,
                 cache=True) as visitor:
        names = directory_names(visitor, pages=1)
        if not names or visitor.post("/login", {"username": names[0], "password": "demo"}).status_code != 303:
            return Result("", tally, notes={"logged_in": False})
        rooms: list[str] = []
        path: str | None = "/chats"
        while path is not None and not is_refusal(page := visitor.get(path)):
            rooms += ROOM_SLUG.findall(page.text)
            found = NEXT_PAGE.search(page.text)
            path = found.group(1) if found else None
        pages = 0
        for room in rooms:
            path = f"/chats/{room}/members"
            while path is not None:
                page = visitor.get(path)
                if page.status_code != 200:
                    break
                visitor.assets(page)
                pages += 1
                tally.profiles.update(AVATAR_ID.findall(page.text.split("<main>", 1)[-1]))
                found = NEXT_PAGE.search(page.text)
                path = found.group(1) if found else None
                target.clock.sleep(pace.uniform(2, 9))
    return Result("", tally, notes={"logged_in": True, "rooms": len(rooms), "member_list_pages": pages})
