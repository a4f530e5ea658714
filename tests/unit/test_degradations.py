"""Phone-camera degradations: deterministic per seed, each moving the image the expected way."""

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from verification.degrade import (
    BED_DEGRADATIONS,
    CORNERS,
    DARK_TABLE,
    DEGRADATIONS,
    blur,
    card_photo,
    cut_off_corner,
    degrade,
    glare,
    jpeg,
    low_light,
    on_background,
    perspective,
    perspective_coefficients,
    rotate,
    scan,
    screen_photo,
    table_background,
)
from verification.specimen import SpecimenPerson, render_id_card, render_passport

NAMES = ("clean", "blur", "glare", "rotation", "low_light", "jpeg_q30", "perspective",
         "cut_off_corner")
MAGENTA = (255, 0, 255)  # a "document" colour no table or degradation produces by chance
FLAT_SIZE = (400, 250)


@pytest.fixture(scope="module")
def documents() -> dict[str, Image.Image]:
    person = SpecimenPerson()
    return {"passport": render_passport(person), "id_card": render_id_card(person)}


@pytest.fixture(scope="module")
def small(documents) -> Image.Image:
    """The identity card at half size: the same content, four times fewer pixels to process."""
    card = documents["id_card"]
    return card.reduce(2)  # box filter: no ringing that would overshoot to white


@pytest.fixture
def flat() -> Image.Image:
    """A plain magenta card, so the document's pixels can be told from the background's."""
    return Image.new("RGB", FLAT_SIZE, MAGENTA)


def luminance(img: Image.Image) -> np.ndarray:
    rgb = np.asarray(img.convert("RGB"), dtype=np.float64)
    return rgb @ np.array([0.299, 0.587, 0.114])


def laplacian_variance(img: Image.Image) -> float:
    """Variance of a 4-neighbour Laplacian of the luminance: high for sharp edges."""
    y = luminance(img)
    lap = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]
    return float(lap.var())


def magenta_mask(img: Image.Image) -> np.ndarray:
    """Where the (magenta) document is: red and blue high, green low."""
    rgb = np.asarray(img, dtype=np.int16)
    return (rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] > 200)


def row_width(mask: np.ndarray, row: int) -> int:
    """The document's extent along one row."""
    xs = np.flatnonzero(mask[row])
    return int(xs[-1] - xs[0] + 1) if xs.size else 0


# --- the registry ------------------------------------------------------------------------------

def test_registry_names():
    assert tuple(DEGRADATIONS) == NAMES


@pytest.mark.parametrize("doc", ["passport", "id_card"])
def test_every_registered_degradation_works_on_both_documents(documents, doc):
    image = documents[doc]
    clean = degrade(image, "clean", seed=1)
    assert clean.mode == "RGB"
    assert clean.width > image.width and clean.height > image.height  # framed with a margin
    for name in NAMES[1:]:
        out = degrade(image, name, seed=1)
        assert out.mode == "RGB", name
        assert out.width >= clean.width and out.height >= clean.height, name
        if out.size == clean.size:
            assert out.tobytes() != clean.tobytes(), name


def test_registry_is_deterministic_per_seed_and_leaves_the_input_alone(small):
    before = small.tobytes()
    for name in NAMES:
        first = degrade(small, name, seed=5)
        assert degrade(small, name, seed=5).tobytes() == first.tobytes(), name
        assert degrade(small, name, seed=6).tobytes() != first.tobytes(), name
    assert small.tobytes() == before


def test_unknown_degradation_is_a_value_error(small):
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade(small, "fog")


def test_any_input_mode_gives_rgb(small):
    for mode in ("L", "RGBA"):
        assert blur(small.convert(mode)).mode == "RGB"
        assert rotate(small.convert(mode), 3).mode == "RGB"


# --- each degradation's direction ------------------------------------------------------------

def test_blur_lowers_laplacian_variance(small):
    blurred = blur(small)
    assert laplacian_variance(blurred) < 0.5 * laplacian_variance(small)
    assert laplacian_variance(blur(small, radius=5)) < laplacian_variance(blurred)
    assert blur(small).tobytes() == blurred.tobytes()


def test_low_light_lowers_mean_luminance_and_adds_noise(small):
    dark = low_light(small, seed=3)
    assert luminance(dark).mean() < 0.45 * luminance(small).mean()
    assert low_light(small, seed=3).tobytes() == dark.tobytes()
    assert low_light(small, seed=4).tobytes() != dark.tobytes()
    noiseless = low_light(small, seed=3, noise=0)
    residual = np.asarray(dark, dtype=np.float64) - np.asarray(noiseless, dtype=np.float64)
    assert 4 < residual.std() < 8  # the default noise, 6 levels


def test_glare_raises_the_share_of_saturated_pixels(small):
    def saturated_share(img: Image.Image) -> float:
        return float((luminance(img) >= 250).mean())

    glared = glare(small, seed=2)
    assert saturated_share(small) < 0.001
    assert saturated_share(glared) > 0.005
    # Only ever brighter: glare adds light.
    assert (np.asarray(glared, dtype=np.int16) >= np.asarray(small, dtype=np.int16) - 1).all()
    assert glare(small, seed=2).tobytes() == glared.tobytes()
    assert glare(small, seed=3).tobytes() != glared.tobytes()
    assert saturated_share(glare(small, strength=0.3, seed=2)) < saturated_share(glared)


def test_jpeg_round_trip_decodes_and_differs(small):
    q30 = jpeg(small)
    assert q30.mode == "RGB" and q30.size == small.size
    original = np.asarray(small, dtype=np.float64)
    error_30 = np.abs(np.asarray(q30, dtype=np.float64) - original).mean()
    error_90 = np.abs(np.asarray(jpeg(small, quality=90), dtype=np.float64) - original).mean()
    assert error_30 > error_90 > 0
    assert jpeg(small).tobytes() == q30.tobytes()


def test_rotation_by_seven_degrees_changes_the_documents_bounding_box(flat):
    width, height = FLAT_SIZE
    turned = rotate(flat, 7)
    mask = magenta_mask(turned)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    angle = math.radians(7)
    expected_w = width * math.cos(angle) + height * math.sin(angle)
    expected_h = width * math.sin(angle) + height * math.cos(angle)
    assert abs((cols[-1] - cols[0] + 1) - expected_w) <= 3
    assert abs((rows[-1] - rows[0] + 1) - expected_h) <= 3
    assert turned.width >= expected_w - 1 and turned.height >= expected_h - 1
    # Counter-clockwise: the top-right corner is now the highest point.
    assert np.flatnonzero(mask[rows[0]]).mean() > turned.width / 2
    # The uncovered corners show the table.
    assert turned.getpixel((0, 0)) == DARK_TABLE
    assert turned.getpixel((turned.width - 1, turned.height - 1)) == DARK_TABLE
    assert rotate(flat, 0).size == FLAT_SIZE


def test_rotation_on_a_seeded_table_is_deterministic(small):
    first = rotate(small, -4, table_seed=9)
    assert rotate(small, -4, table_seed=9).tobytes() == first.tobytes()
    assert rotate(small, -4, table_seed=10).tobytes() != first.tobytes()


def test_perspective_narrows_the_far_edge(flat):
    width, height = FLAT_SIZE
    for tilt in (0.2, -0.2):
        out = perspective(flat, tilt)
        assert out.size == FLAT_SIZE
        mask = magenta_mask(out)
        rows = np.flatnonzero(mask.any(axis=1))
        top, bottom = row_width(mask, rows[0] + 2), row_width(mask, rows[-1] - 2)
        near, far = (bottom, top) if tilt > 0 else (top, bottom)
        assert abs(near - width) <= 3
        assert abs(far - width * (1 - abs(tilt))) <= 4
        assert out.getpixel((0, 0 if tilt > 0 else height - 1)) == DARK_TABLE  # beside the far edge


def test_perspective_coefficients_solve_the_four_point_pairs():
    square = [(0, 0), (10, 0), (10, 10), (0, 10)]
    assert np.allclose(perspective_coefficients(square, square), [1, 0, 0, 0, 1, 0, 0, 0])
    quad = [(2, 1), (8, 1), (10, 10), (0, 10)]
    a, b, c, d, e, f, g, h = perspective_coefficients(quad, square)
    for (x, y), (u, v) in zip(quad, square, strict=True):
        w = g * x + h * y + 1
        assert math.isclose((a * x + b * y + c) / w, u, abs_tol=1e-9)
        assert math.isclose((d * x + e * y + f) / w, v, abs_tol=1e-9)


@pytest.mark.parametrize("corner", CORNERS)
def test_cut_off_corner_leaves_less_of_the_document_in_the_frame(flat, corner):
    framed = on_background(flat, seed=4)
    whole = magenta_mask(framed)
    out = cut_off_corner(framed, 0.2, corner, table_seed=4)
    assert out.size == framed.size
    mask = magenta_mask(out)
    assert mask.sum() < 0.9 * whole.sum()
    # The document now runs off the frame at that corner's two edges ...
    edge_rows = mask[-1] if corner.startswith("bottom") else mask[0]
    edge_cols = mask[:, -1] if corner.endswith("right") else mask[:, 0]
    assert edge_rows.any() and edge_cols.any()
    assert not magenta_mask(framed)[-1].any()  # (it did not before)
    # ... and the table shows at the opposite corner.
    opposite = (0 if corner.endswith("right") else out.width - 1,
                0 if corner.startswith("bottom") else out.height - 1)
    assert out.getpixel(opposite) != MAGENTA


def test_on_background_frames_the_whole_document_on_a_darker_table(flat):
    width, height = FLAT_SIZE
    framed = on_background(flat, margin=0.1, seed=7)
    assert framed.size == (width + 2 * 40, height + 2 * 25)
    assert magenta_mask(framed).sum() == width * height  # pasted intact
    border = np.concatenate([luminance(framed)[0], luminance(framed)[-1]])
    assert border.max() < 150
    assert on_background(flat, margin=0.1, seed=7).tobytes() == framed.tobytes()
    assert on_background(flat, margin=0.1, seed=8).tobytes() != framed.tobytes()


def test_table_background_is_deterministic_and_sized():
    table = table_background((301, 199), seed=3)
    assert table.size == (301, 199) and table.mode == "RGB"
    assert table_background((301, 199), seed=3).tobytes() == table.tobytes()


# --- parameters out of range -----------------------------------------------------------------

@pytest.mark.parametrize("degrees", [10.5, -11, 45])
def test_rotation_beyond_ten_degrees_is_rejected(flat, degrees):
    with pytest.raises(ValueError, match="rotation"):
        rotate(flat, degrees)


def test_rotation_of_exactly_ten_degrees_is_allowed(flat):
    assert rotate(flat, 10).width > FLAT_SIZE[0]
    assert rotate(flat, -10).width > FLAT_SIZE[0]


@pytest.mark.parametrize("quality", [0, -5, 96, 100])
def test_jpeg_quality_outside_1_to_95_is_rejected(flat, quality):
    with pytest.raises(ValueError, match="quality"):
        jpeg(flat, quality=quality)


def test_jpeg_quality_bounds_are_allowed(flat):
    assert jpeg(flat, quality=1).size == FLAT_SIZE
    assert jpeg(flat, quality=95).size == FLAT_SIZE


@pytest.mark.parametrize(("call", "match"), [
    (lambda img: blur(img, radius=-1), "radius"),
    (lambda img: glare(img, strength=0), "strength"),
    (lambda img: glare(img, strength=1.5), "strength"),
    (lambda img: low_light(img, factor=0), "factor"),
    (lambda img: low_light(img, factor=1.2), "factor"),
    (lambda img: low_light(img, noise=-1), "noise"),
    (lambda img: perspective(img, tilt=0.5), "tilt"),
    (lambda img: cut_off_corner(img, fraction=1.0), "fraction"),
    (lambda img: cut_off_corner(img, corner="middle"), "corner"),
    (lambda img: on_background(img, margin=-0.1), "margin"),
])
def test_other_bad_parameters_are_rejected(flat, call, match):
    with pytest.raises(ValueError, match=match):
        call(flat)


# --- the test bed's conditions ----------------------------------------------------------------

BED_NAMES = ("scan", "card_photo", "screen_moire", "upside_down", "jpeg_q20", "jpeg_q40",
             "jpeg_q60", "jpeg_q85")
# What the renders are printed at: the card 85.6 mm over 1012 px, the passport 125 mm over 1250.
CARD_DPI, PASSPORT_DPI = 1012 / (85.6 / 25.4), 1250 / (125 / 25.4)


def test_bed_registry_is_apart_from_the_pinned_one():
    assert tuple(BED_DEGRADATIONS) == BED_NAMES
    assert not set(BED_DEGRADATIONS) & set(DEGRADATIONS)


@pytest.mark.parametrize("name", [n for n in BED_NAMES if n != "card_photo"])
def test_bed_degradations_are_deterministic_per_seed(small, name):
    before = small.tobytes()
    first = degrade(small, name, seed=5)
    assert first.mode == "RGB"
    assert degrade(small, name, seed=5).tobytes() == first.tobytes()
    assert degrade(small, name, seed=6).tobytes() != first.tobytes()
    assert small.tobytes() == before


@pytest.mark.parametrize("doc,dpi,width_mm", [("id_card", CARD_DPI, 85.6),
                                              ("passport", PASSPORT_DPI, 125.0)])
def test_scans_are_450_to_800_px_wide_and_say_their_resolution(documents, doc, dpi, width_mm):
    document = documents[doc].copy()
    document.info["dpi"] = (dpi, dpi)
    widths = set()
    for seed in range(6):
        scanned = degrade(document, "scan", seed)
        widths.add(scanned.width)
        assert 450 <= scanned.width <= 800
        saved_dpi = scanned.info["dpi"][0]
        assert saved_dpi <= 300
        # The dpi is honest: the scanned area is the document plus 2-8 mm of glass (and up to
        # 2 degrees of skew, which widens it by up to 3.5% of the height).
        scanned_mm = scanned.width / saved_dpi * 25.4
        assert width_mm + 1.5 < scanned_mm < width_mm * 1.04 + 9
        # The glass shows around the document: the corners are pale and neutral.
        corner = np.asarray(scanned)[:3, :3].astype(int)
        assert corner.min() > 200 and np.ptp(corner.mean(axis=(0, 1))) < 12
    assert len(widths) > 3


def test_scan_rejects_a_skew_beyond_two_degrees(small):
    with pytest.raises(ValueError, match="skew"):
        scan(small, dpi=200, width=600, skew=3.0)


def test_card_photos_are_8_to_12_megapixels_with_the_whole_card_in_frame():
    card = Image.new("RGB", (1012, 638), MAGENTA)
    for seed in (3,):  # about 3 s a photo
        photo = degrade(card, "card_photo", seed)
        assert 8e6 <= photo.width * photo.height <= 12.1e6
        assert photo.width / photo.height == pytest.approx(4 / 3, abs=0.01)
        mask = magenta_mask(photo)
        assert mask.sum() > 0.15 * mask.size
        border = max(photo.size) // 100
        assert not mask[:border].any() and not mask[-border:].any()
        assert not mask[:, :border].any() and not mask[:, -border:].any()


def test_card_photo_bows_horizontal_lines_by_the_bend():
    card = Image.new("RGB", (1000, 600), (250, 250, 250))
    ImageDraw.Draw(card).line((0, 450, 1000, 450), fill=(0, 0, 0), width=6)

    def line_rows(photo):
        """The dark line's row at the card's left end, middle and right end."""
        grey = np.asarray(photo.convert("L"))
        card_columns = np.flatnonzero((grey > 200).sum(axis=0) > 50)
        left, right = card_columns[0] + 20, card_columns[-1] - 20
        rows = []
        for x in (left, (left + right) // 2, right):
            paper = np.flatnonzero(grey[:, x] > 200)  # the card in this column (not the table)
            top, bottom = paper[0], paper[-1]
            rows.append(float(np.flatnonzero(grey[top:bottom, x] < 80).mean() + top))
        return rows

    flat = line_rows(card_photo(card, megapixels=1.0, tilt=0.0, bend=0.0, seed=1))
    bent = line_rows(card_photo(card, megapixels=1.0, tilt=0.0, bend=0.04, seed=1))
    assert abs(flat[1] - (flat[0] + flat[2]) / 2) < 1.5
    # The card is 0.55 x 1155 = 635 px wide and 381 px high in the 1 MP frame. The middle of a
    # line 95 px below the card's centre rises by the bend (4% of 381 = 15 px) and drops by
    # the bulge's magnification (4% of 95 = 4 px): about 11 px above its ends.
    sag = bent[1] - (bent[0] + bent[2]) / 2
    assert -15 < sag < -7


def test_screen_photo_shows_moire_and_colour_fringes():
    white = Image.new("RGB", (600, 380), (245, 245, 245))
    photo = np.asarray(screen_photo(white, screen_width=500, scale=0.35, angle=2.0, seed=1),
                       dtype=np.float64)
    h, w = photo.shape[:2]
    inside = photo[h // 4: 3 * h // 4, w // 4: 3 * w // 4]
    luma = inside.mean(axis=-1)
    # A white page on a screen is not flat: bright and dark bands, and colour where the
    # sub-pixel stripes alias (channels disagree), yet it stays a bright page on average.
    assert luma.mean() > 150 and luma.std() > 8
    assert np.abs(inside[..., 0] - inside[..., 2]).mean() > 8
    # Moire is low-frequency: the luminance still varies after averaging 8 x 8 blocks.
    blocks = luma[: luma.shape[0] // 8 * 8, : luma.shape[1] // 8 * 8]
    blocks = blocks.reshape(blocks.shape[0] // 8, 8, blocks.shape[1] // 8, 8).mean(axis=(1, 3))
    assert blocks.std() > 3


def test_upside_down_is_the_clean_photo_turned_half_round(small):
    assert degrade(small, "upside_down", 2).tobytes() == degrade(small, "clean", 2).transpose(
        Image.Transpose.ROTATE_180).tobytes()


def test_jpeg_conditions_lose_less_as_quality_rises(small):
    clean = np.asarray(degrade(small, "clean", 3), dtype=np.float64)
    errors = [np.abs(np.asarray(degrade(small, f"jpeg_q{quality}", 3), dtype=np.float64)
                     - clean).mean() for quality in (20, 40, 60, 85)]
    assert errors == sorted(errors, reverse=True) and errors[-1] > 0
