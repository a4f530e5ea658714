"""Verdicts do not depend on what else the process is doing.

The upload gate runs on request threads while the background checks run on the executor's
thread, all on one face engine and one OCR engine per process. Every verdict computed while
they hammer each other must equal the one computed alone, to the last digit of every score.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import numpy as np
import pytest
import requests
import sqlalchemy as sa

from tests.conftest import document_photo, selfie_photo
from tests.serving import desk_environment, gunicorn, worker_deaths
from verification.documents import PersonFacts, check_document, find_portrait, portrait_check
from verification.quality import assess_document_photo
from verification.selfie import check_selfie
from verification.specimen import SpecimenPerson
from workflow.service import open_image

PERSON = SpecimenPerson(expiry_date=date(date.today().year + 4, 4, 15))
FACTS = PersonFacts("Anna Maria Eriksson", PERSON.date_of_birth)


def _findings(checks) -> tuple:
    """What a verdict is made of: every check's result, reason, score and threshold."""
    return tuple((c.check, c.result.value, c.reason_code, c.score, c.threshold) for c in checks)


@pytest.fixture(scope="module")
def photos():
    document = open_image(document_photo(PERSON, portrait="obama_1.jpg"))
    return {"document": document, "selfie": open_image(selfie_photo("obama_2.jpg")),
            "other": open_image(selfie_photo("biden_1.jpg")),
            "two": open_image(selfie_photo("multi_face_obama_biden.jpg"))}


def _tasks(photos) -> dict:
    """Each kind of work the desk does on an engine, as a function giving its verdict."""
    portrait = find_portrait(photos["document"])
    assert portrait.faces == 1

    def gate():
        # What the upload request runs: the quality measurements, then the portrait.
        report = assess_document_photo(photos["document"])
        found = find_portrait(photos["document"], encode=False)
        return _findings(report.checks) + _findings([portrait_check(found)])

    def document():
        report = check_document(photos["document"], account=FACTS, typed=FACTS,
                                today=date.today())
        return _findings(report.checks), report.portrait.encoding.tobytes()

    def selfie(name):
        def run():
            report = check_selfie(photos[name], document=portrait.encoding)
            encoding = None if report.encoding is None else np.asarray(report.encoding).tobytes()
            return _findings(report.checks), report.faces, report.document_distance, encoding
        return run

    return {"gate": gate, "document": document, "selfie": selfie("selfie"),
            "other": selfie("other"), "two": selfie("two")}


def test_verdicts_under_concurrency_equal_the_ones_computed_alone(photos):
    tasks = _tasks(photos)
    alone = {name: task() for name, task in tasks.items()}
    assert alone["document"][0] and alone["selfie"][2] is not None

    # Four threads at once, as a web process sees them: request threads in the gate and the
    # background thread in the document and selfie checks, each kind several times over.
    work = [name for name in tasks for _ in range(3)] + ["gate"] * 9
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [(name, pool.submit(tasks[name])) for name in work]
        together = [(name, future.result()) for name, future in futures]

    for name, verdict in together:
        assert verdict == alone[name], f"{name} changed under concurrency"


# --- the same, served: gunicorn workers, each with its background thread ---------------------

VERDICT_SQL = sa.text(
    'SELECT c.id, v."check", v.result, v.reason_code, v.score, v.threshold '
    "FROM recovery_case c JOIN verification_check v ON v.case_id = c.id "
    "WHERE v.actor_agent_id IS NULL AND v.attempt = 1")
READ_SQL = sa.text(
    "SELECT c.id FROM recovery_case c "
    "WHERE EXISTS (SELECT 1 FROM selfie_reading s WHERE s.case_id = c.id) "
    "OR EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id "
    "AND e.event = 'verification_failed')")
# Verdicts on the photos alone; the risk of a case depends on how many came before it
# (velocity), and the known-faces search on the other cases, by design.
DEPENDS_ON_OTHER_CASES = ("risk.", "selfie.known_faces", "document.compromised")


def _post(url: str, files: dict[str, bytes]) -> tuple[int, dict]:
    data = {"email": "anna@example.test", "full_name": "Anna Maria Eriksson",
            "date_of_birth": PERSON.date_of_birth.isoformat(), "issue_type": "forgot_password",
            "description": "", "consent": "true"}
    upload = {kind: (f"{kind}.jpg", body, "image/jpeg") for kind, body in files.items()}
    answer = requests.post(url + "/api/v1/recovery-requests", data=data, files=upload,
                           timeout=120)
    return answer.status_code, answer.json()


def _verdicts(engine: sa.Engine, case_ids: set[int], deadline: float) -> dict[int, tuple]:
    """Each case's findings, once every one of ``case_ids`` has been read."""
    while True:
        with engine.connect() as conn:
            done = {row.id for row in conn.execute(READ_SQL)}
            if case_ids <= done:
                rows = conn.execute(VERDICT_SQL).all()
                break
        assert time.monotonic() < deadline, f"unread: {sorted(case_ids - done)}"
        time.sleep(0.5)
    found: dict[int, list] = {case_id: [] for case_id in case_ids}
    for row in rows:
        if row.id in found and not row.check.startswith(DEPENDS_ON_OTHER_CASES):
            found[row.id].append(tuple(row)[1:])
    return {case_id: tuple(sorted(items, key=repr)) for case_id, items in found.items()}


def test_concurrent_identical_submissions_to_gunicorn_get_identical_verdicts(
        app, make_account, tmp_path):
    make_account()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    files = {"id_document": document_photo(PERSON, portrait="obama_1.jpg"),
             "selfie": selfie_photo("obama_2.jpg")}
    env = desk_environment(url, RECOVERY_VERIFICATION_EXECUTOR="thread",
                           RECOVERY_RATELIMIT_ENABLED="false",
                           RECOVERY_CHALLENGE_ISSUE_TYPES="[]")
    engine = sa.create_engine(url)
    try:
        with gunicorn(env, workers=2, threads=4, log=tmp_path / "gunicorn.log") as served:
            status, body = _post(served.url, files)
            assert status == 201, body
            alone = _verdicts(engine, {body["case_id"]}, time.monotonic() + 300)
            alone = alone[body["case_id"]]
            assert alone and any(row[0] == "selfie.match.document" for row in alone)

            # Three clients at once, each filing the same request several times, while the
            # workers' background threads check the earlier ones.
            with ThreadPoolExecutor(max_workers=3) as pool:
                answers = list(pool.map(lambda _: _post(served.url, files), range(9)))
            assert [status for status, _ in answers] == [201] * 9, answers
            ids = {answer["case_id"] for _, answer in answers}
            together = _verdicts(engine, ids, time.monotonic() + 600)
            assert worker_deaths(served.log_text()) == []
    finally:
        engine.dispose()
    assert all(verdict == alone for verdict in together.values()), together
