"""A test clock for the service: every module of the service package reads the time from it."""

import importlib
import pkgutil

from workflow import service


def service_modules() -> list:
    """Every module of the service package."""
    return [importlib.import_module(f"{service.__name__}.{info.name}")
            for info in pkgutil.iter_modules(service.__path__)]


def set_service_clock(monkeypatch, clock) -> None:
    """Make the service's ``utcnow`` return ``clock()`` in every module that reads it."""
    for module in service_modules():
        if hasattr(module, "utcnow"):
            monkeypatch.setattr(module, "utcnow", clock)
