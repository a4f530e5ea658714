"""Recovery actions as jobs: run right after the approval's commit, and swept when due.

Where they run is RECOVERY_ACTION_EXECUTOR (unset: VERIFICATION_EXECUTOR): a background
thread of this process ("thread"), an RQ job for `flask worker` ("rq"), in the caller right
after the commit ("inline"), or only by the sweep ("off"). Running an action twice is
harmless: the service claims each one before performing it, and the sweep
(RECOVERY_ACTION_SWEEP_SECONDS) takes up what is due: retries after their backoff, and actions
whose runner died.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext

from flask import Flask, current_app, has_app_context

from notify import outbox
from workflow import service

from .executors import QUEUE_UNREACHABLE
from .redis_queue import rq_queue

_EXTENSION = "recovery_action_executor"


def run_actions(app: Flask, case_id: int) -> list[str | None]:
    """Run the due actions of a case in an app context, then send the emails they wrote."""
    context = nullcontext() if has_app_context() and current_app._get_current_object() is app \
        else app.app_context()
    with context:
        outcomes = service.run_case_actions(case_id)
        if any(outcomes):
            try:
                outbox.send_outbox()  # a reset link goes out now, not at the next tick
            except Exception:  # the outbox keeps it for the scheduled send
                app.logger.exception("the outbox could not be sent after case %s's actions",
                                     case_id)
        return outcomes


class ActionThread:
    """One background thread per process for recovery actions (apart from the checks')."""

    def __init__(self, app: Flask):
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recovery-actions")
        self.futures: list[Future] = []
        self.lock = threading.Lock()

    def submit(self, case_id: int) -> Future:
        future = self.pool.submit(self._run, case_id)
        with self.lock:
            self.futures = [f for f in self.futures if not f.done()] + [future]
        return future

    def _run(self, case_id: int) -> list[str | None]:
        try:
            return run_actions(self.app, case_id)
        except Exception:  # logged; the sweep takes the actions up again
            self.app.logger.exception("recovery actions of case %s failed", case_id)
            return []

    def pending(self) -> list[Future]:
        with self.lock:
            return [f for f in self.futures if not f.done()]


def action_thread(app: Flask) -> ActionThread:
    """This process's thread for recovery actions, started on first use."""
    executor = app.extensions.get(_EXTENSION)
    if executor is None:
        executor = app.extensions.setdefault(_EXTENSION, ActionThread(app))
    return executor


def rq_run_actions(case_id: int) -> list[str | None]:
    """The RQ job: runs in `flask worker`, in the worker's app."""
    app = current_app._get_current_object()
    with app.app_context():  # a fresh session for every job of a long-lived worker
        return run_actions(app, case_id)


def _rq(app: Flask, case_id: int) -> None:
    rq_queue(app).enqueue(rq_run_actions, case_id,
                          job_timeout=app.config["VERIFICATION_JOB_TIMEOUT"],
                          result_ttl=24 * 3600, failure_ttl=7 * 24 * 3600,
                          description=f"recovery actions of case {case_id}")


# Executor name -> how a case's actions are started. One entry each.
ACTION_EXECUTORS: dict[str, Callable[[Flask, int], object]] = {
    "thread": lambda app, case_id: action_thread(app).submit(case_id),
    "rq": _rq,
    "inline": run_actions,
    "off": lambda app, case_id: None,
}


def action_executor(app: Flask) -> str:
    """The executor name recovery actions run on (RECOVERY_ACTION_EXECUTOR, else the checks')."""
    return app.config.get("RECOVERY_ACTION_EXECUTOR") or app.config["VERIFICATION_EXECUTOR"]


def enqueue_recovery_actions(case_id: int) -> None:
    """Start the due actions of a case where jobs run (after the commit that planned them).

    A queue that cannot be reached is logged and leaves them to the sweep.
    """
    app = current_app._get_current_object()
    try:
        ACTION_EXECUTORS[action_executor(app)](app, case_id)
    except QUEUE_UNREACHABLE as err:
        app.logger.error("recovery actions of case %s could not be queued, left to the "
                         "sweep: %s", case_id, err)


def sweep_actions(app: Flask) -> list[int]:
    """Run the actions that are due now (retries, ones whose runner died), case by case."""
    with app.app_context():
        due = service.cases_with_due_actions()
    for case_id in due:
        run_actions(app, case_id)
    return due
