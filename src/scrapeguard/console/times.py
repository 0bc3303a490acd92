"""Times people state in the console's forms: when they became aware, when a notice or a letter went
out. One style in every form: the browser's date-and-time picker (a local time) beside a time zone
field (an IANA name such as Europe/Berlin, UTC, or an offset such as +01:00), filled with the
console's clock in UTC. The zone is part of the fact: the notification clocks start from it, so a
time without one is refused, never assumed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scrapeguard.console.web import PageError

#: Zones offered in the zone field's list (any IANA name or offset may be typed).
ZONES = ("UTC", "Europe/London", "Europe/Dublin", "Europe/Paris", "Europe/Berlin", "Europe/Madrid",
         "Europe/Rome", "Europe/Amsterdam", "Europe/Oslo", "Europe/Stockholm", "Europe/Zurich",
         "America/New_York", "America/Chicago", "America/Los_Angeles", "America/Toronto",
         "America/Sao_Paulo", "Asia/Kolkata", "Asia/Singapore", "Asia/Hong_Kong", "Asia/Seoul",
         "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland")
#: What the date-and-time field holds (HTML's datetime-local value).
LOCAL_FORM = "2026-12-01T10:00"


def field_value(moment: datetime) -> str:
    """A moment as the date-and-time field's value, in UTC (the zone field's default)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def zone_of(text: str, what: str) -> tzinfo:
    """The zone typed in a form: an IANA name or an offset (+01:00, -0530)."""
    zone = text.strip()
    if not zone:
        raise PageError(400, f"{what}: the time has no time zone; choose one (UTC, Europe/Berlin, +01:00)")
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        if not (digits.isdigit() and len(digits) in (2, 4)):
            raise PageError(400, f"{what}: {zone!r} is not an offset (+01:00)")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            raise PageError(400, f"{what}: {zone!r} is not an offset (+01:00)")
        sign = 1 if zone[0] == "+" else -1
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PageError(400, f"{what}: {zone!r} is not a time zone (Europe/Berlin, UTC, +01:00)") from None


def stated_time(text: str, zone: str, what: str, blank: datetime | None = None) -> datetime:
    """The moment a person states (in UTC): a local date and time and the zone it was in. A time
    given with its own offset (2026-12-01T10:00+01:00) keeps it and the zone field is not read.
    Blank: `blank` (now, where the form says so), else refused. A local time the zone skips (the
    hour the clocks go forward) is refused; one it repeats is taken at its first occurrence."""
    text = text.strip()
    if not text:
        if blank is None:
            raise PageError(400, f"{what}: a date and time is required (e.g. {LOCAL_FORM})")
        return blank
    try:
        local = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise PageError(400, f"{what}: {text!r} is not a date and time (e.g. {LOCAL_FORM})") from None
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    tz = zone_of(zone, what)
    moment = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if moment.astimezone(tz).replace(tzinfo=None) != local:
        raise PageError(400, f"{what}: {text} does not exist in {zone.strip()} (the clocks skip it)")
    return moment
