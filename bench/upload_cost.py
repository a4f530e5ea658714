"""Cost of one upload: time and memory of the whole upload path for each hostile file.

    .venv/bin/python -m bench.upload_cost [--json PATH] [--skip-server | --server-only NAMES]

Part 1: each file of ``verification.hostile.CORPUS`` (and two ordinary photos for scale: a
12 MP specimen ID photo and a face fixture) goes through what a submission does with it,
``normalize_upload`` with the configured limits and then the upload gate on what it returns
(quality and portrait for the ID slot, the selfie gate for the selfie slot), in a fresh
process per file and slot. The process warms up first (imports, face engine, one small photo
through the whole path), then its peak RSS is reset to the current RSS; the peak RSS growth
(VmHWM after minus VmRSS before: Pillow allocates outside Python, where tracemalloc cannot
see) is what the file itself cost.

Part 2: the desk under gunicorn as the README runs it in production (4 workers, SQLite in a
temporary directory, schema by ``flask db upgrade``); four of the costliest files are posted
at once through the API while ``GET /recover`` is timed every 100 ms.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLOTS = ("id_document", "selfie")


def _reference_files() -> dict[str, bytes]:
    """Ordinary uploads, for scale: a 12 MP specimen ID photo and a real selfie."""
    from PIL import Image

    from verification.degrade import degrade
    from verification.specimen import SpecimenPerson, render_passport, to_jpeg_bytes

    faces = ROOT / "tests" / "fixtures" / "faces"
    page = render_passport(SpecimenPerson(), Image.open(faces / "obama_1.jpg"), seed=0)
    photo = degrade(page, "clean", 0)
    twelve = photo.resize((4032, 3024), Image.Resampling.BILINEAR)
    return {"reference_id_12mp": to_jpeg_bytes(twelve, quality=90),
            "reference_selfie": (faces / "obama_2.jpg").read_bytes()}


def _app():
    from app import create_app

    return create_app({"TESTING": True, "SECRET_KEY": "bench", "DEMO": False,
                       "SQLALCHEMY_DATABASE_URI": "sqlite://", "VERIFICATION_EXECUTOR": "off",
                       "SLA_CHECK_SECONDS": 0, "VERIFICATION_SWEEP_SECONDS": 0})


def _upload_path(data: bytes, slot: str) -> tuple[int, str]:
    """What a submission does with one file in ``slot``: (status, code); 0 when accepted."""
    from verification.images import ImageRejected, normalize_upload
    from workflow import service
    from workflow.service.gate import quality_gate

    try:
        image = normalize_upload(data, **service.intake_limits())
        del data
        quality_gate({slot: image})
    except ImageRejected as err:
        return err.status, err.code
    except service.EvidenceRejected as err:
        return err.error.status, err.error.code
    return 0, "accepted"


def measure_one(path: str, slot: str) -> dict:
    """Run one file through the upload path in this (fresh) process; time and peak RSS growth."""
    from PIL import Image

    from verification.faces import find_faces

    app = _app()
    with app.app_context():
        # Warm-up: imports, the face engine's models, Pillow's and numpy's first allocations.
        warm = io.BytesIO()
        Image.open(ROOT / "tests" / "fixtures" / "faces" / "obama_2.jpg").save(warm, "JPEG")
        _upload_path(warm.getvalue(), slot)
        find_faces(Image.open(ROOT / "tests" / "fixtures" / "faces" / "obama_1.jpg"))
        data = Path(path).read_bytes()
        before = _reset_peak()
        started = time.perf_counter()
        status, code = _upload_path(data, slot)
        seconds = time.perf_counter() - started
        after = _peak_kb()
    return {"status": status, "code": code, "seconds": round(seconds, 3),
            "peak_rss_growth_mb": round(max(after - before, 0) / 1024, 1), "bytes": len(data)}


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> int:
    """Reset the peak RSS to the current RSS (Linux: clear_refs 5); the current RSS in KB.

    The warm-up (loading the face models) peaks above what it keeps, so without the reset
    ``ru_maxrss`` would hide any upload that costs less than that transient peak.
    """
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def _peak_kb() -> int:
    """The peak RSS since the reset, in KB (``ru_maxrss`` where VmHWM is unavailable)."""
    try:
        return _status_kb("VmHWM")
    except (OSError, RuntimeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def part_one(workdir: Path) -> list[dict]:
    """Every corpus and reference file, each slot, each in a fresh process."""
    from verification.hostile import CORPUS

    files = {name: entry.data() for name, entry in CORPUS.items()}
    files.update(_reference_files())
    rows = []
    for name, data in files.items():
        path = workdir / name
        path.write_bytes(data)
        for slot in SLOTS:
            out = subprocess.run([sys.executable, "-m", "bench.upload_cost", "--measure",
                                  str(path), "--slot", slot], cwd=ROOT, capture_output=True,
                                 text=True, check=True)
            row = {"file": name, "slot": slot, **json.loads(out.stdout.strip().splitlines()[-1])}
            rows.append(row)
            print(f"{name:26s} {slot:12s} {row['status'] or 'ok':>4} {row['code']:24s} "
                  f"{row['seconds']:7.3f} s {row['peak_rss_growth_mb']:8.1f} MB", flush=True)
    return rows


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, deadline: float) -> None:
    import requests

    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=10).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in time")


def _post(base: str, name: str, data: bytes, selfie: bytes, out: dict) -> None:
    import requests

    started = time.monotonic()
    response = requests.post(f"{base}/api/v1/recovery-requests", timeout=120, data={
        "email": "anna@example.test", "full_name": "Anna Eriksson",
        "date_of_birth": "1974-08-12", "issue_type": "forgot_password", "description": "",
        "consent": "true"}, files={"id_document": ("id", data), "selfie": ("selfie.jpg", selfie)})
    out[name] = {"status": response.status_code,
                 "code": (response.json().get("error") or {}).get("code")
                 if response.headers.get("Content-Type", "").startswith("application/json")
                 else None,
                 "seconds": round(time.monotonic() - started, 2)}


def _worker_peaks(master: int) -> list[float]:
    """Peak RSS (VmHWM, MB) of each gunicorn worker of ``master``."""
    peaks = []
    for child in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(round(int(line.split()[1]) / 1024, 1))
    return peaks


def part_two(workdir: Path, worst: list[str]) -> dict:
    """gunicorn -w 4 on SQLite; four costly files posted at once; GET /recover meanwhile."""
    import requests

    from verification.hostile import CORPUS

    files = {name: entry.data() for name, entry in CORPUS.items()}
    files.update(_reference_files())
    selfie = (ROOT / "tests" / "fixtures" / "faces" / "obama_2.jpg").read_bytes()
    env = {**os.environ, "RECOVERY_SECRET_KEY": "bench-secret", "RECOVERY_DEMO": "0",
           "RECOVERY_ENV_NAME": "production", "RECOVERY_RATELIMIT_ENABLED": "false",
           "RECOVERY_SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback
           "DATABASE_URL": f"sqlite:///{workdir / 'desk.sqlite'}"}
    env.pop("REDIS_URL", None)
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "flask"), "--app", "app", "db", "upgrade"], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([str(bin_dir / "gunicorn"), "-w", "4", "-b", f"127.0.0.1:{port}",
                               "app:create_app()"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(f"{base}/recover", time.monotonic() + 60)
        for _ in range(8):  # every worker has served a page and loaded its templates
            requests.get(f"{base}/recover", timeout=10)
        idle = []
        for _ in range(20):
            started = time.monotonic()
            requests.get(f"{base}/recover", timeout=60)
            idle.append(time.monotonic() - started)
        posts: dict = {}
        threads = [threading.Thread(target=_post, args=(base, f"{i + 1}: {name}", files[name],
                                                        selfie, posts))
                   for i, name in enumerate(worst)]
        busy, done = [], threading.Event()

        def probe() -> None:
            while not done.is_set():
                started = time.monotonic()
                status = requests.get(f"{base}/recover", timeout=60).status_code
                busy.append((time.monotonic() - started, status))
                time.sleep(0.1)

        prober = threading.Thread(target=probe)
        prober.start()
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        done.set()
        prober.join()
        peaks = _worker_peaks(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies = sorted(seconds for seconds, _ in busy)
    return {
        "command": f"gunicorn -w 4 -b 127.0.0.1:{port} 'app:create_app()' (SQLite)",
        "posts": posts, "all_posts_seconds": round(wall, 2),
        "recover_idle_p50_ms": round(statistics.median(idle) * 1000, 1),
        "recover_during": {
            "requests": len(busy), "non_200": sum(1 for _, s in busy if s != 200),
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))] * 1000, 1),
            "max_ms": round(latencies[-1] * 1000, 1)},
        "worker_peak_rss_mb": peaks,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the bench; print the tables and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument("--server-only", metavar="NAMES",
                        help="only part 2, posting these corpus files (comma-separated)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--slot", choices=SLOTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure_one(args.measure, args.slot)))
        return 0

    from config import Config

    workdir = Path(tempfile.mkdtemp(prefix="upload-cost-"))
    try:
        print(f"limits: MAX_UPLOAD_BYTES {Config.MAX_UPLOAD_BYTES}, MAX_IMAGE_PIXELS "
              f"{Config.MAX_IMAGE_PIXELS}, MAX_DECODED_BYTES {Config.MAX_DECODED_BYTES}, "
              f"WORKING_PIXELS {Config.WORKING_PIXELS}")
        if args.server_only:
            result = {"server": part_two(workdir, args.server_only.split(","))}
            print(json.dumps(result["server"], indent=2))
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(result, indent=2))
            return 0
        rows = part_one(workdir)
        result = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                              "platform": platform.platform()},
                  "limits": {"MAX_UPLOAD_BYTES": Config.MAX_UPLOAD_BYTES,
                             "MAX_IMAGE_PIXELS": Config.MAX_IMAGE_PIXELS,
                             "MAX_DECODED_BYTES": Config.MAX_DECODED_BYTES,
                             "WORKING_PIXELS": Config.WORKING_PIXELS},
                  "files": rows,
                  "worst_seconds": max(r["seconds"] for r in rows),
                  "worst_peak_rss_growth_mb": max(r["peak_rss_growth_mb"] for r in rows)}
        print(f"worst: {result['worst_seconds']} s, {result['worst_peak_rss_growth_mb']} MB")
        if not args.skip_server:
            by_cost = sorted({r["file"]: r["seconds"] for r in rows if r["slot"] == "id_document"
                              and not r["file"].startswith("reference")}.items(),
                             key=lambda item: -item[1])
            result["server"] = part_two(workdir, [name for name, _ in by_cost[:4]])
            print(json.dumps(result["server"], indent=2))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
