"""The load test's own tools: phone-sized photos, the accepted list, 5xx matched to the logs."""

import io
import json
import subprocess
import time

from PIL import Image

from bench.face_pipeline import FACES
from bench.loadtest import photos, run, verify


def _stamp(at: float, gunicorn: bool = False) -> str:
    text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
    return f"[{text} +0000]" if gunicorn else f"[{text},123]"


def test_phone_jpeg_weighs_what_a_phone_photo_does():
    with Image.open(FACES / "obama_2.jpg") as source:
        data = photos.phone_jpeg(source.convert("RGB"), seed=1)
    assert photos.MIN_BYTES <= len(data) <= photos.MAX_BYTES
    with Image.open(io.BytesIO(data)) as image:
        assert abs(image.width * image.height / 1e6 - photos.MEGAPIXELS) < 0.1


def test_a_replayed_key_counts_its_case_once(tmp_path):
    path = tmp_path / "accepted.jsonl"
    rows = [{"case_id": 1, "tracking_token": "a", "pair": 0},
            {"case_id": 2, "tracking_token": "b", "pair": 1},
            {"case_id": 1, "tracking_token": "a", "pair": 0, "replayed": True}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [r["case_id"] for r in verify.read_accepted(path)] == [1, 2]
    assert verify.read_accepted(tmp_path / "missing.jsonl") == []


def test_each_server_error_is_matched_to_its_fault_and_logged_cause(tmp_path):
    restart = 1_000_000.0
    timeout_at = restart + 40
    (tmp_path / "gunicorn.log").write_text("\n".join([
        f"{_stamp(restart + 1)} ERROR in errors: unhandled error on GET /api/v1/cases",
        "Traceback (most recent call last):",
        '  File "x.py", line 1, in f',
        "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection failed",
        f"{_stamp(timeout_at, gunicorn=True)} [12] [CRITICAL] WORKER TIMEOUT (pid:13)",
        f"{_stamp(timeout_at + 1)} ERROR in service: intake gate: face engine unavailable",
        "verification.faces.FaceEngineUnavailable: The face engine could not be loaded",
    ]) + "\n")
    errors = [{"at": restart + 1.2, "kind": "GET /api/v1/cases", "status": 500, "body": ""},
              {"at": timeout_at + 0.5, "kind": "POST /api/v1/recovery-requests", "status": 0,
               "body": ""},
              {"at": restart + 400, "kind": "GET /api/v1/cases", "status": 503, "body": ""}]
    faults = {"postgres_restart": {"from": restart, "to": restart + 5}}
    found = verify.explain_errors(errors, faults, tmp_path)
    assert [e["cause"] for e in found["errors"]] == [
        "PostgreSQL restart: sqlalchemy.exc.OperationalError",
        "outside the restart: WORKER TIMEOUT",
        "outside the restart: HTTP 503",
    ]
    assert found["count"] == 3


def test_stopping_a_process_stops_the_children_it_left():
    # A shell that leaves a child behind, as a `flask worker` leaves RQ's scheduler.
    parent = subprocess.Popen(["bash", "-c", "sleep 60 & wait"], start_new_session=True)
    deadline = time.monotonic() + 10
    while len(run.group_members(parent.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(run.group_members(parent.pid)) == 2
    run.stop(parent, timeout=5)
    assert run.group_members(parent.pid) == []
    assert parent.returncode is not None
