"""The bulk reader (Polars, `logs/scanning.py`) classifies requests by the route map exactly as
`RouteMap` does (which `replay` and the per-line reader use), on generated route maps (rules with
regex characters, placeholders, `*` placeholders, query subjects, rules that name methods) and
generated requests."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.logs.formats import make_format
from scrapeguard.logs.reading import ReadStats, read_records
from scrapeguard.logs.scanning import scan_logs
from scrapeguard.policy.model import RouteRule
from scrapeguard.routes import RouteMap

from ..test_routes_properties import path_for, route_maps  # type: ignore[import-not-found]

COMBINED = make_format("combined")


@st.composite
def logged_route_maps(draw: st.DrawFn) -> tuple[list[object], list[RouteRule]]:
    """Generated route maps, some of whose rules name methods or take their subject from the query."""
    drawn, rules = draw(route_maps())
    varied = []
    for rule in rules:
        methods = draw(st.sampled_from([(), (), ("POST",), ("GET", "HEAD")]))
        subject = draw(st.sampled_from([rule.subject, rule.subject, "query:email"]))
        varied.append(RouteRule(rule.pattern, rule.kind, subject, rule.categories, methods))
    return drawn, varied


def line(method: str, target: str, second: int) -> str:
    return (f'192.0.2.{second % 250 + 1} - - [17/May/2015:10:05:{second % 60:02d} +0000] '
            f'"{method} {target} HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n')


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_the_bulk_reader_and_the_route_map_agree(data: st.DataObject) -> None:
    drawn, rules = data.draw(logged_route_maps())
    routes = RouteMap(rules)
    requests = []
    for i in range(data.draw(st.integers(1, 12))):
        path = data.draw(path_for(data.draw(st.sampled_from(drawn))))
        query = data.draw(st.sampled_from(["", "?email=Anna@Example.org", "?page=2&email=b%40x.org"]))
        method = data.draw(st.sampled_from(["GET", "POST", "HEAD"]))
        requests.append(line(method, path + query, i))
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.log"
        log.write_text("".join(requests), encoding="utf-8")
        stats = ReadStats()
        expected = Counter((r.method, r.path, *routes.index_of(r.path, r.query))
                           for r in read_records([str(log)], COMBINED, stats))
        (Path(tmp) / "parts").mkdir()
        scanned = scan_logs([str(log)], COMBINED, routes, Path(tmp) / "parts")
        got = Counter(scanned.requests().collect().select("method", "path", "rule", "subject").iter_rows())
    assert stats.parsed == len(requests)
    assert got == expected


def test_a_rule_that_names_methods_is_passed_over_in_logs_by_both() -> None:
    """Log lines are classified without their method (`RouteMap.index_of(path, query)`), so a rule
    for POST only never matches there; the bulk reader used to match it, whatever the method, and
    `analyze` counted what `replay` did not."""
    routes = RouteMap([RouteRule("/signup", "contact_lookup", None, (), ("POST",)),
                       RouteRule("/u/{name}", "profile", "name", ())])
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.log"
        log.write_text(line("POST", "/signup", 1) + line("GET", "/signup", 2) + line("GET", "/u/anna", 3))
        (Path(tmp) / "parts").mkdir()
        frame = scan_logs([str(log)], COMBINED, routes, Path(tmp) / "parts").requests().collect()
    assert frame.select("method", "path", "rule", "subject").rows() == [
        ("POST", "/signup", None, None), ("GET", "/signup", None, None), ("GET", "/u/anna", 1, "name:anna")]
