"""Document checks one by one: portrait, MRZ verdicts, validity, data comparison, signals."""

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from PIL import Image

from verification import documents
from verification.checks import REASONS, Result
from verification.degrade import on_background
from verification.documents import (
    DocumentPolicy,
    PersonFacts,
    compromised_check,
    data_checks,
    integrity_checks,
    mrz_checks,
    name_score,
    validity_checks,
)
from verification.mrz import CHOSEN_BY_CODE_LIST, parse_mrz
from verification.ocr import MrzReading
from verification.specimen import SpecimenPerson, passport_mrz, render_id_card, render_passport

FACES = Path(__file__).parent.parent / "fixtures" / "faces"
TODAY = date(2026, 11, 22)
ANNA = SpecimenPerson(expiry_date=date(2030, 4, 15))


def _mrz(person: SpecimenPerson = ANNA):
    return parse_mrz(passport_mrz(person), today=TODAY)


def _reading(result=None, error=None) -> MrzReading:
    lines = result.raw_lines if result else ()
    return MrzReading(lines=lines, result=result, confidence=0.97 if result else None,
                      engine="rapidocr-onnxruntime", engine_version="1.4.4", elapsed_ms=1.0,
                      error=error)


@pytest.mark.parametrize("surname,given,full_name,low,high", [
    ("ERIKSSON", "ANNA MARIA", "Anna Eriksson", 100, 100),         # middle name omitted
    ("ERIKSSON", "ANNA MARIA", "ERIKSSON Anna Maria", 100, 100),   # order
    ("LOPEZ GARCIA", "MARIA JOSE", "María José López García", 100, 100),  # diacritics
    ("MUELLER", "JUERGEN", "Jürgen Müller", 100, 100),             # ICAO Ü -> UE
    ("MULLER", "JURGEN", "Jürgen Müller", 100, 100),               # ICAO Ü -> U
    ("IVANOVA", "OLGA", "Ольга Иванова", 100, 100),                # transliteration
    ("ONEIL", "SEAN", "Seán O'Neil", 100, 100),                    # apostrophe
    ("DE LA CRUZ", "JUAN", "Juan de la Cruz", 100, 100),
    ("WANG", "XIAO MING", "王小明", 100, 100),                      # no spaces to split on
    ("WANG", "XIAO MING", "", 0, 0),
    ("ERIKSSON", "ANNA MARIA", "Anna Erikson", 90, 99.9),          # one letter short: clear
    ("BERG", "JONAS", "Jonas Bern", 75, 89.9),                     # short name typo: consider
    ("ERIKSSON", "ANNA MARIA", "Anna", 0, 74.9),                   # surname missing
    ("BERG", "JONAS", "Jonas Berg Smith", 0, 74.9),                # an extra surname
    ("SMITH", "JOHN", "Anna Eriksson", 0, 40),                     # someone else
    ("ERIKSSON", "JOHN", "Anna Eriksson", 0, 74.9),                # same family, other person
])
def test_name_score(surname, given, full_name, low, high):
    assert low <= name_score(surname, given, full_name) <= high


def test_a_truncated_mrz_name_matches_the_full_name():
    # TD1 names are cut at 30 characters: the last word may be only a prefix.
    assert name_score("WOLFESCHLEGELSTEIN", "HUBERTUS BLA", "Hubertus Blaine Wolfeschlegelstein",
                      truncated=True) == 100
    assert name_score("WOLFESCHLEGELSTEIN", "HUBERTUS BLA", "Hubertus Blaine Wolfeschlegelstein",
                      truncated=False) < 90


def test_mrz_read_and_check_digits_clear():
    found = {c.check: c for c in mrz_checks(_reading(_mrz()))}
    assert found["document.mrz.read"].result is Result.CLEAR
    assert found["document.mrz.check_digits"].result is Result.CLEAR
    assert found["document.mrz.check_digits"].score == 1.0


def test_no_mrz_is_a_rejection_the_user_can_fix():
    (found,) = mrz_checks(_reading(error="No text that looks like an MRZ was found."))
    assert (found.check, found.result, found.reason_code) == (
        "document.mrz.read", Result.REJECTED, "mrz_not_found")
    assert "<<<" in REASONS["mrz_not_found"].user_text


def test_a_failing_check_digit_rejects_and_a_repair_asks_for_a_person():
    line1, line2 = passport_mrz(ANNA)
    tampered = parse_mrz((line1, line2[:13] + "9" + line2[14:]), today=TODAY)  # date of birth
    assert not tampered.valid_check_digits
    found = mrz_checks(_reading(tampered))[1]
    assert (found.result, found.reason_code) == (Result.REJECTED, "mrz_check_digits_failed")
    assert found.details["checks"]["date_of_birth"] is False

    repaired = parse_mrz((line1, line2.replace("0", "O", 1)), today=TODAY)  # document number
    assert repaired.valid_check_digits and repaired.corrections
    found = mrz_checks(_reading(repaired))[1]
    assert (found.result, found.reason_code) == (Result.CONSIDER, "mrz_corrected")

    # A nationality the reader chose as the only reading that names a state asks for one too.
    chosen = dataclasses.replace(parse_mrz((line1, line2), today=TODAY), corrections=[
        f"line 2 position 11: 'Z' read as 'U', another reading of the recogniser "
        f"({CHOSEN_BY_CODE_LIST})"])
    found = mrz_checks(_reading(chosen))[1]
    assert (found.result, found.reason_code) == (Result.CONSIDER, "mrz_corrected")


def test_a_repair_the_field_type_dictates_stays_clear():
    line1, line2 = passport_mrz(ANNA)
    read = parse_mrz((line1, line2[:10] + "UT0" + line2[13:]), today=TODAY)  # nationality
    assert read.valid_check_digits and read.corrections
    found = mrz_checks(_reading(read))[1]
    assert (found.result, found.reason_code) == (Result.CLEAR, None)
    assert found.details["corrections"] == read.corrections


@pytest.mark.parametrize("expiry,result,reason", [
    (date(2030, 1, 1), Result.CLEAR, None),
    (TODAY, Result.CLEAR, None),                          # valid through its expiry day
    (date(2026, 11, 21), Result.REJECTED, "document_expired"),
])
def test_expiry(expiry, result, reason):
    found = validity_checks(_mrz(SpecimenPerson(expiry_date=expiry)), DocumentPolicy(), TODAY)[0]
    assert (found.check, found.result, found.reason_code) == (
        "document.validity.expiry", result, reason)


def test_document_type_follows_the_accepted_list():
    mrz = _mrz()
    accepted = validity_checks(mrz, DocumentPolicy(), TODAY)[1]
    refused = validity_checks(mrz, DocumentPolicy(accepted_types=["I"]), TODAY)[1]
    assert accepted.result is Result.CLEAR
    assert (refused.result, refused.reason_code) == (Result.REJECTED,
                                                     "document_type_not_accepted")


def test_data_comparison_against_account_and_typed_form():
    mrz = _mrz()
    same = PersonFacts("Anna Eriksson", date(1974, 8, 12))
    found = {c.check: c for c in data_checks(mrz, same, same, DocumentPolicy())}
    assert {c.result for c in found.values()} == {Result.CLEAR}

    other = PersonFacts("Anna Eriksson", date(1974, 8, 13))
    typed = PersonFacts("John Smith", date(1974, 8, 12))
    found = {c.check: c for c in data_checks(mrz, other, typed, DocumentPolicy())}
    assert found["document.data.name"].result is Result.CLEAR
    assert found["document.data.date_of_birth"].reason_code == "date_of_birth_mismatch"
    assert found["document.data.typed"].reason_code == "typed_data_mismatch"
    assert found["document.data.typed"].details["date_of_birth_matches"] is True


def test_no_account_of_record_needs_a_person():
    (found,) = data_checks(_mrz(), None, None, DocumentPolicy())
    assert (found.result, found.reason_code) == (Result.CONSIDER, "no_account_of_record")


def test_name_thresholds_come_from_the_policy():
    mrz = _mrz(SpecimenPerson(surname="BERG", given_names="JONAS"))
    bern = PersonFacts("Jonas Bern", date(1974, 8, 12))
    strict = data_checks(mrz, bern, None, DocumentPolicy())[0]
    lenient = data_checks(mrz, bern, None, DocumentPolicy(name_clear=70, name_consider=50))[0]
    assert strict.reason_code == "name_partial_match"
    assert lenient.result is Result.CLEAR
    with pytest.raises(ValueError):
        DocumentPolicy(name_clear=50, name_consider=80)


def test_compromised_document_links_the_other_cases():
    assert compromised_check(_mrz(), []).result is Result.CLEAR
    found = compromised_check(_mrz(), [7, 3, 7])
    assert (found.result, found.reason_code) == (Result.CONSIDER,
                                                 "document_used_by_other_account")
    assert found.details["other_cases"] == [3, 7]


@pytest.mark.parametrize("software,size,edited,screen", [
    (None, (4032, 3024), False, False),
    ("iOS 17.1", (4032, 3024), False, False),
    ("Adobe Photoshop 25.0 (Windows)", (4032, 3024), True, False),
    ("GIMP 2.10.36", (1170, 2532), True, True),
    (None, (2532, 1170), False, True),      # a landscape screenshot of a phone
])
def test_integrity_signals_are_shown_never_verdicts(software, size, edited, screen):
    software_check, screen_check = integrity_checks(software, size)
    assert software_check.result is Result.CLEAR and screen_check.result is Result.CLEAR
    assert software_check.details["signal"] is edited
    assert (software_check.reason_code == "edited_with_software") is edited
    assert screen_check.details["signal"] is screen


def test_portrait_on_a_generated_document():
    page = render_passport(ANNA, Image.open(FACES / "obama_1.jpg"), seed=1)
    portrait = documents.find_portrait(page)
    found = documents.portrait_check(portrait)
    assert (portrait.faces, found.result, found.reason_code) == (1, Result.CLEAR, None)
    assert portrait.encoding is not None and portrait.encoding.shape == (128,)


def test_a_second_face_on_the_document_is_rejected():
    page = render_passport(ANNA, Image.open(FACES / "obama_1.jpg"), seed=1)
    two = Image.open(FACES / "multi_face_obama_biden.jpg").convert("RGB").resize((700, 411))
    page.paste(two, (500, 100))
    portrait = documents.find_portrait(page)
    found = documents.portrait_check(portrait)
    assert portrait.faces == 3 and portrait.encoding is None
    assert (found.result, found.reason_code) == (Result.REJECTED, "document_several_faces")


def test_a_document_without_a_face_is_rejected():
    blank = Image.new("RGB", (1250, 880), (230, 232, 240))
    found = documents.portrait_check(documents.find_portrait(blank))
    assert (found.result, found.reason_code) == (Result.REJECTED, "document_no_face")


def test_a_card_with_its_mrz_on_the_back_is_read_from_the_back():
    card = render_id_card(ANNA, Image.open(FACES / "obama_1.jpg"), seed=2)
    # The front: the card without its MRZ band; the back: the MRZ band alone, on a table.
    front = on_background(card.crop((0, 0, card.width, card.height - 240)), seed=2)
    back = on_background(card.crop((0, card.height - 240, card.width, card.height)), seed=3)
    report = documents.check_document(front, back, today=TODAY)
    assert report.mrz_side == "back"
    assert report.mrz.valid_check_digits and report.mrz.document_number == ANNA.document_number
    assert report.as_dict()["mrz_lines"] == list(report.reading.lines)
