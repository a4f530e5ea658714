"""SLA clocks: business calendars (weekends, holidays, DST) and clocks derived from a log."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.sla import (
    BadCalendar,
    BusinessCalendar,
    Entry,
    Policy,
    derive,
    parse_duration,
)

OFFICE = BusinessCalendar.from_mapping({
    "timezone": "Europe/Berlin",
    "hours": {day: ["09:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2026-12-25"],
})
ALWAYS = BusinessCalendar.always("Europe/Berlin")
POLICY = Policy("test", "office", first_response=4 * 3600, next_update=8 * 3600,
                resolution=3 * 8 * 3600)


def berlin(*args) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


def test_office_hours_skip_nights_weekends_and_holidays():
    friday_4pm = berlin(2026, 12, 18, 16)
    monday_10am = berlin(2026, 12, 21, 10)
    assert OFFICE.seconds(friday_4pm, monday_10am) == 2 * 3600
    # Thursday 24 Dec 16:00 -> Monday 28 Dec 10:00: Friday the 25th is a holiday.
    assert OFFICE.seconds(berlin(2026, 12, 24, 16), berlin(2026, 12, 28, 10)) == 2 * 3600
    assert OFFICE.add(friday_4pm, 2 * 3600) == monday_10am


def test_a_dst_day_is_23_or_25_hours_long_around_the_clock():
    spring = ALWAYS.seconds(berlin(2026, 3, 29, 0), berlin(2026, 3, 30, 0))
    autumn = ALWAYS.seconds(berlin(2026, 10, 25, 0), berlin(2026, 10, 26, 0))
    assert (spring, autumn) == (23 * 3600, 25 * 3600)
    # Office hours are wall-clock hours: still eight on the day the clocks change.
    assert OFFICE.seconds(berlin(2026, 3, 27, 0), berlin(2026, 3, 31, 0)) == 2 * 8 * 3600


def test_bad_calendars_are_refused():
    with pytest.raises(BadCalendar, match="timezone"):
        BusinessCalendar.always("Mars/Olympus")
    with pytest.raises(BadCalendar, match="weekday"):
        BusinessCalendar.from_mapping({"hours": {"monday": ["09:00", "17:00"]}})
    with pytest.raises(BadCalendar, match="at least one working day"):
        BusinessCalendar.from_mapping({"hours": {}})
    with pytest.raises(BadCalendar, match="before it opens"):
        BusinessCalendar.from_mapping({"hours": {"mon": ["17:00", "09:00"]}})
    with pytest.raises(BadCalendar, match="durations"):
        parse_duration("four hours")
    assert parse_duration("90m") == 5400 and parse_duration("2d") == 172800
    assert parse_duration("365d") == 365 * 86400
    for too_long in ("366d", 10**12, "9999999h"):
        with pytest.raises(BadCalendar, match="longer than a year"):
            parse_duration(too_long)
    with pytest.raises(BadCalendar):
        parse_duration(True)


instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31),
                        timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(start=instants, hours=st.floats(min_value=0, max_value=200))
def test_add_is_the_inverse_of_counting(start, hours):
    for calendar in (OFFICE, ALWAYS):
        due = calendar.add(start, hours * 3600)
        assert calendar.seconds(start, due) == pytest.approx(hours * 3600, abs=1e-3)


def event(at, name, actor="system", to_state=None):
    return Entry(at=at, kind="event", name=name, actor=actor, to_state=to_state)


def message(at, actor, internal=False):
    return Entry(at=at, kind="message", name="message", actor=actor, internal=internal)


def test_first_response_counts_office_time_and_is_met_by_a_visible_answer():
    created = berlin(2026, 12, 18, 15)  # Friday 15:00
    log = [event(created, "submitted", "user", "submitted"),
           event(created + timedelta(minutes=1), "start_review", "system", "id_check"),
           message(berlin(2026, 12, 21, 9, 30), "agent", internal=True),
           message(berlin(2026, 12, 21, 10, 30), "agent")]
    clocks = derive(log, created=created, policy=POLICY, calendar=OFFICE,
                    now=berlin(2026, 12, 22, 9)).clocks
    first = clocks["first_response"]
    assert first.met_at == berlin(2026, 12, 21, 10, 30)
    assert first.elapsed == 3.5 * 3600 and not first.breached(berlin(2026, 12, 22))
    assert first.due_at == berlin(2026, 12, 21, 11)


def test_the_clock_stands_still_while_the_case_awaits_the_user():
    created = berlin(2026, 12, 21, 9)  # Monday 09:00
    log = [event(created, "submitted", "user", "submitted"),
           event(berlin(2026, 12, 21, 10), "request_info", "agent", "awaiting_user"),
           message(berlin(2026, 12, 21, 10), "agent"),
           event(berlin(2026, 12, 22, 9), "user_replied", "user", "id_check"),
           message(berlin(2026, 12, 22, 9), "user")]
    now = berlin(2026, 12, 22, 12)
    found = derive(log, created=created, policy=POLICY, calendar=OFFICE, now=now)
    resolution = found.clocks["resolution"]
    # 1 h before waiting, 3 h since the reply; the 7 office hours spent waiting do not count.
    assert resolution.elapsed == 4 * 3600
    assert resolution.due_at == OFFICE.add(berlin(2026, 12, 22, 9), 24 * 3600 - 3600)
    assert found.stage_seconds["awaiting_user"] == 7 * 3600
    assert found.stage_seconds["id_check"] == 3 * 3600
    update = found.clocks["next_update"]
    assert update.started_at == berlin(2026, 12, 22, 9) and update.met_at is None
    assert update.due_at == berlin(2026, 12, 22, 17)
    assert not update.breached(now) and update.breached(berlin(2026, 12, 22, 17, 1))
    assert update.warning(berlin(2026, 12, 22, 16, 30))


def test_earlier_late_next_updates_are_counted_after_the_user_writes_again():
    created = berlin(2026, 12, 21, 9)  # Monday 09:00; next update target 8 office hours
    log = [event(created, "submitted", "user", "submitted"),
           message(berlin(2026, 12, 21, 9, 30), "agent"),
           message(berlin(2026, 12, 21, 10), "user"),  # answered Tuesday 12:00: 10 h, late
           message(berlin(2026, 12, 22, 12), "agent"),
           message(berlin(2026, 12, 22, 13), "user"),  # answered 14:00: in time
           message(berlin(2026, 12, 22, 14), "agent"),
           message(berlin(2026, 12, 22, 15), "user")]  # the running cycle
    found = derive(log, created=created, policy=POLICY, calendar=OFFICE,
                   now=berlin(2026, 12, 22, 16))
    assert found.next_update_breaches == 1
    assert found.clocks["next_update"].started_at == berlin(2026, 12, 22, 15)
    # Writing again before the answer ("any news?") does not restart the clock: it runs from
    # the oldest unanswered message, so the wait is never hidden.
    log = [event(created, "submitted", "user", "submitted"),
           message(berlin(2026, 12, 21, 9), "user"),
           message(berlin(2026, 12, 21, 15), "user"),
           message(berlin(2026, 12, 22, 10), "agent")]  # 9 office hours after the first
    found = derive(log, created=created, policy=POLICY, calendar=OFFICE,
                   now=berlin(2026, 12, 22, 11))
    update = found.clocks["next_update"]
    assert update.started_at == berlin(2026, 12, 21, 9)
    assert update.met_at == berlin(2026, 12, 22, 10) and update.elapsed == 9 * 3600
    assert update.breached(berlin(2026, 12, 22, 11)) and found.next_update_breaches == 0
    # Once answered, the next message starts a new cycle; the late one is counted.
    log.append(message(berlin(2026, 12, 22, 12), "user"))
    found = derive(log, created=created, policy=POLICY, calendar=OFFICE,
                   now=berlin(2026, 12, 22, 13))
    assert found.clocks["next_update"].started_at == berlin(2026, 12, 22, 12)
    assert found.next_update_breaches == 1


def test_while_waiting_no_due_time_runs():
    created = berlin(2026, 12, 21, 9)
    log = [event(created, "submitted", "user", "submitted"),
           event(berlin(2026, 12, 21, 9, 5), "request_info", "agent", "awaiting_user")]
    found = derive(log, created=created, policy=POLICY, calendar=OFFICE,
                   now=berlin(2026, 12, 30))
    assert found.paused and found.clocks["resolution"].due_at is None
    assert not found.clocks["resolution"].breached(berlin(2027, 6, 1))


def test_a_resolved_case_stops_its_clocks():
    created = berlin(2026, 12, 21, 9)
    resolved = berlin(2026, 12, 24, 12)
    log = [event(created, "submitted", "user", "submitted"),
           event(resolved, "decline", "agent", "resolved")]
    found = derive(log, created=created, policy=POLICY, calendar=OFFICE,
                   now=berlin(2027, 1, 30))
    resolution = found.clocks["resolution"]
    assert resolution.met_at == resolved and resolution.elapsed == 3 * 8 * 3600 + 3 * 3600
    assert resolution.breached(berlin(2027, 1, 30)) and found.resolved
    first = found.clocks["first_response"]
    assert first.met_at == resolved and first.breached(resolved)


def test_time_in_a_calendar_is_measured_around_the_clock_with_24x7():
    created = datetime(2026, 12, 19, 12, tzinfo=UTC)  # a Saturday
    log = [event(created, "submitted", "user", "submitted")]
    found = derive(log, created=created, policy=POLICY, calendar=ALWAYS,
                   now=created + timedelta(hours=5))
    first = found.clocks["first_response"]
    assert first.due_at == created + timedelta(hours=4)
    assert first.breached(created + timedelta(hours=5))
    assert first.warn_at == created + timedelta(hours=3)
    assert found.next_due() == created + timedelta(hours=4)
    # The same stretch in office hours: Saturday counts nothing, due Monday 13:00 Berlin.
    office = derive(log, created=created, policy=POLICY, calendar=OFFICE,
                    now=created + timedelta(hours=5)).clocks["first_response"]
    assert office.elapsed == 0 and office.due_at == berlin(2026, 12, 21, 13)
