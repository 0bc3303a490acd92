"""Events: the network an address belongs to; bounded text."""

from __future__ import annotations

import dataclasses
import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from scrapeguard.events import BOUND_MARK, MAX_LENGTHS, Event, bounded, bounded_subject, network_of
from scrapeguard.routes import RouteMatch


def test_the_network_of_an_address() -> None:
    assert network_of("192.0.2.7") == "192.0.2.0/24"
    assert network_of("2001:db8:1:2:3::7") == "2001:db8:1:2::/64"
    assert network_of("::1") == "::/64"


def test_an_ipv4_mapped_address_is_in_its_ipv4_network() -> None:
    # not ::/64, which would make every IPv4 client seen through a dual-stack socket one network
    assert network_of("::ffff:192.0.2.7") == "192.0.2.0/24"
    assert network_of("::FFFF:c000:0207") == "192.0.2.0/24"
    assert Event(ts=0, ip="::ffff:192.0.2.7").net == "192.0.2.0/24"


def test_text_that_is_not_an_address_has_no_network() -> None:
    for text in ("", "testclient", "1.2.3.x", "::ffff:1.2.3", "[::1]", "999.1.1.7", "1.2.300.4", "1..2.3",
                 "1.2.3.٣"):
        assert network_of(text) is None, text


@given(st.ip_addresses(v=4))
def test_mapped_and_plain_ipv4_share_the_network(ip: ipaddress.IPv4Address) -> None:
    expected = str(ipaddress.ip_network(f"{ip}/24", strict=False))
    assert network_of(f"::ffff:{ip}") == network_of(str(ip)) == expected


# -- bounding what clients choose (issue 12, item 7) -------------------------------------------------

def test_normal_values_stay_as_they_are() -> None:
    email = "a" * 240 + "@example.org"  # a long but real address
    event = Event(ts=0, ip="192.0.2.7", path="/u/ann",
                  route=RouteMatch("profile", "username:ann", (), "/u/{u}"), account="42",
                  session="s-" + "0" * 24, user_agent="Mozilla/5.0 (X11; Linux x86_64)",
                  headers={"accept": "text/html"})
    assert (event.ip, event.path, event.route.subject, event.account) == \
        ("192.0.2.7", "/u/ann", "username:ann", "42")
    lookup = Event(ts=0, ip=None, route=RouteMatch("contact_lookup", f"email:{email}", (), None))
    assert lookup.route.subject == f"email:{email}"
    assert bounded("x" * 100, 100) == "x" * 100


def test_an_over_long_value_becomes_its_start_and_a_hash() -> None:
    long_a, long_b = "a" * 5000 + "1", "a" * 5000 + "2"  # the same start: only the hash tells them apart
    a, b = bounded(long_a, 100), bounded(long_b, 100)
    assert len(a) == len(b) == 100 and a != b
    assert a.startswith("a" * 60) and BOUND_MARK in a
    assert bounded(long_a, 100) == a and bounded(a, 100) == a  # stable, and bounding twice changes nothing
    assert len(bounded("\udcff" * 500 + "\U0001F600" * 500, 100)) == 100  # lone surrogates from logs too


def test_a_subject_keeps_its_placeholder_and_bounds_its_value() -> None:
    subject = "username:" + "z" * 8000
    event = Event(ts=0, ip="192.0.2.7", route=RouteMatch("profile", subject, ("user.name",), "/u/{username}"))
    assert event.route.subject is not None and event.route.subject.startswith("username:zzz")
    assert len(event.route.subject) == len("username:") + MAX_LENGTHS["subject"]
    assert (event.route.kind, event.route.categories, event.route.pattern) == ("profile", ("user.name",),
                                                                               "/u/{username}")
    assert bounded_subject("id:" + "7" * 9000) != bounded_subject("id:" + "7" * 9001)


HUGE = "\u00e9" * 20_000


def test_every_text_field_of_an_event_is_bounded() -> None:
    """Every field of Event that can hold text is filled with 20,000 characters; each comes out
    bounded. A new text field added without a bound fails here (its type is not known below)."""
    values: dict[str, object] = {"ts": 0.0}
    for f in dataclasses.fields(Event):
        if f.type in ("str", "str | None"):
            values[f.name] = HUGE
        elif f.type == "RouteMatch":
            values[f.name] = RouteMatch("profile", "username:" + HUGE, (), "/u/{username}")
        elif f.type == "Mapping[str, str] | None":
            values[f.name] = {"accept": HUGE, HUGE: "x"}
        else:
            assert f.type in ("float", "float | None", "int | None", "bool"), f"unbounded {f.name}: {f.type}"
    event = Event(**values)  # type: ignore[arg-type]
    for name, value in values.items():
        kept = getattr(event, name)
        if isinstance(value, str):
            assert isinstance(kept, str) and len(kept) <= 512, name
    assert event.route.subject is not None and len(event.route.subject) <= 300
    assert event.headers is not None
    assert all(len(k) <= 256 and len(v) <= 256 for k, v in event.headers.items())
    assert all(len(k) + len(v) <= 600 for k, v in event.keys().items())


def test_over_long_ids_in_a_history_do_not_make_the_sweep_detectors_fail() -> None:
    # Python refuses int() of more than 4300 digits: unbounded, one such id among a client's
    # recent pages made enumeration and campaign fail (and judge nothing) on its next requests
    from scrapeguard.engine import Engine
    from scrapeguard.policy import default_policy
    from scrapeguard.routes import RouteMap

    policy = default_policy()
    engine, routes = Engine(policy), RouteMap(policy.routes)
    member = 1
    for i in range(40):
        path = f"/api/v1/members/{'9' * 5000}{i}" if i % 3 == 2 else f"/api/v1/members/{member}"
        member += i % 3 != 2
        engine.decide(Event(ts=1000 + i, ip="192.0.2.7", path=path, route=routes.match(path)))
    assert engine.counts["events"] == 40
    assert not [name for name in engine.counts if name.startswith("errors.")]
