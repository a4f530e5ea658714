"""Engines that must not be used by two threads at once, behind one lock per engine.

dlib (under face_recognition) keeps working buffers inside its detector, shape predictor and
face network; two threads in one of them at once corrupt memory: under load that was seen as a
portrait counted twice (a wrong ``document_several_faces``) and then as workers dying
(``free(): corrupted unsorted chunks``, SIGSEGV in dlib). RapidOCR keeps per-call state around
its ONNX sessions too. In a web process the upload gate (request threads) and the background
checks (the executor's thread) share each engine, so every call into one goes through its lock.

A lock held per call, not per check: a gate in a request waits at most for one call of a
background check (a detection on a reduced copy, one encoding, one OCR pass), never for a
whole check.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from typing import Any


class Serialised:
    """A proxy of an engine whose callable attributes run one at a time under ``lock``."""

    def __init__(self, engine: Any, lock: threading.Lock | threading.RLock) -> None:
        self._engine = engine
        self._lock = lock

    @property
    def wrapped(self) -> Any:
        """The engine itself (for reading attributes such as a version)."""
        return self._engine

    def __call__(self, *args, **kwargs):
        """Call the engine itself under the lock."""
        with self._lock:
            return self._engine(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._engine, name)
        if not callable(value) or isinstance(value, type):
            return value
        return _locked(value, self._lock)


def _locked(function: Callable, lock) -> Callable:
    @wraps(function)
    def call(*args, **kwargs):
        with lock:
            return function(*args, **kwargs)

    return call
