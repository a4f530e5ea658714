"""The command line: create-agent, seed-demo, bootstrap."""

import pytest
import sqlalchemy as sa

from extensions import db
from workflow import service
from workflow.models import Account, Agent, RecoveryCase


def test_create_agent_reads_password_from_stdin_and_prints_token_last(runner):
    result = runner.invoke(args=["create-agent", "--email", "Lee@Example.test", "--name", "Lee",
                                 "--role", "security_lead"],
                           input="a long enough password\n")
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    agent = service.agent_for_token(token)
    assert (agent.email, agent.role) == ("lee@example.test", "security_lead")
    assert service.authenticate("lee@example.test", "a long enough password").id == agent.id


def test_create_agent_errors_are_plain(runner):
    args = ["create-agent", "--email", "a@example.test", "--name", "A"]
    assert "at least 12" in runner.invoke(args=args, input="short\n").output
    assert runner.invoke(args=args, input="a long enough password\n").exit_code == 0
    again = runner.invoke(args=args, input="a long enough password\n")
    assert again.exit_code != 0 and "already exists" in again.output
    bad_role = runner.invoke(args=[*args, "--role", "king"], input="a long enough password\n")
    assert bad_role.exit_code != 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Agent)) == 1


# Demo data goes through the real intake, quality gate and challenge selfies included.
@pytest.mark.parametrize("app_config", [{
    "QUALITY_GATE": True, "CHALLENGE_ISSUE_TYPES": ["lost_2fa", "suspicious_activity"]}])
def test_seed_demo_creates_accounts_agents_and_cases_with_evidence(runner, app):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.test" in result.output
    cases = db.session.scalars(sa.select(RecoveryCase)).all()
    assert len(cases) >= 6
    assert all({e.kind for e in c.evidence} >= {"id_document", "selfie"} for c in cases)
    # The automated document check ran on every demo case and moved it where it belongs.
    assert {c.state for c in cases} >= {"id_check", "selfie_check", "escalated",
                                        "awaiting_user", "resolved"}
    assert all(c.readings and c.readings[0].mrz_found for c in cases)
    assert all(any(check.check == "document.mrz.read" for check in c.checks) for c in cases)
    # ... and the selfie check and the risk assessment too.
    assert all(c.current_selfie_reading() is not None for c in cases)
    assert all(service.current_risk(c) is not None for c in cases)
    assert sum(1 for c in cases if c.challenge_code) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) >= 5
    password = next(line.split("password: ")[1] for line in result.output.splitlines()
                    if "admin@demo.test" in line)
    assert service.authenticate("admin@demo.test", password) is not None


def test_reassess_risk_assesses_an_open_case_and_refuses_a_closed_one(runner, make_case):
    case, _ = make_case("id_check", issue_type="forgot_password")
    result = runner.invoke(args=["reassess-risk", str(case.id)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"case {case.id}: risk low, state id_check"
    assert service.current_risk(service.get_case(case.id)) is not None
    closed, _ = make_case("resolved")
    refused = runner.invoke(args=["reassess-risk", str(closed.id)])
    assert refused.exit_code == 1 and "This case is closed." in refused.output
    missing = runner.invoke(args=["reassess-risk", "999999"])
    assert missing.exit_code == 1 and "There is no case 999999." in missing.output
