"""The scorecard as one HTML page: the tables and a bar chart (inline SVG, no scripts, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from scrapeguard.drill.scorecard import Scorecard, actions_text, duration

BAR_HEIGHT = 22
LABEL_WIDTH = 190
PLOT_WIDTH = 460


def _ticks(top: int) -> list[int]:
    """About five round tick values from 0 to at least `top`."""
    if top <= 0:
        return [0, 1]
    magnitude = 1
    while True:
        for base in (1, 2, 5):
            step = base * magnitude
            if top <= 5 * step:
                return list(range(0, -(-top // step) * step + 1, step))
        magnitude *= 10


def profiles_chart(card: Scorecard) -> str:
    """A horizontal bar per strategy that ran: profiles leaked, on a labelled axis."""
    ran = card.ran
    ticks = _ticks(max((s.profiles for s in ran), default=0))
    scale = PLOT_WIDTH / ticks[-1]
    height = 30 + BAR_HEIGHT * len(ran) + 40
    x0, y0 = LABEL_WIDTH, 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{x0 + PLOT_WIDTH + 30}" '
             f'height="{height}" font-family="sans-serif" font-size="12">',
             "<title>Profiles leaked per strategy</title>"]
    bottom = y0 + BAR_HEIGHT * len(ran)
    for tick in ticks:
        x = x0 + tick * scale
        parts.append(f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{bottom}" stroke="#ddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle">{tick}</text>')
    for row, score in enumerate(ran):
        y = y0 + row * BAR_HEIGHT
        width = score.profiles * scale
        colour = "#b3261e" if score.containment_seconds is None and score.profiles else "#2e6b9e"
        parts.append(f'<text x="{x0 - 8}" y="{y + 15}" text-anchor="end">{escape(score.name)}</text>')
        parts.append(f'<rect x="{x0}" y="{y + 4}" width="{width:.1f}" height="{BAR_HEIGHT - 8}" '
                     f'fill="{colour}"><title>{escape(score.name)}: {score.profiles}</title></rect>')
        parts.append(f'<text x="{x0 + width + 4:.1f}" y="{y + 15}">{score.profiles}</text>')
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{bottom}" stroke="#333"/>')
    parts.append(f'<line x1="{x0}" y1="{bottom}" x2="{x0 + PLOT_WIDTH}" y2="{bottom}" stroke="#333"/>')
    parts.append(f'<text x="{x0 + PLOT_WIDTH / 2}" y="{bottom + 34}" text-anchor="middle">'
                 "profiles leaked (red: not contained by the end)</text>")
    parts.append("</svg>")
    return "\n".join(parts)


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
th{{background:#f3f3f3}}</style>
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
