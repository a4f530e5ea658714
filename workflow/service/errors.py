"""The service's named errors; ``errors/`` maps each one to an HTTP answer."""

from __future__ import annotations

from verification.images import ImageRejected

from .. import machine


class CaseNotFound(Exception):
    """No case with that id or tracking token."""


class StaleCase(Exception):
    """The case changed since the caller loaded it."""

    def __init__(self, current_version: int | None = None):
        self.current_version = current_version
        super().__init__("This case changed while you were looking at it. Reload it and try again.")


class EvidenceRejected(Exception):
    """An uploaded file was refused; ``field`` names the form field."""

    def __init__(self, field: str, error: ImageRejected):
        self.field = field
        self.error = error
        super().__init__(error.message)


class MissingEvidence(Exception):
    """A required photo was not uploaded."""

    def __init__(self, field: str):
        self.field = field
        super().__init__(f"Please attach the {field.replace('_', ' ')} photo.")


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used for a different request."""


class LeadsOnly(Exception):
    """The case is the security leads' (escalated): plain agents neither see nor act on it."""

    def __init__(self, case_id: int):
        super().__init__(f"Case #{case_id} is with the security leads: only a security lead or "
                         "an admin can open it.")


class ActionRefused(Exception):
    """The request is understood but refused in the case's current situation."""


class AgentExists(Exception):
    """An agent with that email already exists."""


class AgentNotFound(Exception):
    """No agent with that email."""


class ChallengeRefused(Exception):
    """The challenge code of a submission is missing, expired, forged or already used."""

    def __init__(self, status: int, code: str, message: str):
        self.status, self.code = status, code
        super().__init__(message)


TransitionNotAllowed = machine.TransitionNotAllowed


ReasonRequired = machine.ReasonRequired


CaseClaimed = machine.CaseClaimed


# Approvals refused by the machine's rules (each a TransitionNotAllowed with its own code).
NothingToRecover = machine.NothingToRecover
ChecksNotDone = machine.ChecksNotDone
StageNotCleared = machine.StageNotCleared
FourEyesRequired = machine.FourEyesRequired
OverrideNotConfirmed = machine.OverrideNotConfirmed
