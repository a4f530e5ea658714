"""Demo data: accounts of record, staff and cases with generated (specimen) documents."""

import secrets
from datetime import date

from verification.specimen import (
    SpecimenPerson,
    render_id_card,
    render_passport,
    render_selfie,
    to_jpeg_bytes,
)

from . import service
from .models import Account

DEMO_AGENTS = [
    ("admin", "admin@demo.test", "Ada Admin"),
    ("agent", "agent@demo.test", "Sam Support"),
    ("security_lead", "lead@demo.test", "Lee Security"),
]

# (email, surname, given names, date of birth, sex, 2FA on, locked, issue, document)
DEMO_PEOPLE = [
    ("anna.eriksson@demo.test", "ERIKSSON", "ANNA MARIA", date(1974, 8, 12), "F", True, False,
     "lost_2fa", "passport"),
    ("jonas.berg@demo.test", "BERG", "JONAS", date(1988, 3, 2), "M", False, True,
     "account_locked", "id_card"),
    ("maria.lopez@demo.test", "LOPEZ GARCIA", "MARIA JOSE", date(1992, 11, 30), "F", True, False,
     "new_device", "passport"),
    ("li.wei@demo.test", "LI", "WEI", date(1985, 6, 15), "M", True, False,
     "suspicious_activity", "id_card"),
    ("olu.adeyemi@demo.test", "ADEYEMI", "OLUWASEUN", date(1979, 1, 22), "M", False, False,
     "forgot_password", "passport"),
    ("zoe.martin@demo.test", "MARTIN", "ZOE", date(2000, 9, 9), "F", False, False,
     "other", "id_card"),
]

# What happens to each demo case after intake, to show every part of the console.
DEMO_PATHS = [
    [],
    [("start_review", None)],
    [("start_review", None), ("confirm_document", None)],
    [("start_review", None), ("request_resubmission",
                              "Your ID photo is blurry: please retake it in good light.")],
    [("start_review", None), ("escalate", "Login from a new country shortly before the lockout.")],
    [("start_review", None), ("confirm_document", None), ("approve", None)],
]


def _photos(index: int, person) -> dict[str, bytes]:
    email, surname, given, dob, sex, *_rest, document = person
    specimen = SpecimenPerson(surname=surname, given_names=given, date_of_birth=dob, sex=sex,
                              document_number=f"D{index:02d}{secrets.randbelow(10**6):06d}")
    render = render_passport if document == "passport" else render_id_card
    return {
        "id_document": to_jpeg_bytes(render(specimen, None, seed=index)),
        "selfie": to_jpeg_bytes(render_selfie(None, seed=index)),
    }


def seed() -> list[tuple[str, str, str]]:
    """Create demo agents, accounts and cases; returns (role, email, password) for each agent."""
    from extensions import db

    credentials, agents = [], {}
    for role, email, name in DEMO_AGENTS:
        password = secrets.token_urlsafe(12)
        agents[role], _token = service.create_agent(email, name, role, password)
        credentials.append((role, email, password))

    for person in DEMO_PEOPLE:
        email, surname, given, dob, _sex, two_fa, locked, _issue, _doc = person
        full_name = f"{given.title()} {surname.title()}"
        db.session.add(Account(email=email, full_name=full_name, date_of_birth=dob,
                               two_factor_enabled=two_fa, locked=locked))
    db.session.commit()

    people = [*DEMO_PEOPLE, ("not.a.customer@demo.test", "DOE", "JANE", date(1990, 1, 1), "F",
                             False, False, "forgot_password", "passport")]
    for index, person in enumerate(people):
        email, surname, given, dob, _sex, _2fa, _locked, issue, _doc = person
        result = service.submit_request(
            service.Submission(email=email, full_name=f"{given.title()} {surname.title()}",
                               date_of_birth=dob, issue_type=issue,
                               description="I cannot get into my account.", consent=True,
                               client_ip="127.0.0.1"),
            _photos(index, person),
        )
        for trigger, reason in DEMO_PATHS[index % len(DEMO_PATHS)]:
            case = service.get_case(result.case.id)
            actor = agents["security_lead"] if trigger == "approve" else agents["agent"]
            service.fire_event(case.id, trigger, agent=actor, expected_version=case.version,
                               reason=reason)
    return credentials
