"""A year of desk history in PostgreSQL for the SLA benchmarks: cases, their logs, their SLA rows.

    .venv/bin/python -m bench.sla_data --cases 1000000 \
        --url postgresql+psycopg://postgres@127.0.0.1:5432/sla_bench

Drops and recreates the database named in ``--url`` (never ``test`` or ``postgres``), creates
the schema from the app's metadata, and writes ``--cases`` cases filed over the last 12 months
(more on weekdays and in the day, a little more each month), each with the events and
messages the service would have logged for it:

- the user files; the document job starts the review and checks the photos a few seconds
  later (clear: on to the selfie check; rejected: the user is asked for new photos, up to
  MAX_RESUBMISSIONS times, then security; consider: an agent looks); the selfie job and the
  risk assessment follow (high risk escalates);
- agents pick cases up within their working hours (the policy's calendar: office hours for
  the default policy, around the clock, slower at night, for the 24x7 ones), claim them and
  approve, decline, ask the user, ask for new photos, escalate or close duplicates;
  security leads decide escalated cases or return them;
- users answer, send new photos or withdraw, mostly in their waking hours; unanswered
  requests expire after EXPIRE_AFTER;
- the scheduled SLA check's ``sla_warning`` / ``sla_breached`` marks where clocks ran late;
- about 5% of the cases are still open: the latest ones, whose history reaches the present,
  and a backlog left in the queue (more of it recent than old).

Each case's ``case_sla`` row is computed by the real engine (``workflow.sla.figures`` with
the policy and calendar ``service.sla_settings()`` configures), so ``flask sla-recompute``
would leave it as it is. Cases have no account of record (``account_id`` NULL), no evidence
and no check tree: the SLA and its reports do not read those.

Loading: worker processes simulate chunks of cases and COPY them in, with the secondary
indexes dropped and foreign-key triggers off (``session_replication_role = replica``: the
rows are consistent by construction); the indexes are built again, then VACUUM ANALYZE.
"""

import argparse
import math
import multiprocessing
import os
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime

import numpy as np
import psycopg
import sqlalchemy as sa

from verification.checks import REASONS
from workflow import sla
from workflow.models import name_key
from workflow.service.sla_upkeep import SLA_CASE_COLUMNS
from workflow.states import State

# Databases the generator must never drop.
PROTECTED_DATABASES = frozenset({"test", "postgres", "template0", "template1"})
HISTORY = timedelta(days=365)
SEED = 20261122
CHUNK = 10_000

# Requests per issue type: forgotten passwords and lost 2FA devices are most of a recovery
# desk's work; frozen accounts are rarer but the most urgent.
ISSUE_SHARES = {"forgot_password": 0.31, "lost_2fa": 0.22, "account_locked": 0.17,
                "new_device": 0.14, "suspicious_activity": 0.08, "other": 0.08}
# Filings per UTC hour (users in Europe and the Americas: quiet before dawn in Europe).
HOURLY_WEIGHTS = (0.35, 0.25, 0.2, 0.2, 0.25, 0.4, 0.6, 0.85, 1.0, 1.05, 1.1, 1.1,
                  1.1, 1.1, 1.1, 1.15, 1.2, 1.2, 1.15, 1.1, 1.0, 0.85, 0.65, 0.45)
# Monday is when people find out over the weekend that they cannot get in.
WEEKDAY_WEIGHTS = (1.15, 1.1, 1.05, 1.0, 0.95, 0.7, 0.75)
# Volume grows over the year: a quarter fewer filings a year ago than now.
GROWTH = 0.25

# The staff: (role, how many).
ROSTER = (("agent", 10), ("security_lead", 3), ("admin", 1))
# Share of the cases each agent handles, relative (some agents are faster than others).
AGENT_WEIGHTS = (1.4, 1.3, 1.2, 1.1, 1.0, 1.0, 0.9, 0.8, 0.7, 0.6, 0.3)  # ... and the admin

# The document job: how its checks come out on a typical desk.
DOCUMENT_OUTCOMES = {"clear": 0.72, "consider": 0.16, "rejected": 0.12}
DOCUMENT_REJECTED = ("document_blurry", "document_glare", "document_cut_off",
                     "document_too_dark", "mrz_not_found")
DOCUMENT_CONSIDER = ("name_partial_match", "document_expiry_unreadable", "mrz_corrected",
                     "document_expired")
SELFIE_OUTCOMES = {"clear": 0.85, "consider": 0.09, "rejected": 0.06}
SELFIE_RETAKE = ("selfie_blurry", "selfie_face_too_small", "selfie_no_face")
SELFIE_CONSIDER = ("face_mismatch", "face_seen_on_other_account", "reference_mismatch")
# Share of high-risk assessments (escalated by the system); frozen accounts run higher.
HIGH_RISK = {"suspicious_activity": 0.12}
HIGH_RISK_DEFAULT = 0.035
MAX_RESUBMISSIONS = 3

# What staff decide, per stage (weights).
DECISIONS = {
    "id_check": {"confirm_document": 0.78, "request_resubmission": 0.08, "decline": 0.06,
                 "escalate": 0.04, "request_info": 0.03, "mark_duplicate": 0.01},
    "selfie_check": {"approve": 0.84, "decline": 0.05, "request_resubmission": 0.04,
                     "request_info": 0.03, "escalate": 0.03, "mark_duplicate": 0.01},
    "escalated": {"approve": 0.45, "decline": 0.30, "return_to_stage": 0.17,
                  "request_info": 0.05, "request_resubmission": 0.03},
}
# What users do when asked (weights); "silent" waits until the request expires.
USER_ANSWERS = {True: {"resubmit": 0.78, "withdraw": 0.04, "silent": 0.18},
                False: {"reply": 0.82, "withdraw": 0.04, "silent": 0.14}}
EXPIRE_AFTER = timedelta(days=14)
# A user who gives up before anyone answers, and one who asks where things stand.
WITHDRAW_WHILE_WAITING = 0.015
CHASE_WHILE_WAITING = 0.05
# An agent who writes to the user on claiming, and one who leaves an internal note.
GREETING = 0.08
INTERNAL_NOTE = 0.05

# Staff delays (business time in the policy's calendar, log-normal): the median as a share of
# the target that applies, and the spread. A quarter of the target puts about 5% of pick-ups
# late; with escalations (which wait for a lead), loops and nights, 10% of first responses
# come late on the office policy and 21-29% on the 1-2 hour around-the-clock ones (measured
# on a million cases): a desk that keeps most of its promises and struggles at night.
PICK_SHARE, PICK_SIGMA = 0.25, 0.85
ANSWER_SHARE = 0.25  # of the next-update target, after the user has answered
LEAD_SHARE, LEAD_SIGMA = 0.12, 1.0  # of the resolution target, for escalated cases
# Around-the-clock cases wait longer outside the day shift (08:00-18:00 UTC).
NIGHT_FACTOR = 1.5
DAY_SHIFT = range(8, 18)
# Minutes an agent spends on a case between claiming and deciding (wall clock).
REVIEW_MINUTES, REVIEW_SIGMA = 4.0, 0.7
# Hours users take to answer (wall clock); they sleep between 00:00 and 07:00 UTC.
REPLY_HOURS, RESUBMIT_HOURS, USER_SIGMA = 3.0, 8.0, 1.3
USER_NIGHT = range(0, 7)
# The open backlog: chance that a case is left waiting in the queue, by its age (days).
STALL_RECENT, STALL_DAYS, STALL_FLOOR = 0.3, 45.0, 0.026
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
# The scheduled SLA check runs every minute.
SLA_CHECK_SECONDS = 60

FIRST_NAMES = ("Anna", "Jonas", "Maria", "Wei", "Oluwaseun", "Zoe", "Lukas", "Sofia", "Omar",
               "Ines", "Hiroshi", "Chloe", "Mateo", "Amara", "Pieter", "Leila", "Tomasz",
               "Aisha", "Sven", "Camille", "Diego", "Priya", "Noah", "Elif")
LAST_NAMES = ("Eriksson", "Berg", "Lopez Garcia", "Li", "Adeyemi", "Martin", "Muller",
              "Rossi", "Haddad", "Silva", "Tanaka", "Dubois", "Fernandez", "Okafor", "de Vries",
              "Karimi", "Nowak", "Khan", "Lindqvist", "Moreau", "Herrera", "Patel", "Smith",
              "Yilmaz")
DESCRIPTIONS = {
    "forgot_password": "I cannot remember my password and the reset email never arrives.",
    "lost_2fa": "My phone with the authenticator app was lost.",
    "account_locked": "My account was locked after too many sign-in attempts.",
    "new_device": "I changed phones and cannot sign in on the new one.",
    "suspicious_activity": "I got an email that my account was frozen.",
    "other": "I cannot get into my account.",
}
REPLIES = ("Yes, that was me.", "I used my maiden name when I opened the account.",
           "The date of birth on the form is right; the account has an old one.",
           "I no longer have access to that email address.")
CHASERS = ("Is there any news on my request?", "How long will this take?")
GREETINGS = ("We are looking at your request now.", "Thank you, we have started on your case.")
NOTES = ("Checked the account history: nothing unusual.", "Second document looks consistent.")
ASK_INFO = ("Which email address did you use when you opened the account?",
            "When did you last sign in successfully?")
ASK_PHOTOS = "Please send a sharper photo of your ID, without glare."
DECLINES = ("The document does not match the account holder.",
            "The selfie does not match the document.")
LEAD_REASONS = {
    "approve": "Identity confirmed on a video call.",
    "decline": "Security review: signs of an account takeover attempt.",
    "return_to_stage": "Security review done: nothing of concern, back to the stage.",
}


def around_the_clock(calendar: sla.BusinessCalendar) -> bool:
    """Whether every hour of the week is working time (the 24x7 policies' calendar)."""
    return len(calendar.hours) == 7 and all(
        opens == closes == dtime(0) for opens, closes in calendar.hours.values())


class Stop(Exception):
    """The case's history ends here: the present is reached, or the case is left waiting."""


@dataclass
class Staff:
    """The roster, by role."""

    agents: list[int]
    agent_weights: list[float]
    leads: list[int]
    roles: dict[int, str]
    names: dict[int, str]


@dataclass
class CaseSim:
    """One case, simulated event by event in the order the service would log them."""

    rng: random.Random
    case_id: int
    created: datetime
    issue_type: str
    priority: str
    policy: sla.Policy
    calendar: sla.BusinessCalendar
    now: datetime
    staff: Staff
    stall_wait: int | None  # the case is left in the queue at this staff wait (1-based)
    state: str = "submitted"
    resolution: str | None = None
    awaiting_from: str | None = None
    escalated_from: str | None = None
    resubmission_requested: bool = False
    resubmissions: int = 0
    attempt: int = 1
    assignee: int | None = None
    resolved_at: datetime | None = None
    version: int = 1
    waits: int = 0
    user_spoke: bool = False  # the user wrote or sent photos since staff last answered
    t: datetime = None
    events: list = field(default_factory=list)
    messages: list = field(default_factory=list)

    # --- the log -----------------------------------------------------------------------

    def _at(self, at: datetime) -> datetime:
        # One log line per instant at most, in order: the service's writes are sequential.
        at = max(at, self.t + timedelta(milliseconds=3)) if self.t else at
        if at > self.now:
            raise Stop
        self.t = at
        return at

    def event(self, at, name, actor, agent=None, to=None, reason=None):
        """Log an event (a transition when ``to`` is given)."""
        at = self._at(at)
        filed = name == "submitted"  # the first event has no state before it
        self.events.append((at, actor, agent, name, self.state if to and not filed else None,
                            to, reason))
        if to:
            if not filed:
                self.version += 1
            self.state = to
            if to == State.RESOLVED:
                self.resolved_at = at

    def message(self, at, author, body, agent=None, internal=False):
        """Log a message on the case."""
        at = self._at(at)
        self.messages.append((at, author, agent, body, internal))

    # --- time --------------------------------------------------------------------------

    def soon(self, low: float, high: float) -> datetime:
        """A system step ``low``-``high`` seconds from now (a job, a check)."""
        return self.t + timedelta(seconds=self.rng.uniform(low, high))

    def staff_at(self, median: float, sigma: float) -> datetime:
        """When staff get to the case: business time in the policy's calendar.

        Each wait for staff is where a case may be left in the queue (the open backlog).
        """
        self.waits += 1
        if self.stall_wait == self.waits:
            raise Stop
        delay = self.rng.lognormvariate(math.log(median), sigma)
        at = self.calendar.add(self.t, delay)
        if around_the_clock(self.calendar) and at.hour not in DAY_SHIFT:
            at = self.calendar.add(self.t, delay * NIGHT_FACTOR)
        return at

    def review_done(self) -> datetime:
        """When the agent who has the case open decides (a few minutes later)."""
        return self.t + timedelta(minutes=self.rng.lognormvariate(math.log(REVIEW_MINUTES),
                                                                  REVIEW_SIGMA))

    def user_at(self, hours: float) -> datetime:
        """When the user acts: wall-clock time, moved out of the night."""
        at = self.t + timedelta(hours=self.rng.lognormvariate(math.log(hours), USER_SIGMA))
        if at.hour in USER_NIGHT:
            at = at.replace(hour=USER_NIGHT.stop, minute=0) + timedelta(
                minutes=self.rng.uniform(0, 150))
        return at

    def pick(self, weights: dict) -> str:
        """One key of ``weights``, drawn by its weight."""
        return self.rng.choices(list(weights), weights=list(weights.values()))[0]

    # --- the story ---------------------------------------------------------------------

    def run(self) -> None:
        """Simulate the case until it is resolved, left waiting, or reaches the present."""
        try:
            self.event(self.created, "submitted", "user", to=State.SUBMITTED)
            self.event(self.soon(2, 40), "start_review", "system", to=State.ID_CHECK)
            self.jobs()
            while self.state != State.RESOLVED:
                STEPS[self.state](self)
        except Stop:
            pass

    def jobs(self) -> None:
        """The document job, then the selfie job and the risk assessment, for this attempt."""
        # A backlog on the job queue now and then.
        self.t = self.soon(60, 1200) if self.rng.random() < 0.05 else self.t
        outcome = self.pick(DOCUMENT_OUTCOMES)
        codes = {"rejected": DOCUMENT_REJECTED, "consider": DOCUMENT_CONSIDER}.get(outcome)
        code = self.rng.choice(codes) if codes else None
        self.event(self.soon(8, 45), "document_checked", "system",
                   reason=outcome + (f": {code}" if code else ""))
        if self.state == State.ID_CHECK:
            if outcome == "clear":
                self.event(self.t, "confirm_document", "system", to=State.SELFIE_CHECK,
                           reason="All document checks are clear.")
            elif outcome == "rejected":
                self.system_resubmission(REASONS[code].user_text)
        outcome = self.pick(SELFIE_OUTCOMES)
        codes = {"rejected": SELFIE_RETAKE, "consider": SELFIE_CONSIDER}.get(outcome)
        code = self.rng.choice(codes) if codes else None
        self.event(self.soon(5, 30), "selfie_checked", "system",
                   reason=outcome + (f": {code}" if code else ""))
        high = self.rng.random() < HIGH_RISK.get(self.issue_type, HIGH_RISK_DEFAULT)
        self.event(self.t, "risk_assessed", "system", reason="high: velocity" if high else "low")
        if high:
            if self.state not in (State.ESCALATED, State.RESOLVED):
                self.escalate("system", None, "High risk. Several requests for this account.")
        elif self.state == State.SELFIE_CHECK and outcome == "rejected":
            self.system_resubmission(REASONS[code].user_text)

    def system_resubmission(self, text: str) -> None:
        """The checks ask for new photos; security takes over once the user has had their tries."""
        if self.resubmissions >= MAX_RESUBMISSIONS:
            self.escalate("system", None, f"Resubmission limit ({MAX_RESUBMISSIONS}) reached.")
            return
        self.ask_user(self.t, "system", None, text, photos=True)

    def ask_user(self, at, actor, agent, text, *, photos: bool) -> None:
        """Ask the user a question or for new photos, with the message they see."""
        before = self.state
        self.event(at, "request_resubmission" if photos else "request_info", actor, agent,
                   to=State.AWAITING_USER, reason=text)
        self.message(self.t, actor, text, agent)
        self.awaiting_from, self.resubmission_requested = before, photos

    def escalate(self, actor, agent, reason) -> None:
        """Send the case to the security leads."""
        before = self.state
        self.event(self.t, "escalate", actor, agent, to=State.ESCALATED, reason=reason)
        self.escalated_from = before

    def resolve(self, at, trigger, actor, agent, resolution, reason=None, message=None):
        """Close the case, with the message the user sees when there is one."""
        if self.state == State.AWAITING_USER:
            self.resubmission_requested = False
        self.event(at, trigger, actor, agent, to=State.RESOLVED, reason=reason)
        self.resolution = resolution
        if message:
            self.message(self.t, actor, message, agent)

    def waiting_user(self, at: datetime) -> None:
        """While the case waits for staff, the user may give up or ask where it stands."""
        roll = self.rng.random()
        gap = (at - self.t) * self.rng.random()
        if roll < WITHDRAW_WHILE_WAITING:
            self.resolve(self.t + gap, "withdraw", "user", None, "withdrawn")
        elif roll < WITHDRAW_WHILE_WAITING + CHASE_WHILE_WAITING:
            self.message(self.t + gap, "user", self.rng.choice(CHASERS))
            self.user_spoke = True

    def staff_turn(self) -> None:
        """An agent picks the case up at its stage and decides."""
        # Back from the user, the next-update target is the one the queue shows.
        share = ANSWER_SHARE * self.policy.next_update if self.user_spoke else \
            PICK_SHARE * self.policy.first_response
        at = self.staff_at(share, PICK_SIGMA)
        self.waiting_user(at)
        if self.state == State.RESOLVED:
            return
        if self.assignee is None:
            self.assignee = self.rng.choices(self.staff.agents,
                                             weights=self.staff.agent_weights)[0]
            self.version += 1
            self.event(at, "claimed", self.staff.roles[self.assignee], self.assignee)
            if self.rng.random() < GREETING:
                self.message(self.t, self.staff.roles[self.assignee],
                             self.rng.choice(GREETINGS), self.assignee)
        else:
            self.t = max(self.t, at)
        agent, role = self.assignee, self.staff.roles[self.assignee]
        if self.rng.random() < INTERNAL_NOTE:
            self.message(self.review_done(), role, self.rng.choice(NOTES), agent, internal=True)
        decision = self.pick(DECISIONS[self.state])
        at = self.review_done()
        self.user_spoke = False
        if decision == "request_resubmission" and self.resubmissions >= MAX_RESUBMISSIONS:
            # The service escalates instead, as the system.
            self.t = at
            self.escalate("system", None, f"Resubmission limit ({MAX_RESUBMISSIONS}) reached.")
        elif decision == "confirm_document":
            self.event(at, decision, role, agent, to=State.SELFIE_CHECK)
        elif decision == "approve":
            self.resolve(at, decision, role, agent, "approved")
        elif decision == "decline":
            text = self.rng.choice(DECLINES)
            self.resolve(at, decision, role, agent, "declined", text, text)
        elif decision == "mark_duplicate":
            text = "You have another request open with us; we continue there."
            self.resolve(at, decision, role, agent, "duplicate", text, text)
        elif decision == "request_resubmission":
            self.ask_user(at, role, agent, ASK_PHOTOS, photos=True)
        elif decision == "request_info":
            self.ask_user(at, role, agent, self.rng.choice(ASK_INFO), photos=False)
        elif decision == "escalate":
            self.t = at
            self.escalate(role, agent, "The document looks altered.")

    def lead_turn(self) -> None:
        """A security lead decides an escalated case."""
        at = self.staff_at(LEAD_SHARE * self.policy.resolution, LEAD_SIGMA)
        self.waiting_user(at)
        if self.state == State.RESOLVED:
            return
        lead = self.rng.choice(self.staff.leads)
        role = self.staff.roles[lead]
        decision = self.pick(DECISIONS[State.ESCALATED])
        if decision == "request_resubmission" and self.resubmissions >= MAX_RESUBMISSIONS:
            decision = "decline"  # the service refuses more photos from an escalated case
        self.user_spoke = False
        at = max(at, self.t) + timedelta(minutes=self.rng.lognormvariate(
            math.log(3 * REVIEW_MINUTES), REVIEW_SIGMA))
        reason = LEAD_REASONS.get(decision)
        if decision == "approve":
            self.resolve(at, decision, role, lead, "approved", reason)
        elif decision == "decline":
            self.resolve(at, decision, role, lead, "declined", reason, reason)
        elif decision == "return_to_stage":
            back = self.escalated_from or State.ID_CHECK
            self.event(at, decision, role, lead, to=back, reason=reason)
            # A waiting case goes back to waiting as it was, photos requested or not.
            if back != State.AWAITING_USER:
                self.resubmission_requested = False
        elif decision == "request_info":
            self.ask_user(at, role, lead, self.rng.choice(ASK_INFO), photos=False)
        else:
            self.ask_user(at, role, lead, ASK_PHOTOS, photos=True)

    def user_turn(self) -> None:
        """The user answers, sends new photos, withdraws, or stays silent until expiry."""
        asked = self.t
        answer = self.pick(USER_ANSWERS[self.resubmission_requested])
        at = self.user_at(RESUBMIT_HOURS if self.resubmission_requested else REPLY_HOURS)
        if answer == "silent" or at >= asked + EXPIRE_AFTER:
            self.resolve(asked + EXPIRE_AFTER + timedelta(seconds=self.rng.uniform(0, 3600)),
                         "expire", "system", None, "expired")
        elif answer == "withdraw":
            self.resolve(at, "withdraw", "user", None, "withdrawn")
        elif answer == "reply":
            self.user_spoke = True
            self.message(at, "user", self.rng.choice(REPLIES))
            self.event(self.t, "user_replied", "user", to=self.awaiting_from)
        else:
            self.user_spoke = True
            self.attempt += 1
            self.resubmissions += 1
            self.resubmission_requested = False
            back = (State.ESCALATED if self.awaiting_from == State.ESCALATED
                    else State.ID_CHECK)
            self.event(at, "user_resubmitted", "user", to=back,
                       reason=f"attempt {self.attempt}")
            self.jobs()


STEPS = {
    State.ID_CHECK: CaseSim.staff_turn,
    State.SELFIE_CHECK: CaseSim.staff_turn,
    State.ESCALATED: CaseSim.lead_turn,
    State.AWAITING_USER: CaseSim.user_turn,
}


def sla_marks(sim: CaseSim, row: dict) -> list[tuple]:
    """The warnings and breaches the scheduled check would have logged, from the figures.

    A clock is marked when its warning or due time passes while it runs (not met, the case
    open), at the next run of the check.
    """
    marks = []
    for clock in sla.CLOCKS:
        ends = [t for t in (row[f"{clock}_at"], sim.resolved_at, sim.now) if t is not None]
        limit = min(ends)
        for name, at in (("sla_warning", row[f"{clock}_warn_at"]),
                         ("sla_breached", row[f"{clock}_due_at"])):
            if at is None:
                continue
            at += timedelta(seconds=sim.rng.uniform(0, SLA_CHECK_SECONDS))
            if at < limit:
                marks.append((at, "system", None, name, None, None, clock))
    return marks


def sla_entries(events, messages) -> list[sla.Entry]:
    """The case's log as the SLA reads it (as ``service.sla_entries`` builds it)."""
    return [sla.Entry(at, "event", name, actor, to) for at, actor, _, name, _, to, _ in events] + \
        [sla.Entry(at, "message", "message", author, internal=internal)
         for at, author, _, _, internal in messages]


# --- worker processes ----------------------------------------------------------------------

_WORKER: dict = {}


def _init_worker(dsn: str, settings, priorities: dict, staff: Staff, now: datetime,
                 columns: dict) -> None:
    conn = psycopg.connect(dsn)
    conn.execute("SET session_replication_role = replica")
    conn.execute("SET synchronous_commit = off")
    _WORKER.update(conn=conn, settings=settings, priorities=priorities, staff=staff, now=now,
                   columns=columns)


def _simulate(case_id: int, created: datetime, rng: random.Random) -> tuple:
    """One case: its row, events, messages and SLA row."""
    w = _WORKER
    now, settings = w["now"], w["settings"]
    issue_type = rng.choices(list(ISSUE_SHARES), weights=list(ISSUE_SHARES.values()))[0]
    priority = w["priorities"].get(issue_type, "normal")
    policy = settings.policy_for(issue_type, priority)
    calendar = settings.calendars[policy.calendar]
    age_days = (now - created).total_seconds() / 86400
    stall = STALL_RECENT * math.exp(-age_days / STALL_DAYS) + STALL_FLOOR
    stall_wait = rng.choices((1, 2, 3), weights=(6, 3, 1))[0] if rng.random() < stall else None
    sim = CaseSim(rng=rng, case_id=case_id, created=created, issue_type=issue_type,
                  priority=priority, policy=policy, calendar=calendar, now=now,
                  staff=w["staff"], stall_wait=stall_wait)
    sim.run()
    figures = sla.figures(sla_entries(sim.events, sim.messages), created=created,
                          policy=policy, calendar=calendar)
    marks = sla_marks(sim, figures)
    if marks:
        last = max([e[0] for e in sim.events] + [m[0] for m in sim.messages])
        sim.events = sorted(sim.events + marks, key=lambda e: e[0])
        # Figures are taken at the log's last entry: marks change them only when they come
        # after it, on an open case (a closed case's figures end at its resolution).
        if sim.state != State.RESOLVED and max(m[0] for m in marks) > last:
            figures = sla.figures(sla_entries(sim.events, sim.messages), created=created,
                                  policy=policy, calendar=calendar)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    person = rng.randrange(850_000)  # some people file more than once
    challenge = issue_type in ("lost_2fa", "suspicious_activity")
    updated = max([e[0] for e in sim.events] + [m[0] for m in sim.messages])
    case = {
        "id": case_id, "account_id": None,
        "email": f"{first.lower()}.{person}@example.test", "full_name": f"{first} {last}",
        "name_key": name_key(f"{first} {last}"),
        "date_of_birth": datetime(1940 + person % 65, 1 + person % 12, 1 + person % 28).date(),
        "issue_type": issue_type, "priority": priority,
        "description": DESCRIPTIONS[issue_type], "consent_at": created,
        "client_ip": f"198.51.{rng.randrange(256)}.{rng.randrange(1, 255)}",
        "state": sim.state, "resolution": sim.resolution,
        "awaiting_from": sim.awaiting_from, "escalated_from": sim.escalated_from,
        "resubmission_requested": sim.resubmission_requested,
        "resubmissions": sim.resubmissions, "evidence_attempt": sim.attempt,
        "challenge_code": "".join(rng.choices(CODE_ALPHABET, k=6)) if challenge else None,
        "challenge_nonce": f"{rng.getrandbits(128):032x}" if challenge else None,
        "tracking_token_hash": f"{rng.getrandbits(256):064x}",
        "assignee_id": sim.assignee, "created_at": created, "updated_at": updated,
        "resolved_at": sim.resolved_at, "version": sim.version,
    }
    figures["case_id"] = case_id
    # The case columns its SLA row keeps copies of (service.refresh_sla does the same).
    figures.update({name: case[column] for name, column in SLA_CASE_COLUMNS.items()})
    return case, sim.events, sim.messages, figures


def _load_chunk(task: tuple[int, np.ndarray, int]) -> tuple[int, int, int, dict]:
    """Simulate and COPY one chunk of cases; returns rows written and the states seen."""
    first_id, stamps, seed = task
    w = _WORKER
    rng = random.Random(seed)
    cols = w["columns"]
    cases, events, messages, slas = [], [], [], []
    states: dict[str, int] = {}
    for offset, stamp in enumerate(stamps):
        case_id = first_id + offset
        created = datetime.fromtimestamp(float(stamp), UTC)
        case, case_events, case_messages, figures = _simulate(case_id, created, rng)
        key = case["resolution"] or case["state"]
        states[key] = states.get(key, 0) + 1
        # Columns the simulation does not set (proposals, purges, duplicates) stay NULL.
        cases.append(tuple(case.get(c) for c in cols["recovery_case"]))
        events += [(case_id, *e) for e in case_events]
        messages += [(case_id, *m) for m in case_messages]
        slas.append(tuple(figures[c] for c in cols["case_sla"]))
    conn = w["conn"]
    with conn.cursor() as cur:
        for table, names, rows in (
                ("recovery_case", cols["recovery_case"], cases),
                ("case_event", EVENT_COLUMNS, events),
                ("message", MESSAGE_COLUMNS, messages),
                ("case_sla", cols["case_sla"], slas)):
            with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    conn.commit()
    return len(cases), len(events), len(messages), states


EVENT_COLUMNS = ("case_id", "created_at", "actor_type", "actor_agent_id", "event",
                 "from_state", "to_state", "reason")
MESSAGE_COLUMNS = ("case_id", "created_at", "author_type", "agent_id", "body", "internal")


# --- the run -------------------------------------------------------------------------------

def filing_times(n: int, now: datetime, seed: int) -> np.ndarray:
    """``n`` filing instants (POSIX seconds) over the last year, in order."""
    rng = np.random.default_rng(seed)
    end = now.timestamp()
    start = end - HISTORY.total_seconds()
    hourly, weekly = np.array(HOURLY_WEIGHTS), np.array(WEEKDAY_WEIGHTS)
    top = hourly.max() * weekly.max() * (1 + GROWTH / 2)
    found = []
    count = 0
    while count < n:
        t = rng.uniform(start, end, size=2 * n)
        hour = (t // 3600 % 24).astype(int)
        weekday = ((t // 86400).astype(int) + 3) % 7  # 1970-01-01 was a Thursday
        growth = 1 - GROWTH / 2 + GROWTH * (t - start) / (end - start)
        keep = t[rng.uniform(0, top, size=t.size) < hourly[hour] * weekly[weekday] * growth]
        found.append(keep)
        count += keep.size
    return np.sort(np.concatenate(found)[:n])


def recreate_database(url: sa.engine.URL) -> str:
    """Drop and create the database of ``url``; returns a libpq connection string for it."""
    if url.database in PROTECTED_DATABASES:
        raise SystemExit(f"refusing to drop the database {url.database!r}")
    admin = url.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{url.database}"')
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def bench_app(url: str):
    """The app on the bench database, with nothing running in the background."""
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "DEMO": False,
                       "VERIFICATION_EXECUTOR": "off", "SLA_CHECK_SECONDS": 0,
                       "VERIFICATION_SWEEP_SECONDS": 0})


def create_staff(db, models) -> Staff:
    """The desk's staff: agents, security leads and an admin (no password: no sign-in)."""
    staff = Staff([], [], [], {}, {})
    number = 0
    for role, count in ROSTER:
        for _ in range(count):
            number += 1
            name = f"{FIRST_NAMES[number % len(FIRST_NAMES)]} {LAST_NAMES[-number]}"
            agent = models.Agent(email=f"staff{number:02d}@bench.test", name=name, role=role,
                                 password_hash="!bench: no sign-in")
            db.session.add(agent)
            db.session.flush()
            staff.roles[agent.id], staff.names[agent.id] = role, name
            if role == "security_lead":
                staff.leads.append(agent.id)
            else:
                staff.agents.append(agent.id)
    staff.agent_weights = list(AGENT_WEIGHTS[:len(staff.agents)])
    db.session.commit()
    return staff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of the bench database")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()

    started = time.perf_counter()
    url = sa.engine.make_url(args.url)
    dsn = recreate_database(url)
    now = datetime.now(UTC).replace(microsecond=0)

    from extensions import db
    from workflow import models, service

    app = bench_app(args.url)
    with app.app_context():
        db.create_all()
        staff = create_staff(db, models)
        settings = service.sla_settings()
        priorities = dict(app.config["PRIORITY_BY_ISSUE_TYPE"])
        engine = db.engine
    big = [models.RecoveryCase.__table__, models.CaseEvent.__table__,
           models.Message.__table__, models.CaseSla.__table__]
    indexes = [index for table in big for index in table.indexes]
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    engine.dispose()  # no pooled connection may be inherited by the worker processes
    columns = {t.name: [c.name for c in t.columns] for t in big}
    print(f"schema ready; {len(indexes)} secondary indexes dropped for the load "
          f"({time.perf_counter() - started:.1f} s)", flush=True)

    stamps = filing_times(args.cases, now, args.seed)
    tasks = [(1 + i, stamps[i:i + CHUNK], args.seed * 7919 + i)
             for i in range(0, args.cases, CHUNK)]
    loaded = time.perf_counter()
    totals = [0, 0, 0]
    states: dict[str, int] = {}
    with multiprocessing.Pool(args.workers, _init_worker,
                              (dsn, settings, priorities, staff, now, columns)) as pool:
        for done, (cases, events, messages, seen) in enumerate(
                pool.imap_unordered(_load_chunk, tasks), 1):
            totals = [totals[0] + cases, totals[1] + events, totals[2] + messages]
            for key, value in seen.items():
                states[key] = states.get(key, 0) + value
            if done % max(1, len(tasks) // 20) == 0 or done == len(tasks):
                spent = time.perf_counter() - loaded
                rate = totals[0] / spent
                print(f"  {totals[0]:>9,} cases, {totals[1]:>10,} events, "
                      f"{totals[2]:>9,} messages  {rate:,.0f} cases/s  "
                      f"eta {(args.cases - totals[0]) / rate:,.0f} s", flush=True)
        pool.close()
        pool.join()
    print(f"loaded in {time.perf_counter() - loaded:.1f} s", flush=True)

    step = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        for index in indexes:
            conn.execute(str(sa.schema.CreateIndex(index).compile(dialect=engine.dialect)))
        conn.execute("SELECT setval('recovery_case_id_seq', %s)", (args.cases,))
        print(f"indexes built in {time.perf_counter() - step:.1f} s", flush=True)
        step = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        print(f"VACUUM ANALYZE in {time.perf_counter() - step:.1f} s", flush=True)

    total = sum(states.values())
    print("cases by outcome: " + ", ".join(
        f"{key} {value / total:.1%}" for key, value in sorted(states.items(),
                                                              key=lambda kv: -kv[1])))
    open_share = sum(v for k, v in states.items() if k in {s.value for s in State}) / total
    print(f"open: {open_share:.1%}; {totals[0]:,} cases, {totals[1]:,} events, "
          f"{totals[2]:,} messages; total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
