"""Configuration defaults. Secrets come from instance/config.py or the environment, never from here.

Every setting can be overridden by an environment variable prefixed with RECOVERY_
(RECOVERY_MAX_UPLOAD_BYTES=...), values parsed as JSON where possible. DATABASE_URL and
REDIS_URL are read without prefix because that is what hosting platforms set.
"""

import os


def normalise_database_url(url: str) -> str:
    """Point plain postgres:// URLs at the psycopg 3 driver that the project installs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Defaults for the embedded, one-machine set-up."""

    # Filled in by create_app() from the instance folder when DATABASE_URL is not set.
    SQLALCHEMY_DATABASE_URI: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL: str | None = None

    # "production" refuses to start without an explicit SECRET_KEY.
    ENV_NAME = "development"

    # Uploads. A 12-megapixel phone photo is 3-8 MB as JPEG; 15 MB leaves room for
    # 48-megapixel sensors without letting one request hold hundreds of megabytes.
    MAX_UPLOAD_BYTES = 15 * 1024 * 1024
    # Error screenshots a person may attach to the request or to one reply: three show an
    # error and the steps around it; more is a gallery nobody reads, and each is an upload
    # to decode (they go through the same intake bounds as the photos).
    MAX_SCREENSHOTS = 3
    # Screenshots one case may gather over all its replies: four replies' worth; past that a
    # reply carries words only (each kept screenshot is sealed storage for the retention time).
    MAX_SCREENSHOTS_PER_CASE = 12
    # The three photos and the screenshots, plus form fields.
    MAX_CONTENT_LENGTH = (3 + MAX_SCREENSHOTS) * MAX_UPLOAD_BYTES + 1024 * 1024
    # 64 megapixels covers every current phone camera (the largest common sensors are
    # 48-50 MP); anything larger is refused from its header, before decoding, which is
    # what stops a "decompression bomb" (a tiny file that expands to gigabytes).
    MAX_IMAGE_PIXELS = 64_000_000
    # Memory one upload may take to decode, decided from its header (pixels times the bytes
    # each takes at the file's bit depth and channels, at least 4 as Pillow holds RGB, plus a
    # progressive JPEG's coefficient buffer). 128 MB takes a 16 MP photo with transparency or
    # at 16 bits per colour, a 12 MP progressive JPEG without chroma subsampling and any
    # baseline JPEG under MAX_IMAGE_PIXELS (decoded reduced, below), and refuses the 64 MP
    # 16-bit PNG of 500 KB that inflates to 512 MB. Measured per upload in docs/benchmarks.md
    # ("Cost of one upload": the whole path peaked at 165 MB).
    MAX_DECODED_BYTES = 128 * 1024 * 1024
    # Pixels the desk works on: a JPEG with more is decoded at 1/2, 1/4 or 1/8 scale (its
    # decoder does that directly), a PNG or WebP reduced right after decoding. The checks are
    # calibrated on 12 MP photos (docs/benchmarks.md); 16 MP keeps every 12 MP phone photo
    # and 16 MP 4:3 camera as it is and brings 48-64 MP sensors down to 12-16 MP.
    WORKING_PIXELS = 16_000_000
    # Re-encoding quality of the stored copy: visually lossless for ID text and faces.
    STORED_JPEG_QUALITY = 92

    # A user may resubmit evidence this many times; the next request escalates the case
    # (repeated failed attempts are a fraud signal as much as a usability problem).
    MAX_RESUBMISSIONS = 3

    # Rate limits (Flask-Limiter syntax). Submissions are anonymous, so they are limited
    # per client address; sign-in is limited to slow down password guessing. Every attempt
    # counts, accepted or refused (a refused upload costs the desk the same reading), and the
    # form and the API draw on one budget (rate_limits.submission_limit).
    RATELIMIT_SUBMISSION = "10 per hour"
    # And per email address the request is for, whichever addresses it comes from.
    RATELIMIT_SUBMISSION_PER_EMAIL = "5 per hour"
    # Pre-send checks of a photo on the request form (POST /recover/check-photo): each runs
    # the intake gate, as costly as a submission's, but a person may retake a photo a few
    # times per request, so the budget is a few submissions' worth.
    RATELIMIT_PHOTO_CHECK = "30 per hour"
    RATELIMIT_LOGIN = "20 per 15 minutes"
    # Look-ups of a case by its tracking token (the status page, its actions, the API), one
    # budget per client address: a person checks now and then, an integrator polls its own
    # requests; guessing a token (256 random bits) is hopeless anyway: this bounds the load.
    RATELIMIT_STATUS = "120 per minute"
    # The status page's "usually within X hours": the median resolution time of the requests
    # of the same type decided in the last STATUS_TYPICAL_DAYS (a month follows changes in
    # staffing without one bad day swinging it), at most STATUS_TYPICAL_MAX_CASES of the
    # latest (a bounded, cheap query), and only from STATUS_TYPICAL_MIN_CASES on: fewer say
    # little, and the page quotes the SLA policy's resolution target instead. The figure is
    # kept STATUS_TYPICAL_CACHE_SECONDS per process, so a page that refreshes itself costs
    # no query.
    STATUS_TYPICAL_DAYS = 30
    STATUS_TYPICAL_MAX_CASES = 500
    STATUS_TYPICAL_MIN_CASES = 10
    STATUS_TYPICAL_CACHE_SECONDS = 300
    # While the automatic checks run, the status page asks again this often (seconds): the
    # checks take seconds to a minute, and each ask counts against RATELIMIT_STATUS.
    STATUS_REFRESH_SECONDS = 5
    # "Email me my tracking link": per client address, and per email address asked about
    # (from any client address). A person asks once or twice; more is someone probing
    # addresses or trying to flood an inbox, and each ask replaces the links it sends.
    RATELIMIT_TRACKING_LINK = "5 per hour"
    RATELIMIT_TRACKING_LINK_PER_EMAIL = "3 per day"
    # Queued asks handled per scheduled tick (SLA_CHECK_SECONDS); the rest wait for the next.
    TRACKING_LINK_BATCH_SIZE = 100
    # Answers to the self-help guides per client address: a person answers a guide or two;
    # more is someone skewing the deflection figures (each browser counts once per guide and
    # day anyway).
    RATELIMIT_SELF_HELP = "30 per hour"
    # Where the counts live, so that every process of the desk counts together: unset means
    # REDIS_URL when set, else "database://", the desk's own database (rate_limits.py).
    # "memory://" counts per process and is refused in production.
    RATELIMIT_STORAGE_URI: str | None = None
    # Prepended to every counter's key: desks that share one Redis give each its own.
    RATELIMIT_KEY_PREFIX = ""
    RATELIMIT_HEADERS_ENABLED = True

    # Verification. Jobs run on an in-process thread by default ("thread"); with REDIS_URL set
    # they go to RQ ("rq") for `flask worker` processes on any machine; "inline" runs them in
    # the request right after the commit (tests, one-off scripts); "off" leaves every check
    # to agents.
    VERIFICATION_EXECUTOR = "thread"
    VERIFICATION_QUEUE = "verification"
    # Waits before each retry of a job that failed for a passing reason (database or Redis
    # unreachable): the outages worth waiting out last seconds to minutes. After the last
    # one, or at once for any other error, the case shows the failure for an agent to retry.
    VERIFICATION_RETRY_DELAYS = [10, 60, 300]
    # A job that runs longer than this is stopped (RQ). The slowest check measured takes
    # ~8 s on a 12 MP photo (docs/benchmarks.md), so this only catches a hung process.
    VERIFICATION_JOB_TIMEOUT = 300
    # The sweep re-queues open cases whose current photos are still unread this long after
    # they were filed: their job died with its process. Longer than the job timeout, so a
    # job that is merely running or queued is left alone. 0 disables the periodic sweep
    # (it still runs when a worker starts).
    VERIFICATION_STUCK_AFTER = 600
    VERIFICATION_SWEEP_SECONDS = 300
    # Refuse an unreadable ID photo at upload time (422 with what to fix), before any case
    # exists, so the person retakes it at once instead of waiting for an agent.
    QUALITY_GATE = True
    # A photo of the request form that passed the gate is kept (encrypted) this long, so the
    # form never asks for it again after a validation error: an hour covers filling in the
    # form slowly, and the photo is not kept longer than that without a request behind it.
    KEPT_UPLOAD_SECONDS = 3600
    # Overrides of verification.quality.QualityThresholds, by field name; the defaults and
    # the measurements behind them are documented there and in docs/benchmarks.md.
    QUALITY_THRESHOLDS: dict = {}
    # ICAO 9303 document codes (first letter) accepted as proof of identity: passports and
    # identity cards. Visas ("V") identify a trip, not a person's account.
    ACCEPTED_DOCUMENT_TYPES = ["P", "I", "A", "C"]
    # Name similarity (0-100) of the document against the account: at or above CLEAR the name
    # matches; between CONSIDER and CLEAR an agent compares; below, a mismatch for an agent.
    # The reasoning and the name pairs behind the values are in verification/documents.py.
    NAME_MATCH_CLEAR = 90.0
    NAME_MATCH_CONSIDER = 75.0

    # Face match: a selfie matches the document portrait (or the account's reference portrait)
    # when the distance between their face_recognition encodings is at most this. Measured on
    # the face fixtures rendered onto specimen documents (docs/benchmarks.md, "Face match
    # threshold", 68-point landmarks): the same person 0.358-0.584 apart (the farthest a
    # blurred passport), different people 0.681 and more. On LFW DevTrain split by person
    # (docs/benchmarks.md, "Faces on LFW DevTrain"), with distances within 0.05 of the
    # threshold measured again on steady encodings (verification.faces.STEADY_MARGIN), 0.595
    # has the best accuracy of 0.50-0.66 on the tuning half: 0.9906 (0.9915 held apart; 0.6:
    # 0.9895 and 0.9927), at a FAR of 0.0084 on 1.5 million impostor pairs (0.0078 held
    # apart; single encodings at 0.6 had 0.9848 and 0.0063). A FAR of 0.002 needs 0.545
    # (TAR 0.962, accuracy 0.975). Operators measure theirs with `flask calibrate-faces`.
    FACE_MATCH_THRESHOLD = 0.595

    # Overrides of verification.selfie.SelfiePolicy (face size, sharpness, same-photo
    # distance), by field name; measurements next to the defaults there.
    SELFIE_THRESHOLDS: dict = {}
    # Challenge selfies (holding the ID and a one-time code written on paper) for these issue
    # types: the ones where an attacker most often holds a stolen password or phone.
    CHALLENGE_ISSUE_TYPES = ["lost_2fa", "suspicious_activity"]
    # Time to fill the form, write the code and take the photos.
    CHALLENGE_TTL_SECONDS = 30 * 60
    # Overrides of verification.risk.RiskPolicy (velocity limits, account-change window).
    RISK_THRESHOLDS: dict = {}
    # Recent activity only the owner knows (verification/activity.py): the form may ask for
    # the last deposit (amount, date) and the last asset bought. People remember round
    # figures ("about 500" for 487.30 is 2.6% off) and what they sent rather than what was
    # credited after fees and exchange rates (1-3% less): 5% takes both, while a guess
    # still has to land in a band a tenth of the amount wide.
    ACTIVITY_AMOUNT_TOLERANCE = 0.05
    # Days either side of the deposit's UTC date: the person's own timezone moves the date
    # by one, and a bank transfer is credited one or two working days after it was sent.
    ACTIVITY_DATE_TOLERANCE_DAYS = 2
    # Requests for one account whose answers are compared within the window; past it the
    # answers are not compared (a finding of its own, high risk). An owner whose photos
    # failed resubmits on the status page (the same request); three new requests in a month
    # already answering differently is someone narrowing the answers down.
    ACTIVITY_MAX_ATTEMPTS = 3
    ACTIVITY_ATTEMPT_WINDOW_DAYS = 30

    # Service levels (workflow/sla.py). Calendars: a timezone, working hours per weekday and
    # holidays; "24x7" is a calendar too. Durations are business time: "4h" in the office
    # calendar is half a working day, in 24x7 four hours.
    SLA_CALENDARS = {
        "office": {"timezone": "UTC",
                   "hours": {day: ["09:00", "17:00"] for day in ("mon", "tue", "wed", "thu",
                                                                 "fri")},
                   "holidays": []},
        "24x7": {"timezone": "UTC",
                 "hours": {day: ["00:00", "24:00"] for day in ("mon", "tue", "wed", "thu",
                                                               "fri", "sat", "sun")}},
    }
    # Policies by "issue_type/priority", "issue_type", "*/priority" or "default" (the first
    # that exists wins). A locked-out person waits for their money: an answer within half an
    # office day, resolution within three; frozen accounts and high priority around the clock.
    SLA_POLICIES = {
        "default": {"calendar": "office", "first_response": "4h", "next_update": "8h",
                    "resolution": "24h"},
        "*/high": {"calendar": "24x7", "first_response": "2h", "next_update": "8h",
                   "resolution": "48h"},
        "suspicious_activity": {"calendar": "24x7", "first_response": "1h",
                                "next_update": "4h", "resolution": "24h"},
    }
    # Share of a target after which a clock shows a warning.
    SLA_WARNING_SHARE = 0.75
    # PostgreSQL sort memory for one SLA report (SET LOCAL, that transaction only). A year of
    # a million cases sorts about a million values per percentile: at the server's default
    # 4MB each sort spills to disk, at 64MB it stays in memory (docs/benchmarks.md).
    SLA_REPORT_WORK_MEM = "64MB"
    # PostgreSQL: the report's figures are split between this many statements that run at
    # once, each on a connection of its own taken from the pool, all in one snapshot (a report
    # then holds this many connections, and SLA_REPORT_WORK_MEM for each). Each percentile is
    # a sort on one core: on two cores, two statements took a year's report by stage from
    # 1.92 s to 1.56 s (docs/benchmarks.md). 1 runs one statement in the request's own
    # transaction.
    SLA_REPORT_STATEMENTS = 2
    PRIORITY_BY_ISSUE_TYPE = {"lost_2fa": "high", "suspicious_activity": "high"}
    # The scheduled check that records warnings and breaches and sends the outbox (a thread
    # of the web process, or RQ's scheduler on the workers with REDIS_URL); 0: never.
    SLA_CHECK_SECONDS = 60

    # Notifications (notify/): emails are written to the outbox table in the transaction that
    # causes them and sent over SMTP afterwards. With MAIL_SERVER empty nothing is sent: the
    # emails wait in the outbox until a server is configured.
    MAIL_SERVER = ""
    MAIL_PORT = 587
    MAIL_USE_TLS = True  # STARTTLS after connecting (the usual set-up on port 587)
    MAIL_USE_SSL = False  # TLS from the first byte instead (port 465)
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_FROM = "Recovery Desk <recovery-desk@localhost>"
    # A server that has not answered in this long is treated as down; the email is retried.
    MAIL_TIMEOUT_SECONDS = 10
    # Waits after each failed attempt to send an email; the last one repeats. An outage of
    # the mail server usually lasts minutes, a misconfiguration until someone notices, so the
    # attempts thin out to a few an hour instead of giving up: an email is never dropped.
    MAIL_RETRY_DELAYS = [60, 300, 900, 3600]
    # How long a sender holds an email it claimed before others may take it: longer than
    # one send can last (connect, STARTTLS, sign-in and the SMTP exchange, each allowed
    # MAIL_TIMEOUT_SECONDS), so no email goes out twice.
    MAIL_CLAIM_SECONDS = 300
    # Emails sent per tick: a backlog after an outage goes out over a few ticks instead of
    # holding one tick (and the SLA check after it) for minutes.
    MAIL_BATCH_SIZE = 100
    # Links in emails point here: the address agents open the desk at (no request is there to
    # tell it when a scheduled job writes an email). `make run` serves this one.
    PUBLIC_BASE_URL = "http://127.0.0.1:5000"

    # Recovery actions (workflow/service/recovery.py): what approving a case does to the
    # account, through an account service. Without ACCOUNT_SERVICE_URL the desk acts on its own
    # directory (the Account table) and serves the reset page itself; with it, every step is a
    # request to the exchange's identity service, signed with ACCOUNT_SERVICE_SECRET
    # (RECOVERY_ACCOUNT_SERVICE_SECRET or instance/config.py: the desk refuses to start with a
    # URL and no secret).
    ACCOUNT_SERVICE_URL: str | None = None
    ACCOUNT_SERVICE_SECRET: str | None = None
    # Seconds to connect to it and again to wait for its answer: an identity service answers
    # in well under a second; a slower one is treated as down and the step retried.
    ACCOUNT_SERVICE_TIMEOUT_SECONDS = 10
    # Where the steps run right after an approval: None follows VERIFICATION_EXECUTOR;
    # "thread", "rq", "inline" (in the approving request, after its commit) or "off" (only
    # the sweep runs them).
    RECOVERY_ACTION_EXECUTOR: str | None = None
    # Waits before each new try of a step that failed for a passing reason (the service
    # unreachable, busy, answering 5xx): outages of minutes are waited out within the hour;
    # after the last one the step waits for an agent's Retry, visible on the case.
    RECOVERY_ACTION_RETRY_DELAYS = [30, 120, 600, 1800]
    # How long a runner holds a step it performs before another may take it (its runner
    # died): longer than one request to the service can last (two timeouts).
    RECOVERY_ACTION_CLAIM_SECONDS = 300
    # How often the sweep runs the steps that are due (retries, steps whose runner died);
    # 0: never (steps then run only right after the approval or an agent's Retry).
    RECOVERY_ACTION_SWEEP_SECONDS = 60
    # The cooling-off period between approving a recovery and performing it, per issue type
    # (wall-clock time: 30m, 24h, 2d, or 0). Account takeovers through support are usually
    # noticed by the owner within a day, from the approval email to the address of record,
    # whose "this wasn't me" link stops every step not yet performed. The types whose
    # recovery removes a second factor or unfreezes the account wait a day; a reset link alone
    # goes at once (it goes to the address of record, where the owner reads it).
    RECOVERY_HOLD = {"lost_2fa": "24h", "suspicious_activity": "24h"}
    # How long the "this wasn't me" link in the emails to the owner of record works.
    OWNER_LINK_TTL = 30 * 24 * 60 * 60
    # The "this wasn't me" page per client address.
    RATELIMIT_OWNER_LINK = "30 per hour"
    # How long a reset link of the local directory works. It is single use and goes to the
    # address of record only; a day lets the owner read it the next morning, where an expired
    # link would mean a whole new request with new photos.
    RESET_LINK_TTL = 24 * 60 * 60
    # The reset page per client address (looking at a link and setting the password): the
    # owner needs a few; a token cannot be guessed (256 random bits), this bounds the load.
    RATELIMIT_RESET_LINK = "30 per hour"

    # The audit trail (workflow/service/audit.py). Every this many records the chain's head is
    # written to the log (logger "recovery_desk.audit", INFO) as an anchor, and again on each
    # scheduled check: anchors kept outside the database let `audit-verify --anchor` prove
    # that the tail was not cut off or rewritten wholesale. 100 keeps a busy desk's log to a
    # line every few minutes; 0 anchors on the scheduled check only.
    AUDIT_ANCHOR_EVERY = 100
    # Records read per query by audit-verify and the JSON-lines export: memory stays bounded
    # (a record is well under a kilobyte) however long the trail.
    AUDIT_BATCH_SIZE = 1000
    # Retention (workflow/service/retention.py): the photos of a closed case, the face
    # encodings and document readings made from them, and the personal details of its check
    # results are deleted this long after the case was resolved; its state, timeline, check
    # results and SLA figures stay. 30 days outlast the owner's "this wasn't me" link
    # (OWNER_LINK_TTL) and a dispute of the decision, after which the photos serve no
    # purpose (GDPR storage limitation; a face is biometric data). A case declined as fraud
    # keeps them a year: the same face or document coming back for another account is found
    # only while they are held, and they back a report to the exchange's fraud team.
    # Durations like 30d, 12h (wall-clock time); the desk refuses to start with another key
    # or a duration that is not one.
    RETENTION = {"default": "30d", "declined_fraud": "365d"}
    # Cases purged per transaction: each batch locks few rows for a short time, so the purge
    # runs while the desk works.
    RETENTION_BATCH_SIZE = 50
    # Encryption at rest of evidence photos and face encodings (AES-256-GCM, sealing/): key id
    # -> 32 random bytes in base64, e.g. RECOVERY_ENCRYPTION_KEYS='{"2026-12": "..."}'. New
    # values are sealed with ENCRYPTION_KEY_ID (unset: the only key); older keys stay listed
    # until `flask rotate-key` has moved everything to the current one. Unset outside
    # production: a key generated into instance/encryption_key on first start; production
    # refuses to start without keys.
    ENCRYPTION_KEYS: dict[str, str] = {}
    ENCRYPTION_KEY_ID: str | None = None
    # Values re-encrypted per transaction by `flask rotate-key` (each a short transaction, so
    # the desk keeps working; a batch of photos is a few megabytes each).
    ROTATE_KEY_BATCH_SIZE = 50

    # Who else has a case open (service/presence.py). The case page asks every 10 s while
    # its tab is visible: a colleague's arrival or change shows within seconds, before a
    # stale action would fail, at one small query per open tab every 10 s.
    PRESENCE_POLL_SECONDS = 10
    # A viewer counts as present this long after their page last asked: three polls, so one
    # late or lost poll on a busy network does not make them vanish and reappear.
    PRESENCE_WINDOW_SECONDS = 30
    # Rows of viewers silent this long are deleted whenever presence is written: long past
    # any window, so a row is never deleted while its page may still count it.
    PRESENCE_FORGET_SECONDS = 3600

    # Agent queue page size.
    QUEUE_PAGE_SIZE = 25
    # The case page: the agent's own open cases listed beside it (the counts cover them all),
    # and the requester's earlier cases; a glance, not a second queue.
    CASE_PAGE_WORKLOAD_SHOWN = 5
    CASE_PAGE_EARLIER_CASES = 10
    API_MAX_PAGE_SIZE = 100

    # Load demo accounts, agents and cases the first time `make run` starts.
    DEMO = True

    # Console sessions end after this long without a request, and this long after sign-in
    # whatever the activity (NIST SP 800-63B, AAL2: 30 minutes idle, 12 hours at most).
    # Staff here can hand an account to whoever holds the session, so a console left open
    # on an unattended desk must stop working soon; 12 hours covers a long shift.
    SESSION_IDLE_SECONDS = 30 * 60
    SESSION_MAX_SECONDS = 12 * 60 * 60
    # Staff sign-in: the second factor is asked for within this many seconds of the password.
    SIGN_IN_STEP_SECONDS = 5 * 60
    # Failed sign-ins back off, never lock out: after the free failures each one doubles the
    # wait from the first up to the longest; failures older than the forget time count no
    # more. Counted per account (per trusted browser, for a browser the agent signed in on
    # before) and per address.
    SIGN_IN_FREE_FAILURES = 5
    SIGN_IN_FREE_FAILURES_PER_ADDRESS = 20
    SIGN_IN_FIRST_WAIT_SECONDS = 15
    SIGN_IN_LONGEST_WAIT_SECONDS = 15 * 60
    SIGN_IN_FORGET_SECONDS = 24 * 60 * 60
    SIGN_IN_DEVICE_DAYS = 180
    # The name authenticator apps show beside the agent's address.
    TOTP_ISSUER = "Recovery Desk"
    # Staff API tokens expire: a token leaked in a script or a log stops working on its own.
    # 90 days is a quarter's rotation, short enough to bound a leak and long enough that an
    # integration's owner is not renewing it every week; nobody may choose more than the
    # maximum (a year), so every token meets a rotation at least yearly.
    API_TOKEN_TTL_DAYS = 90
    API_TOKEN_MAX_TTL_DAYS = 365
    # Secure cookies: unset means in production (served over HTTPS) and, elsewhere, whenever a
    # request came over HTTPS (headers/). False only for a production set-up reached over
    # plain HTTP on loopback (load tests).
    SESSION_COOKIE_SECURE: bool | None = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = None  # the CSRF token lives as long as the session

    # Languages of the public pages and the emails to requesters: the default first, then each
    # one with a complete catalogue under translations/ (i18n/).
    LANGUAGES = ("en", "es")
    BABEL_DEFAULT_LOCALE = "en"
    TRANSLATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "translations")


def from_environment() -> dict:
    """Settings read from unprefixed variables that hosting platforms set."""
    found = {}
    if os.environ.get("DATABASE_URL"):
        found["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(os.environ["DATABASE_URL"])
    if os.environ.get("REDIS_URL"):
        found["REDIS_URL"] = os.environ["REDIS_URL"]
        if "RECOVERY_VERIFICATION_EXECUTOR" not in os.environ:
            found["VERIFICATION_EXECUTOR"] = "rq"
    if os.environ.get("RECOVERY_DEMO") is not None:
        found["DEMO"] = os.environ["RECOVERY_DEMO"].strip().lower() not in ("0", "false", "no", "")
    return found
