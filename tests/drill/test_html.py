"""The scorecard's HTML page: tables and a self-contained SVG chart."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from xml.etree import ElementTree

from scrapeguard.drill.html import profiles_chart, scorecard_html
from scrapeguard.drill.scorecard import PersonaScore, Scorecard, StrategyScore


def card() -> Scorecard:
    return Scorecard("demo <loopback>", "<defaults>", "cd" * 32, datetime(2027, 1, 15, tzinfo=UTC),
                     "simulated",
                     [StrategyScore("curl", "", profiles=0, containment_seconds=0.0),
                      StrategyScore("slow & steady", "", profiles=137, containment_seconds=None),
                      StrategyScore("chromium", "", skipped="not installed")],
                     [PersonaScore("reader", "", people=1)])


def test_the_chart_has_a_bar_per_strategy_that_ran_on_a_labelled_axis() -> None:
    """Drawn by the project's one chart helper (scrapeguard.charts), as analyze and the console."""
    drawn = profiles_chart(card())
    svg = ElementTree.fromstring(drawn[:drawn.index("</svg>") + len("</svg>")])
    ns = {"s": "http://www.w3.org/2000/svg"}
    labels = [t.text for t in svg.iterfind(".//s:text", ns)]
    bars = svg.findall(".//s:g[@class='data']/s:rect", ns)
    assert [b.find("s:title", ns).text for b in bars] == [  # type: ignore[union-attr]
        "curl: 0", "slow & steady (not contained): 137"]
    widths = [float(b.get("width", "")) for b in bars]
    assert widths[0] == 0 and widths[1] > 0
    ticks = [int(t) for t in labels if t and t.isdigit()]
    assert max(ticks) >= 137 and 0 in ticks  # the axis reaches the longest bar
    assert "profiles leaked" in labels and "strategy" in labels  # both axes have titles
    assert "chromium" not in labels
    # the numbers for screen readers, in a table the page hides visually
    assert '<table id="drill-profiles-data">' in drawn and "sg-vh" in scorecard_html(card())


def test_the_page_is_self_contained_and_escapes_what_it_shows() -> None:
    page = scorecard_html(card())
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)
    assert "demo &lt;loopback&gt;" in page and "slow &amp; steady" in page
    assert "skipped" in page and "not installed" in page
    summary = "controls tested on 2027-01-15: 2 strategies, 137 profiles leaked at most, 0 people refused"
    assert summary in page
