"""The self-help guides shown before the request form: per issue type, the fixes that solve
most cases without a request (from the desk's troubleshooting seeds). One entry per issue
type; every text is translatable."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from .states import ISSUE_TYPES


@dataclass(frozen=True)
class Fix:
    """One thing to try, and why it helps."""

    title: str
    text: str


@dataclass(frozen=True)
class Guide:
    """What to try for one issue type before filing a request."""

    question: str
    fixes: tuple[Fix, ...]


# Tried by everyone whose sign-in fails on the app, whatever the cause.
_APP_BASICS = (
    Fix(_l("Update the app"),
        _l("An old app version can refuse codes and sign-ins: install the latest version "
           "from your app store, then try again.")),
    Fix(_l("Turn off your VPN or proxy"),
        _l("Sign-ins from a VPN's address can be blocked for your security. Turn it off and "
           "try again from your usual connection.")),
    Fix(_l("Clear the browser's cache"),
        _l("In a browser, clear the cache and cookies for our site (or use a private "
           "window) and sign in again.")),
)

GUIDES: dict[str, Guide] = {
    "forgot_password": Guide(_l("You forgot your password"), (
        Fix(_l("Reset it from the sign-in page"),
            _l("Choose \"Forgot password?\" on the sign-in page: we email a reset link to your "
               "account's address. Check your spam folder; the link works for a short "
               "time.")),
        Fix(_l("Check which email you used"),
            _l("Try the other addresses you might have signed up with; the reset email only "
               "goes to the address of the account.")),
        *_APP_BASICS,
    )),
    "lost_2fa": Guide(_l("Your two-factor codes are rejected, or the device is gone"), (
        Fix(_l("Set your phone's clock to automatic"),
            _l("Codes are tied to the time: if your phone's clock is a minute off, every code "
               "is refused. In the phone's settings, set date and time to automatic, then "
               "try a fresh code.")),
        Fix(_l("Use a backup code"),
            _l("If you saved backup codes when you turned two-factor on, one of them signs "
               "you in once; then set up your new device.")),
        Fix(_l("Restore the authenticator from its backup"),
            _l("Many authenticator apps restore your codes on a new phone from their cloud "
               "backup: sign in to the app with the same account.")),
        *_APP_BASICS,
    )),
    "account_locked": Guide(_l("Your account is locked after failed sign-ins"), (
        Fix(_l("Wait for the lock to lift"),
            _l("A lock after too many wrong passwords lifts by itself after a while (usually "
               "within an hour). Do not try again until then: every attempt starts the wait "
               "again.")),
        Fix(_l("Then reset your password"),
            _l("If you are not sure of the password, use \"Forgot password?\" once the lock "
               "has lifted instead of guessing.")),
        *_APP_BASICS,
    )),
    "new_device": Guide(_l("You have a new phone or device, or you are travelling"), (
        Fix(_l("Expect a confirmation"),
            _l("A sign-in from a new device or another country asks you to confirm it by "
               "email or on your old device: look for that message first.")),
        Fix(_l("Move your authenticator"),
            _l("If your old phone still works, move the authenticator to the new one with "
               "the app's transfer option before you reset the old phone.")),
        *_APP_BASICS,
    )),
    "suspicious_activity": Guide(_l("Your account was frozen for suspicious activity"), (
        Fix(_l("Check your email from us"),
            _l("We email the address of record when we freeze an account, with what to do. "
               "Follow only links to our own site.")),
        Fix(_l("Secure your email"),
            _l("Change the password of your email account too: whoever got into one often "
               "got into the other.")),
        *_APP_BASICS,
    )),
    "other": Guide(_l("Something else"), _APP_BASICS),
}

assert set(GUIDES) == set(ISSUE_TYPES), "every issue type needs a guide"
