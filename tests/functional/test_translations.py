"""Languages: no untranslated text on public pages, a complete Spanish catalogue, compiled.

Public templates are read with Jinja's own lexer: any text outside ``{{ _(...) }}`` and
``{% trans %}`` (and any visible attribute such as aria-label) that holds letters fails.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from i18n import texts
from verification.checks import REASONS
from verification.images import (
    AnimatedImage,
    DamagedImage,
    EmptyUpload,
    ImageRejected,
    ImageTooLarge,
    UnsupportedImage,
)
from workflow import service
from workflow.states import CONSENT_TEXTS, ISSUE_TYPES, RECOVERY_STEP_LABELS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
CATALOGUES = ROOT / "translations"
PUBLIC_TEMPLATES = sorted([TEMPLATES / "base.html", TEMPLATES / "_forms.html",
                           *(TEMPLATES / "public").glob("*.html"),
                           *(TEMPLATES / "errors").glob("*.html")])
# Being rewritten elsewhere with their texts wrapped; empty this set when they are merged.
PENDING: dict[str, str] = {}
# Text that is not words of a language: the brand name is not translated.
NOT_WORDS = ("Recovery Desk",)
# Attributes whose values people see or hear.
VISIBLE_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label", "aria-description",
                      "aria-roledescription", "label"}
EXPRESSION = "\x00"  # where a {{ ... }} stood
# Blocks that fill in an attribute of base.html (a class, the language code), not text.
ATTRIBUTE_BLOCKS = {"main_class", "lang"}


def _name(path: Path) -> str:
    return path.relative_to(TEMPLATES).as_posix()


def _outside_translation(env, source: str) -> str:
    """The template's text outside trans blocks, with each expression as EXPRESSION."""
    kept, depth, in_tag, tag_words, blocks = [], 0, False, [], []
    for _line, kind, value in env.lex(source):
        if kind == "block_begin":
            in_tag, tag_words = True, []
        elif kind == "block_end":
            in_tag = False
            if tag_words[:1] == ["trans"]:
                depth += 1
            elif tag_words[:1] == ["endtrans"]:
                depth -= 1
            elif tag_words[:1] == ["block"]:
                blocks.append(tag_words[1])
            elif tag_words[:1] == ["endblock"]:
                blocks.pop()
        elif in_tag and kind == "name":
            tag_words.append(value)
        elif blocks and blocks[-1] in ATTRIBUTE_BLOCKS:
            continue
        elif kind == "variable_begin" and not depth:
            kept.append(EXPRESSION)
        elif kind == "data" and not depth:
            kept.append(value)
    return "".join(kept)


class _Text(HTMLParser):
    """Collects the text and the visible attribute values of an HTML fragment."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in VISIBLE_ATTRIBUTES and value:
                self.found.append(value)
            if tag == "input" and name == "value" and value and \
                    dict(attrs).get("type") in {"submit", "button"}:
                self.found.append(value)

    def handle_data(self, data):
        self.found.append(data)


def words_outside_translation(env, source: str) -> list[str]:
    """Each piece of text of ``source`` with letters that no translation covers."""
    parser = _Text()
    parser.feed(_outside_translation(env, source))
    parser.close()
    found = []
    for piece in parser.found:
        rest = piece
        for allowed in NOT_WORDS:
            rest = rest.replace(allowed, "")
        if re.search(r"[^\W\d_]", rest.replace(EXPRESSION, "")):
            found.append(" ".join(piece.replace(EXPRESSION, "{{…}}").split()))
    return found


@pytest.mark.parametrize("path", PUBLIC_TEMPLATES, ids=_name)
def test_public_templates_have_no_untranslated_text(app, path):
    if _name(path) in PENDING:
        pytest.skip(PENDING[_name(path)])
    assert words_outside_translation(app.jinja_env, path.read_text()) == []


@pytest.mark.parametrize(("source", "found"), [
    ("<p>Hello there</p>", ["Hello there"]),
    ('<nav aria-label="Language"></nav>', ["Language"]),
    ('<input type="submit" value="Send">', ["Send"]),
    ("<p>{{ _('Hello') }} · #{{ n }}: 12</p>", []),
    ("<p>{% trans n=1 %}Request #{{ n }} filed{% endtrans %}</p>", []),
    ("<p>{% trans %}Kept{% endtrans %} but this is not</p>", ["but this is not"]),
    ("{% block title %}Recovery Desk{% endblock %}", []),
    ('<a href="{{ url }}" class="button">{{ label }}</a>', []),
    ("<h1>{% if x %}Not found{% endif %}</h1>", ["Not found"]),
    ("{% block main_class %}narrow{% endblock %}{% block content %}Hi{% endblock %}",
     ["Hi"]),
])
def test_the_template_check_finds_text_outside_translations(app, source, found):
    assert words_outside_translation(app.jinja_env, source) == found


def _spanish():
    with (CATALOGUES / "es" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale="es")


def _extracted() -> dict[str, list[str]]:
    """Every marked text of the code and the templates, as ``make translations`` finds it,
    with the files it is in."""
    method_map = [("**/tests/**", "ignore"), ("**/bench/**", "ignore"),
                  ("**/migrations/**", "ignore"), ("**.py", "python"),
                  ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None,
                "lazy_gettext": None}
    found: dict[str, list[str]] = {}

    def skip_hidden(path: str) -> bool:
        return not Path(path).name.startswith((".", "_")) or Path(path).name == "__init__.py"

    for filename, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, keywords=keywords, directory_filter=skip_hidden):
        msgid = message if isinstance(message, str) else message[0]
        found.setdefault(msgid, []).append(filename)
    return found


def test_every_marked_text_has_a_spanish_translation():
    spanish = _spanish()
    missing = [msgid for msgid, files in _extracted().items()
               if not all(f.removeprefix("templates/") in PENDING for f in files)
               and (msgid not in spanish or not all(_forms(spanish[msgid].string)))]
    assert missing == [], "run `make translations` and translate these in the Spanish .po"


PLACEHOLDER = r"%\(\w+\)[sd]|\{\w+\}"


def _forms(text) -> tuple[str, ...]:
    """A catalogue text's forms: one, or each plural form of an ngettext entry."""
    return (text,) if isinstance(text, str) else tuple(text)


def test_the_spanish_catalogue_is_complete_and_settled():
    spanish = _spanish()
    entries = [m for m in spanish if m.id]
    assert len(entries) > 100
    assert [m.id for m in entries if not all(_forms(m.string))] == []
    assert [m.id for m in entries if m.fuzzy] == []
    # Placeholders survive translation (a missing one would raise when formatted); each
    # plural form keeps those of the English plural.
    for message in entries:
        expected = sorted(re.findall(PLACEHOLDER, _forms(message.id)[-1]))
        for form in _forms(message.string):
            assert sorted(re.findall(PLACEHOLDER, form)) == expected, message.id


def test_the_compiled_catalogue_matches_its_source():
    with (CATALOGUES / "es" / "LC_MESSAGES" / "messages.mo").open("rb") as mo:
        compiled = {_forms(m.id): _forms(m.string) for m in read_mo(mo) if m.id}
    source = {_forms(m.id): _forms(m.string) for m in _spanish() if m.id and not m.fuzzy}
    assert compiled == source, "run `make translations` (it compiles the .mo files)"


def test_the_texts_of_other_layers_are_marked():
    """The registries' English texts are the msgids the pages and emails translate."""
    marked = {str(text) for group in (texts.ISSUE_TYPE_TEXTS, texts.STEP_TEXTS,
                                      texts.SERVICE_TEXTS, texts.IMAGE_TEXTS,
                                      texts.GATE_REASON_TEXTS) for text in group}
    assert set(ISSUE_TYPES.values()) <= marked
    assert set(RECOVERY_STEP_LABELS.values()) <= marked
    assert set(CONSENT_TEXTS.values()) <= {str(text) for text in texts.CONSENT_TEXTS}
    assert {REASONS[code].user_text for code in texts.GATE_REASON_CODES} <= marked
    # Every reason's user text: the automated checks write them to the requester.
    assert {reason.user_text for reason in REASONS.values()} <= marked | {
        str(text) for text in texts.REASON_TEXTS}
    assert {kind.message for kind in (ImageRejected, UnsupportedImage, AnimatedImage,
                                      ImageTooLarge, DamagedImage, EmptyUpload)} <= marked
    assert {str(service.ResetLinkInvalid()), str(service.OwnerLinkInvalid())} <= marked
    # Every reason the upload gate refuses a photo with (document and selfie image checks).
    gate = {code for code in REASONS
            if code.startswith(("document_", "selfie_")) and code not in {
                "document_expired", "document_type_not_accepted",
                "document_expiry_unreadable", "document_used_by_other_account"}}
    assert gate == set(texts.GATE_REASON_CODES)


# Pages in Spanish -----------------------------------------------------------------------

# Text that is the same in every language: the switcher's own names and the brand.
SAME_IN_EVERY_LANGUAGE = {"English", "Español", "Recovery Desk"}


def _sentences(html: str) -> set[str]:
    """The texts of a page with at least two words (what a reader would call a sentence)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    pieces = [" ".join(piece.split()) for piece in parser.found]
    for same in SAME_IN_EVERY_LANGUAGE:
        pieces = [piece.replace(same, "").strip() for piece in pieces]
    return {piece for piece in pieces
            if len(piece.split()) >= 2 and len(re.findall(r"[^\W\d_]{2,}", piece)) >= 2}


@pytest.fixture
def public_pages(app, client, make_account, make_case, make_agent):
    """Each public page as (name, path, status), with what it needs: the status page in each
    of its kinds of step."""
    import jobs.recovery
    from tests.recovery import approve, reset_emails, token_in

    lead, _ = make_agent("security_lead")
    make_account(two_factor_enabled=True)
    case, approved = make_case("selfie_check", issue_type="forgot_password")
    approve(case, lead)
    jobs.recovery.sweep_actions(app)
    (email,) = reset_emails(case.id)
    with app.test_request_context():
        owner_token = service.owner_link_token(service.get_case(case.id))
    # An approval whose changes wait out the hold: the page lists them.
    app.config["RECOVERY_HOLD"] = {"forgot_password": "24h"}
    held_case, held = make_case("selfie_check", issue_type="forgot_password")
    approve(held_case, lead)
    with client.session_transaction() as session:
        session["filed_request"] = {"case_id": case.id, "token": "t" * 43}
    # The agent's words are the agent's own: one word each, so no sentence of theirs counts.
    _, received = make_case("submitted")
    checking, in_check = make_case("id_check")
    asked, waiting = make_case("id_check")
    service.fire_event(asked.id, "request_info", agent=lead,
                       expected_version=asked.version, reason="Phone?")
    declined, refused = make_case("id_check")
    service.fire_event(declined.id, "decline", agent=lead,
                       expected_version=declined.version, reason="No.")
    _, withdrawn = make_case("submitted")
    service.user_withdraw(withdrawn)
    # New photos asked for by the automated checks, in the words of their reasons.
    retake, photos_asked = make_case("id_check")
    service.fire_event(retake.id, "request_resubmission", agent=None,
                       expected_version=retake.version, reason=" ".join(
                           REASONS[code].user_text for code in ("mrz_not_found",
                                                                "document_expired")))
    return [
        ("help.html", "/", 200),
        ("help_guide.html", "/help/lost_2fa", 200),
        ("help_solved.html", "/help/solved", 200),
        ("recover.html", "/recover?issue_type=lost_2fa", 200),
        ("submitted.html", "/recover/submitted", 200),
        ("status.html received", f"/status/{received}", 200),
        ("status.html checking", f"/status/{in_check}", 200),
        ("status.html waiting for you", f"/status/{waiting}", 200),
        ("status.html approved", f"/status/{approved}", 200),
        ("status.html declined", f"/status/{refused}", 200),
        ("status.html withdrawn", f"/status/{withdrawn}", 200),
        ("status.html new photos asked", f"/status/{photos_asked}", 200),
        ("status.html approved, on hold", f"/status/{held}", 200),
        ("withdraw_confirm.html", f"/status/{in_check}/withdraw", 200),
        ("tracking_link.html", "/tracking-link", 200),
        ("tracking_link_sent.html", "/tracking-link/sent", 200),
        ("reset.html", f"/reset/{token_in(email.body)}", 200),
        ("reset_done.html", "/reset/done", 200),
        ("link_invalid.html", "/reset/" + "x" * 43, 404),
        ("not_me.html", f"/not-me/{owner_token}", 200),
        ("errors/error.html", "/no/such/page", 404),
    ]


def assert_no_english_sentence(name, english, spanish, status):
    """The same page in English and in Spanish: no English sentence is left in the Spanish."""
    assert (english.status_code, spanish.status_code) == (status, status), name
    english_html, spanish_html = english.get_data(as_text=True), spanish.get_data(as_text=True)
    assert '<html lang="en">' in english_html and '<html lang="es">' in spanish_html, name
    sentences = _sentences(english_html)
    assert len(sentences) >= 2, name
    left = sorted(s for s in sentences if s in _sentences(spanish_html))
    assert left == [], name


def test_public_pages_in_spanish_have_no_english_sentence(client, public_pages):
    for name, path, status in public_pages:
        assert_no_english_sentence(
            name, client.get(path, headers={"Accept-Language": "en"}),
            client.get(path, headers={"Accept-Language": "es-ES,es;q=0.9"}), status)


def test_public_pages_with_a_public_template_each(public_pages):
    """Every public page template is among the pages rendered in Spanish (partials are
    rendered by their pages)."""
    rendered = {name.split()[0] for name, _path, _status in public_pages}
    pages = {_name(path).removeprefix("public/") for path in PUBLIC_TEMPLATES
             if not path.name.startswith("_") and path.name != "base.html"}
    assert pages <= rendered


def test_forms_sent_back_with_errors_are_in_spanish(app, client, make_case):
    """The request form with errors and kept photos, and the other public forms refused."""
    from tests.functional.test_public_pages import form_data

    _, token = make_case("id_check")

    def both(path, data):
        return [client.post(path, data=data(), content_type="multipart/form-data",
                            headers={"Accept-Language": language})
                for language in ("en", "es")]

    english, spanish = both("/recover", lambda: form_data(email="bad", description="Lost."))
    assert "Photo kept: id.jpg" in english.get_data(as_text=True)
    assert "Foto guardada: id.jpg" in spanish.get_data(as_text=True)
    # The date fields' hint inside the box too.
    assert 'placeholder="AAAA-MM-DD"' in spanish.get_data(as_text=True)
    assert 'placeholder="YYYY-MM-DD"' not in spanish.get_data(as_text=True)
    assert_no_english_sentence("recover.html with errors", english, spanish, 400)
    for name, path in [("tracking_link.html", "/tracking-link"),
                       ("withdraw_confirm.html", f"/status/{token}/withdraw"),
                       ("help_guide.html", "/help/lost_2fa")]:
        assert_no_english_sentence(name, *both(path, dict), 400)


def test_dates_on_public_pages_are_written_for_the_language(client, public_pages):
    [path] = [p for name, p, _ in public_pages if name == "reset.html"]
    assert re.search(r"caduca el \d{1,2} de \w+ de \d{4}, \d{1,2}:\d{2} UTC",
                     client.get(path + "?lang=es").get_data(as_text=True))
    assert re.search(r"expires on \w+ \d{1,2}, \d{4}, \d{1,2}:\d{2}\W(AM|PM) UTC",
                     client.get(path + "?lang=en").get_data(as_text=True))


def test_the_switcher_keeps_the_page_and_remembers_the_choice(client):
    page = client.get("/reset/done?x=1&lang=es")
    html = page.get_data(as_text=True)
    assert '<html lang="es">' in html and "Su contraseña nueva ya está guardada" in html
    nav = re.search(r'<nav class="languages" aria-label="Idioma">.*?</nav>', html, re.S).group(0)
    links = re.findall(r'<a href="([^"]+)" lang="(\w+)" hreflang="\w+"([^>]*)>([^<]+)</a>', nav)
    assert [(href.replace("&amp;", "&"), code, current.strip(), name)
            for href, code, current, name in links] == [
        ("/reset/done?x=1&lang=en", "en", "", "English"),
        ("/reset/done?x=1&lang=es", "es", 'aria-current="true"', "Español")]
    assert "desk_lang=es" in page.headers["Set-Cookie"]
    # The next page, without asking, is in Spanish; English again when asked.
    assert '<html lang="es">' in client.get("/reset/done").get_data(as_text=True)
    assert '<html lang="en">' in client.get("/reset/done?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in client.get("/reset/done").get_data(as_text=True)


def test_an_unknown_language_falls_back_to_the_default(client):
    html = client.get("/reset/done?lang=xx", headers={"Accept-Language": "fr"}).get_data(
        as_text=True)
    assert '<html lang="en">' in html and "Your new password is set" in html


def test_console_pages_stay_english(client):
    client.get("/reset/done?lang=es")
    html = client.get("/agent/login").get_data(as_text=True)
    assert '<html lang="en">' in html and 'class="languages"' not in html


def test_form_errors_and_flash_messages_are_in_spanish(client, public_pages):
    [path] = [p for name, p, _ in public_pages if name == "reset.html"]
    page = client.post(path + "?lang=es", data={"password": "corta", "confirm": "otra"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "Elija una contraseña de al menos 12 caracteres." in html
    assert "Las dos contraseñas no coinciden." in html
    assert "Contraseña nueva" in html  # the field's label


def test_the_pre_send_photo_check_answers_in_spanish(app, client):
    """The JSON answers the form's script shows, in the page's language."""
    import io

    from tests.conftest import image_bytes
    from tests.functional.test_request_form import blurred_id

    def check(photo=None):
        data = {"kind": "id_document", "upload_token": "A" * 43}
        if photo is not None:
            data["photo"] = (io.BytesIO(photo[0]), photo[1])
        return client.post("/recover/check-photo?lang=es", data=data,
                           content_type="multipart/form-data").get_json()["message"]

    assert check((image_bytes(), "id.jpg")) == (
        "La foto de su documento se ve lo bastante nítida para leerla. Queda guardada con "
        "este formulario.")
    assert check() == "Elija una foto y vuelva a intentarlo."
    assert check((b"GIF89a" + b"\0" * 64, "x.gif")).startswith(
        "Este archivo no es una foto JPEG, PNG ni WebP.")
    app.config["QUALITY_GATE"] = True
    assert check((blurred_id(), "blurry.jpg")).startswith(
        "La foto de su documento está borrosa")


def test_a_refused_screenshot_on_a_reply_is_refused_in_spanish(client, make_case):
    import io

    _, token = make_case("awaiting_user")
    response = client.post(f"/status/{token}/reply?lang=es", content_type="multipart/form-data",
                           data={"body": "Vea la imagen.", "screenshots": [
                               (io.BytesIO(b"\x89PNG\r\n\x1a\nbroken"), "a.png")]})
    assert 400 <= response.status_code < 500
    html = response.get_data(as_text=True)
    errors = re.search(r'id="screenshots-errors"[^>]*>(.*?)</', html, re.S).group(1)
    assert "photo" not in errors and "foto" in errors, errors
