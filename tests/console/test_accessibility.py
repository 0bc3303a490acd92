"""The accessibility check itself catches what it is meant to catch (it guards every page the
browser tests screenshot and every page the role walk renders)."""

from __future__ import annotations

from .accessibility import accessibility_problems  # type: ignore[import-not-found]

GOOD = """<!doctype html><html lang="en"><body><h1>T</h1>
<form><label for="a">A</label><input id="a" name="a"><label>B <input name="b"></label>
<input type="hidden" name="csrf"><button>Go</button></form>
<table><tr><th>h</th></tr></table><img src="x" alt="chart"><a href="/x">X</a></body></html>"""


def test_a_good_page_has_no_problems() -> None:
    assert accessibility_problems(GOOD) == []


def test_each_problem_is_named() -> None:
    bad = GOOD.replace(' lang="en"', "").replace('<label for="a">A</label>', "") \
        .replace(' alt="chart"', "").replace("<th>h</th>", "<td>h</td>").replace(">Go<", "><") \
        .replace("<h1>T</h1>", "")
    problems = " | ".join(accessibility_problems(bad))
    for expected in ("no lang", "name='a'> has no label", "without alt", "0 <h1>", "header cells",
                     "says nothing"):
        assert expected in problems, problems
