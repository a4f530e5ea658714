"""SLA figures on real cases: stored = recomputed = live, the scheduled check, the queue order."""

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extensions import db
from tests.clock import set_service_clock
from workflow import service, sla
from workflow.models import CaseEvent, CaseSla, RecoveryCase
from workflow.service.sla_upkeep import sla_values

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"]
DAYS = list(sla.WEEKDAYS)
# Starts near the 2026 daylight-saving changes of the zones above, and anywhere.
DST_EDGES = [datetime(2026, 3, 8, 6, tzinfo=UTC), datetime(2026, 3, 29, 0, 30, tzinfo=UTC),
             datetime(2026, 4, 4, 15, tzinfo=UTC), datetime(2026, 10, 3, 15, tzinfo=UTC),
             datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 11, 1, 5, tzinfo=UTC)]


@st.composite
def calendars(draw):
    zone = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        hours = {day: ["00:00", "24:00"] for day in DAYS}
    else:
        hours = {}
        for day in draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=7, unique=True)):
            opens = draw(st.integers(0, 12))
            closes = draw(st.integers(opens + 1, 24))
            hours[day] = [f"{opens:02d}:00", "24:00" if closes == 24 else f"{closes:02d}:00"]
    holidays = draw(st.lists(st.dates(date(2025, 12, 20), date(2027, 1, 10)), max_size=6))
    return {"timezone": zone, "hours": hours, "holidays": [d.isoformat() for d in holidays]}


ACTIONS = ["start_review", "visible_message", "internal_note", "request_info", "user_reply",
           "confirm_document", "checks_end", "escalate", "return_to_stage", "approve",
           "decline"]
steps = st.lists(st.tuples(st.integers(1, 60 * 72), st.sampled_from(ACTIONS)), max_size=9)
starts = st.one_of(st.sampled_from(DST_EDGES),
                   st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 20),
                                timezones=st.just(UTC)))


def configure(app, calendar: dict, policy: dict | None = None) -> None:
    app.config["SLA_CALENDARS"] = {"cal": calendar}
    app.config["SLA_POLICIES"] = {"default": {"calendar": "cal", "first_response": "4h",
                                              "next_update": "8h", "resolution": "24h",
                                              **(policy or {})}}
    app.extensions.pop("sla_settings", None)


class Clock:
    """A hand-moved clock for the service's timestamps."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def act(case_id: int, token: str, action: str, agent, lead) -> None:
    """One step of a random history; steps not allowed in the case's state are skipped."""
    case = service.get_case(case_id)
    try:
        if action == "visible_message":
            service.add_staff_message(case_id, agent, "We are on it.", internal=False)
        elif action == "internal_note":
            service.add_staff_message(case_id, agent, "Checked the directory.", internal=True)
        elif action == "user_reply":
            service.user_reply(token, "Here is the answer.")
        elif action == "checks_end":
            # The automated checks of the photos end: their risk is assessed.
            service.reassess_risk(case_id)
        elif action == "start_review":
            service.fire_event(case_id, action, agent=None, expected_version=None)
        else:
            actor = lead if case.state == "escalated" or action == "return_to_stage" else agent
            service.fire_event(case_id, action, agent=actor, expected_version=case.version,
                               reason="Because.")
    except (service.TransitionNotAllowed, service.ReasonRequired, service.ActionRefused):
        db.session.rollback()


def stored(case_id: int) -> dict:
    db.session.expire_all()
    return sla_values(db.session.get(CaseSla, case_id))


@pytest.fixture
def staff(make_agent):
    return make_agent()[0], make_agent(role="security_lead")[0]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(calendar=calendars(), history=steps, start=starts, later=st.integers(0, 60 * 24 * 20))
def test_stored_figures_equal_recomputed_and_live(app, make_case, staff, monkeypatch,
                                                  calendar, history, start, later):
    configure(app, calendar)
    clock = Clock(start)
    set_service_clock(monkeypatch, clock)
    agent, lead = staff
    case, token = make_case("submitted")
    for minutes, action in history:
        clock.now += timedelta(minutes=minutes)
        act(case.id, token, action, agent, lead)
    live = stored(case.id)
    assert live is not None

    # Recomputed from the log, later, on another day: the same figures.
    clock.now += timedelta(minutes=later)
    db.session.execute(sa.delete(CaseSla).where(CaseSla.case_id == case.id))
    db.session.commit()
    service.recompute_sla()
    assert stored(case.id) == live

    # And the live clocks at any later moment agree with the stored due times.
    case = service.get_case(case.id)
    clocks = service.sla_clocks(case, clock.now)
    for name, found in clocks.clocks.items():
        assert live[f"{name}_at"] == found.met_at
        if found.met_at is not None:
            assert live[f"{name}_seconds"] == pytest.approx(found.elapsed)
        if not clocks.paused and not clocks.resolved:
            assert live[f"{name}_due_at"] == found.due_at
    assert live["paused"] == clocks.paused
    for stage in sla.STAGES:
        assert live[f"{stage}_seconds"] <= clocks.stage_seconds[stage] + 1e-6

    # Against an independent count, minute by minute on the wall clock of the calendar.
    business = minute_counter(calendar)
    spans = state_spans(case)
    last = max([case.created_at, *(e.created_at for e in case.events),
                *(m.created_at for m in case.messages)])
    for name in ("first_response", "resolution"):
        if live[f"{name}_at"] is not None:
            running = [(lo, hi) for lo, hi, state in spans
                       if state not in sla.PAUSED and state != sla.STOPPED]
            expected = sum(business(lo, min(hi, live[f"{name}_at"])) for lo, hi in running
                           if lo < live[f"{name}_at"])
            assert live[f"{name}_seconds"] == pytest.approx(expected, abs=1e-6), name
    for stage in sla.STAGES:
        expected = sum(business(lo, min(hi, last)) for lo, hi, state in spans
                       if state == stage and lo < last)
        assert live[f"{stage}_seconds"] == pytest.approx(expected, abs=1e-6), stage


def minute_counter(calendar: dict):
    """Business seconds in [lo, hi), counted one UTC minute at a time (a reference).

    Working hours begin and end on whole local hours, and every zone used here is a whole
    number of minutes from UTC, so each UTC minute is wholly in or out of business time.
    """
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(calendar["timezone"])
    holidays = {date.fromisoformat(day) for day in calendar["holidays"]}
    hours = {DAYS.index(day): (int(opens[:2]), int(closes[:2]))
             for day, (opens, closes) in calendar["hours"].items()}

    def working(minute: datetime) -> bool:
        local = minute.astimezone(zone)
        if local.date() in holidays or local.weekday() not in hours:
            return False
        opens, closes = hours[local.weekday()]
        return opens <= local.hour < closes

    def count(lo: datetime, hi: datetime) -> float:
        total = 0.0
        minute = lo.replace(second=0, microsecond=0)
        while minute < hi:
            following = minute + timedelta(minutes=1)
            if working(minute):
                total += (min(hi, following) - max(lo, minute)).total_seconds()
            minute = following
        return total

    return count


def state_spans(case) -> list[tuple[datetime, datetime, str]]:
    """(start, end, state) of the case's life from its events; the last one open-ended."""
    spans, state, since = [], "submitted", case.created_at
    for event in sorted(case.events, key=lambda e: (e.created_at, e.id)):
        if event.to_state is None or event.created_at < since:
            continue
        spans.append((since, event.created_at, state))
        state, since = event.to_state, event.created_at
    spans.append((since, datetime.max.replace(tzinfo=UTC), state))
    return spans


@pytest.fixture
def office(app):
    configure(app, {"timezone": "Europe/Berlin",
                    "hours": {d: ["09:00", "17:00"] for d in DAYS[:5]}})


def berlin(*args) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


def test_the_scheduled_check_marks_a_warning_then_a_breach_once(app, make_case, office,
                                                                monkeypatch):
    clock = Clock(berlin(2026, 12, 21, 9))  # Monday 09:00
    set_service_clock(monkeypatch, clock)
    case, _ = make_case("submitted")
    row = db.session.get(CaseSla, case.id)
    assert row.first_response_due_at == berlin(2026, 12, 21, 13)
    assert row.first_response_warn_at == berlin(2026, 12, 21, 12)
    assert service.check_sla(berlin(2026, 12, 21, 11)) == []
    assert service.check_sla(berlin(2026, 12, 21, 12, 30)) == [
        (case.id, "first_response", "sla_warning")]
    assert service.check_sla(berlin(2026, 12, 21, 12, 45)) == []
    assert service.check_sla(berlin(2026, 12, 21, 13, 5)) == [
        (case.id, "first_response", "sla_breached")]
    assert service.check_sla(berlin(2026, 12, 22, 10)) == []
    marks = db.session.scalars(sa.select(CaseEvent.event).where(
        CaseEvent.case_id == case.id, CaseEvent.event.like("sla_%"))).all()
    assert marks == ["sla_warning", "sla_breached"]
    # Marks are internal: they do not answer the user, so the clock stays breached.
    assert service.sla_badge(db.session.get(CaseSla, case.id),
                             berlin(2026, 12, 22, 10)).status == "breached"


def test_waiting_for_the_user_pauses_the_check_and_the_queue(app, make_case, make_agent,
                                                             office, monkeypatch):
    clock = Clock(berlin(2026, 12, 21, 9))
    set_service_clock(monkeypatch, clock)
    agent, _ = make_agent()
    case, _ = make_case("submitted")
    clock.now = berlin(2026, 12, 21, 10)
    service.fire_event(case.id, "start_review", agent=None, expected_version=None)
    case = service.get_case(case.id)
    service.fire_event(case.id, "request_info", agent=agent, expected_version=case.version,
                       reason="Which phone did you lose?")
    row = db.session.get(CaseSla, case.id)
    assert row.paused and row.next_due_at is None and row.state == "awaiting_user"
    assert row.first_response_at == berlin(2026, 12, 21, 10)
    assert row.first_response_seconds == 3600
    assert service.check_sla(berlin(2027, 1, 30)) == []


def test_the_queue_puts_what_is_due_first_and_shows_badges(app, client, make_case,
                                                           make_agent, office, monkeypatch):
    from tests.conftest import sign_in

    clock = Clock(berlin(2026, 12, 21, 9))
    set_service_clock(monkeypatch, clock)
    app.config["SLA_POLICIES"]["lost_2fa"] = {"calendar": "cal", "first_response": "1h",
                                              "next_update": "8h", "resolution": "24h"}
    app.extensions.pop("sla_settings", None)
    older, _ = make_case("submitted", issue_type="forgot_password")
    clock.now = berlin(2026, 12, 21, 10)
    urgent, _ = make_case("submitted", issue_type="lost_2fa")
    order = [c.id for c in db.session.scalars(service.queue_query(by_due=True))]
    assert order == [urgent.id, older.id]  # due 11:00 before 13:00, although filed later
    agent, _ = make_agent(email="queue@example.test")
    sign_in(client, "queue@example.test")
    monkeypatch.setattr("workflow.agent_views.utcnow", lambda: berlin(2026, 12, 21, 12, 30))
    page = client.get("/agent/").get_data(as_text=True)
    assert page.index(f"#{urgent.id}<") < page.index(f"#{older.id}<")
    assert "SLA breached" in page and "SLA at risk" in page


def test_sla_recompute_command_rebuilds_missing_rows(app, make_case, runner):
    case, _ = make_case("id_check")
    db.session.execute(sa.delete(CaseSla))
    db.session.commit()
    result = runner.invoke(args=["sla-recompute"])
    assert result.exit_code == 0, result.output
    assert "rebuilt for 1 cases; 1 had changed" in result.output
    assert db.session.get(CaseSla, case.id).state == "id_check"
    assert "0 had changed" in runner.invoke(args=["sla-recompute"]).output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCase)) == 1


def test_the_case_page_shows_the_clocks_and_the_time_per_stage(app, client, make_case,
                                                               make_agent, office, monkeypatch):
    from tests.conftest import sign_in

    clock = Clock(berlin(2026, 12, 21, 9))
    set_service_clock(monkeypatch, clock)
    case, _ = make_case("id_check")
    make_agent(email="page@example.test")
    sign_in(client, "page@example.test")
    monkeypatch.setattr("workflow.agent_views.utcnow", lambda: berlin(2026, 12, 21, 14))
    page = client.get(f"/agent/cases/{case.id}").get_data(as_text=True)
    first = page[page.index('id="sla-first_response"'):]
    first = first[:first.index("</tr>")]
    assert "2026-12-21 12:00" in first and "breached" in first  # due 13:00 Berlin = 12:00 UTC
    assert "id check 5.0" in page  # 09:00-14:00 Berlin in the document check


@pytest.mark.parametrize(("policy", "message"), [
    ({"calendar": "24x7", "first_response": "1h", "resolution": "8h"}, "no target for next_update"),
    ({"calendar": "24x7", "first_response": "1h", "next_update": "2h", "resolution": "400d"},
     "longer than a year"),
    ({"calendar": "moon", "first_response": "1h", "next_update": "2h", "resolution": "8h"},
     "calendar must be one of"),
])
def test_policy_settings_are_refused_with_a_reason(app, policy, message):
    app.config["SLA_POLICIES"] = {"default": policy}
    app.extensions.pop("sla_settings", None)
    with pytest.raises(sla.BadCalendar, match=message):
        service.sla_settings()


def test_the_sla_row_keeps_copies_of_the_case_columns_the_report_reads(app, make_case, staff):
    agent, lead = staff
    app.config["SLA_POLICIES"] = {
        **app.config["SLA_POLICIES"],
        "lost_2fa/low": {"calendar": "24x7", "first_response": "1d", "next_update": "2d",
                         "resolution": "5d"}}
    app.extensions.pop("sla_settings", None)
    case, _ = make_case("id_check", issue_type="lost_2fa")
    assert case.priority != "low" and case.sla.policy != "lost_2fa/low"
    row = db.session.get(CaseSla, case.id)
    assert (row.filed_at, row.issue_type, row.priority, row.assignee_id) == (
        case.created_at, "lost_2fa", case.priority, case.assignee_id)
    service.assign_case(case.id, lead, agent.id, None)
    assert stored(case.id)["assignee_id"] == agent.id
    # A column changed through the ORM without an event is copied in the same flush,
    # and the policy chosen by issue type and priority follows it.
    db.session.get(RecoveryCase, case.id).priority = "low"
    db.session.commit()
    assert stored(case.id)["priority"] == "low"
    assert stored(case.id)["policy"] == "lost_2fa/low"
    assert stored(case.id)["resolution_target"] == 5 * 86400
    # So is an assignee set through the relationship rather than the column.
    db.session.get(RecoveryCase, case.id).assignee = lead
    db.session.commit()
    assert stored(case.id)["assignee_id"] == lead.id
    # A drifted copy (a bulk UPDATE bypasses the ORM's flush) is put right by sla-recompute.
    db.session.execute(sa.update(CaseSla).values(issue_type="other", assignee_id=None))
    db.session.commit()
    assert service.recompute_sla() == 1
    assert (stored(case.id)["issue_type"], stored(case.id)["assignee_id"]) == ("lost_2fa",
                                                                              lead.id)
