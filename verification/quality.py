"""Image-quality gate for a photo of an ID document, fast enough to run inside the upload request.

The photo is judged on five measurements, each a `CheckResult` under ``document.quality``:
size (are there enough pixels on the document for its text to be read), sharpness, brightness
(and contrast), glare, and framing (is part of the document outside the picture). The person
can retake the photo at once, so the report says what is wrong, most actionable problem first.

How it works, all on reduced copies so that a 12-megapixel photo takes well under 150 ms:

1. Locate: on a copy about 512 px across, Otsu's threshold separates the pale document from
   the darker table; the largest bright region, if it is a filled, roughly rectangular convex
   shape, is the document. Without one (the document fills the frame with nothing around
   it, or there is no document) the whole image stands in for the document.
2. Normalise: the document's region is cut from the smallest copy that still has the
   resolution and scaled to a canonical width, so that sharpness is judged relative to the
   document's text: blur matters by how much of a character it smears, whatever the camera's
   pixel count (a card, whose text is larger for its width, is judged at 85.6/125 of a
   passport page's width). The size check, on the other hand, counts the original's pixels.
3. Measure on the document only, its outline inset a little so that the table, the shadow and
   the document's own border do not count.

Thresholds are calibrated on generated specimen photos (`verification.specimen` through
`verification.degrade`): ``python -m bench.quality_gate`` sweeps each condition across the
pass/fail boundary and prints the measured values quoted next to each threshold below, and
``python -m bench.gate_agreement`` measures how far the verdicts agree with the MRZ reader's.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from .checks import CheckResult, Result, settings_from_mapping

ENGINE = "recovery-desk-quality"
# 2: sharpness judged at the text's scale (cards apart from pages); the reader's limits.
ENGINE_VERSION = "2"

CHECK_SIZE = "document.quality.size"
CHECK_SHARPNESS = "document.quality.sharpness"
CHECK_BRIGHTNESS = "document.quality.brightness"
CHECK_GLARE = "document.quality.glare"
CHECK_FRAMING = "document.quality.framing"

REASON_SIZE = "document_too_small"
REASON_SHARPNESS = "document_blurry"
REASON_BRIGHTNESS = "document_too_dark"
REASON_GLARE = "document_glare"
REASON_FRAMING = "document_cut_off"

# The order failures are reported in, the one to fix first at the front. A document partly
# outside the frame or too far away must be reframed before the rest can be judged (and moving
# closer changes everything else); light comes before blur because a dim scene is what makes a
# phone choose a slow, shaky exposure; glare is fixed by tilting, which also refocuses.
ACTIONABLE_ORDER = (CHECK_FRAMING, CHECK_SIZE, CHECK_BRIGHTNESS, CHECK_GLARE, CHECK_SHARPNESS)

# --- working resolutions ---------------------------------------------------------------------
# The first copy is reduced by a whole factor (Pillow's box reduce, the cheapest resampling:
# ~15 ms for 12 MP) to a long side of at least this. A document filling half the frame then
# still has its canonical width on it, so the original is rarely read a second time.
MID_LONG_SIDE = 1600
# Locating only needs the outline: ~512 px across keeps a card's edge within a pixel or two of
# the original's (~1/500 of the frame) and makes thresholding and contours a few milliseconds.
LOCATE_LONG_SIDE = 512
# Below this many pixels across on the locating copy there is no outline to find.
MIN_LOCATE_SIDE = 24
# A passport page is measured at this width (its longer side; a card at 85.6/125 of it for
# sharpness, see CARD_WIDTH_MM). 800 px resolves the blur boundary (see min_sharpness) while
# each measurement stays a few milliseconds.
CANONICAL_WIDTH = 800
# A document shorter than this (px of the original) is not scaled up to measure its sharpness:
# there is nothing to measure, and the size check rejects it anyway.
MIN_MEASURABLE_WIDTH = 32
# ID-1 cards are 85.6 x 54 mm (1.59:1), TD2 and passports (ID-3) 1.42:1: no ID document is more
# elongated than this, so its width is at most this many times its height.
MAX_DOCUMENT_ASPECT = 1.6
# The MRZ is printed in the same characters on every format (ICAO 9303: OCR-B size 1, 2.54 mm a
# character), so a card's text is larger for its width than a passport page's: 0.0316 of the
# width on the 85.6 mm TD1 specimen, 0.0224 on the 125 mm TD3. Sharpness is judged at the
# scale of the text: the document at CANONICAL_WIDTH when it is a passport page, a card at
# 85.6 / 125 of that. The reader's blur limit then agrees across formats: it reads TD3 up to
# radius 3 (4: 1 of 3) and TD1 up to radius 4 (4.5: 2 of 5), both a blur of about 0.14 of a
# glyph's height (4 / 28 px, 4.5 / 32 px; bench/gate_agreement.py), while measured against
# the width alone TD1 radius 4 (read) scored below TD3 radius 4 (not read).
# Physical widths (mm) by format, told apart by the outline's aspect ratio:
PASSPORT_WIDTH_MM = 125.0
CARD_WIDTH_MM = 85.6
# Cards are 1.586:1, passport pages 1.420:1; the midpoint splits them. A TD2 (105 x 74 mm) has a
# passport page's aspect and is judged as one: its text then looks a little blurrier than it is.
CARD_MIN_ASPECT = 1.5

# --- locating --------------------------------------------------------------------------------
# The bright region must cover this share of the frame to be a document: a passport 300 px
# wide in a 1450 px frame covers ~4 %; anything smaller is a photo of a room, not a document.
MIN_DOCUMENT_AREA_FRACTION = 0.02
# Region area / its minimum-area rectangle's area. A rectangle, rotated or not, is ~1.0, a
# keystoned one (tilt 0.22) ~0.9, a document cut by the frame is still a convex polygon that
# fills its rectangle; a lamp, a window or a face is far less rectangular.
MIN_RECTANGULARITY = 0.8
# Otsu always finds a split. Unless the bright side is this much brighter (of 255) than the dark
# side, there is no pale document on a darker table, only noise or texture.
MIN_SEPARATION = 12.0
# approxPolyDP tolerance as a share of the outline's perimeter: straight sides survive, the
# rounding of a card's corners and the pixel staircase do not.
POLYGON_TOLERANCE = 0.02
# The outline is inset by this share of the document's width before measuring, so the table,
# the shadow and the document's own border (a strong, always sharp-looking edge) do not count.
EDGE_INSET_FRACTION = 0.025

# --- measuring -------------------------------------------------------------------------------
# Smoothing (sigma, px at canonical width) before taking gradients: sensor noise would otherwise
# look like sharp detail in a dim photo. Sigmas add in quadrature, so a 3 px blur measures as
# 3.2 px: the boundary barely moves.
SHARPNESS_PRESMOOTH = 1.0
# Window (px at canonical width) in which an edge's step height is measured (local max - min):
# wide enough to span an edge blurred up to ~5 px sigma, so that a blurred edge is not taken
# for a sharp edge of lower contrast.
STEP_WINDOW = 15
# Only edges whose step is at least this share of the document's contrast are judged: text and
# the portrait's outline, not the faint security print.
EDGE_STEP_SHARE = 0.5
# The sharpness is this percentile of the edges' steepness: the steepest text edges show whether
# the lens was in focus; the softer majority depends on the document's design.
SHARPNESS_PERCENTILE = 90
# Contrast is the spread between these percentiles of the document's luminance (ink to paper),
# robust to a few hot or dead pixels.
CONTRAST_PERCENTILES = (1, 99)
# A pixel is blown out from this luminance on: clipped highlights are 255 and stay >= 250 after
# JPEG and resampling, while the palest printed paper of the specimens (the MRZ band) is 247.
GLARE_LEVEL = 250
# Blown-out pixels count as glare only in blobs of at least this share of the document: a
# reflection hides text, a few saturated specks do not.
MIN_GLARE_BLOB_FRACTION = 0.002
# A reflection lights the table around the document too: on degrade.glare's profile the table
# stays above Otsu's threshold out to 1.5-1.9 times the radius of the blown-out core. Image
# edges within twice the core's box are not counted as document contact.
HALO_SCALE = 2.0


@dataclass(frozen=True)
class QualityThresholds:
    """The limits the measurements are compared with (calibrated by bench/quality_gate.py).

    The numbers quoted are the bench's measurements over TD3 and TD1 specimens, 6 seeds each;
    "pass" is the brief's pass set (what a reader still reads), "fail" its reject set.
    """

    # Document width in pixels of the original photo (its longer side, at most 1.6 times its
    # shorter one), set by what the MRZ reader reads: flatbed scans as bench/gate_agreement.py
    # makes them (`scan`), 300-450 px wide, through verification.ocr.read_mrz, 3 seeds each:
    # TD1 cards 400 px wide and over are read 3/3, 350 px 0/3 (no MRZ found); TD3 pages 350 px
    # and over 3/3, 300 px 1/3. So 450-800 px scans pass. Pass: a 400 px document measures
    # >= 398 (bench/quality_gate.py); fail: a 350 px one <= 348.5.
    min_document_width_px: float = 380.0
    # Edge steepness at the text's scale (a page at CANONICAL_WIDTH, a card at 85.6/125 of it):
    # gradient / step height of the steepest text edges, about 0.4 / blur sigma. Set by what the
    # reader reads (bench/gate_agreement.py, Gaussian blur at the render's native size): TD3 is
    # read at radius 3 (measures >= 0.1696), 1 of 3 at radius 4 (<= 0.1411), never at 5
    # (<= 0.1131); TD1 is read at radius 4 (>= 0.1607), 2 of 5 at 4.5, never at 5 (<= 0.1352).
    # Scores from bench/quality_gate.py, 6 seeds; upscaled 3x the same photos measure within
    # 0.0004 of these.
    min_sharpness: float = 0.15
    # Median luminance of the document (0-255), set by what the MRZ reader reads (TD3 and TD1,
    # seeds 10-14, gate and reader on each photo of bench/gate_agreement.py's low light; the
    # reader denoises dim photos, verification/ocr.py DIM_PAPER): factor 0.1 measures 23-24 and
    # reads 10 of 10, and so do 0.08 (17-19) and 0.06 (13), with no false read; factor 0.12
    # (28) and over read 10 of 10. The limit sits between 0.08 and 0.1, a margin under the
    # darkest photos measured to read. (Before the reader denoised, 0.15 read 6 of 10 and 0.1
    # 1 of 10, and the limit was 42.)
    min_brightness: float = 21.0
    # Luminance spread (1st to 99th percentile) of the document: ink on paper. The dimmest
    # photos that pass on brightness, low_light 0.1, measure 24-28 and are read (see
    # min_brightness); 0.08 measures 19-23; a blank page or a flat image measures 0. Kept under
    # the pass set so that dim photos are refused by brightness (their real problem) and this
    # catches documents with nothing legible on them.
    min_contrast: float = 20.0
    # Share of the document in blown-out blobs. Pass: degrade "glare" measures <= 0.119 and a
    # full-strength hotspot of degrade.glare's largest size (0.28 of the long side) <= 0.139;
    # fail: a hotspot of 0.5 of the long side measures >= 0.316. Between them a 0.35 hotspot
    # measures 0.153-0.222.
    max_glare_fraction: float = 0.2
    # Share of the document's outline lying along an image edge whose opposite edge shows table
    # (the document slid out of the frame). Pass: 0 on every framed photo, rotated or keystoned,
    # and on cut_off_corner fraction <= 0.04; fail: a document crossing an edge lies along it with
    # a whole side and measures >= 0.288. A rotated document's corner poking out by d measures
    # ~2 d / width: depth 0.01 of the width <= 0.026 and 0.02 <= 0.043 pass, depth 0.03 (>= 0.058)
    # and 0.05 (>= 0.091) fail.
    max_border_contact: float = 0.05

    @classmethod
    def from_mapping(cls, overrides: Mapping[str, float]) -> "QualityThresholds":
        """The defaults with `overrides` applied; an unknown key or a non-number is a ValueError."""
        return settings_from_mapping(cls, overrides, "quality")


@dataclass(frozen=True)
class QualityReport:
    """The gate's findings: one check per measurement, the located document, the time taken."""

    checks: tuple[CheckResult, ...]
    document_box: tuple[tuple[float, float], ...] | None
    elapsed_ms: float

    @property
    def passed(self) -> bool:
        """True when no check rejected the photo."""
        return not self.failures

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """The rejected checks, the one the person should fix first at the front."""
        rejected = [check for check in self.checks if check.result == Result.REJECTED]
        return tuple(sorted(rejected, key=lambda check: _rank(check.check)))


@dataclass(frozen=True)
class _Document:
    """Where the document is, in pixels of the original image."""

    # Its convex outline (N x 2), or None when it was not located and the whole image stands in.
    outline: np.ndarray | None
    # The quadrilateral reported as the document box, or None.
    quad: np.ndarray | None
    long_side: float   # mean length of the longer pair of opposite sides
    short_side: float  # mean length of the shorter pair
    # Share of the outline's perimeter along each image edge (see _border_contact).
    contact: dict[str, float] = field(default_factory=dict)
    # Longer side / shorter side, each the longer of its opposite pair: a keystoned outline's
    # near edge keeps the document's proportions where the far one is foreshortened.
    aspect: float = 1.0

    @property
    def located(self) -> bool:
        """False when the whole image stands in for a document that was not found."""
        return self.outline is not None

    @property
    def width(self) -> float:
        """The width that sets the text's size: the longer side, capped by the shorter one.

        Text scales with the whole document: a region more elongated than any ID document (a
        thin strip, a panorama) only gets credit for the width its height supports.
        """
        return min(self.long_side, self.short_side * MAX_DOCUMENT_ASPECT)

    @property
    def is_card(self) -> bool:
        """True when the outline has a TD1 card's proportions rather than a passport page's."""
        return self.aspect >= CARD_MIN_ASPECT


def assess_document_photo(image: Image.Image,
                          thresholds: QualityThresholds = QualityThresholds()) -> QualityReport:
    """Judge a photo of an ID document: size, sharpness, brightness, glare and framing."""
    start = time.perf_counter()
    mid, factor = _mid_copy(image)
    small = _downscale(mid, LOCATE_LONG_SIDE)
    # Original pixels per locating-copy pixel, per axis (each reduction rounds the size).
    to_original = np.array((image.width / small.shape[1], image.height / small.shape[0]))
    document = _locate(small, to_original)
    if document is None:
        document = _Document(outline=None, quad=None, long_side=float(max(image.size)),
                             short_side=float(min(image.size)),
                             aspect=max(image.size) / max(1, min(image.size)))
    region, mask = _document_pixels(image, mid, factor, document)
    checks = (
        _size_check(document, thresholds),
        _sharpness_check(region, mask, document, thresholds),
        _brightness_check(region, mask, thresholds),
        _glare_check(region, mask, thresholds),
        _framing_check(document, thresholds),
    )
    box = None
    if document.quad is not None:
        box = tuple((round(float(x), 1), round(float(y), 1)) for x, y in document.quad)
    return QualityReport(checks=checks, document_box=box,
                         elapsed_ms=(time.perf_counter() - start) * 1000)


# --- copies ----------------------------------------------------------------------------------

def _luminance(image: Image.Image) -> Image.Image:
    """`image` as 8-bit luminance ("L")."""
    if image.mode == "L":
        return image
    try:
        return image.convert("L")
    except (ValueError, OSError):  # a mode Pillow cannot take to L directly
        return image.convert("RGB").convert("L")


def _mid_copy(image: Image.Image) -> tuple[np.ndarray, int]:
    """A luminance copy reduced by a whole factor to a long side of at least MID_LONG_SIDE."""
    factor = max(1, max(image.size) // MID_LONG_SIDE)
    if factor == 1:
        return np.asarray(_luminance(image), dtype=np.uint8), 1
    if image.mode == "RGB":
        # Reduce first: the luminance of 12 MP costs more than the colour of 3 MP.
        return np.asarray(image.reduce(factor).convert("L"), dtype=np.uint8), factor
    return np.asarray(_luminance(image).reduce(factor), dtype=np.uint8), factor


def _downscale(pixels: np.ndarray, long_side: int) -> np.ndarray:
    """`pixels` area-averaged down to a long side of `long_side` (never enlarged)."""
    height, width = pixels.shape
    scale = long_side / max(height, width)
    if scale >= 1.0:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


# --- locating --------------------------------------------------------------------------------

def _locate(small: np.ndarray, to_original: np.ndarray) -> _Document | None:
    """The pale document on a darker background, or None when there is no clear one."""
    height, width = small.shape
    if min(height, width) < MIN_LOCATE_SIDE:
        return None
    smooth = cv2.GaussianBlur(small, (5, 5), 0)
    level, bright = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    above = smooth > level
    if above.all() or not above.any():
        return None
    if float(smooth[above].mean()) - float(smooth[~above].mean()) < MIN_SEPARATION:
        return None
    # Opening drops table texture that crosses the threshold: it is thin next to a document.
    bright = cv2.morphologyEx(bright, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    # The convex hull: dark print, the portrait or the shadow at the document's edge would
    # otherwise bite notches into its outline.
    hull = cv2.convexHull(max(contours, key=cv2.contourArea))
    area = cv2.contourArea(hull)
    if area < MIN_DOCUMENT_AREA_FRACTION * height * width:
        return None
    (_, _), (rect_w, rect_h), _ = cv2.minAreaRect(hull)
    if rect_w * rect_h <= 0 or area / (rect_w * rect_h) < MIN_RECTANGULARITY:
        return None

    polygon = cv2.approxPolyDP(hull, POLYGON_TOLERANCE * cv2.arcLength(hull, True), True)
    corners = polygon.reshape(-1, 2).astype(np.float64)
    if len(corners) != 4:
        # A corner clipped by the frame, a bump of glare halo: the best-fitting rectangle.
        corners = cv2.boxPoints(cv2.minAreaRect(hull)).astype(np.float64)
    # Contours run through pixel centres: locating pixel i covers [i, i + 1).
    quad = (corners + 0.5) * to_original
    sides = [float(np.linalg.norm(quad[(i + 1) % 4] - quad[i])) for i in range(4)]
    short_side, long_side = sorted(((sides[0] + sides[2]) / 2, (sides[1] + sides[3]) / 2))
    near_short, near_long = sorted((max(sides[0], sides[2]), max(sides[1], sides[3])))
    outline = hull.reshape(-1, 2).astype(np.float64)
    return _Document(outline=(outline + 0.5) * to_original, quad=quad, long_side=long_side,
                     short_side=short_side, contact=_border_contact(outline, smooth),
                     aspect=near_long / max(near_short, 1e-6))


_EDGES = ("top", "bottom", "left", "right")
_OPPOSITE = {"top": "bottom", "bottom": "top", "left": "right", "right": "left"}


def _border_contact(outline: np.ndarray, smooth: np.ndarray) -> dict[str, float]:
    """How much of the document's outline runs along each image edge, as a share of its perimeter.

    Edge pixels lit by a reflection do not count: a large hotspot spills onto the table, and its
    halo, brighter than the threshold, joins the document and can reach the frame's edge. That
    is glare, which its own check reports, not a document leaving the picture.
    """
    height, width = smooth.shape
    perimeter = cv2.arcLength(outline.astype(np.float32).reshape(-1, 1, 2), True)
    if perimeter <= 0:
        return dict.fromkeys(_EDGES, 0.0)
    inside = np.zeros(smooth.shape, dtype=np.uint8)
    cv2.fillPoly(inside, [np.round(outline).astype(np.int32)], 1)
    inside[_glare_halo(smooth) > 0] = 0
    rows = {"top": inside[0], "bottom": inside[height - 1], "left": inside[:, 0],
            "right": inside[:, width - 1]}
    return {edge: float(np.count_nonzero(row)) / perimeter for edge, row in rows.items()}


def _glare_halo(smooth: np.ndarray) -> np.ndarray:
    """Non-zero where a reflection lights the scene: each blown-out blob's box, HALO_SCALE wider."""
    halo = np.zeros(smooth.shape, dtype=np.uint8)
    blown = (smooth >= GLARE_LEVEL).astype(np.uint8)
    count, _, stats, centroids = cv2.connectedComponentsWithStats(blown, connectivity=8)
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] < MIN_GLARE_BLOB_FRACTION * smooth.size:
            continue
        cx, cy = centroids[label]
        half_w = stats[label, cv2.CC_STAT_WIDTH] * HALO_SCALE / 2
        half_h = stats[label, cv2.CC_STAT_HEIGHT] * HALO_SCALE / 2
        cv2.rectangle(halo, (round(cx - half_w), round(cy - half_h)),
                      (round(cx + half_w), round(cy + half_h)), 1, thickness=-1)
    return halo


# --- the document's pixels -------------------------------------------------------------------

def _document_pixels(image: Image.Image, mid: np.ndarray, factor: int,
                     document: _Document) -> tuple[np.ndarray, np.ndarray]:
    """The document's luminance at canonical width, and the mask of its inset outline."""
    if document.outline is None:
        outline = np.array([(0, 0), (image.width, 0), (image.width, image.height),
                            (0, image.height)], dtype=np.float64)
    else:
        outline = document.outline
    left, top = (max(0, int(v)) for v in np.floor(outline.min(axis=0)))
    right, bottom = (int(v) for v in np.ceil(outline.max(axis=0)))
    right, bottom = min(image.width, max(right, left + 1)), min(image.height, max(bottom, top + 1))

    # Canonical pixels per original pixel, from the longer side rather than the aspect-capped
    # width: a thin strip would otherwise be enlarged to many megapixels.
    extent = document.long_side
    scale = CANONICAL_WIDTH / extent if extent >= MIN_MEASURABLE_WIDTH else 1.0
    # Read the reduced copy when it has the resolution, else (a document small in a large
    # photo) the original: the canonical copy is never an enlargement of a reduction.
    source_factor = factor if scale * factor <= 1.0 else 1
    box = (left // source_factor, top // source_factor,
           max(left // source_factor + 1, -(-right // source_factor)),
           max(top // source_factor + 1, -(-bottom // source_factor)))
    if source_factor == factor:
        crop = mid[box[1]:box[3], box[0]:box[2]]
    else:
        crop = np.asarray(_luminance(image.crop(box)), dtype=np.uint8)
    crop_scale = scale * source_factor  # canonical pixels per crop pixel
    if crop_scale != 1.0:
        size = (max(1, round(crop.shape[1] * crop_scale)),
                max(1, round(crop.shape[0] * crop_scale)))
        interpolation = cv2.INTER_AREA if crop_scale < 1 else cv2.INTER_LINEAR
        region = cv2.resize(crop, size, interpolation=interpolation)
    else:
        region = np.ascontiguousarray(crop)

    # The outline in region coordinates, filled, then inset: no table, shadow or document edge.
    offset = np.array(box[:2], dtype=np.float64) * source_factor
    mask = np.zeros(region.shape, dtype=np.uint8)
    cv2.fillPoly(mask, [np.round((outline - offset) * scale).astype(np.int32)], 255)
    inset = round(EDGE_INSET_FRACTION * max(region.shape))
    if document.located and inset >= 1:
        eroded = cv2.erode(mask, np.ones((2 * inset + 1, 2 * inset + 1), np.uint8))
        if eroded.any():
            mask = eroded
    if not mask.any():
        mask[:] = 255
    return region, mask


# --- the checks ------------------------------------------------------------------------------

def _size_check(document: _Document, thresholds: QualityThresholds) -> CheckResult:
    """Rejects a document with too few pixels across for its text to be read."""
    limit = thresholds.min_document_width_px
    return _result(CHECK_SIZE, document.width < limit, REASON_SIZE, document.width, limit,
                   {"document_located": document.located,
                    "long_side_px": round(document.long_side, 1),
                    "short_side_px": round(document.short_side, 1)})


def _sharpness_check(region: np.ndarray, mask: np.ndarray, document: _Document,
                     thresholds: QualityThresholds) -> CheckResult:
    """Rejects a document whose strongest edges are soft (out of focus or shaken)."""
    if document.long_side < MIN_MEASURABLE_WIDTH or min(region.shape) < 3:
        return CheckResult(CHECK_SHARPNESS, Result.CLEAR, score=None,
                           threshold=thresholds.min_sharpness, engine=ENGINE,
                           engine_version=ENGINE_VERSION,
                           details={"skipped": "too few pixels to measure"})
    if document.is_card:
        # The card's text is larger for its width: judge it at the same text size as a page's.
        scale = CARD_WIDTH_MM / PASSPORT_WIDTH_MM
        size = (max(3, round(region.shape[1] * scale)), max(3, round(region.shape[0] * scale)))
        region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
    sharpness, edges = _edge_sharpness(region, mask)
    return _result(CHECK_SHARPNESS, sharpness < thresholds.min_sharpness, REASON_SHARPNESS,
                   sharpness, thresholds.min_sharpness,
                   {"edge_pixels": edges, "format": "card" if document.is_card else "page",
                    "aspect": round(document.aspect, 3)})


def _edge_sharpness(region: np.ndarray, mask: np.ndarray) -> tuple[float, int]:
    """Steepness of the strongest edges (gradient / local step height, per px), and their count.

    A step of height h blurred by a Gaussian of sigma s has a peak gradient of
    h / (s * sqrt(2 pi)), so the ratio is ~0.4 / s whatever the light and the contrast, and
    whatever the amount of text, unlike the variance of the Laplacian.
    """
    pixels = cv2.GaussianBlur(region.astype(np.float32), (0, 0), SHARPNESS_PRESMOOTH)
    # Sobel with ksize 3 is 8 times the central difference: divided, levels per pixel.
    gradient = cv2.magnitude(cv2.Sobel(pixels, cv2.CV_32F, 1, 0, ksize=3) / 8,
                             cv2.Sobel(pixels, cv2.CV_32F, 0, 1, ksize=3) / 8)
    window = np.ones((STEP_WINDOW, STEP_WINDOW), np.uint8)
    step = cv2.dilate(pixels, window) - cv2.erode(pixels, window)
    low, high = _percentiles(region, mask, CONTRAST_PERCENTILES)
    edges = (mask > 0) & (step >= EDGE_STEP_SHARE * max(high - low, 1.0)) & (gradient > 0)
    count = int(np.count_nonzero(edges))
    if count == 0:
        return 0.0, 0
    return float(np.percentile(gradient[edges] / step[edges], SHARPNESS_PERCENTILE)), count


def _brightness_check(region: np.ndarray, mask: np.ndarray,
                      thresholds: QualityThresholds) -> CheckResult:
    """Rejects a dark document, or one with too little contrast between ink and paper.

    The score is the brightness, or the contrast when only the contrast is too low
    (``details["measure"]`` says which).
    """
    median, low, high = _percentiles(region, mask, (50, *CONTRAST_PERCENTILES))
    contrast = high - low
    details = {"brightness": median, "contrast": contrast,
               "min_contrast": thresholds.min_contrast}
    if median >= thresholds.min_brightness and contrast < thresholds.min_contrast:
        return _result(CHECK_BRIGHTNESS, True, REASON_BRIGHTNESS, contrast,
                       thresholds.min_contrast, {**details, "measure": "contrast"})
    return _result(CHECK_BRIGHTNESS, median < thresholds.min_brightness, REASON_BRIGHTNESS,
                   median, thresholds.min_brightness, {**details, "measure": "brightness"})


def _glare_check(region: np.ndarray, mask: np.ndarray,
                 thresholds: QualityThresholds) -> CheckResult:
    """Rejects a document with too large a share of it blown out by reflections."""
    area = int(np.count_nonzero(mask))
    blown = ((region >= GLARE_LEVEL) & (mask > 0)).astype(np.uint8)
    if min(blown.shape) >= 3:
        blown = cv2.morphologyEx(blown, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(blown, connectivity=8)
    sizes = stats[1:count, cv2.CC_STAT_AREA]
    blobs = sizes[sizes >= MIN_GLARE_BLOB_FRACTION * area]
    fraction = float(blobs.sum()) / area if area else 0.0
    largest = float(blobs.max()) / area if blobs.size else 0.0
    return _result(CHECK_GLARE, fraction > thresholds.max_glare_fraction, REASON_GLARE,
                   fraction, thresholds.max_glare_fraction,
                   {"blobs": int(blobs.size), "largest_blob_fraction": round(largest, 4)})


def _framing_check(document: _Document, thresholds: QualityThresholds) -> CheckResult:
    """Rejects a document that runs out of the frame: it lies along an image edge while the
    opposite edge shows the table.

    Touching every edge is a document filling the frame (a close-up, a scan): nothing shows it
    continues beyond. Touching two opposite edges only is the same in one direction. But when
    the document lies along one edge and the opposite edge is clear of it, the document was
    slid out of the picture on that side: the table on the far side shows that it was not
    simply framed tightly. A cut-off corner touches two adjacent edges, with table opposite both.
    When no document was located the whole image is the document, which fills the frame.
    """
    limit = thresholds.max_border_contact
    if not document.located:
        return _result(CHECK_FRAMING, False, REASON_FRAMING, 0.0, limit,
                       {"document_located": False, "touching": [], "cut_edges": []})
    contact = document.contact
    touching = [edge for edge in _EDGES if contact[edge] > limit]
    clear_opposite = [edge for edge in _EDGES if contact[_OPPOSITE[edge]] <= limit]
    cut = [edge for edge in touching if edge in clear_opposite]
    score = max((contact[edge] for edge in clear_opposite), default=0.0)
    return _result(CHECK_FRAMING, bool(cut), REASON_FRAMING, score, limit, {
        "document_located": True, "touching": touching, "cut_edges": cut,
        "fills_frame": len(touching) == len(_EDGES),
        "contact": {edge: round(value, 4) for edge, value in contact.items()}})


# --- helpers ---------------------------------------------------------------------------------

def _result(check: str, rejected: bool, reason: str, score: float, threshold: float,
            details: dict) -> CheckResult:
    """A CheckResult of this engine: rejected with `reason`, or clear."""
    return CheckResult(check, Result.REJECTED if rejected else Result.CLEAR,
                       reason_code=reason if rejected else None,
                       score=round(float(score), 4), threshold=float(threshold),
                       engine=ENGINE, engine_version=ENGINE_VERSION, details=details)


def _percentiles(region: np.ndarray, mask: np.ndarray,
                 percents: tuple[float, ...]) -> tuple[float, ...]:
    """Percentiles of the masked 8-bit pixels, read off their histogram (no sorting)."""
    hist = cv2.calcHist([region], [0], mask, [256], [0, 256]).ravel()
    total = float(hist.sum())
    if total <= 0:
        return tuple(0.0 for _ in percents)
    cumulative = np.cumsum(hist) / total
    return tuple(float(np.searchsorted(cumulative, p / 100.0)) for p in percents)


def _rank(check: str) -> int:
    """Position of `check` in ACTIONABLE_ORDER."""
    return ACTIONABLE_ORDER.index(check) if check in ACTIONABLE_ORDER else len(ACTIONABLE_ORDER)
