"""The scorecard as one HTML page: the tables and a bar chart (inline SVG from `scrapeguard.charts`,
no scripts, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from scrapeguard.charts import HIDDEN_CSS, BarChart, bar_chart
from scrapeguard.drill.scorecard import Scorecard, actions_text, duration


def profiles_chart(card: Scorecard) -> str:
    """A horizontal bar per strategy that ran: profiles leaked, drawn by the project's one chart
    helper (axes, units, a hidden data table); a strategy not contained by the end says so."""
    items = tuple((s.name + (" (not contained)" if s.containment_seconds is None and s.profiles else ""),
                   float(s.profiles)) for s in card.ran)
    return str(bar_chart(BarChart(
        "Profiles leaked per strategy",
        "Member profiles each scraping strategy received before the guard contained it, or by the "
        "end of the drill if it never was.",
        "profiles leaked", items, y_title="strategy", width=680), "drill-profiles"))


def _table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def scorecard_html(card: Scorecard) -> str:
    strategies = []
    for s in card.strategies:
        if s.skipped is not None:
            strategies.append((s.name, "-", "skipped", "-", s.skipped, s.description))
            continue
        first = "never" if s.first_refusal is None else \
            f"{s.first_refusal} of {s.requests} ({duration(s.first_refusal_seconds)})"
        contained = "not contained" if s.containment_seconds is None else duration(s.containment_seconds)
        strategies.append((s.name, str(s.profiles), first, contained,
                           actions_text(s.actions) + (f" ({s.stopped})" if s.stopped else ""), s.description))
    personas = [(p.name, f"{p.refused} of {p.people}", str(p.requests), actions_text(p.actions),
                 p.description) for p in card.personas]
    clock = "simulated clock" if card.clock == "simulated" else "real time"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ScrapeGuard drill {card.started_at:%Y-%m-%d}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}
table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}}
th{{background:#f3f3f3}}
{HIDDEN_CSS}</style>
</head><body>
<h1>Drill scorecard</h1>
<p>Target: {escape(card.target)}. Policy: {escape(card.policy)} (SHA-256 <code>{card.policy_hash}</code>).
Run {card.started_at:%Y-%m-%d %H:%M} UTC on a {clock}.</p>
<p><strong>{escape(card.summary())}</strong></p>
<h2>Profiles leaked per strategy</h2>
{profiles_chart(card)}
<h2>Strategies</h2>
{_table(("strategy", "profiles leaked", "requests until first refusal", "contained after", "actions seen",
         "what it does"), strategies)}
<h2>People</h2>
{_table(("persona", "people refused", "requests", "actions seen", "who"), personas)}
</body></html>
"""
