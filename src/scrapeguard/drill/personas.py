"""People who must not be refused, as plug-ins like the strategies: name -> persona.

Each persona runs one or more people against a `Target` and returns how many
people there were and which of them were refused at least once (any response
carrying the guard's decision header: a throttle, a challenge or a block).
People browse like people: they keep their cookies, load what their browser
loads, and pause to read (on the target's clock: with a FakeClock, hours pass
at once).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from scrapeguard.drill.client import (
    CHROME,
    FIREFOX,
    PROFILE_LINK,
    Headers,
    Tally,
    Visitor,
    interleave,
)
from scrapeguard.drill.strategies import PAGE_SIZE, Target

#: What each person's browser loads with a page.
ALL_ASSETS = (".css", ".js", ".svg")
NO_SCRIPTS = (".css", ".svg")


@dataclass
class PersonaResult:
    name: str = ""
    people: int = 0
    #: Names of the people refused at least once.
    refused: set[str] = field(default_factory=set)
    tally: Tally = field(default_factory=Tally)
    seconds: float = 0.0

    @property
    def actions(self) -> Counter[str]:
        return self.tally.actions


PersonaFn = Callable[[Target], PersonaResult]


@dataclass(frozen=True)
class Persona:
    name: str
    description: str
    run: PersonaFn
    members: int = 1000


PERSONAS: dict[str, Persona] = {}


def persona(name: str, description: str, members: int = 1000) -> Callable[[PersonaFn], PersonaFn]:
    def add(fn: PersonaFn) -> PersonaFn:
        if name in PERSONAS:
            raise ValueError(f"a persona named {name!r} is already registered")
        PERSONAS[name] = Persona(name, description, fn, members)
        return fn

    return add


def run_persona(name: str, target: Target) -> PersonaResult:
    started = target.clock.time()
    result = PERSONAS[name].run(target)
    result.name = name
    result.seconds = target.clock.time() - started
    return result


class Person:
    """One person's browser: records into the persona's tally and notes whether they were refused."""

    def __init__(self, who: str, target: Target, result: PersonaResult, headers: Headers,
                 assets: tuple[str, ...] = ALL_ASSETS, address: str | None = None) -> None:
        self.who = who
        self.result = result
        self.assets = assets
        self.clock = target.clock
        self.visitor = Visitor(target.url, target.clock, headers, result.tally, cookies=True,
                               source_address=address or target.address, cache=True)
        result.people += 1

    def open(self, path: str) -> list[str]:
        """Open a page as a browser does (page, then its assets); returns the profile links on it."""
        before = self.result.tally.refused
        page = self.visitor.get(path)
        if page.status_code < 400 and "text/html" in page.headers.get("content-type", ""):
            self.visitor.assets(page, self.assets)
        if self.result.tally.refused > before:
            self.result.refused.add(self.who)
        return list(dict.fromkeys(PROFILE_LINK.findall(page.text)))

    def log_in(self, username: str, password: str = "demo") -> bool:
        self.open("/login")
        response = self.visitor.post("/login", {"username": username, "password": password})
        if response.status_code >= 400:
            self.result.refused.add(self.who)
            return False
        location = response.headers.get("location")
        if location:
            self.open(location)
        return True

    def close(self) -> None:
        self.visitor.close()


def _reader(person: Person, pace: random.Random, profiles: int,
            dwell: tuple[float, float]) -> Iterator[float]:
    """Home, a directory page, some profiles picked from it (each read for a while), a search."""
    person.open("/")
    yield pace.uniform(3, 15)
    page = pace.randint(1, 4)
    names = person.open(f"/directory?page={page}")
    yield pace.uniform(5, 30)
    for name in pace.sample(names, min(profiles, len(names))):
        person.open(f"/u/{name}")
        yield pace.uniform(*dwell)
    person.open("/search?q=" + pace.choice(["engineer", "paris", "design", "data", "anna"]))
    yield 0


def _one_person(target: Target, who: str, headers: Headers, visit: Callable[[Person], Iterator[float]],
                assets: tuple[str, ...] = ALL_ASSETS) -> PersonaResult:
    """A persona of one person: their browser, their visit on the clock, then the browser closed."""
    result = PersonaResult()
    person = Person(who, target, result, headers, assets)
    try:
        interleave(target.clock, [(0, visit(person))])
    finally:
        person.close()
    return result


@persona("reader", "a person reading 15 profiles with their browser's assets, 20 s to 2 min each")
def reader(target: Target) -> PersonaResult:
    return _one_person(target, "reader", FIREFOX, lambda p: _reader(p, random.Random(11), 15, (20, 120)))


@persona("office-nat", "20 colleagues behind one office address, 8 profiles each, browsing at once")
def office_nat(target: Target) -> PersonaResult:
    result = PersonaResult()
    pace = random.Random(20)
    people = [Person(f"colleague-{i}", target, result, FIREFOX if i % 2 else CHROME) for i in range(20)]
    try:
        interleave(target.clock, [(pace.uniform(0, 120), _reader(p, random.Random(100 + i), 8, (10, 90)))
                                  for i, p in enumerate(people)])
    finally:
        for p in people:
            p.close()
    return result


@persona("recruiter", "a logged-in recruiter going through 400 profiles over a working day (about 8 hours)")
def recruiter(target: Target) -> PersonaResult:
    pace = random.Random(31)

    def day(person: Person) -> Iterator[float]:
        names = person.open("/directory?page=1")
        if not names or not person.log_in(names[0]):
            return
        yield pace.uniform(5, 20)
        seen = 0
        page = 1
        while seen < 400:
            page += 1
            listed = person.open(f"/directory?page={(page - 1) % max(1, target.members // PAGE_SIZE) + 1}")
            yield pace.uniform(5, 20)
            for name in listed:
                if pace.random() < 0.6:  # the candidates that look right
                    person.open(f"/u/{name}")
                    seen += 1
                    yield pace.uniform(30, 110)
                    if seen >= 400:
                        break
            if page % 4 == 0:
                person.open("/search?q=" + pace.choice(["engineer", "manager", "analyst", "developer"]))
                yield pace.uniform(10, 30)

    return _one_person(target, "recruiter", CHROME, day)


@persona("no-javascript", "a reader whose browser runs no JavaScript (stylesheet and images only)")
def no_javascript(target: Target) -> PersonaResult:
    return _one_person(target, "no-javascript", FIREFOX,
                       lambda p: _reader(p, random.Random(41), 15, (20, 120)), assets=NO_SCRIPTS)


@persona("screen-reader", "a screen-reader user going down a directory page in order, opening each "
         "profile, listening to it and coming back to the list")
def screen_reader(target: Target) -> PersonaResult:
    pace = random.Random(51)

    def listen(person: Person) -> Iterator[float]:
        person.open("/")
        yield pace.uniform(20, 60)
        names = person.open("/directory?page=2")
        yield pace.uniform(30, 90)
        for name in names[:18]:
            person.open(f"/u/{name}")
            yield pace.uniform(25, 90)
            person.open("/directory?page=2")  # the "Directory" link back to the list
            yield pace.uniform(5, 20)

    return _one_person(target, "screen-reader", FIREFOX, listen)


def names() -> list[str]:
    return list(PERSONAS)


__all__ = ["PERSONAS", "Persona", "PersonaResult", "persona", "run_persona"]
