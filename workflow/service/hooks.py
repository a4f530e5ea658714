"""What the service asks of the layers above it, through hooks they register at start-up.

The service commits; what must follow a commit (a verification job queued) or go with one
(the emails a change causes, in the same transaction) belongs to the job runner and to the
notifications, which import the service, never the other way round. Each registers its hook
on the app when the app is built (``jobs.init_app``, ``notify.init_app``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app

EXTENSION = "recovery_service_hooks"


class HookMissing(RuntimeError):
    """The service needs a hook that nothing registered: the app was built without it."""


@dataclass
class Hooks:
    """The hooks of one app."""

    # Start the checks of (case id, attempt); called after the commit that filed the photos.
    queue_document_check: Callable[[int, int], object] | None = None
    # Listeners of case events that write what goes with them (emails to the outbox) into
    # the current transaction: called as listener(event, case, **details).
    case_event_listeners: list[Callable[..., None]] = field(default_factory=list)
    # Run the due recovery actions of a case id; called after the commit that planned them.
    queue_recovery_actions: Callable[[int], object] | None = None
    # The account-service adapters by name (recovery.AccountService), and the one that new
    # actions are planned for.
    account_services: dict[str, object] = field(default_factory=dict)
    default_account_service: str | None = None
    # The client address of the request being served (None outside a request), for the
    # audit trail: the web layer knows it, the service never sees the request.
    client_address: Callable[[], str | None] | None = None


def hooks_of(app: Flask) -> Hooks:
    """The app's hooks, created empty on first use."""
    return app.extensions.setdefault(EXTENSION, Hooks())


def register(app: Flask, *, queue_document_check: Callable[[int, int], object] | None = None,
             on_case_event: Callable[..., None] | None = None,
             queue_recovery_actions: Callable[[int], object] | None = None,
             account_services: dict[str, object] | None = None,
             default_account_service: str | None = None,
             client_address: Callable[[], str | None] | None = None) -> None:
    """Register what the layers above provide: the job queues, a case event listener, the
    account-service adapters, the client address of the current request."""
    hooks = hooks_of(app)
    if client_address is not None:
        hooks.client_address = client_address
    if queue_document_check is not None:
        hooks.queue_document_check = queue_document_check
    if queue_recovery_actions is not None:
        hooks.queue_recovery_actions = queue_recovery_actions
    if account_services is not None:
        hooks.account_services.update(account_services)
    if default_account_service is not None:
        hooks.default_account_service = default_account_service
    if on_case_event is not None and on_case_event not in hooks.case_event_listeners:
        hooks.case_event_listeners.append(on_case_event)


def queue_document_check(case_id: int, attempt: int) -> None:
    """Hand the checks of ``attempt`` to the job runner (after the commit)."""
    queue = hooks_of(current_app).queue_document_check
    if queue is None:
        raise HookMissing("no job runner is registered: build the app with create_app()")
    queue(case_id, attempt)


def announce(event: str, case, **details) -> None:
    """Tell the listeners of case events, inside the current transaction."""
    listeners = hooks_of(current_app).case_event_listeners
    if not listeners:
        raise HookMissing("nothing listens to case events: build the app with create_app()")
    for listener in listeners:
        listener(event, case, **details)


def queue_recovery_actions(case_id: int) -> None:
    """Hand the due recovery actions of a case to the job runner (after the commit)."""
    queue = hooks_of(current_app).queue_recovery_actions
    if queue is None:
        raise HookMissing("no job runner is registered: build the app with create_app()")
    queue(case_id)


def account_service_name() -> str:
    """The name of the account-service adapter new recovery actions are planned for."""
    name = hooks_of(current_app).default_account_service
    if name is None:
        raise HookMissing("no account service is registered: build the app with create_app()")
    return name


def account_service(name: str):
    """The account-service adapter called ``name``; None when this process has none by it."""
    return hooks_of(current_app).account_services.get(name)


def client_address() -> str | None:
    """The address of the client whose request is being served; None outside a request (jobs,
    commands) or when no web layer registered the hook."""
    find = hooks_of(current_app).client_address
    return find() if find is not None else None
