"""The audit trail: what is recorded, the hash chain, and audit-verify catching tampering.

Tampering goes through a raw connection with the database's guard switched off (dropped on
SQLite, disabled inside the tampering transaction on PostgreSQL), as someone with the
database's keys would: the chain must show it all the same.
"""

import hashlib
import json
import logging
import re
import threading
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from extensions import db
from jobs.schedule import sla_tick
from tests.recovery import approve
from workflow import service
from workflow.models import AuditRecord, utcnow
from workflow.service import audit

ANCHOR = re.compile(r"audit anchor id=(\d+) hash=([0-9a-f]{64})")


def records(action_prefix: str = "") -> list[AuditRecord]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditRecord)
                                   .where(AuditRecord.action.startswith(action_prefix))
                                   .order_by(AuditRecord.id)))


@contextmanager
def unguarded():
    """A raw connection on which audit records can be changed, committed at the end."""
    db.session.remove()
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE audit_record DISABLE TRIGGER "
                                 "audit_record_append_only"))
        else:
            conn.execute(sa.text("DROP TRIGGER audit_record_append_only"))
            conn.execute(sa.text("DROP TRIGGER audit_record_no_delete"))
        yield conn
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE audit_record ENABLE TRIGGER "
                                 "audit_record_append_only"))


@pytest.fixture
def app_config():
    # Small batches, so that verifying walks several; an anchor every three records.
    return {"AUDIT_BATCH_SIZE": 2, "AUDIT_ANCHOR_EVERY": 3}


@pytest.fixture
def trail(app, make_agent, make_account, make_case):
    """A desk with some history: agents, a case through review and escalation, views."""
    lead, _ = make_agent("security_lead")
    make_account()
    case, _ = make_case("escalated")
    audit.record_now("case.view", actor="agent", agent=lead, case_id=case.id,
                     address="192.0.2.7", detail={"via": "console"})
    found = records()
    assert len(found) >= 6
    return found


def verify(runner, *args):
    return runner.invoke(args=["audit-verify", *args])


def test_case_events_are_chained_records_naming_no_personal_data(app, trail):
    case_records = [r for r in trail if r.case_id is not None]
    actions = [r.action for r in case_records]
    assert actions[:3] == ["case.submitted", "case.start_review", "case.escalate"]
    submitted = case_records[0]
    assert submitted.actor_type == "user" and submitted.agent_id is None
    assert submitted.detail == {"to": "submitted"}
    review = case_records[1]
    assert review.actor_type == "agent" and review.agent_id is not None
    assert review.detail == {"from": "submitted", "to": "id_check"}
    assert [r.id for r in trail] == list(range(1, len(trail) + 1))
    previous = audit.GENESIS
    for row in trail:
        assert row.prev_hash == previous
        assert row.hash == audit.record_hash({c: getattr(row, c) for c in audit._FIELDS})
        previous = row.hash
    dumped = json.dumps([audit.export_record(
        {c.name: getattr(r, c.name) for c in AuditRecord.__table__.columns}) for r in trail])
    for personal in ("anna@example.test", "Anna", "Eriksson", "1974-08-12", "Lost my phone",
                     "Documents look edited"):
        assert personal not in dumped


def test_an_intact_trail_verifies(runner, trail):
    result = verify(runner)
    assert result.exit_code == 0, result.output
    last = trail[-1]
    assert result.output.strip() == (f"{len(trail)} records, chain intact, last id {last.id} "
                                     f"hash {last.hash}")


def test_an_edited_record_is_named(runner, trail):
    victim = trail[2]
    with unguarded() as conn:
        conn.execute(sa.text("UPDATE audit_record SET address = '203.0.113.66' WHERE id = :id"),
                     {"id": victim.id})
    result = verify(runner)
    assert result.exit_code == 1
    assert f"broken at record {victim.id} (edited)" in result.output
    assert "stored hash does not match its content" in result.output


def test_an_edit_with_its_hash_recomputed_is_named_at_the_next_record(runner, trail):
    victim = trail[2]
    fields = {c: getattr(victim, c) for c in audit._FIELDS} | {"action": "case.approve"}
    with unguarded() as conn:
        conn.execute(sa.text("UPDATE audit_record SET action = 'case.approve', hash = :hash "
                             "WHERE id = :id"),
                     {"id": victim.id, "hash": audit.record_hash(fields)})
    result = verify(runner)
    assert result.exit_code == 1
    assert f"broken at record {victim.id + 1} (inserted)" in result.output
    assert f"record {victim.id} was replaced" in result.output


@pytest.mark.parametrize("where", ["end", "below"])
def test_an_inserted_record_is_named(runner, trail, where):
    model = trail[1]
    forged_id = trail[-1].id + 1 if where == "end" else 0
    fields = {c: getattr(model, c) for c in audit._FIELDS} | {
        "id": forged_id, "action": "case.approve", "created_at": utcnow()}
    forged = {**fields, "hash": audit.record_hash(fields)}
    with unguarded() as conn:
        conn.execute(sa.insert(AuditRecord.__table__).values(**forged))
    result = verify(runner)
    assert result.exit_code == 1
    assert f"broken at record {forged_id} (inserted)" in result.output


def test_a_deleted_record_is_named(runner, trail):
    victim = trail[3]
    with unguarded() as conn:
        conn.execute(sa.text("DELETE FROM audit_record WHERE id = :id"), {"id": victim.id})
    result = verify(runner)
    assert result.exit_code == 1
    assert f"broken at record {victim.id} (deleted)" in result.output
    assert f"record {victim.id} is missing" in result.output


def test_a_deleted_tail_is_found_with_an_anchor_from_the_log(app, runner, caplog,
                                                              make_agent):
    caplog.set_level(logging.INFO, logger=audit.ANCHOR_LOG.name)
    for number in range(3):  # each: agent.created, api_token.created
        make_agent(email=f"staff{number}@example.test")
    audit.record_now("export.sla_csv", actor="system")
    anchors = [m.groups() for m in map(ANCHOR.search, caplog.messages) if m]
    # Every third record is anchored, once its transaction committed.
    assert [int(i) for i, _ in anchors] == [3, 6]
    assert dict(anchors)["6"] == db.session.get(AuditRecord, 6).hash
    with unguarded() as conn:
        conn.execute(sa.text("DELETE FROM audit_record WHERE id = 7"))
    assert verify(runner).exit_code == 0  # the chain up to 6 is whole: only an anchor knows
    sla_tick(app)  # the scheduled check anchors the head it sees
    assert ANCHOR.search(caplog.messages[-1]).groups() == ("6", dict(anchors)["6"])
    result = verify(runner, "--anchor", f"6:{dict(anchors)['6']}")
    assert result.exit_code == 0 and "1 anchor(s) match" in result.output
    head = f"7:{'ab' * 32}"
    result = verify(runner, "--anchor", f"3:{dict(anchors)['3']}", "--anchor", head)
    assert result.exit_code == 1
    assert "broken at record 7 (truncated)" in result.output


def test_a_rewritten_trail_disagrees_with_its_anchor(app, runner, trail):
    anchor = f"{trail[1].id}:{trail[1].hash}"
    with unguarded() as conn:
        conn.execute(sa.text("DELETE FROM audit_record"))
    audit.record_now("case.view", actor="system")
    result = verify(runner, "--anchor", anchor)
    assert result.exit_code == 1
    assert "broken at record 2 (truncated)" in result.output
    audit.record_now("case.view", actor="system")
    result = verify(runner, "--anchor", anchor)
    assert result.exit_code == 1
    assert "broken at record 2 (rewritten)" in result.output


@pytest.mark.parametrize("anchor", ["7", "x:" + "a" * 64, "3:abc", "0:" + "a" * 64])
def test_a_malformed_anchor_is_a_usage_error(runner, trail, anchor):
    result = verify(runner, "--anchor", anchor)
    assert result.exit_code == 2 and "is not ID:HASH" in result.output


def test_the_database_refuses_to_change_or_delete_a_record(app, trail):
    with pytest.raises(DBAPIError), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_record SET address = NULL WHERE id = 1"))
    with pytest.raises(DBAPIError), db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_record WHERE id = 1"))
    row = db.session.get(AuditRecord, 1)
    row.address = "192.0.2.1"
    with pytest.raises(ValueError, match="append-only"):
        db.session.flush()
    db.session.rollback()


def test_a_transaction_that_rolls_back_writes_none_of_its_records(app, trail):
    with pytest.raises(RuntimeError), service.unit.transaction():
        audit.record("case.view", actor="system", case_id=1)
        raise RuntimeError("changed its mind")
    audit.record_now("export.audit_jsonl", actor="system")
    after = records()
    assert len(after) == len(trail) + 1 and after[-1].prev_hash == trail[-1].hash
    assert audit.verify().broken is None


@pytest.mark.parametrize("detail", [{"score": 0.5}, {"text": "x" * 201}, {"obj": {"a": 1}}])
def test_details_are_ids_codes_and_flags(app, detail):
    with pytest.raises(ValueError):
        audit.record("case.view", actor="system", detail=detail)
    db.session.rollback()


def test_recovery_steps_are_recorded_with_their_ids(app, make_agent, make_account, make_case):
    lead, _ = make_agent("security_lead")
    make_account()
    case, _ = make_case("selfie_check", issue_type="forgot_password")
    approve(case, lead)
    service.run_case_actions(case.id)
    performed = records("recovery.")
    assert [r.action for r in performed] == ["recovery.performed"]
    action = service.get_case(case.id).recovery_actions[0]
    assert performed[0].detail == {"action_id": action.id, "step": "reset_link",
                                   "adapter": "local", "attempt": 1}
    assert performed[0].case_id == case.id and performed[0].actor_type == "system"


def test_messages_are_recorded_without_their_text(app, make_agent, make_case):
    lead, _ = make_agent("security_lead")
    case, token = make_case("submitted")
    service.add_staff_message(case.id, lead, "Call us back on 555-0100.", internal=False)
    service.add_staff_message(case.id, lead, "Sounded nervous on the phone.", internal=True)
    service.user_reply(token, "My number is 555-0199.")
    found = [(r.action, r.actor_type, r.agent_id, r.case_id, r.detail)
             for r in records("message.")]
    assert found == [("message.to_user", "agent", lead.id, case.id, {}),
                     ("message.note", "agent", lead.id, case.id, {}),
                     ("message.from_user", "user", None, case.id, {})]


def test_staff_commands_are_recorded(app, runner):
    created = runner.invoke(args=["create-agent", "--email", "sam@example.test", "--name",
                                  "Sam", "--role", "agent"], input="a long enough password\n")
    assert created.exit_code == 0, created.output
    sam = service.authenticate("sam@example.test", "a long enough password")
    for args in (["set-role", "--email", "sam@example.test", "--role", "security_lead"],
                 ["set-password", "--email", "sam@example.test"],
                 ["deactivate-agent", "--email", "sam@example.test"]):
        result = runner.invoke(args=args, input="another long password\n")
        assert result.exit_code == 0, result.output
    trail = [(r.action, r.actor_type, r.detail) for r in records()]
    assert trail == [
        ("agent.created", "system", {"target_agent_id": sam.id, "role": "agent"}),
        ("api_token.created", "system", {"target_agent_id": sam.id, "token_id": 1, "days": 90}),
        ("signin.password_accepted", "agent", {}),
        ("agent.role_changed", "system",
         {"target_agent_id": sam.id, "from": "agent", "to": "security_lead"}),
        ("agent.password_set", "system", {"target_agent_id": sam.id}),
        ("api_token.revoked_all", "system", {"target_agent_id": sam.id, "tokens": 1}),
        ("agent.deactivated", "system", {"target_agent_id": sam.id, "released_cases": 0}),
    ]
    assert records("signin.")[0].agent_id == sam.id
    assert service.authenticate("sam@example.test", "another long password") is None
    failure = records("signin.failure")[0]
    assert failure.actor_type == "anonymous" and failure.agent_id is None
    assert failure.detail == {"reason": "inactive_agent", "target_agent_id": sam.id}


def test_audit_export_prints_a_period_as_json_lines_and_is_recorded(app, runner, trail):
    today = utcnow().date().isoformat()
    result = runner.invoke(args=["audit-export", "--since", today, "--until", today])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["id"] for line in lines] == list(range(1, len(trail) + 2))
    previous = audit.GENESIS
    for line in lines:
        hashed = {k: v for k, v in line.items() if k != "hash"}
        text = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        assert hashlib.sha256(text.encode()).hexdigest() == line["hash"]
        assert line["prev_hash"] == previous
        previous = line["hash"]
    assert lines[-1]["action"] == "export.audit_jsonl"
    assert lines[-1]["detail"] == {"from": today, "to": today, "via": "cli"}
    empty = runner.invoke(args=["audit-export", "--since", "2020-01-01", "--until",
                                "2020-01-31"])
    assert empty.exit_code == 0 and empty.output == ""


@pytest.mark.parametrize("since, until, message", [
    ("2026-13-01", "2026-12-31", "'--since' must be a day"),
    ("2026-12-02", "2026-12-01", "'--until' is before '--since'"),
])
def test_audit_export_refuses_a_bad_period(runner, since, until, message):
    result = runner.invoke(args=["audit-export", "--since", since, "--until", until])
    assert result.exit_code == 2 and message in result.output


WRITERS, EACH = 6, 20


def test_writers_at_once_extend_one_chain(app, make_agent):
    """Threads with connections of their own record at the same moment: one chain, no gap,
    no fork (the race that matters is on PostgreSQL; SQLite lets one writer in at a time)."""
    lead, _ = make_agent("security_lead")
    lead_id = lead.id
    start, errors = threading.Barrier(WRITERS), []

    def write(number: int) -> None:
        try:
            with app.app_context():
                start.wait()
                for turn in range(EACH):
                    with service.unit.transaction():
                        audit.record("case.view", actor="agent", agent=lead_id,
                                     detail={"writer": number, "turn": turn})
                        audit.record("evidence.view", actor="agent", agent=lead_id,
                                     detail={"writer": number, "turn": turn})
                db.session.remove()
        except Exception as err:  # reported below, with the thread it failed in
            errors.append((number, err))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = audit.verify()
    assert result.broken is None
    assert result.records == 2 + WRITERS * EACH * 2  # the lead and their token, then the cases
    written = records("")
    assert [r.id for r in written] == list(range(1, result.records + 1))
    # Each transaction's two records are next to each other: a chain extended by one
    # transaction at a time.
    for first, second in zip(written[2::2], written[3::2], strict=True):
        assert first.detail == second.detail and first.action == "case.view"
