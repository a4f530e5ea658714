"""The audit trail over HTTP: sign-ins, views of personal data and exports are recorded with
who and from which address; leads read a case's trail; admins export a period as JSON lines."""

import hashlib
import json

import pytest
import sqlalchemy as sa

from extensions import db
from tests.conftest import sign_in
from workflow.models import AuditRecord, utcnow
from workflow.service import audit

ADDRESS = "198.51.100.23"


def records(action: str) -> list[AuditRecord]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditRecord).where(AuditRecord.action == action)
                                   .order_by(AuditRecord.id)))


@pytest.fixture
def staff(make_agent):
    """An agent, a security lead and an admin, each with a signed-in client of their own."""
    return {role: make_agent(role, email=f"{role}@example.test")[0]
            for role in ("agent", "security_lead", "admin")}


def client_of(app, role: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    assert sign_in(client, f"{role}@example.test").status_code == 302
    return client


def test_sign_ins_are_recorded_with_the_address_and_never_what_was_typed(app, staff):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ADDRESS
    assert sign_in(client, "agent@example.test", "wrong password typed").status_code == 401
    assert sign_in(client, "nobody@example.test", "a secret of sorts").status_code == 401
    assert sign_in(client, "agent@example.test").status_code == 302
    failures = records("signin.failure")
    assert [(r.actor_type, r.agent_id, r.address, r.detail) for r in failures] == [
        ("anonymous", None, ADDRESS,
         {"reason": "wrong_password", "target_agent_id": staff["agent"].id}),
        ("anonymous", None, ADDRESS, {"reason": "unknown_agent", "target_agent_id": None}),
    ]
    success = records("signin.success")[-1]
    assert (success.actor_type, success.agent_id, success.address) == (
        "agent", staff["agent"].id, ADDRESS)
    everything = json.dumps([r.detail for r in db.session.scalars(sa.select(AuditRecord))])
    for typed in ("wrong password", "nobody@example.test", "secret"):
        assert typed not in everything
    client.post("/agent/logout")
    assert records("session.signed_out")[-1].agent_id == staff["agent"].id


def test_views_of_a_case_and_its_photos_are_recorded(app, staff, make_case):
    case, _ = make_case("id_check")
    client = client_of(app, "agent")
    assert client.get(f"/agent/cases/{case.id}").status_code == 200
    photo = case.evidence[0]
    assert client.get(f"/agent/cases/{case.id}/evidence/{photo.id}").status_code == 200
    viewed = records("case.view")[-1]
    assert (viewed.agent_id, viewed.case_id, viewed.address, viewed.detail) == (
        staff["agent"].id, case.id, ADDRESS, {"via": "console"})
    seen = records("evidence.view")[-1]
    assert (seen.agent_id, seen.case_id, seen.address) == (staff["agent"].id, case.id, ADDRESS)
    assert seen.detail == {"evidence_id": photo.id, "kind": photo.kind, "attempt": 1}


def test_the_api_case_detail_is_recorded(app, make_agent, make_case):
    agent, token = make_agent("agent")
    case, _ = make_case("id_check")
    answer = app.test_client().get(f"/api/v1/cases/{case.id}",
                                   headers={"Authorization": f"Bearer {token}"},
                                   environ_base={"REMOTE_ADDR": ADDRESS})
    assert answer.status_code == 200
    viewed = records("case.view")[-1]
    assert (viewed.agent_id, viewed.case_id, viewed.address, viewed.detail) == (
        agent.id, case.id, ADDRESS, {"via": "api"})


def test_security_leads_read_a_cases_trail_and_agents_may_not(app, staff, make_case):
    case, _ = make_case("id_check")
    assert client_of(app, "agent").get(f"/agent/cases/{case.id}/audit").status_code == 403
    lead = client_of(app, "security_lead")
    page = lead.get(f"/agent/cases/{case.id}").get_data(as_text=True)
    assert f'href="/agent/cases/{case.id}/audit"' in page
    answer = lead.get(f"/agent/cases/{case.id}/audit")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    for action in ("case.submitted", "case.start_review", "case.view", "audit.case_view"):
        assert action in text
    assert ADDRESS in text
    assert records("audit.case_view")[-1].agent_id == staff["security_lead"].id


def test_admins_export_a_period_as_json_lines_and_the_export_is_recorded(app, staff,
                                                                          make_case):
    make_case("id_check")
    today = utcnow().date().isoformat()
    admin = client_of(app, "admin")
    assert admin.get("/agent/audit/export").status_code == 200  # the form
    answer = admin.get(f"/agent/audit/export?from={today}&to={today}")
    assert answer.status_code == 200
    assert answer.mimetype == "application/x-ndjson"
    assert answer.headers["Cache-Control"] == "private, no-store"
    lines = [json.loads(line) for line in answer.get_data(as_text=True).splitlines()]
    previous = audit.GENESIS
    for line in lines:
        hashed = json.dumps({k: v for k, v in line.items() if k != "hash"}, sort_keys=True,
                            separators=(",", ":"), ensure_ascii=True)
        assert hashlib.sha256(hashed.encode()).hexdigest() == line["hash"]
        assert line["prev_hash"] == previous
        previous = line["hash"]
    assert lines[-1]["action"] == "export.audit_jsonl"
    assert lines[-1]["agent_id"] == staff["admin"].id
    assert lines[-1]["address"] == ADDRESS
    assert client_of(app, "security_lead").get(
        f"/agent/audit/export?from={today}&to={today}").status_code == 403


@pytest.mark.parametrize("query, message", [
    ("from=2026-12-01", "&#39;to&#39; is required"),
    ("from=yesterday&to=2026-12-01", "&#39;from&#39; must be a day"),
    ("from=2026-12-02&to=2026-12-01", "&#39;to&#39; is before &#39;from&#39;"),
])
def test_a_bad_export_period_is_refused_and_exports_nothing(app, staff, query, message):
    answer = client_of(app, "admin").get(f"/agent/audit/export?{query}")
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert records("export.audit_jsonl") == []


def test_report_exports_are_recorded(app, staff, make_agent):
    client = client_of(app, "agent")
    answer = client.get("/reports/sla.csv?from=2026-11-01&to=2026-11-30&table=throughput")
    assert answer.status_code == 200
    exported = records("export.sla_csv")[-1]
    assert (exported.agent_id, exported.address) == (staff["agent"].id, ADDRESS)
    assert exported.detail == {"from": "2026-11-01", "to": "2026-11-30",
                               "group_by": "issue_type", "format": "csv", "via": "console",
                               "table": "throughput"}
    _, token = make_agent("agent")
    assert app.test_client().get("/api/v1/reports/sla?from=2026-11-01&to=2026-11-30",
                                 headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert records("export.sla_report")[-1].detail["via"] == "api"
    result = app.test_cli_runner().invoke(args=["sla-report", "--from", "2026-11-01", "--to",
                                                "2026-11-30", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert records("export.sla_report")[-1].detail["via"] == "cli"
    # A report that cannot be made exports nothing, and records nothing.
    before = len(records("export.sla_csv"))
    assert client.get("/reports/sla.csv?from=2026-11-30&to=2026-11-01").status_code == 400
    assert len(records("export.sla_csv")) == before
