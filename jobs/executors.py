"""Where jobs run (VERIFICATION_EXECUTOR): a thread of this process, RQ, inline, or off."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor, wait
from contextlib import suppress

import redis
from flask import Flask, current_app

# Imported with the module, not at the first job: a first import inside a request, after its
# commit, once took a loaded web worker past gunicorn's timeout and lost the job's queueing.
from .redis_queue import run_on_rq
from .tasks import run_once

_EXTENSION = "verification_executor"


class ThreadExecutor:
    """One background thread per process; a future per job, done after its last try.

    A try that fails for a passing reason is tried again after the next of
    VERIFICATION_RETRY_DELAYS, by a timer: the thread goes on with the other jobs meanwhile
    instead of waiting the delay out (which, during an outage, made every queued job wait
    all of them in turn). Jobs waiting for a retry when the process stops are lost with it,
    like running ones, and the sweep finds them.
    """

    def __init__(self, app: Flask):
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verification")
        self.jobs: dict[tuple[int, int], Future] = {}
        self.timers: dict[tuple[int, int], threading.Timer] = {}
        self.lock = threading.Lock()

    def submit(self, case_id: int, attempt: int) -> Future | None:
        """Start a job; None when the same one is already queued, running or waiting here."""
        key = (case_id, attempt)
        with self.lock:
            if key in self.jobs:
                return None
            outcome = self.jobs[key] = Future()
        outcome.add_done_callback(lambda _: self._forget(key))
        self._try(key, 0)
        return outcome

    def _try(self, key: tuple[int, int], number: int) -> None:
        with self.lock:
            self.timers.pop(key, None)
        try:
            self.pool.submit(self._run, key, number)
        except RuntimeError:  # the pool was shut down: the process is stopping
            self._finish(key, None)

    def _run(self, key: tuple[int, int], number: int) -> None:
        delays = list(self.app.config["VERIFICATION_RETRY_DELAYS"])
        try:
            result = run_once(self.app, *key, final=number == len(delays))
        except Exception:  # transient, and tries are left: run_once logged it
            timer = threading.Timer(delays[number], self._try, (key, number + 1))
            timer.daemon = True
            with self.lock:
                self.timers[key] = timer
            timer.start()
            return
        self._finish(key, result)

    def _finish(self, key: tuple[int, int], result) -> None:
        with self.lock:
            outcome = self.jobs.get(key)
        if outcome is not None:
            with suppress(InvalidStateError):  # already ended by close()
                outcome.set_result(result)

    def _forget(self, key: tuple[int, int]) -> None:
        with self.lock:
            self.jobs.pop(key, None)

    def pending(self) -> list[Future]:
        """The futures of the jobs not finished yet (queued, running or waiting to retry)."""
        with self.lock:
            return list(self.jobs.values())

    def close(self) -> None:
        """Stop: retries not yet due are dropped (the sweep finds them), queued jobs too."""
        with self.lock:
            timers, self.timers = list(self.timers.values()), {}
        for timer in timers:
            timer.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self.lock:
            keys = list(self.jobs)
        for key in keys:
            self._finish(key, None)


def _thread(app: Flask, case_id: int, attempt: int) -> bool:
    executor = app.extensions.get(_EXTENSION)
    if executor is None:
        executor = app.extensions[_EXTENSION] = ThreadExecutor(app)
    return executor.submit(case_id, attempt) is not None


def _inline(app: Flask, case_id: int, attempt: int) -> bool:
    # No waiting inside a request: a failure is recorded at once for an agent to retry.
    run_once(app, case_id, attempt, final=True)
    return True


def _off(app: Flask, case_id: int, attempt: int) -> bool:
    return False


# Executor name -> how a job is started (True: queued or run; False: left alone). One entry each.
EXECUTORS: dict[str, Callable[[Flask, int, int], bool]] = {
    "thread": _thread,
    "rq": run_on_rq,
    "inline": _inline,
    "off": _off,
}


# Errors of a job queue that cannot take a job now (Redis down, too slow to answer, out of
# memory, or a read-only replica after a failover): the sweep queues the job later.
QUEUE_UNREACHABLE: tuple[type[BaseException], ...] = (redis.exceptions.RedisError,)


def enqueue_document_check(case_id: int, attempt: int) -> None:
    """Start the document check of ``attempt`` where the configuration says jobs run.

    Called after the commit: a queue that cannot be reached is logged and leaves the case
    to the sweep, never fails the caller.
    """
    app = current_app._get_current_object()
    try:
        EXECUTORS[app.config["VERIFICATION_EXECUTOR"]](app, case_id, attempt)
    except QUEUE_UNREACHABLE as err:
        # The case is already committed: an error here would make a client file it again.
        # Its photos stay unread, which is what the sweep of stuck cases looks for.
        app.logger.error("checks of case %s attempt %s could not be queued, left to the "
                         "sweep: %s", case_id, attempt, err)


# Executors whose jobs run in the web process itself, which then reads MRZs there too.
IN_PROCESS = ("thread", "inline")


def wait_for_jobs(app: Flask, timeout: float | None = None) -> bool:
    """Wait until the in-process jobs started so far have finished; False on timeout."""
    executor = app.extensions.get(_EXTENSION)
    if executor is None:
        return True
    pending = executor.pending()
    done, not_done = wait(pending, timeout=timeout)
    return not not_done
