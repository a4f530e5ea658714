"""The desk served for real: gunicorn worker processes on a free loopback port.

For the claims that are about processes (engines shared by threads of one worker, limits
shared by several workers), which an in-process test client cannot show.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from werkzeug.serving import make_server

from tests.conftest import TEST_KEYS

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    """A running gunicorn: its address, process and log file."""

    url: str
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        """Everything gunicorn and the app logged so far."""
        return self.log.read_text(errors="replace")


def desk_environment(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a desk process: this database, no Redis, quiet schedules."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("RECOVERY_") and key not in ("REDIS_URL", "DATABASE_URL")}
    env.update({
        "DATABASE_URL": database_url,
        "RECOVERY_SECRET_KEY": "serving-test-" + os.urandom(8).hex(),
        # The key the test's own app encrypts with: both read the same photos.
        "RECOVERY_ENCRYPTION_KEYS": json.dumps(TEST_KEYS),
        "RECOVERY_DEMO": "0",
        "RECOVERY_SLA_CHECK_SECONDS": "0",
        "RECOVERY_VERIFICATION_SWEEP_SECONDS": "0",
        **settings,
    })
    return env


@contextmanager
def gunicorn(env: dict[str, str], *, workers: int, log: Path, threads: int = 1,
             timeout: float = 60) -> Iterator[Served]:
    """Serve ``app:create_app()`` with ``workers`` processes until the block ends."""
    port = free_port()
    command = [str(GUNICORN), "-w", str(workers), "--threads", str(threads), "-b",
               f"127.0.0.1:{port}", "--graceful-timeout", "5", "app:create_app()"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    served = Served(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_up(served, timeout)
        yield served
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_up(served: Served, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise RuntimeError(f"gunicorn stopped at start:\n{served.log_text()}")
        try:
            # The socket is open before the workers have loaded the engines: wait for them.
            requests.get(served.url + "/api/v1/openapi.json",
                         timeout=max(1.0, deadline - time.monotonic()))
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {timeout} s:\n{served.log_text()}")


def worker_deaths(log_text: str) -> list[str]:
    """Lines where gunicorn reports a worker killed by a signal or exiting on an error."""
    signs = ("was sent SIG", "Worker exiting", "WORKER TIMEOUT", "Segmentation fault",
             "corrupted", "double free", "free():")
    return [line for line in log_text.splitlines() if any(sign in line for sign in signs)]


@contextmanager
def served_in_thread(wsgi_app) -> Iterator[str]:
    """``wsgi_app`` served on a free localhost port by a thread of this process: its URL."""
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
