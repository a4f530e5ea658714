"""The exchange's identity service over HTTP: signed, idempotent requests for recovery steps.

Each step is one ``POST {ACCOUNT_SERVICE_URL}/recovery-actions`` with a JSON body::

    {"action": "unlock", "idempotency_key": "...", "case_id": 12,
     "account": {"id": 7, "email": "owner@example.com"}}

and the headers ``Idempotency-Key`` (the action's key: the service performs a key once and
answers a repeat with the first answer), ``X-Recovery-Desk-Timestamp`` (Unix seconds) and
``X-Recovery-Desk-Signature: sha256=<hex>``, the HMAC-SHA256 with ACCOUNT_SERVICE_SECRET of
``<timestamp>.<body>`` (the service refuses an old timestamp or a wrong signature).
A 2xx answer is the step done (its JSON object, if any, is kept as the result); a refusal
(4xx but 408, 409, 425, 429) fails the action for an agent to look at; anything else (no
answer, a timeout, 408/409/425/429, 5xx) fails it for a retry with the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import requests

from workflow.service import ActionDone, ActionFailed, ActionOrder

# Answers that say "try again later": timeout, conflict with the same key in flight,
# too early, too many requests. Every 5xx too.
RETRIABLE_STATUS = frozenset({408, 409, 425, 429})
# What of an error answer's body goes on the record.
BODY_CHARS = 300
TIMESTAMP_HEADER = "X-Recovery-Desk-Timestamp"
SIGNATURE_HEADER = "X-Recovery-Desk-Signature"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


class IdentityService:
    """The account service of the exchange, reached over HTTP."""

    in_transaction = False

    def __init__(self, url: str, secret: str, *, timeout: float):
        self.endpoint = url.rstrip("/") + "/recovery-actions"
        self.secret = secret
        self.timeout = timeout

    def perform(self, order: ActionOrder) -> ActionDone:
        """Ask the identity service to perform one step (idempotent under the order's key)."""
        body = json.dumps({
            "action": order.kind.value, "idempotency_key": order.idempotency_key,
            "case_id": order.case_id,
            "account": {"id": order.account_id, "email": order.account_email},
        }, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json",
                   "Idempotency-Key": order.idempotency_key,
                   TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: signature(self.secret, timestamp, body)}
        try:
            answer = requests.post(self.endpoint, data=body, headers=headers,
                                       timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as err:
            raise ActionFailed(f"the identity service did not answer: {type(err).__name__}",
                               retriable=True) from err
        if 200 <= answer.status_code < 300:
            try:
                found = answer.json()
            except ValueError:
                found = {}
            details = found if isinstance(found, dict) else {}
            return ActionDone(summary=f"performed by the identity service (HTTP "
                                      f"{answer.status_code})",
                              details={"http_status": answer.status_code, "answer": details})
        retriable = answer.status_code >= 500 or answer.status_code in RETRIABLE_STATUS
        raise ActionFailed(f"the identity service answered HTTP {answer.status_code}: "
                           f"{answer.text[:BODY_CHARS]}", retriable=retriable)
