"""Verification jobs: run the checks for a case outside any request and any row lock.

A job reads what it needs in one short transaction (``service.start_document_check``), runs
the slow checks with no transaction open, and stores the findings in another short
transaction (``service.record_document_check``) that re-checks the case: a job for an old
attempt, or one that runs twice, stores nothing.

Where jobs run is configured by VERIFICATION_EXECUTOR: "thread" (the embedded default: one
background thread per process), "inline" (right after the commit, in the caller), "off".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from datetime import date

from flask import Flask, current_app, has_app_context

from workflow import service

from .documents import check_document
from .faces import FaceEngineUnavailable
from .ocr import OcrUnavailable

_EXTENSION = "verification_executor"


def run_document_job(case_id: int, attempt: int) -> str:
    """Check the ID document of ``attempt`` of a case and record the outcome; safe to repeat."""
    job = service.start_document_check(case_id, attempt)
    if job is None:
        return "skipped"
    try:
        report = check_document(
            service.open_image(job.front),
            service.open_image(job.back) if job.back is not None else None,
            account=job.account, typed=job.typed, exif_software=job.exif_software,
            policy=service.document_policy(), today=date.today(),
        )
    except Exception as err:
        # Leave a trace an agent sees on the case; `flask run-document-checks` runs it again.
        reason = str(err) if isinstance(err, FaceEngineUnavailable | OcrUnavailable) \
            else f"{type(err).__name__}: {err}"
        service.record_check_failure(case_id, attempt, reason)
        raise
    return service.record_document_check(job, report)


def _guarded(app: Flask, case_id: int, attempt: int) -> str | None:
    """Run one job in an app context; a failure is logged (and noted on the case), not raised.

    Inline jobs reuse the caller's context, so the caller's session sees what the job stored.
    """
    context = nullcontext() if has_app_context() and current_app._get_current_object() is app \
        else app.app_context()
    with context:
        try:
            return run_document_job(case_id, attempt)
        except Exception:
            app.logger.exception("document check of case %s attempt %s failed", case_id,
                                 attempt)
            return None


class _ThreadExecutor:
    """One background thread per process; keeps its futures so callers can wait for them."""

    def __init__(self, app: Flask):
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verification")
        self.futures: set[Future] = set()
        self.lock = threading.Lock()

    def submit(self, case_id: int, attempt: int) -> Future:
        future = self.pool.submit(_guarded, self.app, case_id, attempt)
        with self.lock:
            self.futures.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future) -> None:
        with self.lock:
            self.futures.discard(future)

    def pending(self) -> list[Future]:
        with self.lock:
            return list(self.futures)


def _thread(app: Flask, case_id: int, attempt: int) -> None:
    executor = app.extensions.get(_EXTENSION)
    if executor is None:
        executor = app.extensions[_EXTENSION] = _ThreadExecutor(app)
    executor.submit(case_id, attempt)


def _inline(app: Flask, case_id: int, attempt: int) -> None:
    _guarded(app, case_id, attempt)


def _off(app: Flask, case_id: int, attempt: int) -> None:
    return None


# Executor name -> how a job is started. Adding one (RQ) is one entry.
EXECUTORS: dict[str, Callable[[Flask, int, int], None]] = {
    "thread": _thread,
    "inline": _inline,
    "off": _off,
}


def init_app(app: Flask) -> None:
    """Refuse to start with an unknown executor or a bad document policy, not at a request."""
    name = app.config["VERIFICATION_EXECUTOR"]
    if name not in EXECUTORS:
        raise RuntimeError(f"VERIFICATION_EXECUTOR must be one of {', '.join(EXECUTORS)}, "
                           f"not {name!r}")
    with app.app_context():
        try:
            service.document_policy()
        except (TypeError, ValueError) as err:
            raise RuntimeError(f"Document check settings are not valid: {err}") from err


def enqueue_document_check(case_id: int, attempt: int) -> None:
    """Start the document check of ``attempt`` where the configuration says jobs run."""
    app = current_app._get_current_object()
    EXECUTORS[app.config["VERIFICATION_EXECUTOR"]](app, case_id, attempt)


def wait_for_jobs(app: Flask, timeout: float | None = None) -> bool:
    """Wait until the in-process jobs started so far have finished; False on timeout."""
    executor = app.extensions.get(_EXTENSION)
    if executor is None:
        return True
    pending = executor.pending()
    done, not_done = wait(pending, timeout=timeout)
    return not not_done
