"""The retention purge: a closed case's evidence goes when its time is up, its record stays.

Cases are built through the real service at chosen times (the service's clock and the
report's), given readings and check results that hold personal data, and purged through
`flask purge`. The SLA report (page, CSV tables, JSON API, command line) is rendered before
and after and compared byte for byte; the database is read with plain SQL afterwards.
"""

import io
import os
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

import jobs.recovery
import jobs.schedule
from app import create_app
from config import Config
from extensions import db
from reports import queries
from tests.clock import set_service_clock
from tests.conftest import PG_URL, make_config, sign_in
from tests.recovery import approve
from workflow import models, service
from workflow.models import DocumentReading, SelfieReading, VerificationCheck
from workflow.states import CONSENT_TEXTS, consent_digest

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, in office hours
NAME = "ERIKSSON, ANNA MARIA"
DOCUMENT_NUMBER = "X1234567"
MRZ_LINE = "P<SWEERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
ENCODING = bytes(range(256)) * 4  # 128 float64 numbers' worth of bytes


@pytest.fixture
def app_config():
    # The shipped cooling-off period: a lost 2FA's recovery waits a day after its approval.
    return {"RECOVERY_HOLD": Config.RECOVERY_HOLD}


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(app, monkeypatch):
    """The time the service, the purge and the reports see."""
    found = Clock(T0)
    set_service_clock(monkeypatch, found)
    monkeypatch.setattr(models, "utcnow", found)
    return found


@pytest.fixture
def lead(make_agent):
    agent, _ = make_agent("security_lead", email="lead@example.test", name="Lee Lead")
    return agent


def add_personal_findings(case_id: int) -> None:
    """What the automated checks store about a person: readings with a face encoding and
    MRZ fields, and check results whose details quote the document."""
    db.session.add_all([
        DocumentReading(case_id=case_id, attempt=1, mrz_found=True, mrz_format="TD3",
                        document_type="P", issuing_country="SWE",
                        document_number=DOCUMENT_NUMBER, surname="ERIKSSON",
                        given_names="ANNA MARIA", nationality="SWE",
                        date_of_birth=date(1974, 8, 12), sex="F",
                        expiry_date=date(2030, 1, 1), valid_check_digits=True,
                        mrz={"lines": [MRZ_LINE]}, portrait_faces=1,
                        portrait_encoding=ENCODING, outcome="clear"),
        SelfieReading(case_id=case_id, attempt=1, faces=1, face_box=[1, 2, 3, 4],
                      encoding=ENCODING, document_distance=0.41, threshold=0.6,
                      outcome="clear"),
        VerificationCheck(case_id=case_id, attempt=1, check="document.data.name",
                          result="clear", score=97.0, threshold=90.0, engine="documents",
                          engine_version="1",
                          details={"document": NAME, "account": "Anna Maria Eriksson"}),
        VerificationCheck(case_id=case_id, attempt=1, check="document.mrz.read",
                          result="clear", score=0.9, engine="rapidocr", engine_version="1",
                          details={"format": "TD3", "lines": [MRZ_LINE]}),
    ])
    db.session.commit()


@pytest.fixture
def desk(app, clock, lead, make_account, make_case):
    """Five cases filed on the first days of March, in every way a case ends (and one open)."""
    make_account(two_factor_enabled=True)
    built = {}

    def at(day: int, hours: float = 0):
        clock.now = T0 + timedelta(days=day, hours=hours)

    at(0)
    case, _ = make_case("resolved", issue_type="forgot_password")  # declined by an agent
    built["declined"] = case.id
    at(0, 2)
    case, _ = make_case("escalated", issue_type="account_locked")
    at(0, 5)
    service.fire_event(case.id, "decline", agent=lead, expected_version=None,
                       reason="Documents were edited: fraud.")
    built["fraud"] = case.id
    at(1)
    case, _ = make_case("selfie_check", issue_type="lost_2fa")
    at(1, 3)
    approve(case, lead)  # its recovery waits out the cooling-off period
    built["approved"] = case.id
    at(2)
    case, token = make_case("submitted", issue_type="new_device")
    at(2, 1)
    service.user_withdraw(token)
    built["withdrawn"] = case.id
    at(3)
    case, _ = make_case("selfie_check", issue_type="other")
    built["open"] = case.id
    for case_id in built.values():
        add_personal_findings(case_id)
    return built


REPORT_RANGE = {"from": "2026-03-01", "to": "2026-03-31"}
CSRF = re.compile(r'name="csrf_token"[^>]*value="[^"]*"|value="[^"]*"[^>]*name="csrf_token"')


def rendered_reports(client, runner) -> dict[str, bytes]:
    """Every form of the SLA report over the cases, as bytes (pages without their CSRF
    token, which is signed anew each time)."""
    out = {}
    for group_by in queries.GROUP_BY:
        query = {**REPORT_RANGE, "group_by": group_by}
        page = client.get("/reports/sla", query_string=query)
        assert page.status_code == 200
        out[f"page {group_by}"] = CSRF.sub("csrf", page.get_data(as_text=True)).encode()
        for table in queries.CSV_TABLES:
            got = client.get("/reports/sla.csv", query_string={**query, "table": table})
            assert got.status_code == 200
            out[f"csv {group_by} {table}"] = got.data
        got = runner.invoke(args=["sla-report", "--from", REPORT_RANGE["from"], "--to",
                                  REPORT_RANGE["to"], "--group-by", group_by,
                                  "--format", "json"])
        assert got.exit_code == 0, got.output
        out[f"cli {group_by}"] = got.output.encode()
    return out


def table_rows(sql: str, **params) -> list[tuple]:
    db.session.expire_all()
    return [tuple(row) for row in db.session.execute(sa.text(sql), params)]


def count(sql: str, **params) -> int:
    return db.session.scalar(sa.text(sql), params)


def test_a_purge_leaves_the_sla_report_identical(app, client, runner, clock, desk, lead):
    assert sign_in(client, lead.email).status_code == 302
    clock.now = T0 + timedelta(days=33)
    before = rendered_reports(client, runner)
    assert all(kind.encode() in before["csv issue_type groups"] for kind in
               ("forgot_password", "account_locked", "lost_2fa", "new_device", "other"))
    sla_before = table_rows("SELECT * FROM case_sla ORDER BY case_id")
    events_before = table_rows("SELECT id, case_id, event, from_state, to_state, reason "
                               "FROM case_event ORDER BY id")
    checks_before = table_rows('SELECT id, case_id, "check", result, reason_code, score '
                               "FROM verification_check ORDER BY id")
    assert sum("ERIKSSON" in str(row) for row in
               table_rows("SELECT details FROM verification_check")) == 10

    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    purged = [desk["declined"], desk["withdrawn"]]
    assert f"Evidence purged from 2 case(s): #{purged[0]}, #{purged[1]}." in result.output
    # Past its 30 days, but its cooling-off steps have not run yet.
    assert f"wait for recovery steps still to run: #{desk['approved']}." in result.output

    after = rendered_reports(client, runner)
    assert after.keys() == before.keys()
    for name in before:
        assert after[name] == before[name], name
    assert table_rows("SELECT * FROM case_sla ORDER BY case_id") == sla_before

    # The photos, encodings and readings are gone from the database itself.
    ids = {"a": purged[0], "b": purged[1]}
    where = "WHERE case_id IN (:a, :b)"
    assert count(f"SELECT count(*) FROM evidence {where}", **ids) == 0
    assert count(f"SELECT count(*) FROM document_reading {where}", **ids) == 0
    assert count(f"SELECT count(*) FROM selfie_reading {where}", **ids) == 0
    details = [str(row) for row in table_rows(f"SELECT details FROM verification_check {where}",
                                              **ids)]
    assert details and not any("ERIKSSON" in d or MRZ_LINE in d for d in details)
    assert any("97" not in d and "purged" in d for d in details)
    # ... and the case, its timeline and its check results stay, one event added each.
    assert table_rows('SELECT id, case_id, "check", result, reason_code, score '
                      "FROM verification_check ORDER BY id") == checks_before
    events_after = table_rows("SELECT id, case_id, event, from_state, to_state, reason "
                              "FROM case_event ORDER BY id")
    assert events_after[:len(events_before)] == events_before
    assert [(e[1], e[2]) for e in events_after[len(events_before):]] == [
        (purged[0], "evidence_purged"), (purged[1], "evidence_purged")]
    assert table_rows("SELECT state, resolution FROM recovery_case WHERE id IN (:a, :b) "
                      "ORDER BY id", **ids) == [("resolved", "declined"),
                                                ("resolved", "withdrawn")]
    # Not yet due, open, or waiting for its recovery: untouched.
    for kept in (desk["fraud"], desk["open"], desk["approved"]):
        assert count("SELECT count(*) FROM evidence WHERE case_id = :c", c=kept) == 2
        assert count("SELECT count(*) FROM selfie_reading WHERE case_id = :c", c=kept) == 1
        assert count("SELECT count(*) FROM recovery_case WHERE id = :c AND purged_at IS NULL",
                     c=kept) == 1

    again = runner.invoke(args=["purge"])
    assert "No case is due for a purge." in again.output
    assert rendered_reports(client, runner) == before


def test_fraud_waits_a_year_and_a_recovery_until_its_steps_ran(app, runner, clock, desk):
    clock.now = T0 + timedelta(days=40)
    assert service.purge_expired().purged == [desk["declined"], desk["withdrawn"]]
    assert jobs.recovery.sweep_actions(app) == [desk["approved"]]  # the hold has long passed
    assert service.purge_expired().purged == [desk["approved"]]
    clock.now = T0 + timedelta(days=365)
    assert service.purge_expired().purged == []  # declined as fraud: a year after resolution
    clock.now = T0 + timedelta(days=365, hours=6)
    assert service.purge_expired().purged == [desk["fraud"]]
    assert count("SELECT count(*) FROM recovery_case WHERE purged_at IS NULL") == 1  # open


def test_the_scheduled_check_purges_too(app, clock, desk):
    clock.now = T0 + timedelta(days=33)
    jobs.schedule.sla_tick(app)
    assert count("SELECT count(*) FROM recovery_case WHERE purged_at IS NOT NULL") == 2


def test_a_purged_case_shows_so_and_its_photo_addresses_say_gone(app, client, clock, desk,
                                                                 lead, make_agent):
    case = service.get_case(desk["declined"])
    photo_ids = [e.id for e in case.evidence]
    clock.now = T0 + timedelta(days=31)
    service.purge_expired()
    assert sign_in(client, lead.email).status_code == 302
    page = client.get(f"/agent/cases/{case.id}").get_data(as_text=True)
    assert "Evidence purged on 2026-04-02" in page
    for photo_id in photo_ids:
        gone = client.get(f"/agent/cases/{case.id}/evidence/{photo_id}")
        assert gone.status_code == 410
        assert (f"The photos of case #{case.id} were purged on 02 Apr 2026 under the "
                "retention policy.") in gone.get_data(as_text=True)
    assert client.get(f"/agent/cases/{case.id}/evidence/999999").status_code == 410
    assert client.get(f"/agent/cases/{desk['open']}/evidence/999999").status_code == 404
    _, token = make_agent("admin")
    body = client.get(f"/api/v1/cases/{case.id}",
                      headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["evidence"] == [] and body["document"] is None and body["selfie"] is None
    assert body["evidence_purged_at"].startswith("2026-04-02")
    assert [c["details"].get("document") for c in body["checks"]
            if c["check"] == "document.data.name"] == [None]


def test_a_case_reopened_by_the_owner_is_not_purged_while_open(app, clock, desk, lead):
    clock.now = T0 + timedelta(days=1, hours=4)  # within the cooling-off period
    service.report_not_me(desk["approved"], lead, "The owner called: not them.")
    assert service.get_case(desk["approved"]).state == "escalated"
    clock.now = T0 + timedelta(days=60)
    assert desk["approved"] not in service.purge_expired().purged
    assert service.get_case(desk["approved"]).purged_at is None


@pytest.mark.parametrize(("setting", "says"), [
    ({"default": "a month"}, "default"),
    ({"default": "30d", "declined_fraud": "365d", "approved": "7d"}, "unknown key"),
    ({"default": "30d"}, "declined_fraud"),
    ({"default": "30d", "declined_fraud": "9999d"}, "at most 3650d"),
    ("30d", "maps"),
])
def test_a_bad_retention_setting_refuses_to_start(tmp_path, setting, says):
    url = f"sqlite:///{tmp_path / 'retention.sqlite'}"
    with pytest.raises(RuntimeError, match=f"Retention settings are not valid: .*{says}"):
        create_app(make_config(url, RETENTION=setting))
    app = create_app(make_config(url, RETENTION={"default": "12h", "declined_fraud": "5d"}))
    with app.app_context():
        assert service.retention_periods(app.config) == {
            "default": timedelta(hours=12), "declined_fraud": timedelta(days=5)}


def guards_check_rows(case_id: int) -> None:
    """The database rewrites a check result's details, and refuses any other change."""
    db.session.add(VerificationCheck(case_id=case_id, attempt=1, check="document.data.name",
                                     result="clear", engine="documents", engine_version="1",
                                     details={"document": NAME}))
    db.session.commit()
    db.session.execute(sa.text("UPDATE verification_check SET details = :d"),
                       {"d": '{"purged": true}'})
    db.session.commit()
    assert "purged" in str(table_rows("SELECT details FROM verification_check"))
    for column, value in (("result", "'rejected'"), ('"check"', "'x.y'"), ("score", "1.0")):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(sa.text(f"UPDATE verification_check SET {column} = {value}"))
        db.session.rollback()


def test_check_rows_take_new_details_only(app, make_case):
    case, _ = make_case()
    guards_check_rows(case.id)


def test_the_migration_guards_check_rows_alike(tmp_path):
    from flask_migrate import downgrade, upgrade

    from tests.conftest import new_database

    with new_database(tmp_path, "recovery_retention") as url:
        app = create_app(make_config(url))
        with app.app_context():
            upgrade(revision="b7d41c0e9a10")
            db.session.execute(sa.text(
                "INSERT INTO recovery_case (id, email, full_name, date_of_birth, issue_type, "
                "priority, description, consent_at, state, resubmissions, evidence_attempt, "
                "resubmission_requested, tracking_token_hash, created_at, updated_at, "
                "version) VALUES (1, 'a@example.test', 'A', '1974-08-12', 'other', 'normal', "
                "'', :now, 'submitted', 0, 1, false, 't', :now, :now, 1)"), {"now": T0})
            db.session.commit()
            upgrade()
            # Filed before versions were kept: under the only text there was.
            assert table_rows("SELECT consent_version, consent_sha256 FROM recovery_case") == [
                ("1", consent_digest(CONSENT_TEXTS["1"]))]
            guards_check_rows(1)
            downgrade(revision="b7d41c0e9a10")
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                db.session.execute(sa.text("UPDATE verification_check SET details = '{}'"))
            db.session.rollback()
            db.session.remove()
            db.engine.dispose()


def noise(fmt: str = "PNG") -> bytes:
    """A photo no other case holds (random pixels)."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (320, 240), os.urandom(320 * 240 * 3)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.skipif(PG_URL is not None, reason="the SQLite file itself is read")
def test_the_purged_bytes_are_not_left_in_the_sqlite_file(app, clock, make_case):
    case, _ = make_case("resolved", files={"id_document": noise(), "selfie": noise("JPEG")})
    stored = [row[0] for row in table_rows("SELECT data FROM evidence WHERE case_id = :c",
                                           c=case.id)]
    # Pieces of each photo: a blob spans pages, so it is not one run in the file, and a piece
    # may straddle two pages.
    pieces = [data[start:start + 32] for data in stored
              for start in range(0, len(data) - 32, 512)]
    path = Path(sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
    content = path.read_bytes()
    assert len(stored) == 2 and sum(piece in content for piece in pieces) > 0.8 * len(pieces)
    clock.now = T0 + timedelta(days=60)
    assert service.purge_expired().purged == [case.id]
    db.session.remove()
    content = path.read_bytes()
    assert not any(piece in content for piece in pieces)
