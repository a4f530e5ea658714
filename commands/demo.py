"""Demo data: accounts of record, staff and cases with generated (specimen) documents."""

import secrets
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from extensions import db
from jobs import tasks
from verification.activity import DEPOSIT, PURCHASE, ActivityAnswers
from verification.checks import Result
from verification.degrade import on_background
from verification.documents import find_portrait
from verification.faces import find_faces
from verification.images import normalize_upload
from verification.selfie import gate_selfie
from verification.specimen import (
    SpecimenPerson,
    render_challenge_selfie,
    render_id_card,
    render_passport,
    render_selfie,
    to_jpeg_bytes,
)
from workflow import service
from workflow.models import Account, AccountActivity, utcnow
from workflow.states import Actor, State

DEMO_AGENTS = [
    (Actor.ADMIN, "admin@demo.test", "Ada Admin"),
    (Actor.AGENT, "agent@demo.test", "Sam Support"),
    (Actor.SECURITY_LEAD, "lead@demo.test", "Lee Security"),
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

# What people do with each demo case after the automated checks have run. The demo's faces
# are drawn, and the face model sees every drawn face as much the same person: after the first
# case, the known-face check flags each selfie as filed for other accounts, and the risk
# assessment sends those cases to the security leads. The leads' decisions below spread the
# demo over every state, each with a genuine check tree.
DEMO_PATHS = [
    [("request_info", "Which phone did you receive your two-factor codes on before?")],
    [("return_to_stage", "Birth date confirmed with the customer on a video call.")],
    # Escalated at high risk: four eyes. The lead proposes, the admin approves (overriding,
    # explicitly, what the checks rejected on the drawn faces).
    [("propose_approval", "Identity confirmed on a video call; known-face match reviewed."),
     ("approve", "Second look: the video call recording matches the ID.")],
    [],
    [("return_to_stage", "Login from a new country reviewed: the customer was travelling.")],
    [("return_to_stage", "Known-face match reviewed: a different person.")],
    [],
]
# Recent activity of each demo account, by person index: (kind, amount, asset, days ago).
DEMO_ACTIVITY = [
    [(DEPOSIT, "1200.00", "EUR", 40), (PURCHASE, "0.0150", "BTC", 38),
     (DEPOSIT, "487.30", "EUR", 6), (PURCHASE, "0.85", "ETH", 5)],
    [(DEPOSIT, "250.00", "EUR", 20), (PURCHASE, "120", "SOL", 19)],
    [(DEPOSIT, "3000.00", "USD", 12), (PURCHASE, "2500", "USDC", 12)],
    [(DEPOSIT, "75.00", "GBP", 3), (PURCHASE, "0.002", "BTC", 2)],
    [(DEPOSIT, "1000.00", "EUR", 90), (PURCHASE, "1500", "ADA", 88)],
    [(DEPOSIT, "50.00", "EUR", 1)],
]
# The demo requests that answer the activity questions (by person index), as the owner would:
# a round amount, and the asset by its name rather than its symbol.
DEMO_ANSWERS = {0: ActivityAnswers(deposit_amount=Decimal("490"),
                                   asset_bought="ethereum")}
# Demo variations the automated checks react to, by person index.
EXPIRED_DOCUMENT = {3}
ACCOUNT_BIRTH_DATE_DIFFERS = {1}
# Drawn faces are simple; try renders until the face detector sees the portrait.
MAX_PORTRAIT_TRIES = 30


def _document(index: int, person, expired: bool):
    """A specimen document photo whose drawn portrait the face detector finds, and its page."""
    _email, surname, given, dob, sex, *_rest, document = person
    specimen = SpecimenPerson(
        surname=surname, given_names=given, date_of_birth=dob, sex=sex,
        document_number=f"D{index:02d}{secrets.randbelow(10**6):06d}",
        **({"expiry_date": date(date.today().year - 1, 3, 1)} if expired else {}))
    render = render_passport if document == "passport" else render_id_card
    for attempt in range(MAX_PORTRAIT_TRIES):
        page = render(specimen, None, seed=index * MAX_PORTRAIT_TRIES + attempt)
        photo = to_jpeg_bytes(on_background(page, seed=index))
        # The same look the intake gate takes: the stored photo, decoded again.
        if len(find_faces(service.open_image(photo))) == 1:
            break
    return photo, page


# Drawn faces are all much the same person to the face model (0.24-0.41 apart), so a drawn
# selfie can measure as the ID's own portrait (under SelfiePolicy.same_photo_distance, 0.30):
# the demo keeps drawing until the selfie is clearly another photo, by this much more.
SAME_PHOTO_MARGIN = 0.05


def _selfie(index: int, issue: str, document: bytes, page) -> tuple[bytes, str | None]:
    """A drawn selfie, holding the ID and a fresh code where the issue type asks for that."""
    # As the upload gate sees them: both photos through upload intake, the portrait found
    # on the stored ID photo (workflow.service.gate.quality_gate).
    limits = service.intake_limits()
    stored_id = service.open_image(normalize_upload(document, **limits).data)
    portrait = find_portrait(stored_id).encoding
    policy = service.selfie_policy()
    policy = replace(policy, same_photo_distance=policy.same_photo_distance + SAME_PHOTO_MARGIN)
    challenge = service.challenge_required(issue)
    issued = service.issue_challenge() if challenge else None
    for attempt in range(MAX_PORTRAIT_TRIES):
        person = render_selfie(None, seed=index + attempt * len(DEMO_PATHS))
        # The selfie checks look for the person's face on the photo alone.
        if len(find_faces(service.open_image(to_jpeg_bytes(person)))) != 1:
            continue
        image = render_challenge_selfie(person, page, issued.code, seed=index) if challenge \
            else person
        selfie = to_jpeg_bytes(image)
        # The upload gate's own look: one face the detector sees (beside the held ID's), and
        # not the document's portrait (the ID sent as the selfie).
        stored = normalize_upload(selfie, **limits).data
        verdict = gate_selfie(service.open_image(stored), challenge=challenge, policy=policy,
                              document=lambda: portrait)
        if verdict.result is Result.CLEAR:
            break
    return selfie, issued.token if issued else None


def seed() -> list[tuple[str, str, str]]:
    """Create demo agents, accounts and cases; returns (role, email, password) for each agent.

    Every case goes through the real intake and the real checks (document, selfie, risk: a
    few seconds each), so the console shows genuine check trees.
    """
    credentials, agents = [], {}
    for role, email, name in DEMO_AGENTS:
        password = secrets.token_urlsafe(12)
        agents[role], _token = service.create_agent(email, name, role, password)
        credentials.append((role, email, password))

    for index, person in enumerate(DEMO_PEOPLE):
        email, surname, given, dob, _sex, two_fa, locked, _issue, _doc = person
        full_name = f"{given.title()} {surname.title()}"
        if index in ACCOUNT_BIRTH_DATE_DIFFERS:
            dob = dob.replace(day=dob.day + 1)
        account = Account(email=email, full_name=full_name, date_of_birth=dob,
                          two_factor_enabled=two_fa, locked=locked)
        db.session.add(account)
        for kind, amount, asset, days in DEMO_ACTIVITY[index]:
            db.session.add(AccountActivity(account=account, kind=kind, amount=Decimal(amount),
                                           asset=asset,
                                           occurred_at=utcnow() - timedelta(days=days)))
    db.session.commit()

    people = [*DEMO_PEOPLE, ("not.a.customer@demo.test", "DOE", "JANE", date(1990, 1, 1), "F",
                             False, False, "forgot_password", "passport")]
    for index, person in enumerate(people):
        email, surname, given, dob, _sex, _2fa, _locked, issue, _doc = person
        document, page = _document(index, person, index in EXPIRED_DOCUMENT)
        selfie, challenge_token = _selfie(index, issue, document, page)
        result = service.submit_request(
            service.Submission(email=email, full_name=f"{given.title()} {surname.title()}",
                               date_of_birth=dob, issue_type=issue,
                               description="I cannot get into my account.", consent=True,
                               client_ip=f"203.0.113.{10 + index}",
                               challenge_token=challenge_token,
                               activity=DEMO_ANSWERS.get(index)),
            {"id_document": document, "selfie": selfie}, enqueue=False,
        )
        tasks.run_verification(result.case.id, 1)
        for trigger, reason in DEMO_PATHS[index % len(DEMO_PATHS)]:
            case = service.get_case(result.case.id)
            actor = agents[Actor.SECURITY_LEAD if case.state == State.ESCALATED else Actor.AGENT]
            if trigger == "propose_approval":
                service.propose_approval(case.id, actor, case.version, reason)
                continue
            if trigger == "approve":
                actor = agents[Actor.ADMIN]
            service.fire_event(case.id, trigger, agent=actor, expected_version=case.version,
                               reason=reason, override=trigger == "approve")
    return credentials
