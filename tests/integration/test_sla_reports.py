"""SLA report figures from case histories with known times, on SQLite and PostgreSQL alike."""

import random
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from reports import queries
from tests.clock import set_service_clock
from tests.conftest import photos
from workflow import models, service
from workflow.models import CaseSla, RecoveryCase

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
START, END = date(2024, 3, 1), date(2024, 3, 10)


@pytest.fixture
def app_config():
    """One round-the-clock policy: business hours are wall-clock hours, figures plain sums."""
    return {"SLA_POLICIES": {"default": {"calendar": "24x7", "first_response": "2h",
                                         "next_update": "4h", "resolution": "10h"}}}


class Clock:
    """The time every service call and report sees."""

    def __init__(self, now: datetime):
        self.now = now


@pytest.fixture
def clock(app, monkeypatch):
    found = Clock(NOW)
    set_service_clock(monkeypatch, lambda: found.now)
    monkeypatch.setattr(models, "utcnow", lambda: found.now)
    return found


def at(when: datetime, hours: float) -> datetime:
    return when + timedelta(hours=hours)


class Desk:
    """Files cases and acts on them at chosen times, through the service layer."""

    def __init__(self, clock: Clock, lead, alice, bob):
        self.clock, self.lead, self.alice, self.bob = clock, lead, alice, bob

    def file(self, when: datetime, issue_type: str = "forgot_password", steps=()) -> int:
        """A case filed at ``when``; ``steps`` are (hours after filing, action) in order."""
        self.clock.now = when
        result = service.submit_request(service.Submission(
            email="anna@example.test", full_name="Anna Eriksson", date_of_birth=date(1974, 8, 12),
            issue_type=issue_type, description="", consent=True), photos())
        for hours, action in steps:
            self.clock.now = at(when, hours)
            action(result.case.id, result.tracking_token)
        self.clock.now = NOW
        return result.case.id

    def staff(self, case_id: int):
        """Who acts on a case: its assignee (a claim is theirs alone), else the lead."""
        return service.get_case(case_id).assignee or self.lead

    def message(self):
        return lambda case_id, _: service.add_staff_message(case_id, self.staff(case_id),
                                                            "On it.", internal=False)

    def event(self, trigger: str, reason: str | None = None):
        return lambda case_id, _: service.fire_event(case_id, trigger, agent=self.staff(case_id),
                                                     expected_version=None, reason=reason)

    def checks_end(self):
        """The automated checks of the photos end: their risk is assessed."""
        return lambda case_id, _: service.reassess_risk(case_id)

    def reply(self):
        return lambda _, token: service.user_reply(token, "It was an iPhone.")

    def propose(self, agent):
        return lambda case_id, _: service.propose_approval(case_id, agent, None,
                                                           "Edits explained by the holder.")

    def assign(self, agent):
        return lambda case_id, _: service.assign_case(case_id, self.lead, agent.id, None)


@pytest.fixture
def desk(clock, make_agent, make_account):
    # The account the cases recover (approving needs one).
    make_account(full_name="Anna Eriksson")
    lead, _ = make_agent("security_lead", name="Lee")
    alice, _ = make_agent("agent", name="Alice")
    # Bob leads: he decides the case he holds after it is escalated.
    bob, _ = make_agent("security_lead", name='Bob <script>alert("x")</script>')
    return Desk(clock, lead, alice, bob)


@pytest.fixture
def histories(desk):
    """Seven cases; the expected figures (24x7, targets 2h / 4h / 10h) are in the tests."""
    # #   filed (UTC)     first response  resolved after   stages (h)              at NOW
    # c1  03-01 00:00     1h   message    4h   approved    id 2, selfie 1          ok
    # c2  03-02 09:00     3h   message    12h  approved    id 2, selfie 7          FR+res late
    # c3  03-03 09:00     0.5h request    1.5h running     awaiting 20 (paused)    ok
    # c4  03-08 12:00     none            open             none                    FR+res past due
    # c5  03-10 10:00     1h   message    open             (in id check)           ok
    # c6  03-04 09:00     6h   approve    6h   approved    id 0.5, escalated 5     FR late
    # c0  02-29 23:30     filed before the range, declined 03-01 01:00 (throughput only)
    d = desk
    cases = {
        "c1": d.file(datetime(2024, 3, 1, 0, 0, tzinfo=UTC), steps=[
            (0, d.assign(d.alice)), (1, d.message()), (1, d.event("start_review")),
            (3, d.event("confirm_document")), (3.5, d.checks_end()), (4, d.event("approve"))]),
        "c2": d.file(datetime(2024, 3, 2, 9, 0, tzinfo=UTC), steps=[
            (0, d.assign(d.alice)), (3, d.message()), (3, d.event("start_review")),
            (5, d.event("confirm_document")), (6, d.checks_end()), (12, d.event("approve"))]),
        "c3": d.file(datetime(2024, 3, 3, 9, 0, tzinfo=UTC), steps=[
            (0.5, d.event("request_info", "Which phone did you lose?")), (20.5, d.reply()),
            (21.5, d.event("decline", "Not the account holder."))]),
        "c4": d.file(datetime(2024, 3, 8, 12, 0, tzinfo=UTC), "lost_2fa"),
        "c5": d.file(datetime(2024, 3, 10, 10, 0, tzinfo=UTC), "lost_2fa", steps=[
            (1, d.message()), (1, d.event("start_review"))]),
        "c6": d.file(datetime(2024, 3, 4, 9, 0, tzinfo=UTC), "lost_2fa", steps=[
            (0, d.assign(d.bob)), (0.5, d.event("start_review")),
            (1, d.event("escalate", "Edited photo?")),
            # Four eyes: Lee proposes, Bob (who holds the case) approves.
            (4, d.checks_end()), (5, d.propose(d.lead)), (6, d.event("approve", "Checked."))]),
        "c0": d.file(datetime(2024, 2, 29, 23, 30, tzinfo=UTC), steps=[
            (1.5, d.event("decline", "Duplicate account."))]),
    }
    db.session.expire_all()
    return cases


def report(group_by: str = "issue_type", start: date = START, end: date = END,
           now: datetime = NOW) -> dict:
    return queries.sla_report(start, end, group_by, now)


def by_key(found: dict) -> dict:
    return {row["key"]: row for row in found["groups"]}


def test_the_histories_have_the_stored_figures_the_tests_assume(histories):
    rows = {name: db.session.get(CaseSla, case_id) for name, case_id in histories.items()}
    assert rows["c2"].first_response_seconds == 3 * 3600
    assert rows["c2"].resolution_seconds == 12 * 3600
    assert rows["c3"].resolution_seconds == 1.5 * 3600
    assert rows["c3"].awaiting_user_seconds == 20 * 3600
    assert rows["c6"].escalated_seconds == 5 * 3600
    assert rows["c4"].first_response_at is None


def test_totals(histories):
    totals = report()["totals"]
    assert totals["key"] == "all"
    assert (totals["cases"], totals["resolved"], totals["open"]) == (6, 4, 2)
    # First responses met: 0.5, 1, 1, 3, 6 hours; within 2h: three of five; c4's is past due.
    assert (totals["first_response_met"], totals["first_response_within"]) == (5, 3)
    assert totals["first_response_overdue"] == 1
    assert totals["first_response_within_share"] == 0.5
    assert totals["first_response_p50_hours"] == 1.0
    assert totals["first_response_p90_hours"] == pytest.approx(4.8)  # 3 + 0.6 * (6 - 3)
    # Resolutions: 1.5, 4, 6, 12 hours; within 10h: three of four; c4's is past due.
    assert (totals["resolution_met"], totals["resolution_within"]) == (4, 3)
    assert totals["resolution_overdue"] == 1
    assert totals["resolution_within_share"] == 0.6
    assert totals["resolution_p50_hours"] == 5.0
    assert totals["resolution_p90_hours"] == pytest.approx(10.2)  # 6 + 0.7 * (12 - 6)
    # c2 (first response and resolution late), c4 (both past due), c6 (first response late).
    assert totals["breaches"] == 3
    assert (totals["breached_first_response"], totals["breached_next_update"],
            totals["breached_resolution"]) == (3, 0, 2)


def test_by_issue_type(histories):
    found = report("issue_type")
    assert [row["key"] for row in found["groups"]] == ["forgot_password", "lost_2fa"]
    password, two_factor = found["groups"]
    assert password["label"] == "I forgot my password"
    assert (password["cases"], password["resolved"], password["breaches"]) == (3, 3, 1)
    assert password["first_response_p50_hours"] == 1.0
    assert password["first_response_p90_hours"] == pytest.approx(2.6)  # 1 + 0.8 * 2
    assert password["first_response_within_share"] == pytest.approx(0.6667)
    assert password["resolution_p50_hours"] == 4.0
    assert password["resolution_p90_hours"] == pytest.approx(10.4)  # 4 + 0.8 * 8
    assert (two_factor["cases"], two_factor["resolved"], two_factor["breaches"]) == (3, 1, 2)
    assert two_factor["first_response_p50_hours"] == 3.5
    assert two_factor["first_response_p90_hours"] == pytest.approx(5.5)  # 1 + 0.9 * 5
    assert (two_factor["first_response_met"], two_factor["first_response_within"]) == (2, 1)
    assert two_factor["first_response_within_share"] == pytest.approx(0.3333)  # c4 overdue
    assert two_factor["resolution_p50_hours"] == two_factor["resolution_p90_hours"] == 6.0
    assert two_factor["resolution_within_share"] == 0.5  # c6 in time, c4 past due


def test_by_agent_uses_the_assignee(histories, desk):
    groups = by_key(report("agent"))
    assert set(groups) == {str(desk.alice.id), str(desk.bob.id), "unassigned"}
    alice, bob = groups[str(desk.alice.id)], groups[str(desk.bob.id)]
    assert (alice["label"], alice["cases"], alice["breaches"]) == ("Alice", 2, 1)
    assert alice["first_response_p50_hours"] == 2.0
    assert (bob["label"], bob["cases"], bob["breaches"]) == (desk.bob.name, 1, 1)
    nobody = groups["unassigned"]
    assert (nobody["label"], nobody["cases"], nobody["resolved"]) == ("Unassigned", 3, 1)


def test_by_priority(histories):
    groups = by_key(report("priority"))
    # lost_2fa is filed with high priority (PRIORITY_BY_ISSUE_TYPE).
    assert groups["high"]["cases"] == 3 and groups["normal"]["cases"] == 3


def test_by_stage_hours_and_breach_attribution(histories):
    found = report("stage")
    stages = by_key(found)
    assert list(stages) == ["id_check", "selfie_check", "escalated", "awaiting_user"]
    ids = stages["id_check"]  # c1 2h, c2 2h, c6 0.5h
    assert (ids["cases"], ids["total_hours"], ids["mean_hours"]) == (3, 4.5, 1.5)
    assert (ids["p50_hours"], ids["p90_hours"]) == (2.0, 2.0)
    selfie = stages["selfie_check"]  # c1 1h, c2 7h
    assert (selfie["cases"], selfie["total_hours"], selfie["p50_hours"]) == (2, 8.0, 4.0)
    assert selfie["p90_hours"] == pytest.approx(6.4)
    assert stages["awaiting_user"]["total_hours"] == 20.0
    # c2 spent most of its time in the selfie check, c6 with security; c4 in no stage yet.
    assert {k: row["breaches_attributed"] for k, row in stages.items()} == {
        "id_check": 0, "selfie_check": 1, "escalated": 1, "awaiting_user": 0}
    assert found["unattributed_breaches"] == 1
    assert found["totals"]["breaches"] == 3


def test_backlog_and_throughput(histories):
    found = report()
    assert found["backlog_age"] == [
        {"bucket": "<1d", "cases": 1}, {"bucket": "1-3d", "cases": 1},
        {"bucket": "3-7d", "cases": 0}, {"bucket": "7-14d", "cases": 0},
        {"bucket": ">14d", "cases": 0}]
    days = {row["day"]: (row["created"], row["resolved"]) for row in found["throughput"]}
    assert list(days) == [date(2024, 3, n) for n in range(1, 11)]
    # 03-01: c1 filed, c1 and c0 (filed in February) resolved; c3 and c6 resolved on 03-04.
    assert days[date(2024, 3, 1)] == (1, 2)
    assert days[date(2024, 3, 2)] == (1, 1)
    assert days[date(2024, 3, 3)] == (1, 0)
    assert days[date(2024, 3, 4)] == (1, 2)
    assert days[date(2024, 3, 8)] == (1, 0)
    assert days[date(2024, 3, 10)] == (1, 0)
    assert sum(created for created, _ in days.values()) == 6


def test_breaches_depend_on_now(histories):
    # Before c4's first response was due (14:00 on 03-08) only c2 and c6 had breached.
    earlier = report(now=datetime(2024, 3, 8, 13, 0, tzinfo=UTC))["totals"]
    assert earlier["breaches"] == 2
    assert earlier["breached_resolution"] == 1


def test_range_is_whole_utc_days(clock, desk):
    for when in (datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
                 datetime(2024, 3, 1, tzinfo=UTC),
                 datetime(2024, 3, 10, 23, 59, 59, tzinfo=UTC),
                 datetime(2024, 3, 11, tzinfo=UTC)):
        desk.file(when)
    found = report(now=datetime(2024, 3, 20, tzinfo=UTC))
    assert found["totals"]["cases"] == 2
    days = {row["day"]: row["created"] for row in found["throughput"]}
    assert days[date(2024, 3, 1)] == days[date(2024, 3, 10)] == 1


def test_backlog_bucket_edges(clock, desk):
    ages = {"<1d": [timedelta(hours=23, minutes=59)], "1-3d": [timedelta(days=1)],
            "3-7d": [timedelta(days=3), timedelta(days=6, hours=23)],
            "7-14d": [timedelta(days=7), timedelta(days=13, hours=23)],
            ">14d": [timedelta(days=14), timedelta(days=20)]}
    for spans in ages.values():
        for age in spans:
            desk.file(NOW - age)
    desk.file(NOW - timedelta(days=2), steps=[(1, desk.event("decline", "No."))])
    found = report(start=date(2024, 2, 1))
    assert {b["bucket"]: b["cases"] for b in found["backlog_age"]} == {
        bucket: len(spans) for bucket, spans in ages.items()}


def test_empty_range(histories):
    found = report(start=date(2023, 1, 1), end=date(2023, 1, 31))
    assert found["groups"] == []
    assert found["totals"]["cases"] == 0
    assert found["totals"]["first_response_p50_hours"] is None
    assert found["totals"]["first_response_within_share"] is None
    assert len(found["throughput"]) == 31


# --- percentiles: SQL against a Python reference -------------------------------------------

def reference_percentile(values: list[float], p: float) -> float:
    """Linear interpolation between the nearest ranks (PostgreSQL's percentile_cont)."""
    ordered = sorted(values)
    rank = p * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (rank - low) * (ordered[high] - ordered[low])


@pytest.fixture
def random_cases(app):
    """Cases with random first-response times in groups of 1, 2, 7 and 23 (some not met)."""
    rng = random.Random(20240310)
    filed = datetime(2024, 3, 5, tzinfo=UTC)
    sizes = {"forgot_password": 1, "account_locked": 2, "new_device": 7, "other": 23}
    expected = {}
    for n, (issue_type, size) in enumerate(sizes.items()):
        values = [round(rng.uniform(0, 50_000), 3) for _ in range(size)]
        if size > 2:
            values.append(values[0])  # a tie
        expected[issue_type] = [v / 3600 for v in values]
        for i, seconds in enumerate([*values, None]):  # one case not yet answered
            case = RecoveryCase(
                email="x@example.test", full_name="X", date_of_birth=date(1980, 1, 1),
                issue_type=issue_type, consent_at=filed, created_at=filed,
                tracking_token_hash=models.token_hash(f"{n}-{i}"))
            case.sla = CaseSla(
                policy="default", calendar="24x7", first_response_target=7200.0,
                next_update_target=14400.0, resolution_target=36000.0, state="submitted",
                state_since=filed, first_response_seconds=seconds,
                first_response_at=None if seconds is None else filed)
            db.session.add(case)
    db.session.commit()
    return expected


def test_percentiles_match_a_python_reference(random_cases):
    found = by_key(report(start=date(2024, 3, 5), end=date(2024, 3, 5)))
    for issue_type, values in random_cases.items():
        row = found[issue_type]
        assert row["first_response_met"] == len(values)
        for p, name in ((0.5, "p50"), (0.9, "p90")):
            assert row[f"first_response_{name}_hours"] == round(
                reference_percentile(values, p), queries.DECIMALS), (issue_type, p)
    everything = [v for values in random_cases.values() for v in values]
    totals = report(start=date(2024, 3, 5), end=date(2024, 3, 5))["totals"]
    assert totals["first_response_p90_hours"] == round(
        reference_percentile(everything, 0.9), queries.DECIMALS)


def test_window_function_percentiles_equal_percentile_cont(random_cases):
    """On PostgreSQL both methods run on the same rows: the SQLite one must agree exactly."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("percentile_cont needs PostgreSQL (DATABASE_URL)")
    hours = (CaseSla.first_response_seconds / 3600.0)
    values = (sa.select(RecoveryCase.issue_type.label("key"), hours.label("value"))
              .join(CaseSla).where(CaseSla.first_response_seconds.is_not(None)).subquery())
    native = queries.percentiles(values, "postgresql")
    windowed = queries.percentiles(values, "sqlite")
    assert set(native) == set(random_cases)
    assert windowed == native
    reference = {k: tuple(reference_percentile(v, p) for p in (0.5, 0.9))
                 for k, v in random_cases.items()}
    for key, figures in native.items():
        assert figures == pytest.approx(reference[key], rel=1e-12)


# --- parameters ----------------------------------------------------------------------------

TODAY = date(2024, 3, 10)


def test_defaults_are_the_last_30_days_by_issue_type():
    asked = queries.report_request(None, None, None, TODAY)
    assert (asked.start, asked.end, asked.group_by) == (date(2024, 2, 10), TODAY, "issue_type")
    assert queries.report_request("", "", "", TODAY) == asked


def test_a_leap_year_is_not_too_long():
    asked = queries.report_request("2024-01-01", "2024-12-31", "stage", TODAY)
    assert (asked.end - asked.start).days + 1 == 366


@pytest.mark.parametrize(("start", "end", "group_by", "field", "code"), [
    ("2024-02-30", "2024-03-01", None, "from", "invalid_date"),
    ("2024-3-1", "2024-03-01", None, "from", "invalid_date"),
    ("20240301", "2024-03-01", None, "from", "invalid_date"),
    ("2024-03-01", "yesterday", None, "to", "invalid_date"),
    ("\u0662\u0660\u0662\u0664-03-01", "2024-03-01", None, "from", "invalid_date"),
    ("2024-03-02", "2024-03-01", None, "from", "invalid_range"),
    ("2023-01-01", "2024-01-02", None, "to", "range_too_long"),
    ("2024-03-01", "2024-03-02", "team", "group_by", "invalid_group_by"),
    (None, "0001-01-05", None, "to", "invalid_date"),
    ("9999-12-31", "9999-12-31", None, "to", "invalid_date"),
])
def test_bad_parameters(start, end, group_by, field, code):
    with pytest.raises(queries.BadReportRequest) as found:
        queries.report_request(start, end, group_by, TODAY)
    assert (found.value.field, found.value.code) == (field, code)
    assert str(found.value).endswith(".")


@pytest.mark.parametrize("statements", [1, 2, 3])
@pytest.mark.parametrize("group_by", queries.GROUP_BY)
def test_one_pass_postgresql_summary_equals_the_portable_one(app, histories, random_cases,
                                                             group_by, statements):
    """PostgreSQL's GROUPING SETS statements, one or split to run at once, and the
    statement-per-figure SQL agree exactly."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("GROUPING SETS and percentile_cont need PostgreSQL (DATABASE_URL)")
    app.config["SLA_REPORT_STATEMENTS"] = statements
    stages = group_by == "stage"
    cohort = queries._cohort(date(2024, 3, 1), date(2024, 3, 10), group_by, NOW)
    native = queries._summary_postgresql(cohort, not stages, stages)
    portable = queries._summary_portable(cohort, not stages, stages)
    assert set(native) == set(portable) and len(native) >= (1 if stages else 3)
    for key, figures in portable.items():
        for name, value in figures.items():
            if name in ("key", "label") or value is None or value == (None, None):
                assert native[key][name] == value, (key, name)
            else:
                assert native[key][name] == pytest.approx(value, rel=1e-12), (key, name)


def test_statements_run_at_once_share_one_snapshot(app, monkeypatch):
    """The split report's connections import the first one's snapshot: same rows for all."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("exported snapshots are PostgreSQL's")
    settings, engine = queries._report_settings, db.engine

    def commit_first(connection, memory):
        if threading.current_thread() is not threading.main_thread():
            # Another transaction commits after the snapshot was exported and before this
            # connection's statement: a snapshot of its own would come after it.
            with engine.connect() as other, other.begin():
                other.execute(sa.text("SELECT pg_current_xact_id()"))
        settings(connection, memory)

    monkeypatch.setattr(queries, "_report_settings", commit_first)
    seen = sa.select(sa.cast(sa.func.pg_current_snapshot(), sa.Text).label("snapshot"),
                     sa.func.pg_backend_pid().label("pid"))
    first, second, third = queries._run_together([seen, seen, seen])
    assert first[0]["snapshot"] == second[0]["snapshot"] == third[0]["snapshot"]
    assert len({first[0]["pid"], second[0]["pid"], third[0]["pid"]}) == 3
