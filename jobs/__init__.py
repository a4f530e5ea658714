"""The job runner: verification jobs run the checks for a case outside any request and any
row lock.

A job reads what it needs in one short transaction (``service.start_document_check``, in
``jobs.tasks``), runs the slow checks with no transaction open, and stores the findings in
another short transaction (``service.record_document_check``) that re-checks the case: a job
for an old attempt, or one that runs twice, stores nothing. One job checks one evidence
attempt: the document first, then the selfie against the document's portrait, then the risk.

Where jobs run is configured by VERIFICATION_EXECUTOR: "thread" (the embedded default: one
background thread per process), "rq" (Redis Queue, for `flask worker` processes on any number
of machines), "inline" (right after the commit, in the caller), "off".

Failures: an error that passes by itself (the database or Redis unreachable for a moment) is
retried after VERIFICATION_RETRY_DELAYS; any other error, or the last retry's, is recorded on
the case (event ``verification_failed``), where an agent sees it and can run the checks again.
A job lost with its process, or never queued because Redis could not be reached, is found by
the sweep (``jobs.schedule.sweep``), which runs when a worker starts and every
VERIFICATION_SWEEP_SECONDS.

Recovery actions planned by an approval run the same way (``jobs.recovery``), retried by a
sweep of their own with the backoff of RECOVERY_ACTION_RETRY_DELAYS.

The service never imports this package: ``init_app`` registers ``enqueue_document_check`` as
the service's job hook (and ``enqueue_recovery_actions`` as its action hook), so a committed
request queues its checks without the service knowing where they run.
"""

import re

from flask import Flask

from reports.queries import report_settings
from workflow import service

from .executors import EXECUTORS, enqueue_document_check
from .recovery import ACTION_EXECUTORS, action_executor, enqueue_recovery_actions
from .schedule import SCHEDULES, Schedules

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")


def init_app(app: Flask) -> None:
    """Register the service's job hook and the schedule; refuse to start with an unknown
    executor or bad check settings, not at a request."""
    name = app.config["VERIFICATION_EXECUTOR"]
    if name not in EXECUTORS:
        raise RuntimeError(f"VERIFICATION_EXECUTOR must be one of {', '.join(EXECUTORS)}, "
                           f"not {name!r}")
    if name == "rq" and not app.config.get("REDIS_URL"):
        raise RuntimeError("VERIFICATION_EXECUTOR is 'rq' but REDIS_URL is not set.")
    actions = action_executor(app)
    if actions not in ACTION_EXECUTORS:
        raise RuntimeError(f"RECOVERY_ACTION_EXECUTOR must be one of "
                           f"{', '.join(ACTION_EXECUTORS)}, not {actions!r}")
    if actions == "rq" and not app.config.get("REDIS_URL"):
        raise RuntimeError("RECOVERY_ACTION_EXECUTOR is 'rq' but REDIS_URL is not set.")
    queue = app.config["VERIFICATION_QUEUE"]
    if not isinstance(queue, str) or not _QUEUE_NAME.fullmatch(queue):
        # The queue's name is part of RQ job ids, which take only these characters.
        raise RuntimeError("VERIFICATION_QUEUE must be 1-100 letters, digits, '_' or '-', "
                           f"not {queue!r}")
    with app.app_context():
        for what, build in (("Document check", service.document_policy),
                            ("Selfie check", service.selfie_policy),
                            ("Risk", service.risk_policy),
                            ("SLA", service.sla_settings),
                            ("SLA report", report_settings),
                            ("Retention", service.retention_settings)):
            try:
                build()
            except (TypeError, ValueError) as err:
                raise RuntimeError(f"{what} settings are not valid: {err}") from err
    service.register(app, queue_document_check=enqueue_document_check,
                     queue_recovery_actions=enqueue_recovery_actions)
    app.extensions[SCHEDULES] = schedules = Schedules(app)
    app.before_request(schedules.start)
