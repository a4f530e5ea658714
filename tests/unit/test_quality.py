"""The ID-photo quality gate: passes readable phone photos, rejects unusable ones for the right
reason, and never raises, whatever image it is given."""

import json
import math
from dataclasses import fields

import numpy as np
import pytest
from PIL import Image

from verification.checks import REASONS, Result
from verification.degrade import (
    CORNERS,
    DEGRADATIONS,
    blur,
    cut_off_corner,
    degrade,
    glare,
    low_light,
    on_background,
)
from verification.quality import (
    ACTIONABLE_ORDER,
    ENGINE,
    ENGINE_VERSION,
    QualityReport,
    QualityThresholds,
    assess_document_photo,
)
from verification.specimen import SpecimenPerson, render_id_card, render_passport, render_selfie

CHECKS = ("document.quality.size", "document.quality.sharpness", "document.quality.brightness",
          "document.quality.glare", "document.quality.framing")
# degrade's "blur" draws a radius of 2-4 px, across the reader's limit: the blur sweep below.
PASSING = tuple(name for name in DEGRADATIONS if name not in ("cut_off_corner", "blur"))
KINDS = ("td3", "td1")


@pytest.fixture(scope="module")
def renders() -> dict[tuple[str, int], Image.Image]:
    """The specimen passport and identity card for a few seeds (rendering is the slow part)."""
    person = SpecimenPerson()
    return {(kind, seed): (render_passport if kind == "td3" else render_id_card)(person,
                                                                                seed=seed)
            for kind in KINDS for seed in range(3)}


@pytest.fixture(scope="module")
def framed(renders):
    """`on_background` of a render, cached: most rejected photos start from it."""
    cache = {}

    def get(kind: str, seed: int) -> Image.Image:
        if (kind, seed) not in cache:
            cache[kind, seed] = on_background(renders[kind, seed], seed=seed)
        return cache[kind, seed]
    return get


def reasons(report: QualityReport) -> list[str]:
    return [check.reason_code for check in report.failures]


def describe(report: QualityReport) -> str:
    """Every check's verdict and score, for assertion messages."""
    return "; ".join(f"{c.check.rsplit('.', 1)[1]}={c.result} {c.score} (limit {c.threshold})"
                     for c in report.checks)


def upscale(img: Image.Image, factor: int = 3) -> Image.Image:
    """A phone-resolution (3500-4350 px wide) version of a framed specimen photo."""
    return img.resize((img.width * factor, img.height * factor), Image.Resampling.BICUBIC)


def hotspot(img: Image.Image, spread: float, seed: int) -> Image.Image:
    """A full-strength reflection, `spread` of the long side (degrade's default is 0.16-0.28):
    big enough to wash out a large part of the document."""
    return glare(img, 1.0, seed, spread=spread)


def shrunk(img: Image.Image, width: int) -> Image.Image:
    return img.resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS)


def twelve_megapixels(img: Image.Image) -> Image.Image:
    """`img` enlarged (bicubic) to about 12 MP, as a 4000 x 3000 phone photo of the scene."""
    factor = math.sqrt(12e6 / (img.width * img.height))
    return img.resize((round(img.width * factor), round(img.height * factor)),
                      Image.Resampling.BICUBIC)


# --- photos that must pass ---------------------------------------------------------------------

@pytest.mark.parametrize("seed", (0, 1))
@pytest.mark.parametrize("name", PASSING)
@pytest.mark.parametrize("kind", KINDS)
def test_realistic_phone_photos_pass(renders, kind, name, seed):
    report = assess_document_photo(degrade(renders[kind, seed], name, seed))
    assert report.passed, describe(report)
    assert report.document_box is not None


@pytest.mark.parametrize(("kind", "name"), (("td3", "clean"), ("td3", "glare"),
                                            ("td3", "perspective"), ("td1", "blur"),
                                            ("td1", "low_light"), ("td1", "rotation")))
def test_phone_resolution_photos_pass(renders, kind, name):
    photo = upscale(degrade(renders[kind, 2], name, 2))
    report = assess_document_photo(photo)
    assert report.passed, describe(report)
    size = report.checks[0]
    assert size.score > 2.5 * 1000  # measured in the original's pixels, not the working copy's


@pytest.mark.parametrize("factor", (1, 3))
@pytest.mark.parametrize("kind", KINDS)
def test_document_filling_the_frame_passes(renders, kind, factor):
    report = assess_document_photo(upscale(renders[kind, 0], factor))
    assert report.passed, describe(report)
    framing = report.checks[4]
    assert framing.details["fills_frame"] and framing.details["cut_edges"] == []


@pytest.mark.parametrize("width", (450, 600, 800))
@pytest.mark.parametrize("kind", KINDS)
def test_flatbed_scans_450_to_800_px_wide_pass(renders, kind, width):
    """The MRZ reader reads sharp scans this small (bench/gate_agreement.py)."""
    report = assess_document_photo(shrunk(renders[kind, 1], width))
    assert report.passed, describe(report)
    assert report.checks[0].score == pytest.approx(width, abs=2)


@pytest.mark.parametrize("kind", KINDS)
def test_sharp_twelve_megapixel_photos_pass(framed, kind):
    photo = twelve_megapixels(framed(kind, 0))
    assert photo.width * photo.height > 11.5e6
    report = assess_document_photo(photo)
    assert report.passed, describe(report)


@pytest.mark.parametrize("radius", (0, 2, 3))
@pytest.mark.parametrize("kind", KINDS)
def test_blur_the_reader_reads_passes(framed, kind, radius):
    for photo in (blur(framed(kind, 1), radius), twelve_megapixels(blur(framed(kind, 1), radius))):
        report = assess_document_photo(photo)
        assert report.passed, describe(report)


@pytest.mark.parametrize("radius", (5, 6, 8))
@pytest.mark.parametrize("kind", KINDS)
def test_blur_that_makes_the_text_unreadable_is_refused_as_blurry(framed, kind, radius):
    """Radius 5 at the render's native size: the reader reads neither format
    (bench/gate_agreement.py). The same photo enlarged to 12 MP gets the same verdict."""
    native = assess_document_photo(blur(framed(kind, 0), radius))
    phone = assess_document_photo(twelve_megapixels(blur(framed(kind, 0), radius)))
    for report in (native, phone):
        assert reasons(report) == ["document_blurry"], describe(report)
    assert phone.checks[1].score == pytest.approx(native.checks[1].score, abs=0.01)


@pytest.mark.parametrize(("kind", "expected"), (("td1", "card"), ("td3", "page")))
@pytest.mark.parametrize("name", ("clean", "rotation", "perspective"))
def test_sharpness_is_judged_at_the_formats_text_size(renders, kind, expected, name):
    """A card's text is larger for its width than a page's: the card is judged at 85.6/125
    of the page's scale, told apart by its proportions, keystoned or not."""
    for seed in (0, 1):
        sharpness = assess_document_photo(degrade(renders[kind, seed], name, seed)).checks[1]
        assert sharpness.details["format"] == expected, sharpness.details


def test_portrait_orientation_and_greyscale_pass(renders):
    photo = degrade(renders["td3", 1], "rotation", 1)
    for variant in (photo.transpose(Image.Transpose.ROTATE_90), photo.convert("L")):
        report = assess_document_photo(variant)
        assert report.passed, describe(report)


def test_small_document_in_a_large_photo_is_measured_from_the_original(renders):
    """A card 38 % of a 4000 px frame's width: the halved working copy would leave it under the
    canonical width, so it is cut from the full-resolution photo and still measures sharp."""
    photo = Image.new("RGB", (4000, 3000), (64, 66, 70))
    photo.paste(renders["td1", 0].resize((1518, 957), Image.Resampling.BICUBIC), (1200, 900))
    report = assess_document_photo(photo)
    assert report.passed, describe(report)
    assert report.checks[0].score == pytest.approx(1518, rel=0.01)


def test_document_box_is_where_the_document_is(renders):
    table = Image.new("RGB", (1600, 1200), (60, 50, 40))
    table.paste(renders["td1", 0], (200, 300))
    report = assess_document_photo(table)
    expected = {(200, 300), (1212, 300), (1212, 938), (200, 938)}
    assert len(report.document_box) == 4
    for x, y in report.document_box:
        assert min(math.dist((x, y), corner) for corner in expected) < 8
    assert report.checks[0].score == pytest.approx(1012, abs=10)


# --- photos that must be rejected, for the right reason ----------------------------------------

# Each case: (how to make the photo from the render, the render on a table, and the seed), the
# reason it must be rejected for first.
REJECTS = {
    "blur radius 5": (lambda doc, table, seed: blur(table, 5), "document_blurry"),
    "blur radius 7": (lambda doc, table, seed: blur(table, 7), "document_blurry"),
    "blur radius 10": (lambda doc, table, seed: blur(table, 10), "document_blurry"),
    "low_light 0.07": (lambda doc, table, seed: low_light(table, 0.07, seed),
                       "document_too_dark"),
    "low_light 0.06": (lambda doc, table, seed: low_light(table, 0.06, seed),
                       "document_too_dark"),
    "large reflection": (lambda doc, table, seed: hotspot(table, 0.5, seed), "document_glare"),
    "300 px wide": (lambda doc, table, seed: on_background(shrunk(doc, 300), seed=seed),
                    "document_too_small"),
    "300 px wide in a large frame": (
        lambda doc, table, seed: on_background(shrunk(doc, 300), margin=1.0, seed=seed),
        "document_too_small"),
    "cut_off_corner 0.15": (
        lambda doc, table, seed: cut_off_corner(table, 0.15, CORNERS[seed % 4],
                                                table_seed=seed),
        "document_cut_off"),
    "cut_off_corner 0.3": (
        lambda doc, table, seed: cut_off_corner(table, 0.3, CORNERS[(seed + 2) % 4],
                                                table_seed=seed),
        "document_cut_off"),
    "degrade cut_off_corner": (lambda doc, table, seed: degrade(doc, "cut_off_corner", seed),
                               "document_cut_off"),
}


@pytest.mark.parametrize(("kind", "seed"), (("td3", 0), ("td3", 1), ("td1", 1)))
@pytest.mark.parametrize("case", REJECTS)
def test_unusable_photos_are_rejected_for_the_right_reason(renders, framed, kind, case, seed):
    make, reason = REJECTS[case]
    report = assess_document_photo(make(renders[kind, seed], framed(kind, seed), seed))
    assert not report.passed
    assert reasons(report)[0] == reason, describe(report)


def test_cut_off_names_the_edges_the_document_leaves_by(framed):
    photo = cut_off_corner(framed("td3", 0), 0.2, "bottom_right", table_seed=0)
    framing = assess_document_photo(photo).checks[4]
    # The bottom right corner of the picture falls outside the frame, the top left shows table.
    assert set(framing.details["cut_edges"]) == {"bottom", "right"}
    assert framing.score > framing.threshold


def test_several_problems_are_listed_most_actionable_first(framed):
    photo = blur(cut_off_corner(framed("td1", 0), 0.2, "top_left", table_seed=0), 7)
    report = assess_document_photo(photo)
    found = reasons(report)
    assert found[:1] == ["document_cut_off"] and "document_blurry" in found
    order = [ACTIONABLE_ORDER.index(check.check) for check in report.failures]
    assert order == sorted(order)


# --- the report --------------------------------------------------------------------------------

def test_report_has_one_result_per_measurement(framed):
    report = assess_document_photo(framed("td3", 0))
    assert tuple(check.check for check in report.checks) == CHECKS
    for check in report.checks:
        assert check.result == Result.CLEAR and check.reason_code is None
        assert check.engine == ENGINE == "recovery-desk-quality"
        assert check.engine_version == ENGINE_VERSION == "2"
        assert isinstance(check.score, float) and isinstance(check.threshold, float)
        json.dumps(check.details)
    assert report.passed and report.failures == ()
    assert report.elapsed_ms > 0


def test_rejections_carry_registered_reasons_and_json_details(renders):
    photo = blur(low_light(on_background(shrunk(renders["td3", 0], 500), seed=0), 0.1, 0), 8)
    report = assess_document_photo(photo)
    assert not report.passed
    for check in report.failures:
        assert check.result == Result.REJECTED and check.reason_code in REASONS
        json.dumps(check.details)


def test_thresholds_are_used(framed):
    photo = framed("td1", 0)
    strict = QualityThresholds.from_mapping({"min_sharpness": 0.9, "min_document_width_px": 5e3})
    report = assess_document_photo(photo, strict)
    assert reasons(report) == ["document_too_small", "document_blurry"]
    assert report.failures[1].threshold == 0.9


# --- thresholds --------------------------------------------------------------------------------

def test_from_mapping_overrides_and_keeps_the_rest():
    defaults = QualityThresholds()
    custom = QualityThresholds.from_mapping({"max_glare_fraction": 0.3, "min_brightness": 50})
    assert custom.max_glare_fraction == 0.3 and custom.min_brightness == 50.0
    assert custom.min_sharpness == defaults.min_sharpness
    assert QualityThresholds.from_mapping({}) == defaults


def test_from_mapping_names_an_unknown_key():
    with pytest.raises(ValueError, match="min_sharpnes'"):
        QualityThresholds.from_mapping({"min_sharpnes": 0.2})


@pytest.mark.parametrize("value", ("lots", None, float("nan")))
def test_from_mapping_refuses_a_non_number(value):
    with pytest.raises(ValueError, match="min_contrast"):
        QualityThresholds.from_mapping({"min_contrast": value})


def test_every_threshold_is_a_number():
    assert all(isinstance(getattr(QualityThresholds(), f.name), float)
               for f in fields(QualityThresholds))


# --- anything else: never raise ----------------------------------------------------------------

@pytest.mark.parametrize("size", ((1, 1), (2, 2), (1, 600), (600, 1), (7, 3), (40, 25),
                                  (64, 64), (700, 12)))
@pytest.mark.parametrize("mode", ("RGB", "L"))
def test_tiny_and_thin_images_are_too_small(size, mode):
    rng = np.random.default_rng(size[0] * 1000 + size[1])
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels, "RGB").convert(mode)
    report = assess_document_photo(image)
    assert reasons(report)[0] == "document_too_small"
    # A thin strip only counts as wide as an ID card of its height would be.
    assert report.checks[0].score <= min(max(size), 1.6 * min(size))


@pytest.mark.parametrize("image", (
    Image.new("RGB", (800, 600), (128, 128, 128)),
    Image.new("L", (640, 480), 0),
    Image.new("L", (640, 480), 255),
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (500, 700, 3), dtype=np.uint8)),
), ids=("grey", "black", "white", "noise"))
def test_images_without_a_document_do_not_raise(image):
    report = assess_document_photo(image)
    assert len(report.checks) == 5
    json.dumps([check.details for check in report.checks])


def test_flat_image_is_rejected_without_a_document_box():
    report = assess_document_photo(Image.new("RGB", (1600, 1200), (128, 128, 128)))
    assert report.document_box is None
    assert "document_too_dark" in reasons(report)  # no contrast: nothing printed to read


def test_selfie_does_not_raise():
    report = assess_document_photo(render_selfie(seed=0))
    assert len(report.checks) == 5


@pytest.mark.parametrize("mode", ("RGBA", "P", "1", "I;16", "F", "CMYK", "LA"))
def test_other_modes_do_not_raise(renders, mode):
    report = assess_document_photo(renders["td1", 0].convert(mode))
    assert len(report.checks) == 5
