"""The verification job: every automated check of one evidence attempt, failures recorded."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import date

import redis
import sqlalchemy.exc
from flask import Flask, current_app, has_app_context

from verification import challenge
from verification.documents import check_document, find_portrait
from verification.faces import FaceEngineUnavailable
from verification.ocr import OcrUnavailable
from verification.selfie import check_selfie, reference_encoding

# Imported with the module, not at the first job: a first import inside a request, after its
# commit, once took a loaded web worker past gunicorn's timeout and lost the job's queueing.
from workflow import service

log = logging.getLogger(__name__)


# Errors that pass by themselves: worth a retry after a pause.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    TimeoutError,
)


def is_transient(err: BaseException) -> bool:
    """Whether ``err`` may pass by itself, so the job is worth retrying."""
    return isinstance(err, TRANSIENT_ERRORS)


def run_document_job(case_id: int, attempt: int) -> str:
    """Check the ID document of ``attempt`` of a case and record the outcome; safe to repeat."""
    job = service.start_document_check(case_id, attempt)
    if job is None:
        return "skipped"
    report = check_document(
        service.open_image(job.front),
        service.open_image(job.back) if job.back is not None else None,
        account=job.account, typed=job.typed, exif_software=job.exif_software,
        policy=service.document_policy(), today=date.today(),
    )
    return service.record_document_check(job, report)


def _reference(data: bytes | None, *, steady: bool = False):
    """The encoding of the account's reference portrait; None when there is none usable."""
    if not data:
        return None
    try:
        return reference_encoding(service.open_image(data), steady=steady)
    except (OSError, ValueError):
        log.warning("the account's reference portrait cannot be read; compared without it")
        return None


def _steady_portrait(data: bytes | None):
    """The steady encoding of the ID photo's portrait; None when it has no single face."""
    if not data:
        return None
    try:
        return find_portrait(service.open_image(data), steady=True).encoding
    except (OSError, ValueError):
        log.warning("the ID photo cannot be read again; its portrait is compared as stored")
        return None


def run_selfie_job(case_id: int, attempt: int) -> str:
    """Check the selfie of ``attempt`` against the document portrait; safe to repeat."""
    job = service.start_selfie_check(case_id, attempt)
    if job is None:
        return "skipped"
    image = service.open_image(job.selfie)
    report = check_selfie(image, document=job.document, reference=_reference(job.reference),
                          challenge=job.challenge_code is not None,
                          policy=service.selfie_policy(),
                          steady_document=lambda: _steady_portrait(job.document_photo),
                          steady_reference=lambda: _reference(job.reference, steady=True))
    extra = []
    if job.challenge_code is not None:
        try:
            reading = challenge.read_code(image, job.challenge_code)
            report.timings_ms["challenge_code"] = reading.elapsed_ms
            extra.append(challenge.code_check(reading))
        except OcrUnavailable as err:
            # The code is compared by an agent anyway; the automatic read is only a signal.
            extra.append(challenge.code_check(None, str(err)))
    return service.record_selfie_check(job, report, extra)


def run_verification(case_id: int, attempt: int) -> dict[str, str]:
    """Every automated check of one evidence attempt, each step skipped when already done."""
    return {"document": run_document_job(case_id, attempt),
            "selfie": run_selfie_job(case_id, attempt)}


def _describe(err: BaseException) -> str:
    if isinstance(err, FaceEngineUnavailable | OcrUnavailable):
        return str(err)
    return f"{type(err).__name__}: {err}"


def run_once(app: Flask, case_id: int, attempt: int, *, final: bool) -> dict[str, str] | None:
    """One try of a job in an app context.

    A transient error is raised again unless this is the ``final`` try (the caller retries);
    any other error is recorded on the case for an agent, logged and swallowed.
    Inline jobs reuse the caller's context, so the caller's session sees what the job stored.
    """
    context = nullcontext() if has_app_context() and current_app._get_current_object() is app \
        else app.app_context()
    with context:
        try:
            return run_verification(case_id, attempt)
        except Exception as err:
            if is_transient(err) and not final:
                app.logger.warning("checks of case %s attempt %s failed, will retry: %s",
                                   case_id, attempt, err)
                raise
            app.logger.exception("checks of case %s attempt %s failed", case_id, attempt)
            try:
                service.record_verification_failure(case_id, attempt, _describe(err))
            except Exception:
                app.logger.exception("could not record the failure on case %s", case_id)
            return None
