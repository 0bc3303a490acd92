"""What is happening now, from the records: refusals over time (by action, route kind or detector),
the traffic the guard judged (allows included, per minute), and the actors and campaigns refused
most. For the console's Live view.

Time is cut into buckets of `step` seconds aligned to the epoch (so 1-hour buckets start on the
hour, UTC). Counting is portable: the database groups by minute or by hour (each dialect's own
truncation, the only dialect-specific part) and Python sums those into buckets, so a query returns
at most one row per minute (or hour) and value. Detectors are inside each decision's JSON reasons:
they are counted in Python from at most MAX_DETECTOR_ROWS decisions, the latest (a page says so when
the span held more).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from scrapeguard.records.errors import RecordsError
from scrapeguard.records.models import DecisionActor, DecisionRecord, TrafficMinute
from scrapeguard.records.permissions import requires

if TYPE_CHECKING:
    from scrapeguard.records.users import Actor

#: What refusals can be broken down by.
DIMENSIONS = ("action", "route", "detector")
#: At most this many decisions are read to count refusals by detector (the latest of the span).
MAX_DETECTOR_ROWS = 200_000


@dataclass(frozen=True)
class Window:
    """Buckets of `step` seconds from `start` (epoch seconds, a multiple of `step`), `n` of them."""

    start: float
    step: float
    n: int

    @classmethod
    def ending_at(cls, now: float, span: float, step: float) -> Window:
        """The buckets of the last `span` seconds up to `now`, the last one holding `now`."""
        if step <= 0 or span < step:
            raise RecordsError("a window needs a positive step no longer than its span")
        end = (math.floor(now / step) + 1) * step
        n = max(1, math.ceil(span / step))
        return cls(end - n * step, step, n)

    @property
    def end(self) -> float:
        return self.start + self.n * self.step

    @property
    def starts(self) -> tuple[float, ...]:
        return tuple(self.start + i * self.step for i in range(self.n))

    def index(self, ts: float) -> int | None:
        i = math.floor((ts - self.start) / self.step)
        return i if 0 <= i < self.n else None

    @property
    def start_at(self) -> datetime:
        return datetime.fromtimestamp(self.start, UTC)

    @property
    def end_at(self) -> datetime:
        return datetime.fromtimestamp(self.end, UTC)


@dataclass(frozen=True)
class Breakdown:
    """Counts per bucket of a window for each value of a dimension (most first)."""

    window: Window
    series: dict[str, tuple[int, ...]]
    #: When fewer than all the span's decisions were counted (by detector): how many were.
    counted: int | None = None

    def total(self, name: str) -> int:
        return sum(self.series.get(name, ()))

    @property
    def totals(self) -> list[tuple[str, int]]:
        return [(name, sum(values)) for name, values in self.series.items()]


@dataclass(frozen=True)
class TopActor:
    key: str
    refusals: int
    last_at: datetime | None
    #: The actions decided about it, most first.
    actions: tuple[str, ...] = ()


def _truncated(session: Session, column: Any, step: float) -> tuple[ColumnElement[Any], str]:
    """The column truncated to the hour (when buckets are whole hours) or the minute, and the unit."""
    unit = "hour" if step % 3600 == 0 else "minute"
    if session.get_bind().dialect.name == "postgresql":
        return func.date_trunc(unit, column), unit
    return func.strftime("%Y-%m-%d %H:00" if unit == "hour" else "%Y-%m-%d %H:%M", column), unit


def _epoch(value: Any) -> float:
    """A truncated time as the database returns it (a datetime, or SQLite's text) -> epoch seconds."""
    if isinstance(value, str):
        value = datetime.strptime(value, "%Y-%m-%d %H:%M")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return float(value.timestamp())


def _collect(window: Window, rows: Iterable[Sequence[Any]]) -> dict[str, list[int]]:
    """(truncated time, value, count) rows summed into the window's buckets."""
    series: dict[str, list[int]] = {}
    for when, value, n in rows:
        i = window.index(_epoch(when))
        if i is None:
            continue
        series.setdefault(str(value), [0] * window.n)[i] += int(n)
    return series


def _ordered(series: dict[str, list[int]]) -> dict[str, tuple[int, ...]]:
    return {name: tuple(values) for name, values in
            sorted(series.items(), key=lambda item: (-sum(item[1]), item[0]))}


def _span(column: InstrumentedAttribute[datetime], window: Window) -> list[ColumnElement[bool]]:
    return [column >= window.start_at, column < window.end_at]


@requires("read")
def refusals_by(session: Session, by: Actor, window: Window, dimension: str) -> Breakdown:
    """Refusals (every non-allow decision recorded, enforced or observed) per bucket, by action,
    route kind or detector (a decision counts once for each detector among its reasons)."""
    if dimension not in DIMENSIONS:
        raise RecordsError(f"refusals are broken down by {', '.join(DIMENSIONS)}, not {dimension!r}")
    if dimension == "detector":
        return _by_detector(session, window)
    column = DecisionRecord.action if dimension == "action" else DecisionRecord.route
    when, _ = _truncated(session, DecisionRecord.at, window.step)
    rows = session.execute(select(when, column, func.count()).where(*_span(DecisionRecord.at, window))
                           .group_by(when, column))
    return Breakdown(window, _ordered(_collect(window, rows)))


def _by_detector(session: Session, window: Window) -> Breakdown:
    query = (select(DecisionRecord.at, DecisionRecord.reasons).where(*_span(DecisionRecord.at, window))
             .order_by(DecisionRecord.at.desc()).limit(MAX_DETECTOR_ROWS + 1))
    series: dict[str, list[int]] = {}
    read = 0
    for at, reasons in session.execute(query.execution_options(yield_per=5000)):
        read += 1
        if read > MAX_DETECTOR_ROWS:
            break
        i = window.index(at.timestamp())
        if i is None:
            continue
        names = {str(r.get("detector") or "unknown") for r in reasons or () if isinstance(r, dict)}
        for name in names or {"unknown"}:
            series.setdefault(name, [0] * window.n)[i] += 1
    return Breakdown(window, _ordered(series), MAX_DETECTOR_ROWS if read > MAX_DETECTOR_ROWS else None)


@requires("read")
def traffic(session: Session, by: Actor, window: Window, dimension: str = "action") -> Breakdown:
    """Requests the guard judged (allows included) per bucket, by action or by route kind, from
    the per-minute counts the records sink keeps (`traffic_minutes`)."""
    if dimension not in ("action", "route"):
        raise RecordsError(f"traffic is broken down by action or route, not {dimension!r}")
    column = TrafficMinute.action if dimension == "action" else TrafficMinute.route
    when, unit = _truncated(session, TrafficMinute.minute, window.step)
    if unit == "minute" and session.get_bind().dialect.name == "postgresql":
        when = TrafficMinute.minute.expression  # stored on the minute already
    rows = session.execute(select(when, column, func.sum(TrafficMinute.count))
                           .where(*_span(TrafficMinute.minute, window)).group_by(when, column))
    return Breakdown(window, _ordered(_collect(window, rows)))


@requires("read")
def traffic_recorded(session: Session, by: Actor) -> bool:
    """Whether any traffic count was ever recorded (a guard writing to these records counts it)."""
    return session.execute(select(TrafficMinute.minute).limit(1)).first() is not None


@requires("read")
def top_actors(session: Session, by: Actor, window: Window, limit: int = 10) -> list[TopActor]:
    """The actors (pseudonymised address or account keys) refused most in the window."""
    n = func.count().label("n")
    rows = session.execute(
        select(DecisionActor.actor, n, func.max(DecisionRecord.at))
        .join(DecisionRecord, DecisionRecord.id == DecisionActor.decision_pk)
        .where(*_span(DecisionRecord.at, window))
        .group_by(DecisionActor.actor).order_by(n.desc(), DecisionActor.actor).limit(limit)).all()
    actions: dict[str, dict[str, int]] = {}
    if rows:
        for actor, action, count in session.execute(
                select(DecisionActor.actor, DecisionRecord.action, func.count())
                .join(DecisionRecord, DecisionRecord.id == DecisionActor.decision_pk)
                .where(*_span(DecisionRecord.at, window), DecisionActor.actor.in_([r[0] for r in rows]))
                .group_by(DecisionActor.actor, DecisionRecord.action)):
            actions.setdefault(actor, {})[action] = int(count)
    return [TopActor(actor, int(count), _aware(last),
                     tuple(sorted(actions.get(actor, {}), key=lambda a: -actions[actor][a])))
            for actor, count, last in rows]


@requires("read")
def top_campaigns(session: Session, by: Actor, window: Window, limit: int = 10) -> list[TopActor]:
    """The campaigns ("campaign:<id>") whose decisions were most in the window."""
    n = func.count().label("n")
    rows = session.execute(
        select(DecisionRecord.campaign, n, func.max(DecisionRecord.at))
        .where(*_span(DecisionRecord.at, window), DecisionRecord.campaign.is_not(None))
        .group_by(DecisionRecord.campaign).order_by(n.desc(), DecisionRecord.campaign).limit(limit)).all()
    return [TopActor(str(campaign), int(count), _aware(last)) for campaign, count, last in rows]


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- written by the records sink --------------------------------------------------------------


def traffic_record(minute: float, route: str, action: str, count: int) -> dict[str, Any]:
    """A sink record: `count` requests in the minute starting at `minute` (epoch seconds)."""
    return {"type": "traffic", "minute": minute, "route": route, "action": action, "count": count}


def write_traffic(session: Session, records: list[dict[str, Any]]) -> None:
    """Add the sink's traffic counts to the per-minute rows (one upsert statement)."""
    if not records:
        return
    totals: dict[tuple[datetime, str, str], int] = {}
    for r in records:
        minute = datetime.fromtimestamp(math.floor(float(r["minute"]) / 60) * 60, UTC)
        key = (minute, str(r["route"])[:40], str(r["action"])[:20])
        totals[key] = totals.get(key, 0) + int(r["count"])
    rows = [{"minute": m, "route": route, "action": action, "count": n}
            for (m, route, action), n in sorted(totals.items())]
    table = Table("traffic_minutes", TrafficMinute.metadata)  # the mapped class's table
    keys = ["minute", "route", "action"]
    statement: Any
    if session.get_bind().dialect.name == "postgresql":
        pg = postgresql.insert(table)
        statement = pg.on_conflict_do_update(index_elements=keys,
                                             set_={"count": table.c["count"] + pg.excluded["count"]})
    else:
        lite = sqlite.insert(table)
        statement = lite.on_conflict_do_update(index_elements=keys,
                                               set_={"count": table.c["count"] + lite.excluded["count"]})
    session.execute(statement, rows)


def purge_traffic(session: Session, before: datetime) -> int:
    """Delete the traffic counts of minutes before `before` (retention, with the decisions)."""
    result = session.execute(delete(TrafficMinute).where(TrafficMinute.minute < before))
    return int(getattr(result, "rowcount", 0) or 0)
