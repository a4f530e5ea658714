"""The case page's words, without a database: relative times, masked addresses, the check tree."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from verification.checks import REASONS
from workflow.case_view import ago, check_tree, event_done, masked

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("delta", "said"), [
    (timedelta(seconds=20), "just now"),
    (timedelta(minutes=1), "1 minute ago"),
    (timedelta(hours=5, minutes=59), "5 hours ago"),
    (timedelta(days=3), "3 days ago"),
    (-timedelta(minutes=90), "in 1 hour"),
    (-timedelta(seconds=5), "in under a minute"),
])
def test_relative_times(delta, said):
    assert ago(NOW - delta, NOW) == said


@pytest.mark.parametrize(("address", "shown"), [
    ("anna@example.com", "a•••@example.com"), ("x@y.test", "x•••@y.test"), ("broken", "•••")])
def test_addresses_are_masked(address, shown):
    assert masked(address) == shown


def row(check, result, reason=None, attempt=1):
    return SimpleNamespace(check=check, result=result, reason_code=reason, attempt=attempt)


def test_the_check_tree_puts_failures_first_and_speaks_the_registry():
    tree = check_tree([
        row("document.quality.sharpness", "clear"),
        row("document.mrz.found", "rejected", "mrz_not_found"),
        row("selfie.match.document", "clear"),
        row("selfie.match.document", "rejected", "face_mismatch", attempt=0),  # superseded photos
        row("document.quality.sharpness", "consider", "document_blurry"),  # a later result wins
    ], attempt=1)
    assert [(s.key, s.result) for s in tree] == [("document", "rejected"), ("selfie", "clear")]
    assert [line.verdict for line in tree[0].lines] == [
        REASONS["mrz_not_found"].internal_text, REASONS["document_blurry"].internal_text]
    assert [line.verdict for line in tree[1].lines] == ["Passed."]


def test_success_texts_name_the_case_and_the_hold():
    case = SimpleNamespace(id=12, state="resolved", account=None, email="anna@example.com")
    said = event_done(case, "approve", NOW)
    assert said.startswith("Case #12 approved: the requester is told by email at a•••@example.com.")
    assert "until 2026-12-06 12:00 UTC" in said
    assert event_done(case, "something_new") == "Case #12: done; it is now resolved."
