"""Account services: the adapters through which the desk performs an approved recovery.

``local`` acts on the desk's own account directory (``Account``) inside the transaction that
records the outcome, and issues one-time reset links served by the desk (``/reset/<token>``);
``http`` calls the exchange's identity service at ACCOUNT_SERVICE_URL with signed requests
(``accounts.http``). ``init_app`` registers them as the service's account services; new
actions are planned for ``http`` when ACCOUNT_SERVICE_URL is set, else for ``local``. Each
action row names its adapter, so actions planned before a change of set-up still run where
they were meant to (or fail visibly when that adapter is gone).
"""

from __future__ import annotations

from flask import Flask

from workflow import service

from .http import IdentityService
from .local import LocalDirectory


def init_app(app: Flask) -> None:
    """Register the account services; refuse to start with a URL but no signing secret, or
    with a cooling-off period (RECOVERY_HOLD) that is not one."""
    try:
        service.recovery_holds(app.config)
    except service.BadHold as err:
        raise RuntimeError(str(err)) from None
    adapters: dict[str, object] = {"local": LocalDirectory()}
    url = app.config.get("ACCOUNT_SERVICE_URL")
    if url:
        secret = app.config.get("ACCOUNT_SERVICE_SECRET")
        if not secret:
            raise RuntimeError("ACCOUNT_SERVICE_URL is set but ACCOUNT_SERVICE_SECRET is not: "
                               "set RECOVERY_ACCOUNT_SERVICE_SECRET or put it in "
                               "instance/config.py (requests to the identity service are "
                               "signed with it).")
        if not url.startswith(("https://", "http://")):
            raise RuntimeError(f"ACCOUNT_SERVICE_URL must be an http(s) URL, not {url!r}")
        adapters["http"] = IdentityService(
            url, secret, timeout=float(app.config["ACCOUNT_SERVICE_TIMEOUT_SECONDS"]))
    service.register(app, account_services=adapters,
                     default_account_service="http" if url else "local")
