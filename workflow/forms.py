"""Forms: one definition of each input, shared by the pages and the API."""

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from werkzeug.datastructures import FileStorage
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    EqualTo,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget, TextInput

from verification.activity import ActivityAnswers

from . import service
from .states import (
    CONSENT_TEXTS,
    CONSENT_VERSION,
    EVIDENCE_KINDS,
    ISSUE_TYPES,
    SCREENSHOT_FIELD,
    TRIED_FIXES,
)

# Deliberately loose: the address only has to be deliverable-looking; whether it belongs to
# an account is never revealed to the submitter.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
# C0 controls other than tab, newline and carriage return (PostgreSQL refuses NUL in text).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PHOTO_HELP = _l("JPEG, PNG or WebP, up to 15 MB.")


# The one way a date is typed on the public pages: the hint, the error and the input agree.
DATE_FORMAT_HINT = _l("Year, month, day: YYYY-MM-DD, for example 1990-04-21.")
DATE_FORMAT_ERROR = _l("Please enter the date as YYYY-MM-DD, for example 1990-04-21.")


class IsoDateField(DateField):
    """A YYYY-MM-DD date whose parse error tells the person the expected format.

    Shown as a text input with the format as its hint (a browser's date picker shows the
    date in the format of its locale, which then disagrees with the hint and the error).
    """

    widget = TextInput()

    def __init__(self, label=None, validators=None, format="%Y-%m-%d", **kwargs):
        kwargs.setdefault("description", DATE_FORMAT_HINT)
        render_kw = {"inputmode": "numeric", "placeholder": _l("YYYY-MM-DD"), "maxlength": 10,
                     **(kwargs.pop("render_kw", None) or {})}
        super().__init__(label, validators, format, render_kw=render_kw, **kwargs)

    def _value(self):
        # Typed text comes back as typed when it did not parse.
        if self.raw_data:
            return " ".join(self.raw_data)
        return self.data.isoformat() if self.data else ""

    def process_formdata(self, valuelist):
        if valuelist:
            valuelist = [value.strip() for value in valuelist]
        try:
            super().process_formdata(valuelist)
        except ValueError as err:
            raise ValueError(DATE_FORMAT_ERROR) from err


def _lower(value):
    return value.strip().lower() if isinstance(value, str) else value


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class Form(FlaskForm):
    """Base form: text with control characters (NUL and the like) is refused with a message."""

    def validate(self, extra_validators=None) -> bool:
        # A file posted under a text field's name would reach text validators as an object.
        files_as_text = [f for f in self
                         if isinstance(f.data, FileStorage) and not isinstance(f, FileField)]
        for field in files_as_text:
            field.data = None
        valid = super().validate(extra_validators)
        for field in files_as_text:
            field.errors = [_("Send this as text, not as a file.")]
            valid = False
        for field in self:
            if isinstance(field.data, str) and CONTROL_CHARACTERS.search(field.data):
                field.errors = [*field.errors, _("This contains characters that are not allowed.")]
                valid = False
        return valid


def _plausible_birth_date(form, field) -> None:
    if field.data is None:
        return
    if field.data > date.today():
        raise ValidationError(_("The date of birth cannot be in the future."))
    if field.data.year < 1900:
        raise ValidationError(_("Please check the year of your date of birth."))


# An amount as people type it: digits, an optional decimal point (or comma) and decimals.
AMOUNT_PATTERN = re.compile(r"^\s*\d{1,15}(?:[.,]\d{1,18})?\s*$")
# The first deposit anyone made in bitcoin was in 2009: an earlier date is a typo.
EARLIEST_ACTIVITY = date(2009, 1, 3)


class AmountField(StringField):
    """A non-negative decimal amount, as text (never a float: 0.1 stays 0.1); empty is None."""

    amount: Decimal | None = None

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.amount = None
        text = (self.data or "").strip()
        if not text:
            return
        if not AMOUNT_PATTERN.match(text):
            raise ValueError(_("Please enter an amount such as 250 or 0.015."))
        try:
            self.amount = Decimal(text.replace(",", "."))
        except InvalidOperation as err:  # the pattern leaves nothing Decimal refuses
            raise ValueError(_("Please enter an amount such as 250 or 0.015.")) from err


def _plausible_activity_date(form, field) -> None:
    if field.data is None:
        return
    # A day ahead: the person's calendar may already be on tomorrow.
    if field.data > date.today() + timedelta(days=1):
        raise ValidationError(_("The date of the deposit cannot be in the future."))
    if field.data < EARLIEST_ACTIVITY:
        raise ValidationError(_("Please check the year of the deposit."))


def _supported_language(form, field) -> None:
    languages = current_app.config["LANGUAGES"]
    if field.data not in languages:
        raise ValidationError(_("Choose one of these languages: %(languages)s.",
                                languages=", ".join(languages)))


class PhotoRequired(FileRequired):
    """A photo must be sent, unless one passed the intake earlier and is kept for the form
    (the view sets ``form.kept``, the kinds kept)."""

    def __call__(self, form, field):
        if field.name in getattr(form, "kept", ()):
            field.errors[:] = []
            return
        super().__call__(form, field)


# A form token: 32 random bytes, URL-safe base64 (secrets.token_urlsafe(32)).
UPLOAD_TOKEN_PATTERN = r"^[A-Za-z0-9_\-]{43}$"


# The fixes people can tick under "what did you already try" (keys of states.TRIED_FIXES).
TRIED_FIX_LABELS = {
    "password_reset_email": _l("Asked for a password reset email"),
    "checked_spam": _l("Looked for the email in the spam or junk folder"),
    "clock_automatic": _l("Set the phone's date and time to automatic"),
    "backup_codes": _l("Tried my backup or recovery codes"),
    "waited_for_lock": _l("Waited for the lock to lift and tried again"),
    "updated_app": _l("Updated the app to the latest version"),
    "cleared_cache": _l("Cleared the browser's cache and cookies"),
    "vpn_off": _l("Turned off a VPN or proxy"),
    "other_device": _l("Tried another device or browser"),
}
SCREENSHOT_HELP = _l("Up to 3 pictures of the error message, JPEG, PNG or WebP.")


def _began_plausibly(form, field) -> None:
    if field.data is None:
        return
    # A day ahead: the person's calendar may already be on tomorrow.
    if field.data > date.today() + timedelta(days=1):
        raise ValidationError(_("This date is in the future. When did the problem begin?"))
    if field.data.year < 2000:
        raise ValidationError(_("Please check the year."))


def _time_with_a_date(form, field) -> None:
    if field.data is not None and not form.began_on.data and not form.began_on.errors:
        raise ValidationError(_("Please give the date as well as the time."))


class TimeOfDayField(TimeField):
    """An optional HH:MM time of day whose parse error says the expected format."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as err:
            raise ValueError(_("Please enter the time as HH:MM, for example 14:30.")) from err


def _screenshot_count(form, field) -> None:
    most = current_app.config["MAX_SCREENSHOTS"]
    if len(form.screenshot_files()) > most:
        raise ValidationError(_("Attach at most %(most)d screenshots.", most=most))


class ScreenshotFields:
    """Error screenshots (a mixin): up to MAX_SCREENSHOTS images through the photos' intake."""

    screenshots = MultipleFileField(_l("Screenshots of the error (optional)"),
                                    description=SCREENSHOT_HELP, validators=[_screenshot_count])

    def screenshot_files(self) -> tuple[bytes, ...]:
        """The bytes of each screenshot sent (empty file parts left out), read once."""
        if getattr(self, "_screenshot_bytes", None) is None:
            field = getattr(self, SCREENSHOT_FIELD)
            self._screenshot_bytes = tuple(
                storage.read() for storage in (field.data or [])
                if isinstance(storage, FileStorage) and storage.filename)
        return self._screenshot_bytes


class SupportDetailsFields(ScreenshotFields):
    """What support needs to know (a mixin of RecoveryForm): device and app version, when the
    problem began, what was already tried, error screenshots. All optional."""

    device = StringField(_l("Your phone or computer"),
                         description=_l("For example iPhone 13, iOS 17.4."),
                         filters=[_strip], validators=[Optional(), Length(max=200)])
    app_version = StringField(_l("App or browser version"),
                              description=_l("For example app 5.2.1, or Chrome 120."),
                              filters=[_strip], validators=[Optional(), Length(max=100)])
    began_on = IsoDateField(_l("When did it begin? Date (YYYY-MM-DD)"), format="%Y-%m-%d",
                            validators=[Optional(), _began_plausibly])
    began_time = TimeOfDayField(_l("Time, if you know it (HH:MM)"), format="%H:%M",
                                validators=[Optional(), _time_with_a_date])
    tried_fixes = SelectMultipleField(
        _l("What have you already tried?"),
        choices=[SelectChoice(value=key, label=TRIED_FIX_LABELS[key],
                              render_kw={"data-issue-types": " ".join(types)})
                 for key, types in TRIED_FIXES.items()],
        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
        validators=[Optional()])
    tried_other = TextAreaField(_l("Anything else you tried"), filters=[_strip],
                                validators=[Optional(), Length(max=2000)])

    def support_details(self) -> service.SupportDetails | None:
        """The details given; None when none was."""
        details = service.SupportDetails(
            device=self.device.data or None, app_version=self.app_version.data or None,
            began_on=self.began_on.data, began_time=self.began_time.data,
            tried_fixes=tuple(self.tried_fixes.data or ()),
            tried_other=self.tried_other.data or None)
        return details if details.given() else None


class RecoveryForm(SupportDetailsFields, Form):
    """The recovery request (page and API).

    Fields of further sections are added by mixins (a class mixing in more fields); the
    template lays out each section apart, so a new section is one mixin and one partial.
    """

    email = EmailField(_l("Email address of the account"), filters=[_lower], validators=[
        DataRequired(_l("Please enter the email address of your account.")),
        Length(max=254), Regexp(EMAIL_PATTERN, message=_l("Please enter a valid email address."))])
    full_name = StringField(_l("Full name as on your ID"), validators=[
        DataRequired(_l("Please enter your full name.")), Length(max=200)])
    date_of_birth = IsoDateField(_l("Date of birth"), validators=[
        InputRequired(DATE_FORMAT_ERROR), _plausible_birth_date])
    # The labels are translated when shown (their msgids are marked in i18n/texts.py).
    issue_type = SelectField(_l("What happened?"), choices=[
        SelectChoice(value=key, label=_l(label)) for key, label in ISSUE_TYPES.items()],
        validators=[DataRequired(_l("Please choose what happened."))])
    description = TextAreaField(_l("Anything else we should know?"), validators=[
        Optional(), Length(max=4000)])
    id_document = FileField(_l("Photo of your ID (front)"), description=PHOTO_HELP,
                            validators=[PhotoRequired(_l("Please attach a photo of your ID."))])
    id_document_back = FileField(_l("Photo of your ID (back, if it has one)"),
                                 description=PHOTO_HELP)
    selfie = FileField(_l("A selfie"), description=PHOTO_HELP,
                       validators=[PhotoRequired(_l("Please attach a selfie."))])
    # Shown in the page's language; the case records the version (its English text is the
    # one its digest is of, i18n/texts.py marks it).
    consent = BooleanField(
        _l(CONSENT_TEXTS[CONSENT_VERSION]),
        validators=[DataRequired(_l("We cannot check your identity without your consent."))])
    # The signed token of the challenge code shown on the form (see service.issue_challenge).
    challenge_token = HiddenField(validators=[Optional(), Length(max=1000)])
    # The form's random token: the photos that passed the intake are kept against it (and
    # the browser session) when the form comes back, see service.kept_uploads.
    upload_token = HiddenField(validators=[Optional(), Regexp(UPLOAD_TOKEN_PATTERN)])
    # Optional questions about recent activity only the account's owner knows.
    last_deposit_amount = AmountField(
        _l("Your last deposit: amount"), description=_l("Roughly is fine, e.g. 250 or 0.015."),
        validators=[Optional(), Length(max=40)])
    last_deposit_date = IsoDateField(_l("Your last deposit: date"), validators=[
        Optional(), _plausible_activity_date])
    # The API's optional language of the requester's emails (the page uses its own language).
    language = StringField(validators=[Optional(), _supported_language])
    last_asset_bought = StringField(
        _l("The last asset you bought"), description=_l("For example BTC, ETH or Bitcoin."),
        validators=[Optional(), Length(max=40)])

    def activity_answers(self) -> ActivityAnswers | None:
        """The answers about recent activity; None when none was given."""
        answers = ActivityAnswers(
            deposit_amount=self.last_deposit_amount.amount,
            deposit_date=self.last_deposit_date.data,
            asset_bought=(self.last_asset_bought.data or "").strip() or None)
        return answers if answers.given() else None


class LoginForm(Form):
    """Agent sign-in."""

    email = EmailField("Email", filters=[_lower], validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class SecondFactorForm(Form):
    """The second sign-in step: a code from the authenticator app, or a recovery code."""

    code = StringField("Code", filters=[_strip],
                       validators=[DataRequired(message="Enter the code."), Length(max=64)])


class EventForm(Form):
    """One click on a case action; carries the version the agent saw."""

    event = HiddenField(validators=[DataRequired()])
    version = IntegerField(validators=[InputRequired()])
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=4000)])
    # Ticked in the confirmation step: the agent overrides the rejected results shown.
    override = BooleanField("I override these rejected results")


class ProposalForm(Form):
    """A staff member proposes approving a case that needs four eyes."""

    version = IntegerField(validators=[InputRequired()])
    reason = TextAreaField("Why it should be approved", validators=[
        DataRequired("Write why the case should be approved."), Length(max=4000)])


class VersionForm(Form):
    """A one-click action that only carries the version the agent saw."""

    version = IntegerField(validators=[InputRequired()])


class TakeOverForm(VersionForm):
    """A lead takes a case from the agent holding it: ticking the box is the confirmation."""

    confirm = BooleanField(validators=[DataRequired("Tick the box to confirm the take-over.")])


class NotMeForm(Form):
    """The account holder says the request is not theirs."""

    note = TextAreaField("How did the account holder tell us?", validators=[
        DataRequired("Say who reported it and how."), Length(max=4000)])


class ActionForm(Form):
    """A one-click action without fields (the CSRF token only)."""


def _token_lifetime(form, field) -> None:
    most = service.token_lifetimes(current_app.config).max_days
    if field.data is None or not 1 <= field.data <= most:
        raise ValidationError(f"Choose between 1 and {most} days.")


class TokenForm(Form):
    """A new API token: what it is for, and when it expires."""

    name = StringField("Name", description="What the token is for, e.g. the integration that "
                       "uses it.", validators=[
                           DataRequired("Give the token a name."),
                           Length(max=service.NAME_MAX_LENGTH),
                           Regexp(r"^[^\r\n]*$", message="Keep the name on one line.")])
    days = IntegerField("Expires in (days)", validators=[
        InputRequired("Say in how many days the token expires."), _token_lifetime])


class AssignForm(Form):
    """Claim, assign or release."""

    version = IntegerField(validators=[InputRequired()])
    assignee_id = SelectField("Assign to", coerce=lambda v: int(v) if v else None,
                              validate_choice=False)


class MessageForm(Form):
    """A message to the user or an internal note."""

    # The case page's reply box: canned replies (static/macros.js) are inserted into it.
    body = TextAreaField("Message", validators=[DataRequired("The message is empty."),
                                                Length(max=4000)], id="reply-body")
    internal = BooleanField("Internal note (not shown to the user)")


class ReplyForm(ScreenshotFields, Form):
    """The user's reply on the status page, perhaps with error screenshots."""

    body = TextAreaField(_l("Your message"), validators=[
        DataRequired(_l("Your message is empty.")), Length(max=4000)])


class ResubmitForm(Form):
    """New photos from the user."""

    id_document = FileField(_l("New photo of your ID (front)"), description=PHOTO_HELP,
                            validators=[FileRequired(_l("Please attach a photo of your ID."))])
    id_document_back = FileField(_l("Back of your ID (if it has one)"), description=PHOTO_HELP)
    selfie = FileField(_l("New selfie"), description=PHOTO_HELP,
                       validators=[FileRequired(_l("Please attach a selfie."))])


class PhotoCheckForm(Form):
    """One photo of the request form, sent for the pre-send check."""

    kind = SelectField(choices=list(EVIDENCE_KINDS), validators=[DataRequired()])
    photo = FileField(validators=[FileRequired()])
    upload_token = HiddenField(validators=[DataRequired(), Regexp(UPLOAD_TOKEN_PATTERN)])
    # The issue type chosen so far: a challenge selfie may show the held ID too.
    issue_type = HiddenField(validators=[Optional(), Length(max=40)])


class WithdrawForm(Form):
    """Withdraw the request."""

    confirm = HiddenField(default="yes")


class OwnerStopForm(Form):
    """The owner of record confirms that a request is not theirs."""

    confirm = HiddenField(default="yes")


def uploaded_files(form) -> dict[str, bytes | None]:
    """The bytes of each photo field of ``form``; None for a field left empty."""
    files = {}
    for name in EVIDENCE_KINDS:
        field = getattr(form, name, None)
        storage = field.data if field is not None else None
        files[name] = storage.read() if storage and getattr(storage, "filename", None) else None
    return files


def submission_from(form: RecoveryForm, client_ip: str | None,
                    language: str) -> service.Submission:
    """The service's view of a validated RecoveryForm; ``language`` unless the form names one."""
    return service.Submission(
        email=form.email.data, full_name=form.full_name.data,
        date_of_birth=form.date_of_birth.data, issue_type=form.issue_type.data,
        description=form.description.data or "", consent=bool(form.consent.data),
        client_ip=client_ip, challenge_token=form.challenge_token.data or None,
        activity=form.activity_answers(), language=form.language.data or language,
        support=form.support_details(), screenshots=form.screenshot_files(),
    )


class ResetPasswordForm(Form):
    """A new password, typed twice, on the page a reset link opens."""

    password = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Choose a new password.")),
        Length(min=service.PASSWORD_MIN_LENGTH, max=1024,
               message=_l("Choose a password of at least %(count)s characters.",
                          count=service.PASSWORD_MIN_LENGTH))])
    confirm = PasswordField(_l("The same password again"), validators=[
        DataRequired(_l("Type the password a second time.")),
        EqualTo("password", _l("The two passwords are not the same."))])


class SaveViewForm(Form):
    """Save the queue's current search and filters under a name (console)."""

    name = StringField("Name of the view", validators=[
        DataRequired("Give the view a name."),
        Length(max=service.console.VIEW_NAME_MAX,
               message=f"A view's name can be at most {service.console.VIEW_NAME_MAX} "
                       "characters long.")])
    query = HiddenField()
    shared = BooleanField("Share with the team")


class BulkForm(Form):
    """An action for the cases selected on the queue (console)."""

    action = SelectField(choices=[SelectChoice(value="assign", label="Assign"),
                                  SelectChoice(value="duplicate", label="Close as duplicate")])
    assignee = StringField("Assign to", validators=[Optional(), Length(max=12)])
    original = StringField("Duplicate of case #", validators=[Optional(), Length(max=12)])
    note = StringField("Note (optional)", validators=[Optional(), Length(max=500)])


class TrackingLinkForm(Form):
    """"Email me my tracking link": the email address the request was filed with."""

    email = EmailField(_l("Email address"), filters=[_lower], validators=[
        DataRequired(_l("Please enter the email address you filed your request with.")),
        Length(max=254), Regexp(EMAIL_PATTERN, message=_l("Please enter a valid email address."))])


class SelfHelpForm(Form):
    """A self-help guide's answer: the button pressed names the outcome (CSRF only here)."""
