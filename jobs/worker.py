"""The RQ worker (`flask --app app worker`), and the engines a process loads before serving."""

from __future__ import annotations

from flask import Flask

# Imported with the module, not at the first job: a first import inside a request, after its
# commit, once took a loaded web worker past gunicorn's timeout and lost the job's queueing.
from rq import SimpleWorker

from verification.faces import FaceEngineUnavailable, face_engine
from verification.ocr import OcrUnavailable, ocr_engine

from .executors import IN_PROCESS
from .recovery import sweep_actions
from .redis_queue import redis_connection, rq_queue
from .schedule import ensure_sla_check, every, start_action_sweeps, start_sweeper, sweep


def load_engines(app: Flask) -> None:
    """Load the engines a web process uses before it serves (gunicorn's post_worker_init).

    The upload gate detects faces in the request; loading dlib's models there made a web
    worker's first upload take longer than gunicorn's timeout on a busy machine. With the
    checks in this process (thread, inline), the OCR models as well. A missing engine is
    logged: the gate lets uploads through without the portrait check, the job records it.
    """

    engines = [face_engine]
    if app.config["VERIFICATION_EXECUTOR"] in IN_PROCESS:
        engines.append(ocr_engine)
    for load in engines:
        try:
            load()
        except (FaceEngineUnavailable, OcrUnavailable):
            app.logger.exception("an engine could not be loaded at start-up")


def run_worker(app: Flask, *, burst: bool = False, name: str | None = None) -> None:
    """Work the RQ verification queue in this process until stopped (or, ``burst``, emptied).

    The engines load once, before the first job (and a missing one stops the worker at
    once rather than failing every job). Jobs run in this process (RQ's SimpleWorker): the
    models stay loaded between jobs, and a worker killed mid-job leaves a job the sweep
    queues again. The sweep runs first, then every VERIFICATION_SWEEP_SECONDS; each makes
    sure the SLA check is queued or scheduled in RQ's scheduler, which this worker runs.
    """


    if app.config["VERIFICATION_EXECUTOR"] != "rq":
        raise RuntimeError("The worker takes jobs from Redis: set REDIS_URL (and leave "
                           "VERIFICATION_EXECUTOR unset or 'rq').")
    face_engine()
    ocr_engine()
    swept = sweep(app)
    app.logger.info("worker: %d case(s) queued again by the start-up sweep", len(swept))
    if ensure_sla_check(app):
        app.logger.info("worker: SLA check queued (none was queued, scheduled or running)")
    # Recovery actions left due (retries, a worker that died mid-action): run now, then on
    # a schedule of their own (the claim lets one worker of many perform each).
    sweep_actions(app)
    if not burst:
        start_action_sweeps(app)
    sweeping = not burst and start_sweeper(app, then=ensure_sla_check) is not None
    if not burst and not sweeping and app.config["SLA_CHECK_SECONDS"]:
        # Without sweeps, a watch of its own restarts an SLA check lost with a worker.
        every(app, app.config["SLA_CHECK_SECONDS"], "sla-check watch",
              lambda: ensure_sla_check(app))
    worker = SimpleWorker([rq_queue(app)], connection=redis_connection(app), name=name)
    worker.work(burst=burst, with_scheduler=True)
