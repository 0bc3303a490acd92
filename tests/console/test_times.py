"""Times stated in the console's forms (console/times.py): a local date and time and its zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.console.times import ZONES, field_value, stated_time, zone_of
from scrapeguard.console.web import PageError

WHAT = "when it was sent"


def test_a_local_time_in_its_zone_offset_or_own_offset() -> None:
    assert stated_time("2026-12-01T10:00", "Europe/Berlin", WHAT) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert stated_time("2026-07-01T10:00", "Europe/Berlin", WHAT) == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    assert stated_time("2026-12-01T10:00", "-05:30", WHAT) == datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    assert stated_time("2026-12-01T10:00", "+0100", WHAT) == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    # a time with its own offset keeps it: the zone field is not read
    assert stated_time("2026-12-01T10:00+02:00", "", WHAT) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert stated_time("2026-12-01 10:00Z", "Asia/Tokyo", WHAT) == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_blank_is_now_only_where_the_form_says_so() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert stated_time("  ", "UTC", WHAT, blank=now) == now
    with pytest.raises(PageError, match="a date and time is required"):
        stated_time("", "UTC", WHAT)


@pytest.mark.parametrize(("text", "zone", "says"), [
    ("2026-12-01T10:00", "", "has no time zone"),
    ("2026-12-01T10:00", "Mars/Olympus", "is not a time zone"),
    ("2026-12-01T10:00", "+25:00", "is not an offset"),
    ("2026-12-01T10:00", "+1", "is not an offset"),
    ("tomorrow", "UTC", "is not a date and time"),
    ("2026-03-29T02:30", "Europe/Berlin", "does not exist in Europe/Berlin"),
])
def test_what_is_refused_says_why(text: str, zone: str, says: str) -> None:
    with pytest.raises(PageError, match=says) as refused:
        stated_time(text, zone, WHAT)
    assert refused.value.status == 400 and refused.value.message.startswith(WHAT)


def test_a_repeated_local_time_is_its_first_occurrence() -> None:
    # 02:30 happens twice in Berlin on 2026-10-25 (clocks back 03:00 -> 02:00): first at +02:00
    assert stated_time("2026-10-25T02:30", "Europe/Berlin", WHAT) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1),
                           timezones=st.just(UTC)),
       zone=st.sampled_from(ZONES))
def test_what_the_form_shows_is_read_back_as_the_same_minute(moment: datetime, zone: str) -> None:
    local = moment.astimezone(ZoneInfo(zone))
    read = stated_time(local.strftime("%Y-%m-%dT%H:%M"), zone, WHAT)
    assert read.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") == local.strftime("%Y-%m-%dT%H:%M")
    assert abs(read - moment.replace(second=0, microsecond=0)) in (timedelta(0), timedelta(hours=1))
    assert stated_time(field_value(moment), "UTC", WHAT) == moment.replace(second=0, microsecond=0)


@settings(max_examples=500, deadline=None)
@given(text=st.text(max_size=40), zone=st.text(max_size=30))
def test_any_input_is_a_time_or_a_clear_refusal(text: str, zone: str) -> None:
    try:
        read = stated_time(text, zone, WHAT)
    except PageError as refused:
        assert refused.status == 400 and refused.message.startswith(WHAT)
    else:
        assert read.tzinfo is not None and read.utcoffset() == timedelta(0)


def test_every_zone_offered_exists() -> None:
    for zone in ZONES:
        zone_of(zone, WHAT)
