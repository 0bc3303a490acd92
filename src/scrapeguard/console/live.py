"""The Live view: what the guard is doing now, from the records. Over the last hour, day or week:
the traffic it judged (allows included) and its refusals over time by action, by detector and by
route kind; the actors and campaigns refused most (links to /actors/{key} and /actors?campaign=, the
Actors area's pages); the state store's health.

Every number comes from `records.live` (marked `read`); the charts are `scrapeguard.charts`."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from starlette.responses import Response

from scrapeguard.charts import BarChart, Series, TimeChart, bar_chart, duration_text, time_chart
from scrapeguard.console.web import Page, PageError, Routes
from scrapeguard.records import live
from scrapeguard.records.live import Breakdown, Window

routes = Routes()


@dataclass(frozen=True)
class Span:
    """A span the page offers: its query value, its words, its length and its bucket, in seconds."""

    value: str
    words: str
    seconds: int
    step: int


SPANS = (Span("1h", "last hour", 3600, 300), Span("24h", "last 24 hours", 86400, 3600),
         Span("7d", "last 7 days", 7 * 86400, 6 * 3600))
DEFAULT_SPAN = "24h"
#: Chart width (SVG units; the page scales it down on a narrower screen).
WIDTH = 960
#: Detectors drawn as their own line; the rest are summed into "other detectors".
MAX_DETECTOR_LINES = 6


#: Actions in the order (and so the colours) every chart draws them: what was let through first.
ACTION_ORDER = ("allow", "login", "challenge", "throttle", "block")


def _series(breakdown: Breakdown, limit: int | None = None, other: str = "other",
            order: tuple[str, ...] = ()) -> tuple[Series, ...]:
    items = list(breakdown.series.items())
    if order:
        rank = {name: i for i, name in enumerate(order)}
        items.sort(key=lambda item: rank.get(item[0], len(rank)))
    shown = items if limit is None or len(items) <= limit else items[:limit - 1]
    series = [Series(name, tuple(float(v) for v in values)) for name, values in shown]
    rest = items[len(shown):]
    if rest:
        series.append(Series(other, tuple(float(sum(column)) for column in zip(*(v for _, v in rest),
                                                                              strict=True))))
    return tuple(series)


@routes.get("/live", "read")
async def live_view(page: Page) -> Response:
    chosen = page.request.query_params.get("span", DEFAULT_SPAN)
    span = next((s for s in SPANS if s.value == chosen), None)
    if span is None:
        raise PageError(400, f"the span is one of {', '.join(s.value for s in SPANS)}, not {chosen!r}")
    window = Window.ending_at(page.now, span.seconds, span.step)
    with page.records() as session:
        by_action = live.refusals_by(session, page.actor, window, "action")
        by_detector = live.refusals_by(session, page.actor, window, "detector")
        by_route = live.refusals_by(session, page.actor, window, "route")
        requests = live.traffic(session, page.actor, window)
        traffic_known = live.traffic_recorded(session, page.actor)
        actors = live.top_actors(session, page.actor, window)
        campaigns = live.top_campaigns(session, page.actor, window)
    per = duration_text(span.step)
    starts = window.starts
    refusals = sum(total for _, total in by_action.totals)
    judged = sum(total for _, total in requests.totals)
    charts: dict[str, Markup] = {
        "traffic": time_chart(TimeChart(
            "Requests judged by the guard", f"Requests the guard judged in the {span.words}, per {per}, "
            "by the action decided (allow included), stacked.", f"requests per {per}", starts, span.step,
            _series(requests, order=ACTION_ORDER), width=WIDTH), "chart-traffic"),
        "actions": time_chart(TimeChart(
            "Refusals by action", f"Refusals (enforced or observed) in the {span.words}, per {per}, by "
            "action, stacked.", f"refusals per {per}", starts, span.step,
            _series(by_action, order=ACTION_ORDER), width=WIDTH),
            "chart-actions"),
        "detectors": time_chart(TimeChart(
            "Refusals by detector", f"Refusals in the {span.words}, per {per}, by the detectors among "
            "their reasons (a refusal counts once for each of its detectors).", f"refusals per {per}",
            starts, span.step, _series(by_detector, MAX_DETECTOR_LINES, "other detectors"), kind="lines",
            width=WIDTH),
            "chart-detectors"),
        "routes": bar_chart(BarChart(
            "Refusals by route kind", f"Refusals in the {span.words} by the kind of route refused.",
            f"refusals in the {span.words}", tuple((name, float(n)) for name, n in by_route.totals),
            y_title="route kind", width=WIDTH), "chart-routes"),
    }
    return page.render("live.html", spans=SPANS, span=span, window=window, charts=charts,
                       refusals=refusals, judged=judged, traffic_known=traffic_known,
                       detector_counted=by_detector.counted, actors=actors, campaigns=campaigns,
                       store_health=page.store_health)
