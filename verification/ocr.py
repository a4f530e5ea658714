"""Reading the ICAO 9303 machine-readable zone (MRZ) from a photo of an identity document.

The photo is a phone picture of a passport data page or an ID card lying on a table: maybe
rotated, tilted, blurred, dim, glared or recompressed. The reader

1. finds text lines with RapidOCR's detector on a downscaled copy (fast), and picks the 2 or 3
   long, parallel, evenly spaced lines of equal length that make up an MRZ;
2. cuts each line out of the full-resolution photo as a straight strip (deskewed);
3. fits the fixed-pitch character grid to each strip: every MRZ position holds a printed
   character (fillers are printed '<'), so the ink is periodic with the character pitch, and the
   line has a known number of cells (30, 36 or 44);
4. recognises each strip several ways (whole line, two chunkings) and maps every character the
   recogniser returns to its grid cell by its position. This is what fixes the recogniser's
   miscounted '<' runs and dropped or merged characters: a cell nobody read is visible as such,
   and is read on its own;
5. votes per cell, parses the lines with `verification.mrz.parse_mrz`, and when the check digits
   fail tries the few alternative readings the recogniser itself produced for uncertain cells,
   keeping one only if it is the single variant whose check digits all agree.

Nothing is guessed beyond that: a character no reading produced is never filled in, except '<'
inside a run of fillers, and parse_mrz's own repairs are justified by check digits.
"""

import dataclasses
import functools
import importlib.metadata
import itertools
import math
import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import cv2
import numpy as np
from PIL import Image, ImageOps

from .mrz import (
    CHECKABLE_TWINS,
    CHOSEN_BY_CHECK_DIGIT,
    CHOSEN_BY_CODE_LIST,
    FILLER,
    MrzError,
    MrzResult,
    checked_positions,
    chosen_repair,
    code_positions,
    field_kinds,
    known_code,
    parse_mrz,
    sex_position,
)
from .serialised import Serialised

if TYPE_CHECKING:
    from rapidocr_onnxruntime import RapidOCR

ENGINE = "rapidocr-onnxruntime"

# Line detection runs on a copy whose longer side is this long: MRZ lines of a document that
# fills a good part of the frame are still 15+ px tall there, and detection costs ~0.3 s instead
# of ~1 s at full size. Recognition then works on the full-resolution pixels.
DETECT_MAX_SIDE = 960

# The detector keeps a text region when its mean text score is 0.5 or more. By default ("fast")
# that mean is taken over the region's rotated bounding rectangle; "slow" takes it over the
# region's own outline. The MRZ of a bowed card photographed at 8-12 MP is boxed as three
# curved regions whose rectangles are half background: all three were dropped, and the photo
# gave "no machine-readable zone was found". Tune split of bench.mrz_bed, card photos: cases
# 0-39 read 35 before and 37 after (three more read, one lost); of six cases 70-109 the reader
# found nothing in, three were then read. Every other condition of cases 0-39 read the same.
DETECT_SCORE_MODE = "slow"
# Photos larger than this (relative to DETECT_MAX_SIDE) get a second, finer detection pass when
# the first finds no MRZ: a small document in a big photo has tiny lines at 960 px.
DETECT_RETRY_MAX_SIDE = 1600
# A zone needs one text line at least this many times longer than high: the shortest MRZ line
# (TD1, 30 characters) is about 24 times its height, field values and labels rarely exceed 12.
MIN_LINE_ASPECT = 12.0
# The other lines of the zone need only be this elongated: the detector may see only a piece of
# them (a short name followed by a blurred run of '<' can be all it finds of a TD3 first line).
MIN_PIECE_ASPECT = 3.0
# Detected pieces of one line (the detector may lose the middle of a line to blur or glare) are
# joined when their angles differ by less than this many degrees...
MERGE_MAX_ANGLE = 2.0
# ...their axes are closer than this fraction of the line height...
MERGE_MAX_OFFSET = 0.35
# ...their heights differ by less than this factor...
MERGE_MAX_HEIGHT_RATIO = 1.5
# ...and the gap between them is shorter than this many line heights (a blurred run of '<' has
# been seen to cost the detector 12 line heights).
MERGE_MAX_GAP = 20.0
# MRZ lines are printed parallel, one under the other, with the same length (ICAO 9303 part 3):
# lines of one zone differ in angle by less than this many degrees (perspective adds a little)...
BAND_MAX_ANGLE = 3.0
# ...their centres lie between these many line heights apart (the specimens: 1.8 to 2.3; a
# bent card's lines are boxed taller, arc and all: 1.13-1.18 in the test bed's tune split's
# 12 MP card photos, where 1.2 kept their three lines from forming a zone)...
BAND_SPACING = (0.9, 3.2)
# ...and where the photo gives no periodic zone that way (nor on a closer look in halves), lines
# as close as this are stacked too: a small card bowed more has its three lines boxed about
# 120 px high for 48 px print, 94 px apart (0.78; tune split, card_photo-069 and -071). Taken
# for every photo, it read those two but lost eight of the tune split's 84 card photos that
# read before, one to a false read: the closer stacking pairs a line with its neighbours'
# boxes, and those zones outrank the MRZ.
LOOSE_BAND_SPACING = (0.7, 3.2)
# ...and they overlap along the line by at least this fraction of the shorter one (a glare spot
# may hide part of one line from the detector, so lengths themselves may differ).
BAND_MIN_OVERLAP = 0.5
# At most this many candidate zones are read per photo: each costs about a second.
MAX_BANDS = 2
# Candidate zones are read in order of how periodic their weakest line's ink is (the strength of
# the Fourier component at the character pitch, 0 to 1); below this they are not read at all.
MIN_PERIODICITY = 0.12

# Characters per line for each line count (ICAO 9303 parts 4 to 7).
LINE_WIDTHS = {2: (44, 36), 3: (30,)}
# Strips are cut this many detected line heights tall: the detector's box hugs the glyphs, and the
# recogniser reads better with some paper above and below (measured: 1.3 to 1.7 read best).
STRIP_HEIGHT = 1.5
# Strips are rescaled to this many pixels high: the height RapidOCR's recogniser takes (it
# resizes every input to 48 px high anyway, with a plain bilinear resize that aliases a 90 px
# strip of a 12 MP photo). Cut at this height once, area-averaged when shrinking and bicubic
# when enlarging a small scan, every later step (ink profile, grid fit, cell looks) works on a
# few hundred thousand pixels instead of millions: on four 8-13 MP specimen photos the grid fit
# and ink profile took 0.49 s a photo at full resolution (cProfile, 2026-12-06).
STRIP_PIXELS = 48
# The recogniser pads every input of a batch to the widest one, and to at least this width
# (RapidOCR's default is 320: a single cell, 30 px wide, cost as much as a 12-cell chunk).
# Batches are sorted by width, so cells read alone now batch with cells.
REC_MIN_WIDTH = 48
# Recognition inputs per onnxruntime call: a zone's chunks (about 33 for three lines) in two or
# three calls.
REC_BATCH = 16
# Strips extend this many line heights beyond the detected ends, in case the detector missed the
# first or last characters (glare, blur); the grid fit then finds where the ink really ends.
STRIP_MARGIN = 1.0
# When print with the line's rhythm still runs into a strip's end, the strip grows by this
# fraction of the detected zone's length while the photo has room, in at most STRIP_GROWTH cuts:
# the detector often stops before a run of faint '<' (a light OCR-B on a TD1 card's back lost
# the last 4 to 7 characters of all three lines, '<<<<7' included, on 5 of 60 clean renders of
# the tune split; it had seen 76% of one line, which two cuts reach; in the moire of a screen
# it boxed 60% of a card's lines, which takes three: 4 of the 9 screen photos of the tune split
# that did not read at 40 cases per condition, screen_moire-036 among them, read with three).
# What a growth adds is kept where its ink goes on with the line's grid: its Fourier component
# at the line's pitch is GROWTH_RHYTHM strong or more, at a phase within GROWTH_PHASE of a
# cycle of the component of the GROWTH_WINDOW pitches of print the detector saw next to it.
# Where those renders' '<' ran on: strength 0.31 to 0.50, phase 0.01 to 0.03. In the grain of
# 12 dim photos (a strip grown there takes the grain for print and fits the grid a character
# off): strength up to 0.35 at any phase, and at most 0.25 where the phase was within 0.1. Ink
# beyond a gap from the detected print (the card's edge, the table) is left out by _ink_extent.
STRIP_REACH = 0.25
STRIP_GROWTH = 4
GROWTH_RHYTHM = 0.28
GROWTH_WINDOW = 4
GROWTH_PHASE = 0.1
# The ink profile uses the middle rows of the strip only (this fraction of a detected line height
# either side of the centre), so a neighbouring line's descenders or ascenders do not count.
PROFILE_HALF_HEIGHT = 0.5
# The pitch search looks this far (relative) either side of the pitch the ink extent implies: wide
# enough for an extent off by a character, narrow enough to keep 36 and 44 characters apart.
PITCH_SEARCH = 0.06
PITCH_STEPS = 61
# Each line is recognised in chunks, in several layouts: (chunks per line, start offset as a
# fraction of a chunk). Whole lines read badly: the recogniser's language context drops
# characters from long digit runs and short names between long '<' runs. Chunks of 8 to 15
# cells read well, and different cuts make different mistakes, which the votes then expose.
# A chunk is padded to the recogniser's 320 x 48 input anyway, so shorter ones cost no less.
CHUNKINGS = ((4, 0.0), (4, 0.5), (3, 0.0))
# The first chunking's reading is taken alone (a third of the recognition time) when every
# character but '<' was read with at least this confidence, no cell two ways, and every check
# digit holds with nothing chosen by a check digit; otherwise the other chunkings are read as
# well. Measured on 60 upright specimen photos (TD3 and TD1, the seven readable conditions at
# 12 MP and scans 450-800 px wide, 3 seeds): every reading taken this way was right, their
# lowest character confidence was 0.29.
FAST_MIN_CONFIDENCE = 0.25
# A zone whose first reading has a median character confidence below this is read turned 180
# degrees too. Measured on the same photos: upright 0.87 to 0.99, upside down 0.26 to 0.71.
UPRIGHT_CONFIDENCE = 0.8
# Chunks are cut this many pitches wider on each side: a character touching the crop's edge
# is often dropped (the last check digit of a line, in most first-chunking reads of 12 MP
# photos); characters read in the padding are not counted.
CHUNK_PAD = 0.5
# Crops narrower than this many pixels (a cell clipped by the photo's edge) are not recognised.
MIN_CROP_WIDTH = 3
# A '<' cell is settled when this many chunk readings agree on it and nothing contradicts them;
# other characters need all chunkings.
MIN_AGREEING_READS = 2
# A cell read alone counts this much more than one chunk reading: without neighbours it cannot
# be merged with one ('C3' read as '℃') or dropped next to a look-alike run.
SINGLE_READ_WEIGHT = 1.5
# A zone with more doubtful cells than this is too damaged for cell-by-cell reading to help.
MAX_SINGLE_CELLS = 40
# The '<' look: a template is made from at least this many cells all readings took for '<'
# (and compared with as many they took for something else)...
MIN_TEMPLATE_CELLS = 4
# ...cells are matched allowing a shift of this fraction of the pitch...
TEMPLATE_SHIFT = 0.12
# ...and the look is only used when '<' cells and printed cells score at least this far apart
# (measured: 0.3 or more on sharp photos, overlapping on heavy blur).
FILLER_MARGIN = 0.15
# A cell the chunk readings took for a letter, not read alone (or read alone as nothing), is '<'
# when the look of '<' says so for it and the cells around it, this many in a row: a name
# never holds '<<<', so such a run is padding (or the '<' run after a number). On a light
# OCR-B passport photographed off a screen (tune split, screen_moire-034) every chunk read the
# name's padding as 'AAAA...', which _filler_read_as_letters refuses; the look took all 30 of
# those cells for '<', and none of the 14 letters and digits around them.
MIN_LOOK_RUN = 3
# Alternative readings: only cells some reading disagreed on are varied, at most this many of
# them, and at most this many combinations are parsed. Every variant is another chance for a
# wrong reading to pass by luck (1 in 10 per check digit), so the numbers stay small and a
# variant is only kept if it is the single one whose check digits all agree.
MAX_VARIED_CELLS = 4
MAX_VARIANTS = 16
# Nor is a reading with less than this share of a cell's votes tried (a look-alike the look
# offers is). Of the 12 variants the tune split's photos took (40 per condition, 8 conditions),
# the 11 right ones changed cells to readings with 0.21 to 0.48 of the votes, or to a marked
# look-alike; the one false read took a '4' with 0.16 for the '<' after a document number.
MIN_ALTERNATIVE_SHARE = 0.2
# Letters in a name's padding (after '<<<') in runs this short are marks of the '<' print; see
# _padding_marks (the tune split's two false reads had runs of 1 to 3: 'LK', 'K', 'LLC').
MAX_PADDING_MARK = 3

# A photo (its detection copy) or a zone whose paper is darker than this (grey level, 0-255, the
# 90th percentile) is denoised before lines are detected and before the zone is cut: in a dim
# photo the sensor's grain is as strong as the print. Paper under a normal lamp measures
# 150-240; bench.gate_agreement's low light x0.1 measures 28, x0.2 51, x0.3 75, x0.5 124.
# Photos at x0.3 and brighter read 10 of 10 as they are (TD3 and TD1, seeds 10-14), so they
# are left alone and cost nothing more.
DIM_PAPER = 64
# The denoising: OpenCV's non-local means (colour) at this strength (of 255), then a stretch of
# the grey levels from the 1st to the 99th percentile. A strip of a large photo is denoised
# after it is area-averaged to STRIP_PIXELS high (a fraction of the pixels), a small scan's
# before it is enlarged. Measured on TD1 and TD3 specimens at low light x0.06-x0.3 (seeds
# 10-14, 70 photos): every one read right and no false read; before, x0.1 read 1 of 10, x0.15
# 6 of 10. Denoising in grey instead of colour read 0 of 10 at x0.08 and gave a false read; a
# Gaussian blur (sigma 1.2) read 13 of 20 at x0.1-0.15, a stretch alone 7 with 2 false reads.
# A dim 12 MP photo reads in about 2 s (four photos at x0.1, with another job on the cores).
DENOISE_STRENGTH = 10
# The detection copy of a dim photo is denoised over a smaller search window (pixels): the
# detector needs the lines' extent, not their glyphs, and it costs 0.2 s instead of 0.64 s on
# a 960 px copy (the 20 photos at x0.08-0.1 read right with either window).
DETECT_DENOISE_SEARCH = 11

# A cell read as one of a look-alike pair is offered the other when it looks this much more like
# the zone's cells surely read as the other (mean normalised correlation; see _look_for_twins).
TWIN_MARGIN = 0.05
# Where the twin is surely read nowhere in the zone, a cell is offered it when it looks less like
# the zone's cells surely read as what it was read as (at least two) than they look like each
# other, by TWIN_OUTLIER or more. Tune split of bench.mrz_bed, 12 photos a condition, cells read
# as a look-alike whose twin had no sure cell: of 23 read as the wrong twin (mostly 'O' read
# as '0' in a document number, a 'Z' read as '2' on a screen photo) the shortfall was 0.046 to
# 0.296, 18 of them 0.08 or more; of 503 read right, 99% fell short by less than 0.076 and 6
# by 0.08 or more (grid cells cut across two glyphs on card photos).
TWIN_OUTLIER = 0.08
# On blurred print every glyph correlates highly with every other, and a mis-read look-alike
# stays within TWIN_MARGIN of both: the cells of 'ZZ' in a blurred document number '9ZZ2', read
# '22', matched the zone's sure 'Z' at 0.998 and its sure '2' at 0.962. Distances (1 - likeness)
# tell them apart where differences do not: a cell is also offered its twin when its distance to
# its reading's sure cells is TWIN_RATIO times its distance to the twin's, and it is at least
# TWIN_MIN_GAIN more like the twin. Tune split of bench.mrz_bed, cases 0-39 of every condition
# (the cells of 527 photos whose reading lined up with the printed MRZ): of 265 cells read as
# the wrong twin where both had sure cells, 245 were marked before and 262 with this; of 5,224
# read right, 8 were marked before and the same 8 with it (ratio of the right ones with the twin
# nearer: at most 2.2; of the wrong ones not marked before: 4.4 and more, but for two).
TWIN_RATIO = 3.0
TWIN_MIN_GAIN = 0.01
# Where the twin is surely read nowhere, a cell is also offered it when its distance to its
# reading's sure cells is TWIN_OUTLIER_RATIO times what is typical between two prints of one
# character in the zone (_typical_likeness; the floor keeps a sharp clean zone from making a
# hair's difference count). The same cells: of 75 read as the wrong twin, 54 were marked before
# and 68 with this; of 2,889 read right, 11 before and 12 with it (at 8: 70 and 15).
TWIN_OUTLIER_RATIO = 9.0
TWIN_LIKENESS_FLOOR = 1e-3
# A name's letter read two ways is taken from the look (_look_at_names) when the cell is no
# farther from the zone's prints of that letter than this many times what is typical between
# two prints of one character there. Tune split of bench.mrz_bed, cases 0-39 of every
# condition, the 86 cells of a name (its padding too) read as two letters or more: the
# three 'M' of a blurred 'MOHAMMED' read as 'X', 'R' and 'N' lay 0.9-1.5 times the typical
# distance from the zone's 'M'. Of the letters read right, the nearest other letter lay 3.1
# times away where the zone had prints of the letter read as well (an 'E' from the 'L', on a
# screen; the ratio to those prints decides there, TWIN_RATIO), and 6.1 times where it had
# none (a card photo's 'M' from the 'E').
NAME_LOOK_RATIO = 3.0

# When nothing periodic was found on a photo reduced by more than ZOOM_MAX_SCALE, the lines at
# least ZOOM_LENGTH as long as the longest are looked at again: their part of the photo, widened
# by ZOOM_MARGIN of its width (a quarter of that up and down), is detected on at
# DETECT_MAX_SIDE in two halves that overlap (ZOOM_HALF of the width each). A bent card
# photographed at 12 MP has 20 px lines on the 960 px copy, and the detector boxed its three
# bowed MRZ lines as one or two; on half the zone's part they are 50 px or more and nearly
# straight. Card photos of the tune split read: 7 of 12 before, 9 of 12 with it (no false
# read); ten photos of one bent card: 5 before, 9 with it. check_document at 12 MP did not
# get slower (bench.document_checks: p50 789 ms, p95 1086 ms).
ZOOM_MAX_SCALE = 0.5
ZOOM_LENGTH = 0.5
ZOOM_MARGIN = 0.1
ZOOM_HALF = 0.6

# What a cell nothing was read in shows in the lines (parse_mrz takes it for '<' with a warning).
UNREAD = "?"

# Ink at a strip's end narrower than EDGE_BLOT line heights and more than EDGE_GAP line heights
# from the rest is not print (see _ink_extent): neighbouring MRZ characters are less than half
# a line height apart.
EDGE_GAP = 0.5
EDGE_BLOT = 1.0
# A bowed line (a flexed card) is followed when the parabola through its ink's centre rows
# departs this many pixels (of STRIP_PIXELS) from straight; the centre rows are looked for
# within this many line heights of the strip's middle.
BOW_MIN_PIXELS = 1.5
BOW_REACH = 0.6

# A photo with a side shorter than this cannot show a readable MRZ line (OCR-B needs ~15 px a
# character in height, and two or three lines with spacing).
MIN_PHOTO_SIDE = 48

# What the recogniser prints for MRZ characters it does not have or confuses, after NFKC (which
# already folds full-width forms and turns '℃' into '°C').
_LOOKALIKES = {"«": "<<", "《": "<<", "〈": "<", "‹": "<", "く": "<"}


@dataclass(frozen=True)
class MrzReading:
    """What `read_mrz` found in one photo."""

    lines: tuple[str, ...]
    result: MrzResult | None
    confidence: float | None
    engine: str
    engine_version: str
    elapsed_ms: float
    error: str | None

    @property
    def found(self) -> bool:
        """Whether an MRZ was found and parsed (its check digits may still disagree)."""
        return self.result is not None


class OcrUnavailable(RuntimeError):
    """The OCR engine cannot be loaded (package or model missing, runtime broken)."""


# One OCR call at a time in a process (serialised.py): the upload path and the background
# checks share the engine.
ENGINE_LOCK = threading.RLock()


@functools.lru_cache(maxsize=1)
def ocr_engine() -> "Serialised":
    """The RapidOCR engine, loaded once per process, each call under ENGINE_LOCK."""
    with ENGINE_LOCK:
        return Serialised(_load_engine(), ENGINE_LOCK)


def _load_engine() -> "RapidOCR":
    """Import RapidOCR and load its models; OcrUnavailable when either fails."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except (ImportError, OSError) as exc:
        raise OcrUnavailable(
            f"The OCR engine ({ENGINE}) cannot be imported: {exc}. Install the project's "
            "dependencies (rapidocr-onnxruntime, onnxruntime, opencv-python-headless)."
        ) from exc
    try:
        # Detection is only asked for on images already scaled to DETECT_MAX_SIDE, so cap it
        # there (the default "min 736" would upscale). A larger recognition batch lets one
        # onnxruntime call take all chunks of a zone. See DETECT_SCORE_MODE.
        return RapidOCR(det_limit_side_len=DETECT_MAX_SIDE, det_limit_type="max",
                        det_score_mode=DETECT_SCORE_MODE,
                        rec_batch_num=REC_BATCH, rec_img_shape=[3, STRIP_PIXELS, REC_MIN_WIDTH])
    except Exception as exc:  # the models are files in the wheel: any failure is unavailability
        raise OcrUnavailable(f"The OCR engine ({ENGINE}) cannot load its models: {exc}") from exc


@functools.lru_cache(maxsize=1)
def engine_version() -> str:
    """The installed rapidocr-onnxruntime version, or 'unknown'."""
    try:
        return importlib.metadata.version(ENGINE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def read_mrz(image: Image.Image, *, today: date | None = None) -> MrzReading:
    """Find, read and parse the MRZ in a photo of a document; raises OcrUnavailable."""
    return read_mrz_sides([image], today=today)[0]


def read_mrz_sides(images: list[Image.Image], *,
                   today: date | None = None) -> tuple[MrzReading, int | None]:
    """The MRZ of a document photographed on one or more sides (a TD1 card carries it on the
    back), and the index of the side it was read from; raises OcrUnavailable.

    Lines are found on every side first (a detection on a reduced copy each); the candidate
    zones of all sides are then read in order of how periodic their ink is, so the side without
    an MRZ costs a detection, not a reading.
    """
    start = time.perf_counter()
    engine = ocr_engine()
    best: tuple[_Attempt, int] | None = None
    found = False
    # In colour first; then, when that gives no reading whose check digits validate, on a grey
    # copy: in a photo of a screen the colours of its sub-pixels beat against the camera's
    # (moire), and the detector misses light print, or finds only part of a line, in colour.
    for grey in (False, True):
        candidates: list[tuple[_Zone, int]] = []
        for side, image in enumerate(images):
            if min(image.size) < MIN_PHOTO_SIDE:
                # Nothing this thin can hold an MRZ line, and OpenCV cannot scale it to zero
                # pixels.
                continue
            candidates.extend((zone, side) for zone in _candidate_zones(engine, image, grey=grey))
        candidates.sort(key=lambda candidate: -candidate[0].periodicity)
        found = found or bool(candidates)
        for zone, side in candidates:
            attempt = _read_zone(engine, zone, today)
            if best is None or attempt.rank > best[0].rank:
                best = (attempt, side)
            if best[0].validated:
                break
        if best is not None and best[0].validated:
            break
    elapsed = (time.perf_counter() - start) * 1000
    common = {"engine": ENGINE, "engine_version": engine_version(), "elapsed_ms": elapsed}
    if best is None or best[0].result is None:
        error = ("No machine-readable zone was found in the photo." if not found else
                 "Text lines that look like a machine-readable zone were found, but they could "
                 "not be read as one.")
        attempt = best[0] if best else None
        return MrzReading(lines=attempt.lines if attempt else (), result=None,
                          confidence=attempt.confidence if attempt else None, error=error,
                          **common), None
    attempt, side = best
    return MrzReading(lines=attempt.lines, result=attempt.result,
                      confidence=attempt.confidence, error=None, **common), side


def _candidate_zones(engine: Serialised, image: Image.Image, *,
                     grey: bool = False) -> list["_Zone"]:
    """The photo's candidate zones periodic enough to be read, the most periodic first; with
    `grey`, the detector looks at a grey copy (the zones are still cut from the colour photo:
    the print stands out more in some colour than in grey)."""
    photo = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    # RapidOCR's models take OpenCV's BGR order when given an array.
    bgr = cv2.cvtColor(photo, cv2.COLOR_RGB2BGR)
    for max_side in (DETECT_MAX_SIDE, DETECT_RETRY_MAX_SIDE):
        # Small scans are enlarged to the same size: the detector misses the 8-10 px lines of
        # a 450-600 px wide passport scan, and finds them at 960 px.
        scale = max_side / max(bgr.shape[:2])
        small = bgr if scale == 1.0 else cv2.resize(
            bgr, None, fx=scale, fy=scale,
            interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC)
        # In a dim photo the detector sees the grain and misses the faint ends of lines (a
        # passport's '<' runs): it looks at a denoised copy instead.
        dim = np.percentile(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), 90) < DIM_PAPER
        seen = _denoised(small, DETECT_DENOISE_SEARCH) if dim else small
        seen = _grey(seen) if grey else seen
        lines = _detect_lines(engine, seen, scale)
        bands = _group_bands(lines)
        if bands or max(bgr.shape[:2]) <= DETECT_RETRY_MAX_SIDE:
            break
    # Candidate zones are ranked on the reduced copy (a photo has a dozen or more; cutting and
    # fitting each at 12 MP took 0.5 s of a read), and only those read are cut at full size.
    shrink = min(scale, 1.0)
    source = small if shrink < 1.0 else bgr
    ranked = sorted(((_ranked_zone(source, _scaled(band, shrink)), band) for band in bands),
                    key=lambda found: -found[0].periodicity)
    chosen = [(zone, band) for zone, band in ranked if zone.periodicity >= MIN_PERIODICITY]
    if not chosen and scale < ZOOM_MAX_SCALE:
        # Nothing periodic at this scale: the lines of a bent card, boxed together in pairs on
        # the reduced copy, are looked for again on the longest boxes' part of the photo (in
        # colour: the grey copy's lines only say where).
        zoomed = _zoomed_bands(engine, bgr, lines)
        ranked = sorted(((_ranked_zone(source, _scaled(band, shrink)), band) for band in zoomed),
                        key=lambda found: -found[0].periodicity)
        chosen = [(zone, band) for zone, band in ranked if zone.periodicity >= MIN_PERIODICITY]
    if not chosen:
        # Still nothing: lines stacked closer than an MRZ's, as a small bowed card's are boxed.
        known = {tuple(map(id, band)) for band in bands}
        loose = [band for band in _group_bands(lines, LOOSE_BAND_SPACING)
                 if tuple(map(id, band)) not in known]
        ranked = sorted(((_ranked_zone(source, _scaled(band, shrink)), band) for band in loose),
                        key=lambda found: -found[0].periodicity)
        chosen = [(zone, band) for zone, band in ranked if zone.periodicity >= MIN_PERIODICITY]
    picked = chosen[:MAX_BANDS]
    if all(len(band) < 3 for _, band in picked):
        picked += [found for found in chosen[MAX_BANDS:] if len(found[1]) == 3][:1]
    return [_zone(bgr, band, clean=zone.clean) if shrink < 1.0 else zone
            for zone, band in picked]


def _grey(bgr: np.ndarray) -> np.ndarray:
    """A grey copy of a BGR photo, in three channels as the detector takes it."""
    return cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def _ranked_zone(source: np.ndarray, band: list["_Line"]) -> "_Zone":
    """The zone cut for ranking; a dim one is cut again denoised (see DIM_PAPER)."""
    zone = _zone(source, band)
    return zone if zone.paper >= DIM_PAPER else _zone(source, band, clean=True)


def _scaled(band: list["_Line"], factor: float) -> list["_Line"]:
    """The zone's lines in a copy of the photo scaled by `factor`."""
    if factor == 1.0:
        return band
    return [_Line(tuple(np.multiply(line.left, factor)), tuple(np.multiply(line.right, factor)),
                  line.height * factor) for line in band]


# --- Text normalisation -------------------------------------------------------------------------


def normalise_char(text: str) -> str:
    """MRZ characters for what the recogniser printed at one position ('' when none)."""
    out = []
    for char in unicodedata.normalize("NFKC", text):
        char = _LOOKALIKES.get(char, char).upper()
        # '°' (from '℃'), spaces, quotes and other punctuation are not MRZ characters: dropped.
        out.append("".join(c for c in char if c.isascii() and (c.isalnum() or c == FILLER)))
    return "".join(out)


def normalise_line(text: str) -> str:
    """A recognised line as MRZ characters: NFKC (full-width forms), look-alikes for '<',
    upper case, spaces and stray punctuation dropped."""
    return "".join(normalise_char(char) for char in text)


def fit_fillers(line: str, width: int) -> list[str]:
    """Ways to bring `line` to `width` characters by lengthening or shortening one run of '<'
    (the recogniser miscounts long runs), most likely first; [line] if it already fits.

    The last run comes first (the padding after a name or optional data is the longest and the
    most often miscounted), then the other runs, longest first. Shortening only takes fillers
    away, lengthening only adds fillers next to fillers, so no other character changes.
    """
    delta = width - len(line)
    if delta == 0:
        return [line]
    runs = [(m.start(), m.end()) for m in _filler_runs(line)]
    runs = [run for run in runs if run[1] - run[0] + min(delta, 0) >= 1]
    if not runs:
        return [line[:width].ljust(width, FILLER)]
    ordered = [runs[-1], *sorted(runs[:-1], key=lambda run: run[0] - run[1])]
    fitted = []
    for begin, end in ordered:
        length = end - begin + delta
        fitted.append(line[:begin] + FILLER * length + line[end:])
    return list(dict.fromkeys(fitted))


def _filler_runs(line: str):
    """Match objects for the runs of '<' in `line`."""
    return re.finditer(r"<+", line)


# --- Finding the zone ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    """A detected text line: the centres of its two ends and its height, in photo pixels."""

    left: tuple[float, float]
    right: tuple[float, float]
    height: float

    @property
    def vector(self) -> np.ndarray:
        return np.subtract(self.right, self.left)

    @property
    def length(self) -> float:
        return float(np.hypot(*self.vector))

    @property
    def angle(self) -> float:
        """Degrees, clockwise in image coordinates."""
        dx, dy = self.vector
        return math.degrees(math.atan2(dy, dx))

    @property
    def centre(self) -> np.ndarray:
        return (np.asarray(self.left) + np.asarray(self.right)) / 2


def _detect_lines(engine: Serialised, small: np.ndarray, scale: float,
                  offset: tuple[float, float] = (0.0, 0.0)) -> list[_Line]:
    """The text lines the detector finds (in the photo's pixels); `small` is the photo (or
    its part from `offset`) scaled by `scale` for the detector."""
    boxes, _ = engine(small, use_det=True, use_cls=False, use_rec=False)
    if not boxes:
        return []
    lines = []
    for box in boxes:
        quad = np.asarray(box, dtype=np.float64) / scale + np.asarray(offset)
        top_left, top_right, bottom_right, bottom_left = quad
        height = (np.hypot(*(bottom_left - top_left)) + np.hypot(*(bottom_right - top_right))) / 2
        left, right = (top_left + bottom_left) / 2, (top_right + bottom_right) / 2
        lines.append(_Line(tuple(left), tuple(right), float(max(height, 1.0))))
    return [line for line in _merge_pieces(lines)
            if line.length >= MIN_PIECE_ASPECT * line.height]


def _zoomed_bands(engine: Serialised, bgr: np.ndarray,
                  lines: list[_Line]) -> list[list[_Line]]:
    """Candidate zones found again on the part of the photo the longest detected lines cover
    (with a margin), scaled to DETECT_MAX_SIDE: its lines are boxed there at twice the size or
    more. [] when there is no such part."""
    if not lines:
        return []
    longest = max(line.length for line in lines)
    long_lines = [line for line in lines if line.length >= ZOOM_LENGTH * longest]
    corners = np.asarray([point for line in long_lines for end in (line.left, line.right)
                          for point in (np.add(end, (0, -line.height / 2)),
                                        np.add(end, (0, line.height / 2)))])
    (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
    margin_x, margin_y = ZOOM_MARGIN * (x1 - x0), ZOOM_MARGIN * (x1 - x0) / 4
    rows, cols = bgr.shape[:2]
    x0, x1 = int(max(x0 - margin_x, 0)), int(min(x1 + margin_x, cols))
    y0, y1 = int(max(y0 - margin_y, 0)), int(min(y1 + margin_y, rows))
    if x1 - x0 < MIN_PHOTO_SIDE or y1 - y0 < MIN_PHOTO_SIDE:
        return []
    # In halves that overlap: a bowed line is nearly straight over half its length.
    width = x1 - x0
    found = []
    for left in (x0, x0 + int((1 - ZOOM_HALF) * width)):
        part = bgr[y0:y1, left:left + int(ZOOM_HALF * width)]
        scale = min(DETECT_MAX_SIDE / max(part.shape[:2]), 1.0)
        small = part if scale == 1.0 else cv2.resize(part, None, fx=scale, fy=scale,
                                                     interpolation=cv2.INTER_AREA)
        found.extend(_detect_lines(engine, small, scale, (float(left), float(y0))))
    return _group_bands(_merge_pieces(found))


def _merge_pieces(lines: list[_Line]) -> list[_Line]:
    """Join detected pieces of the same text line."""
    lines = sorted(lines, key=lambda line: line.left[0])
    merged = True
    while merged:
        merged = False
        for a, b in itertools.combinations(range(len(lines)), 2):
            joined = _join(lines[a], lines[b])
            if joined is not None:
                lines = [line for n, line in enumerate(lines) if n not in (a, b)] + [joined]
                merged = True
                break
    return lines


def _join(a: _Line, b: _Line) -> _Line | None:
    """`a` and `b` as one line if they are pieces of it, else None."""
    if abs(_angle_difference(a.angle, b.angle)) > MERGE_MAX_ANGLE:
        return None
    if max(a.height, b.height) > MERGE_MAX_HEIGHT_RATIO * min(a.height, b.height):
        return None
    base = a if a.length >= b.length else b
    axis = base.vector / base.length
    normal = np.array([-axis[1], axis[0]])
    height = max(a.height, b.height)
    if abs(float(np.dot(b.centre - a.centre, normal))) > MERGE_MAX_OFFSET * height:
        return None
    origin = np.asarray(base.left)
    spans = [sorted(float(np.dot(np.asarray(p) - origin, axis)) for p in (line.left, line.right))
             for line in (a, b)]
    (a0, a1), (b0, b1) = spans
    if max(a0, b0) - min(a1, b1) > MERGE_MAX_GAP * height:
        return None
    begin, end = min(a0, b0), max(a1, b1)
    offset = float(np.dot(((a.centre + b.centre) / 2) - origin, normal)) * normal
    return _Line(tuple(origin + begin * axis + offset), tuple(origin + end * axis + offset), height)


def _angle_difference(a: float, b: float) -> float:
    """a - b in degrees, in (-180, 180]."""
    return (a - b + 180) % 360 - 180


def _group_bands(lines: list[_Line],
                 spacing: tuple[float, float] = BAND_SPACING) -> list[list[_Line]]:
    """Candidate zones: a long line with the lines stacked under and over it (their centres
    `spacing` line heights apart); 3-line zones and longer lines first."""
    def neighbour(line: _Line, below: bool) -> _Line | None:
        """The longest line stacked right under (or over) `line`."""
        stacked = [other for other in lines if other is not line
                   and (_stacked(line, other, spacing) if below
                        else _stacked(other, line, spacing))]
        return max(stacked, key=lambda other: other.length, default=None)

    bands: dict[tuple[int, ...], list[_Line]] = {}
    for line in lines:
        if line.length < MIN_LINE_ASPECT * line.height:
            continue
        above, below = neighbour(line, below=False), neighbour(line, below=True)
        above2 = neighbour(above, below=False) if above else None
        below2 = neighbour(below, below=True) if below else None
        for group in ([above2, above, line], [above, line, below], [line, below, below2],
                      [above, line], [line, below]):
            if all(group):
                bands.setdefault(tuple(id(member) for member in group), group)
    return sorted(bands.values(),
                  key=lambda group: (-len(group), -sum(member.length for member in group)))


def _stacked(upper: _Line, lower: _Line,
             spacing: tuple[float, float] = BAND_SPACING) -> bool:
    """Whether `lower` can be the MRZ line printed under `upper`."""
    if abs(_angle_difference(upper.angle, lower.angle)) > BAND_MAX_ANGLE:
        return False
    axis = upper.vector / upper.length
    normal = np.array([-axis[1], axis[0]])
    height = (upper.height + lower.height) / 2
    if not 0.6 < upper.height / lower.height < 1.6:
        return False
    apart = float(np.dot(lower.centre - upper.centre, normal)) / height
    if not spacing[0] <= apart <= spacing[1]:
        return False
    origin = np.asarray(upper.left)
    spans = [sorted(float(np.dot(np.asarray(p) - origin, axis)) for p in (line.left, line.right))
             for line in (upper, lower)]
    (a0, a1), (b0, b1) = spans
    overlap = min(a1, b1) - max(a0, b0)
    return overlap >= BAND_MIN_OVERLAP * min(a1 - a0, b1 - b0)


# --- Reading a zone -----------------------------------------------------------------------------


@dataclass
class _Strip:
    """One MRZ line cut out straight: pixels, the detected line height, the fitted grid."""

    pixels: np.ndarray
    height: float
    profile: np.ndarray
    # The columns the detector saw print in (any line of the zone); None: all of the strip.
    detected: tuple[float, float] | None = None
    start: float = 0.0
    pitch: float = 0.0
    cells: int = 0
    score: float = 0.0

    def centre(self, cell: int) -> float:
        """The x of a cell's centre."""
        return self.start + cell * self.pitch

    def span(self, first: int, end: int) -> tuple[int, int]:
        """The pixel columns of cells first..end-1, clipped to the strip."""
        x0 = int(round(self.centre(first) - self.pitch / 2))
        x1 = int(round(self.centre(end - 1) + self.pitch / 2))
        return max(x0, 0), min(x1, self.pixels.shape[1])


@dataclass
class _Cell:
    """Votes for one character position."""

    votes: Counter = field(default_factory=Counter)  # character -> summed confidence
    counts: Counter = field(default_factory=Counter)  # character -> readings in chunks
    looks_filler: bool = False
    # What the cell read on its own gave ('' when it was read as nothing, None when it was not
    # read alone or gave more than one character), and the character the look of '<' and that
    # reading settled on against the chunk readings (see _settle_fillers).
    alone: str | None = None
    decided: str | None = None
    # The look-alike (O for 0, Z for 2...) this cell looks like more than what was read (see
    # _look_for_twins): a check digit may choose it.
    twin: str | None = None
    # Whether `decided` is the letter of a name the cell looks like (see _look_at_names).
    looked: bool = False

    def add(self, char: str, confidence: float, *, alone: bool = False) -> None:
        """One reading's vote; a cell read alone does not count as a chunk reading."""
        self.votes[char] += confidence
        if alone:
            self.alone = char
        else:
            self.counts[char] += 1

    def ranked(self) -> list[str]:
        """The characters read here, the chosen one first."""
        ranked = [c for c, _ in self.votes.most_common()]
        if self.decided is not None:
            ranked = [self.decided, *(c for c in ranked if c != self.decided)]
        return ranked

    def top(self) -> str | None:
        """The character with the most votes, or None."""
        return self.votes.most_common(1)[0][0] if self.votes else None

    def sure(self) -> str | None:
        """The one character read here, if it was read with UPRIGHT_CONFIDENCE or more."""
        if len(self.votes) == 1:
            char = next(iter(self.votes))
            if self.confidence(char) >= UPRIGHT_CONFIDENCE:
                return char
        return None

    def unanimous(self) -> str | None:
        """The character every chunking read here, if they all did."""
        if len(self.counts) == 1:
            char, count = next(iter(self.counts.items()))
            if count >= len(CHUNKINGS):
                return char
        return None

    def confidence(self, char: str) -> float:
        """The mean confidence of the readings of `char` here."""
        return min(1.0, self.votes[char] / max(self.counts[char], 1))


@dataclass(frozen=True)
class _Attempt:
    """The best reading of one candidate zone."""

    lines: tuple[str, ...]
    result: MrzResult | None
    confidence: float | None

    @property
    def validated(self) -> bool:
        """Whether it is a reading whose check digits validate."""
        return self.result is not None and self.result.valid_check_digits

    @property
    def rank(self) -> tuple:
        if self.result is None:
            return (0, 0, 0.0)
        passed = sum(self.result.checks.values())
        return (1 + self.result.valid_check_digits, passed, self.confidence or 0.0)


@dataclass
class _Zone:
    """A candidate zone cut into strips, with its best-fitting line width."""

    strips: list["_Strip"]
    width: int
    periodicity: float
    # Whether it was cut denoised (see DIM_PAPER).
    clean: bool = False

    @property
    def paper(self) -> float:
        """How light the zone's paper is: the 90th percentile of its strips' grey levels."""
        return float(np.percentile(np.concatenate(
            [cv2.cvtColor(strip.pixels, cv2.COLOR_BGR2GRAY).ravel() for strip in self.strips]),
            90))


def _zone(bgr: np.ndarray, band: list[_Line], *, clean: bool = False) -> _Zone:
    """Cut a candidate zone and fit its character grid (a few milliseconds); ``clean`` denoises
    the cut first (see DIM_PAPER)."""
    strips = _cut_strips(bgr, band, clean=clean)
    scores = {width: float(np.mean([_fit_grid(strip, width, commit=False) for strip in strips]))
              for width in LINE_WIDTHS[len(band)]}
    width = max(scores, key=scores.__getitem__)
    for strip in strips:
        _fit_grid(strip, width, commit=True)
    _align_starts(strips, width)
    # The weakest line decides: an MRZ has no line without the fixed-pitch rhythm.
    return _Zone(strips, width, min(strip.score for strip in strips), clean)


def _turned(zone: _Zone) -> _Zone:
    """The zone turned 180 degrees (a document photographed upside down)."""
    strips = [_Strip(np.ascontiguousarray(strip.pixels[::-1, ::-1]), strip.height,
                     strip.profile[::-1].copy(), _mirrored(strip))
              for strip in reversed(zone.strips)]
    for strip in strips:
        _fit_grid(strip, zone.width, commit=True)
    _align_starts(strips, zone.width)
    return _Zone(strips, zone.width, zone.periodicity)


def _align_starts(strips: list[_Strip], cells: int) -> None:
    """Fit again a line of three whose grid starts a cell or more away from where the other
    two, agreeing, start: every line of an MRZ begins at the same place, and a faint first
    letter left outside the ink makes the grid one cell late as well as right.

    Only a tie in the ink the cells hold is decided this way. On a card photo of the tune split
    (card_photo-066, light OCR-B) the name line 'LI<<ZOE<<<...' started 0.96 of a pitch late,
    and read '1<<Z0E' and one '<' more validated as the surname 'I'."""
    if len(strips) != 3:
        return
    for n, strip in enumerate(strips):
        a, b = (other.start for m, other in enumerate(strips) if m != n)
        if abs(a - b) < strip.pitch / 2 and abs(strip.start - (a + b) / 2) > strip.pitch / 2:
            _fit_grid(strip, cells, commit=True, near=(a + b) / 2)


def _mirrored(strip: _Strip) -> tuple[float, float] | None:
    """The strip's detected columns once it is turned 180 degrees."""
    if strip.detected is None:
        return None
    size = strip.profile.size
    return size - strip.detected[1], size - strip.detected[0]


def _first_reading(engine: Serialised, zone: _Zone) -> tuple[list[list[_Cell]], float]:
    """The first chunking's votes for the zone, and the median confidence of its characters
    other than '<'."""
    grid = _new_grid(zone.strips)
    _vote(engine, zone.strips, grid, CHUNKINGS[:1])
    confidences = [cell.confidence(c) for row in grid for cell in row for c in cell.votes
                   if c != FILLER]
    return grid, float(np.median(confidences)) if confidences else 0.0


def _read_zone(engine: Serialised, zone: _Zone, today: date | None) -> _Attempt:
    """Recognise and parse one candidate zone: the first chunking alone when its reading is
    beyond doubt, else every chunking and the doubtful cells alone."""
    grid, confidence = _first_reading(engine, zone)
    if confidence < UPRIGHT_CONFIDENCE:
        # Upside-down print reads as low-confidence noise: read the zone turned as well, and
        # keep the way up the recogniser is surer of.
        turned = _turned(zone)
        turned_grid, turned_confidence = _first_reading(engine, turned)
        if turned_confidence > confidence:
            zone, grid = turned, turned_grid
    # The recogniser often drops a line's last character (a check digit after a run of '<'):
    # cells the chunks left unread are read on their own, which costs little.
    unread = [(n, k) for n, row in enumerate(grid) for k, cell in enumerate(row)
              if not cell.votes]
    _read_alone(engine, zone.strips, grid, unread)
    quick = _quick_read(zone.strips, grid, today)
    if quick is not None:
        return quick
    return _decide(_recognise(engine, zone.strips, grid), today)


def _cut_strips(bgr: np.ndarray, band: list[_Line], *, clean: bool = False) -> list[_Strip]:
    """Each line of the zone as a straight strip spanning the zone's full extent (denoised
    with ``clean``)."""
    axis = sum(line.vector / line.length for line in band)
    axis = axis / np.hypot(*axis)
    origin = np.asarray(band[0].left)
    ends = [float(np.dot(np.asarray(p) - origin, axis)) for line in band
            for p in (line.left, line.right)]
    height = float(np.median([line.height for line in band]))
    # All lines of a zone start and end at the same place: take the widest extent of any line, so
    # a line the detector saw only partly is still cut whole.
    seen = (min(ends), max(ends))
    begin, end = seen[0] - STRIP_MARGIN * height, seen[1] + STRIP_MARGIN * height
    step = STRIP_REACH * (seen[1] - seen[0])
    room = _room(bgr.shape, band, origin, axis)
    strips = _cut_band(bgr, band, origin, axis, height, seen, (begin, end), clean)
    grown_sides: set[str] = set()
    for _ in range(STRIP_GROWTH - 1):
        # Where a line's ink runs into an end of the strip, the strip is cut longer on that
        # side, and kept so where what it added has the line's rhythm (print, not grain).
        sides = [side for side, more in (("left", begin > room[0]), ("right", end < room[1]))
                 if more and any(_touches(strip, side) for strip in strips)]
        if not sides:
            break
        grown = (max(begin - step, room[0]) if "left" in sides else begin,
                 min(end + step, room[1]) if "right" in sides else end)
        longer = _cut_band(bgr, band, origin, axis, height, seen, grown, clean)
        kept = [side for side in sides
                if any(_added_print(strip, side, begin - grown[0], grown[1] - end,
                                    grown[1] - grown[0], side in grown_sides)
                       for strip in longer)]
        if not kept:
            break
        if kept != sides:
            grown = (grown[0] if "left" in kept else begin, grown[1] if "right" in kept else end)
            longer = _cut_band(bgr, band, origin, axis, height, seen, grown, clean)
        strips, (begin, end) = longer, grown
        grown_sides.update(kept)
    return strips


def _touches(strip: _Strip, side: str) -> bool:
    """Whether the line's ink reaches the strip's left or right end."""
    first, last = _ink_extent(strip.profile, strip.height, strip.detected)
    reach = EDGE_GAP * strip.height
    return first <= reach if side == "left" else last >= strip.profile.size - 1 - reach


def _added_print(strip: _Strip, side: str, added_left: float, added_right: float,
                 length: float, regrown: bool = False) -> bool:
    """Whether the part of a grown strip the growth added on `side` (``added_*`` of its
    `length`, in photo pixels) holds ink with the rhythm of the line (see GROWTH_RHYTHM);
    ``regrown`` when an earlier growth on that side was kept."""
    profile, size = strip.profile, strip.profile.size
    per_unit = size / length
    first, last = _ink_extent(profile, strip.height, strip.detected)
    if side == "left":
        part = slice(max(first, 0), int(round(added_left * per_unit)))
    else:
        part = slice(size - int(round(added_right * per_unit)), min(last + 1, size))
    low, high = strip.detected or (0.0, float(size))
    pitch = _pitch(profile, int(low), int(high), strip.height)
    if part.stop - part.start < pitch:
        return False
    # The print next to it, which the detector saw: the same grid goes on into a real line's
    # '<' run, while the grain of a dim photo falls at any phase.
    span = int(round(GROWTH_WINDOW * pitch))
    if regrown:
        # After a kept growth, the print next to the added part is the part added before: the
        # detector's end is a dozen cells away, where a pitch off by 1% puts the phase 0.12 of
        # a cell out (a TD3 whose composite digit was left out, tune split).
        near = slice(part.stop, part.stop + span) if side == "left" else slice(
            part.start - span, part.start)
    else:
        near = slice(int(low), int(low) + span) if side == "left" else slice(int(high) - span,
                                                                              int(high))
    strength, phase = _component(profile, part, pitch)
    _, seen_phase = _component(profile, near, pitch)
    shift = abs((phase - seen_phase + math.pi) % (2 * math.pi) - math.pi) / (2 * math.pi)
    return strength >= GROWTH_RHYTHM and shift <= GROWTH_PHASE


def _pitch(profile: np.ndarray, low: int, high: int, height: float) -> float:
    """The pitch (0.5 to 1.3 line heights) at which the ink of columns low..high-1 is the most
    periodic."""
    pitches = np.linspace(0.5 * height, 1.3 * height, PITCH_STEPS)
    _, strengths = _components(profile, low, high, pitches)
    return float(pitches[int(np.argmax(strengths))])


def _components(profile: np.ndarray, low: int, high: int,
                pitches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Fourier components of the ink of columns low..high-1 at each of `pitches` (in one
    matrix product), and their strengths (0 to 1)."""
    weights = profile[low:high]
    xs = np.arange(low, high, dtype=np.float64)
    components = np.exp(-2j * np.pi * np.outer(1 / pitches, xs)) @ weights
    return components, np.abs(components) / max(float(weights.sum()), 1e-9)


def _component(profile: np.ndarray, part: slice, pitch: float) -> tuple[float, float]:
    """The Fourier component of the ink in `part` at `pitch`: strength (0 to 1) and phase."""
    weights = profile[part]
    total = float(weights.sum())
    if total <= 0:
        return 0.0, 0.0
    xs = np.arange(profile.size, dtype=np.float64)[part]
    component = (weights * np.exp(-2j * np.pi * xs / pitch)).sum()
    return float(abs(component)) / total, float(np.angle(component))


def _cut_band(bgr: np.ndarray, band: list[_Line], origin: np.ndarray, axis: np.ndarray,
              height: float, seen: tuple[float, float], extent: tuple[float, float],
              clean: bool) -> list[_Strip]:
    """The zone's lines cut from `extent[0]` to `extent[1]` along `axis` (from `origin`);
    `seen` is where the detector saw print."""
    begin, end = extent
    strips = []
    for line in band:
        line_axis = line.vector / line.length
        normal = np.array([-line_axis[1], line_axis[0]])
        centre = line.centre
        # Project the zone's extent onto this line's own axis (lines may differ a little in angle
        # under perspective).
        mid = float(np.dot(centre - origin, axis))
        p0 = centre + (begin - mid) * line_axis
        p1 = centre + (end - mid) * line_axis
        half = STRIP_HEIGHT * height / 2
        source = np.float32([p0 - half * normal, p1 - half * normal, p0 + half * normal])
        pixels = _straighten(bgr, source, end - begin, 2 * half, clean=clean)
        scaled = height * pixels.shape[0] / (2 * half)
        pixels = _follow_line(pixels, scaled)
        per_unit = pixels.shape[1] / (end - begin)
        detected = (float((seen[0] - begin) * per_unit), float((seen[1] - begin) * per_unit))
        strips.append(_Strip(pixels, scaled, _ink_profile(pixels, scaled), detected))
    return strips


def _room(shape: tuple[int, ...], band: list[_Line], origin: np.ndarray,
          axis: np.ndarray) -> tuple[float, float]:
    """How far along the zone's axis (from `origin`) every line's centre line stays inside the
    photo: beyond it a strip would be the photo's edge pixels repeated."""
    rows, cols = shape[:2]
    low, high = -math.inf, math.inf
    for line in band:
        direction = line.vector / line.length
        centre = line.centre
        mid = float(np.dot(centre - origin, axis))
        for position, step, limit in ((centre[0], direction[0], cols - 1),
                                      (centre[1], direction[1], rows - 1)):
            if abs(step) < 1e-9:
                continue
            ts = sorted(((0 - position) / step, (limit - position) / step))
            low, high = max(low, mid + ts[0]), min(high, mid + ts[1])
    return low, high


def _straighten(bgr: np.ndarray, source: np.ndarray, width: float, height: float, *,
                clean: bool = False) -> np.ndarray:
    """The parallelogram `source` (top left, top right, bottom left) cut out straight at full
    size (denoised with ``clean``), then rescaled to STRIP_PIXELS high: area-averaged when
    shrinking, bicubic when enlarging a small scan."""
    out_w, out_h = max(int(round(width)), 8), max(int(round(height)), 8)
    target = np.float32([[0, 0], [out_w, 0], [0, out_h]])
    pixels = cv2.warpAffine(bgr, cv2.getAffineTransform(source, target), (out_w, out_h),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    scale = STRIP_PIXELS / out_h
    if clean and scale >= 1.0:
        pixels = _denoised(pixels)  # before a small scan's grain is enlarged with its print
    if scale != 1.0:
        size = (max(int(round(out_w * scale)), 8), STRIP_PIXELS)
        pixels = cv2.resize(pixels, size,
                            interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC)
    if clean and scale < 1.0:
        pixels = _denoised(pixels)  # after area-averaging, on a fraction of the pixels
    return _print_grey(pixels)


def _print_grey(pixels: np.ndarray) -> np.ndarray:
    """The strip's brightest channel, in all three: an MRZ is printed black, dark in every
    channel, while colour around it (a screen's sub-pixel stripes aliased into moire, a
    guilloche) is light in at least one.

    The recogniser read a screen's magenta and green moire stripes into '<' as 'K', 'A' or 'S'.
    Measured on the tune split of bench.mrz_bed (18 photos a condition): screen moire 6 -> 15
    read, card photos 14 -> 15, all degraded 231/252 -> 245/252, no false read either way.
    Detection keeps the colour photo: detected on the brightest channel too, a bent card's
    lines were boxed together and one of the bent-card tests failed; the moire photos read the
    same either way. Taken on the whole photo, the mean of the channels read 14 of the 18
    moire photos, the brightest channel 16. The recogniser reads dim and heavily compressed
    print a little better in colour (tune split, 40 photos a condition: low light and JPEG q20
    39/40 each, 40/40 before); keeping the colour of weakly coloured strips read fewer photos
    over all conditions and made a false read (docs/benchmarks.md)."""
    blue, green, red = cv2.split(pixels)
    return cv2.cvtColor(cv2.max(cv2.max(blue, green), red), cv2.COLOR_GRAY2BGR)


def _follow_line(pixels: np.ndarray, height: float) -> np.ndarray:
    """The strip with its rows shifted so a bowed line of print runs straight along its middle.

    The ink's centre row is measured in blocks along the strip (middle rows only, so the
    neighbouring lines count little), a parabola is fitted to it, and each column is shifted by
    the parabola's offset from its mean when that bow exceeds BOW_MIN_PIXELS."""
    ink = _ink(pixels, height)
    rows, cols = ink.shape
    middle = (rows - 1) / 2
    reach = int(BOW_REACH * height)
    band = slice(max(int(middle) - reach, 0), min(int(middle) + reach + 1, rows))
    ys = np.arange(rows, dtype=np.float32)[band]
    block = max(int(2 * height), 8)
    xs, centres, masses = [], [], []
    for left in range(0, cols - block + 1, block):
        weights = ink[band, left:left + block].sum(axis=1)
        mass = float(weights.sum())
        if mass > 0:
            xs.append(left + block / 2)
            centres.append(float((weights * ys).sum() / mass))
            masses.append(mass)
    if len(xs) < 5:
        return pixels
    masses_a = np.asarray(masses)
    keep = masses_a >= 0.25 * np.median(masses_a)  # blocks of paper only say nothing
    if keep.sum() < 5:
        return pixels
    fit = np.polyfit(np.asarray(xs)[keep], np.asarray(centres)[keep], 2,
                     w=np.sqrt(masses_a[keep]))
    offsets = np.polyval(fit, np.arange(cols, dtype=np.float32))
    offsets -= offsets.mean()
    if np.abs(offsets).max() < BOW_MIN_PIXELS:
        return pixels
    map_x = np.broadcast_to(np.arange(cols, dtype=np.float32)[None, :], (rows, cols))
    map_y = np.arange(rows, dtype=np.float32)[:, None] + offsets[None, :].astype(np.float32)
    return cv2.remap(pixels, np.ascontiguousarray(map_x), np.ascontiguousarray(map_y),
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _denoised(pixels: np.ndarray, search: int = 21) -> np.ndarray:
    """A dim picture denoised (non-local means, see DENOISE_STRENGTH, over a ``search`` pixel
    window) and stretched from its 1st to 99th grey percentile to the full range."""
    pixels = cv2.fastNlMeansDenoisingColored(pixels, None, DENOISE_STRENGTH, DENOISE_STRENGTH,
                                             7, search)
    low, high = np.percentile(cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY), (1, 99))
    stretched = (pixels.astype(np.float32) - low) * (255.0 / max(float(high - low), 1.0))
    return np.clip(stretched, 0, 255).astype(np.uint8)


def _ink(pixels: np.ndarray, height: float) -> np.ndarray:
    """How much ink each pixel of a strip holds, relative to the paper under it (0 to 1)."""
    gray = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY).astype(np.float32)
    # A grey closing wider than a glyph stroke but narrower than the table around the document
    # estimates the paper under the print: print is then paper minus pixel, relative to paper,
    # whatever the light (dim, glare gradient), and a dark table counts as no print.
    size = max(3, int(round(0.9 * height)) | 1)
    paper = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, np.ones((size, size), np.uint8))
    return np.clip(paper - gray, 0, None) / np.maximum(paper, 1.0)


def _ink_profile(pixels: np.ndarray, height: float) -> np.ndarray:
    """How much ink each column of the strip's middle rows holds, relative to the paper."""
    ink = _ink(pixels, height)
    middle = pixels.shape[0] / 2
    half = PROFILE_HALF_HEIGHT * height
    rows = slice(max(int(middle - half), 0), int(math.ceil(middle + half)))
    return ink[rows].sum(axis=0)


def _fit_grid(strip: _Strip, cells: int, *, commit: bool, near: float | None = None) -> float:
    """Fit `cells` fixed-pitch character cells to the strip's ink; the periodicity score.

    Every MRZ position is printed (fillers too), so the ink profile is periodic with the pitch:
    its Fourier component at the pitch is strong, and its phase gives the cell centres. Which
    `cells` consecutive centres hold the line follows from where the ink is; where two hold
    all of it, the one nearest the start of the ink, or `near` (see _align_starts).
    """
    profile = strip.profile
    total = float(profile.sum())
    if total <= 0:
        return 0.0
    begin, end = _ink_extent(profile, strip.height, strip.detected)
    span = end - begin
    # The ink runs from the left edge of the first glyph to the right edge of the last one:
    # (cells - 1) pitches plus one glyph width (~0.4 to 0.9 of a pitch).
    nominal = span / (cells - 0.4)
    pitches = np.linspace(nominal * (1 - PITCH_SEARCH), nominal * (1 + PITCH_SEARCH),
                          PITCH_STEPS)
    components, strengths = _components(profile, begin, end + 1, pitches)
    best = int(np.argmax(strengths))
    strength, pitch = float(strengths[best]), float(pitches[best])
    phase = float(np.angle(components[best]))
    if not commit:
        return strength
    # Peaks of the fundamental sit at x = -phase / (2 pi) * pitch (mod pitch).
    peak = (-phase / (2 * np.pi)) * pitch
    # Only the main stretch of ink counts (not a blot of the document's edge, see _ink_extent).
    inside = np.zeros_like(profile)
    inside[begin:end + 1] = profile[begin:end + 1]
    cumulative = np.concatenate([[0.0], np.cumsum(inside)])

    def covered(first: float) -> float:
        lo = int(np.clip(round(first - pitch / 2), 0, profile.size))
        hi = int(np.clip(round(first + (cells - 0.5) * pitch), 0, profile.size))
        return cumulative[hi] - cumulative[lo]

    # Candidate first centres: grid positions near the left end of the ink.
    k0 = math.floor((begin - peak) / pitch)
    firsts = [peak + (k0 + k) * pitch for k in range(-2, 4)]
    anchor = begin + pitch * 0.3 if near is None else near
    first = max(firsts, key=lambda f: (round(covered(f), 3), -abs(f - anchor)))
    strip.start, strip.pitch, strip.cells, strip.score = first, pitch, cells, strength
    return strength


def _ink_extent(profile: np.ndarray, height: float,
                detected: tuple[float, float] | None = None) -> tuple[int, int]:
    """First and last column of the main stretch of ink.

    Stretches of ink apart from the `detected` columns by a gap no MRZ line has inside it (every
    position is printed) are not the line: the edge of the document or the table beyond it, which
    the strip's margin reaches when the zone runs close to the card's edge. Nor is a narrow blot
    at either end, apart from the rest by such a gap."""
    smooth = np.convolve(profile, np.ones(5) / 5, mode="same")
    threshold = 0.2 * float(np.percentile(smooth, 90))
    inked = np.flatnonzero(smooth > threshold)
    if inked.size == 0:
        return 0, profile.size - 1
    breaks = np.flatnonzero(np.diff(inked) > EDGE_GAP * height)
    runs = [(int(run[0]), int(run[-1])) for run in np.split(inked, breaks + 1)]
    if detected is not None:
        # The detector's box is padded by about half a line height beyond the glyphs.
        low, high = detected[0] + EDGE_GAP * height, detected[1] - EDGE_GAP * height
        seen = [run for run in runs if run[1] >= low and run[0] <= high]
        runs = seen or runs
    while len(runs) > 1 and runs[0][1] - runs[0][0] < EDGE_BLOT * height:
        runs.pop(0)
    while len(runs) > 1 and runs[-1][1] - runs[-1][0] < EDGE_BLOT * height:
        runs.pop()
    return runs[0][0], runs[-1][1]


def _new_grid(strips: list[_Strip]) -> list[list[_Cell]]:
    """An empty vote grid for the zone's cells."""
    return [[_Cell() for _ in range(strip.cells)] for strip in strips]


def _vote(engine: Serialised, strips: list[_Strip], grid: list[list[_Cell]],
          chunkings: tuple[tuple[int, float], ...]) -> None:
    """Recognise each line in the given chunkings (one batched call) and vote per cell."""
    pieces: list[tuple[int, int, int]] = []  # (line, first cell, end cell)
    for n, strip in enumerate(strips):
        for chunks, shift in chunkings:
            size = math.ceil(strip.cells / chunks)
            offset = int(round(shift * size))
            bounds = sorted({0, strip.cells, *range(offset, strip.cells, size)})
            pieces.extend((n, a, b) for a, b in itertools.pairwise(bounds))
    images, spans = [], []
    for n, a, b in pieces:
        strip = strips[n]
        x0, x1 = strip.span(a, b)
        pad = int(round(CHUNK_PAD * strip.pitch))
        x0, x1 = max(x0 - pad, 0), min(x1 + pad, strip.pixels.shape[1])
        if x1 - x0 >= MIN_CROP_WIDTH:
            images.append(strip.pixels[:, x0:x1])
            spans.append((n, a, b, x0, x1 - x0))
    if not images:
        return
    results, _ = engine.text_rec(images, return_word_box=True)
    for (n, a, b, x0, width), (_, _, info) in zip(spans, results, strict=True):
        strip = strips[n]
        for char, position, confidence in _positioned_chars(info):
            cell = int(math.floor((x0 + position * width - strip.centre(0)) / strip.pitch + 0.5))
            for k, mrz_char in enumerate(normalise_char(char)):
                if a <= cell + k < b:
                    grid[n][cell + k].add(mrz_char, confidence)


def _quick_read(strips: list[_Strip], grid: list[list[_Cell]],
                today: date | None) -> _Attempt | None:
    """The first chunking's reading, when it alone is beyond doubt; else None.

    Beyond doubt: no cell read two ways, every character but '<' read at FAST_MIN_CONFIDENCE
    or more, no cell read as '<' that does not look like the document's '<' nor the other way
    round, every check digit right with no character chosen by a check digit alone (repairs
    the field type dictates, a '0' in a letters-only field, are allowed), nothing unread.
    """
    for row in grid:
        for cell in row:
            if len(cell.votes) > 1 or any(cell.confidence(c) < FAST_MIN_CONFIDENCE
                                          for c in cell.votes if c != FILLER):
                return None
    # Names carry no check digit: a letter only the cell read alone gave, or read with less
    # than UPRIGHT_CONFIDENCE, is not beyond doubt (the first chunking left ERIKSSON's O and N
    # unread, and alone they read '0' and 'Z'; a '<' between given names read 'K' at 0.46).
    kinds = _kinds(grid)
    if kinds is not None and any(
        n * len(row) + k in kinds[1] and cell.top() not in (None, FILLER)
        and (not cell.counts or cell.confidence(cell.top()) < UPRIGHT_CONFIDENCE)
        for n, row in enumerate(grid) for k, cell in enumerate(row)
    ):
        return None
    # A surname's last K read as '<' (light OCR-B) validates too.
    looks = _filler_look(strips, grid, _Cell.sure)
    if looks is not None and any(
        looks[n][k] != (cell.top() == FILLER)
        for n, row in enumerate(grid) for k, cell in enumerate(row) if cell.votes
    ):
        return None
    attempt = _decide(grid, today)
    result = attempt.result
    if (result is None or not result.valid_check_digits or result.warnings
            or any(chosen_repair(note) for note in result.corrections)
            or UNREAD in "".join(attempt.lines)):
        return None
    return attempt


def _recognise(engine: Serialised, strips: list[_Strip],
               grid: list[list[_Cell]] | None = None) -> list[list[_Cell]]:
    """Votes per cell from several chunkings of each line, checked against the look of '<',
    then every doubtful cell read on its own. `grid` may hold the first chunking's votes."""
    if grid is None:
        grid = _new_grid(strips)
        _vote(engine, strips, grid, CHUNKINGS)
    else:
        _vote(engine, strips, grid, CHUNKINGS[1:])
    patches = _cell_patches(strips)
    fillers = _filler_look(strips, grid, _Cell.unanimous, patches)
    doubtful = []
    for n, row in enumerate(grid):
        for k, cell in enumerate(row):
            top = cell.top()
            looks = None if fillers is None else bool(fillers[n][k])
            if looks and (top in (None, FILLER)) and set(cell.counts) <= {FILLER}:
                cell.looks_filler = True
                continue
            # Settled: the chunk readings agree, and every chunking read the cell, except that a
            # '<' may be missed by some (the recogniser collapses runs of it, never a '<' next to
            # something else).
            reads = sum(cell.counts.values())
            agreed = len(cell.counts) == 1 and reads >= (
                MIN_AGREEING_READS if top == FILLER else len(CHUNKINGS))
            if not agreed or (looks is not None and looks != (top == FILLER)):
                doubtful.append((n, k))
    # A cell the first chunking left unread was read alone already: once is its vote (one
    # that gave nothing is read again, among other cells).
    _read_alone(engine, strips, grid, [(n, k) for n, k in doubtful if not grid[n][k].alone])
    if fillers is not None:
        _settle_fillers(grid, fillers, doubtful)
    _look_for_twins(strips, grid, patches)
    _look_at_names(strips, grid, patches)
    return grid


def _kinds(grid: list[list[_Cell]]) -> tuple[frozenset[int], frozenset[int]] | None:
    """The flat indices of the cells that always hold a digit, and of those that hold only
    letters or '<' (see mrz.field_kinds); None when the lines differ in width."""
    width = _line_width(grid)
    return field_kinds(len(grid), width) if width else None


def _line_width(grid: list[list[_Cell]]) -> int | None:
    """The zone's line width, None when its lines differ in width."""
    widths = {len(row) for row in grid}
    return widths.pop() if len(widths) == 1 else None


def _settle_fillers(grid: list[list[_Cell]], fillers: list[list[bool]],
                    doubtful: list[tuple[int, int]]) -> None:
    """Doubtful cells where the look of '<' and the cell read alone agree against the chunk
    readings on whether the cell is '<': they decide.

    The recogniser reads a thin '<' after a letter as 'K' in every chunk ('I<' as 'IK' on a
    light OCR-B card), and a 'K' before '<<<' as '<'. Read alone, the cell is read right, but
    with less weight than three chunk readings; a name has no check digit to tell. A cell not
    read alone, or read alone as nothing, is '<' where the look says so for a run of
    MIN_LOOK_RUN cells or more around it.

    A cell the chunks read as a letter that looks like '<' and read alone as nothing is '<'
    too: alone, a faint thin '<' gives nothing, a letter's strokes do not. On the tune split of
    the test bed (cases 0-39 of every condition) a light OCR-B card's document code 'I<' read
    'IK' in every chunk and validated (no check digit covers it); of the cells like it, read
    as a letter, none was a letter (see docs/benchmarks.md)."""
    in_runs = [_in_runs(row) for row in fillers]
    for n, k in doubtful:
        cell = grid[n][k]
        top, alone = cell.top(), cell.alone
        if top is None:
            continue
        if not alone:
            if top != FILLER and (in_runs[n][k]
                                  or (alone == "" and fillers[n][k] and top.isalpha())):
                cell.decided = FILLER
            continue
        if fillers[n][k] and alone == FILLER and top != FILLER:
            cell.decided = FILLER
        elif not fillers[n][k] and alone != FILLER and top == FILLER:
            cell.decided = alone


def _in_runs(looks: list[bool]) -> list[bool]:
    """Which cells of a line lie in a run of MIN_LOOK_RUN or more that look like '<'."""
    out = []
    for look, run in itertools.groupby(looks):
        size = len(list(run))
        out.extend([bool(look) and size >= MIN_LOOK_RUN] * size)
    return out


def _positioned_chars(info) -> list[tuple[str, float, float]]:
    """(character, centre as a fraction of the image width, confidence) from a word-box result
    of RapidOCR's recogniser (CTC frame index of each character, frame count)."""
    frames, words, word_frames, _, confidences = info
    chars = [c for word in words for c in word]
    positions = [f for word in word_frames for f in word]
    if not chars or frames <= 0:
        return []
    if len(confidences) != len(chars):
        confidences = [1.0] * len(chars)
    return [(c, (f + 0.5) / frames, float(conf))
            for c, f, conf in zip(chars, positions, confidences, strict=True)]


def _cell_patches(strips: list[_Strip]) -> list[list[np.ndarray]]:
    """Each cell's pixels (grey, float), all resized to the first strip's cell size."""
    pitch = int(round(strips[0].pitch))
    height = strips[0].pixels.shape[0]
    patches = []
    for strip in strips:
        gray = cv2.cvtColor(strip.pixels, cv2.COLOR_BGR2GRAY).astype(np.float32)
        row = []
        for k in range(strip.cells):
            x0, x1 = strip.span(k, k + 1)
            patch = gray[:, x0:max(x1, x0 + 1)]
            if patch.shape[1] < 1:
                patch = np.zeros((gray.shape[0], 1), np.float32)
            row.append(cv2.resize(patch, (pitch, height), interpolation=cv2.INTER_LINEAR))
        patches.append(row)
    return patches


def _filler_look(strips: list[_Strip], grid: list[list[_Cell]],
                 sure: Callable[[_Cell], str | None],
                 patches: list[list[np.ndarray]] | None = None) -> list[list[bool]] | None:
    """Which cells look like this document's '<', or None when that cannot be told.

    The template is the median of the cells `sure` of is '<' (every reading took them for
    it). It is only trusted when those cells and the cells `sure` of is something else score
    clearly apart: on a heavily blurred photo every glyph is a blob and the look says nothing.
    """
    cells = [cell for row in grid for cell in row]
    readings = [sure(cell) for cell in cells]
    fillers = [i for i, char in enumerate(readings) if char == FILLER]
    kinds = _kinds(grid)
    if kinds is not None:
        # Told apart from the cells that always hold a digit rather than from whatever was
        # read as something other than '<': a light OCR-B '<' is read as 'K' or 'L' in every
        # chunk, and a dozen such cells among the print made '<' and print look alike (a TD1
        # card's back, tune split).
        printed = sorted(kinds[0])
    else:
        printed = [i for i, char in enumerate(readings) if char not in (None, FILLER)]
    if len(fillers) < MIN_TEMPLATE_CELLS or len(printed) < MIN_TEMPLATE_CELLS:
        return None
    patches = _cell_patches(strips) if patches is None else patches
    flat = [p for row in patches for p in row]
    shift = _shift(strips)
    template = np.median([flat[i] for i in fillers], axis=0).astype(np.float32)
    if _core(template, shift) is None:
        return None
    scores = np.asarray([_likeness(patch, template, shift) for patch in flat])
    low_filler = float(np.percentile(scores[fillers], 10))
    high_print = float(np.percentile(scores[printed], 90))
    if low_filler - high_print < FILLER_MARGIN:
        return None
    threshold = (low_filler + high_print) / 2
    looks, i = [], 0
    for row in patches:
        looks.append([bool(scores[i + k] >= threshold) for k in range(len(row))])
        i += len(row)
    return looks


def _shift(strips: list[_Strip]) -> int:
    """Cells are compared with a small shift allowance: the grid is fitted to a fraction of a
    pitch, and a glyph's centre wanders as much."""
    return max(1, int(round(TEMPLATE_SHIFT * strips[0].pitch)))


def _core(template: np.ndarray, shift: int) -> np.ndarray | None:
    """The template without its shift margins; None when nothing is left or it is blank."""
    core = template[shift:-shift, shift:-shift]
    if core.size == 0 or float(core.std()) < 1e-3:
        return None
    return core


def _likeness(patch: np.ndarray, template: np.ndarray, shift: int) -> float:
    """How alike a cell and a template look: the best normalised correlation of the template's
    core over the cell shifted by up to `shift` pixels (-1 to 1)."""
    core = _core(template, shift)
    if core is None:
        return 0.0
    padded = cv2.copyMakeBorder(patch, shift, shift, shift, shift, cv2.BORDER_REPLICATE)
    return float(cv2.matchTemplate(padded, core, cv2.TM_CCOEFF_NORMED).max())


def _look_for_twins(strips: list[_Strip], grid: list[list[_Cell]],
                    patches: list[list[np.ndarray]]) -> None:
    """Mark cells read as one of a look-alike pair that look more like the zone's cells read
    surely as the other one.

    OCR-B's O and 0 (and Z and 2, I and 1...) differ in width and corners only, and the
    recogniser reads them from the neighbours as much as from the glyph: 'C01X' read as 'CO1X'
    in every chunk. A cell is marked when it is more alike, by TWIN_MARGIN or more, to the
    zone's cells surely read as its twin than to those surely read as what it was read as,
    counting only cells whose field allows nothing else (a '0' in a date, an 'O' in a name).
    On 60 clean renders of the tune split, 41 cells were read as the wrong twin and 34 of them
    were marked; 2 of the 1,252 read right were. Where the twin is surely read nowhere in
    the zone, a cell that looks unlike the zone's sure cells of its own reading is marked (see
    TWIN_OUTLIER); where neither is surely read, nothing is. The mark only offers the twin to
    the check digits (_decide), which take it when it alone makes them all agree."""
    sure = _sure_cells(grid)
    shift = _shift(strips)
    cohesion: dict[tuple[tuple[int, int], ...], float] = {}
    typical: float | None = None
    for n, row in enumerate(grid):
        for k, cell in enumerate(row):
            ranked = cell.ranked()
            if not ranked or ranked[0] not in CHECKABLE_TWINS:
                continue
            read, twin = ranked[0], CHECKABLE_TWINS[ranked[0]]
            alike = {}
            for char in (read, twin):
                others = [patches[a][b] for a, b in sure.get(char, []) if (a, b) != (n, k)]
                if others:
                    alike[char] = float(np.mean([_likeness(patches[n][k], other, shift)
                                                 for other in others]))
            if len(alike) == 2 and (alike[twin] >= alike[read] + TWIN_MARGIN
                                    or _much_nearer(alike[twin], alike[read])):
                cell.twin = twin
            elif twin not in sure and read in alike:
                if typical is None:
                    typical = _typical_likeness(patches, sure, shift)
                if _unlike(alike[read], typical):
                    cell.twin = twin
                    continue
                refs = tuple((a, b) for a, b in sure[read] if (a, b) != (n, k))
                if len(refs) < 2:
                    continue
                if refs not in cohesion:
                    cohesion[refs] = _cohesion(patches, refs, shift)
                if cohesion[refs] - alike[read] >= TWIN_OUTLIER:
                    cell.twin = twin


def _sure_cells(grid: list[list[_Cell]], *,
                vouched: bool = False) -> dict[str, list[tuple[int, int]]]:
    """The cells every chunking read as one character, by character, where their field allows
    nothing else (a digit in a date, a letter in a name); with `vouched`, also letters and
    digits in the fields a check digit covers that may hold either (a document number's 'M'),
    unless the cell looks like its look-alike (see _look_for_twins), and the sex's 'M' or 'F'.
    Those are what the check digits will vouch for if the reading validates."""
    kinds = _kinds(grid)
    width = _line_width(grid)
    covered: frozenset[int] = frozenset()
    sex = None
    if vouched and width:
        covered = checked_positions(len(grid), width) or frozenset()
        if kinds is not None:
            covered -= kinds[0]  # a letter where only a digit may be is a misreading
        sex = sex_position(len(grid), width)
    sure: dict[str, list[tuple[int, int]]] = {}
    for n, row in enumerate(grid):
        for k, cell in enumerate(row):
            char = cell.unanimous()
            if char is None:
                continue
            index = n * len(row) + k
            if kinds is not None and index not in kinds[0 if char.isdigit() else 1] and not (
                    (char != FILLER and index in covered and cell.twin is None)
                    or (index == sex and char in "MF")):
                continue
            sure.setdefault(char, []).append((n, k))
    return sure


def _look_at_names(strips: list[_Strip], grid: list[list[_Cell]],
                   patches: list[list[np.ndarray]]) -> None:
    """Settle the letters of a name the readings disagree on by their look: a cell takes the
    letter it was read as whose prints elsewhere in the zone it is nearest, when it is no
    farther from them than NAME_LOOK_RATIO times what is typical between two prints of one
    character there, and what it was read as has no print there or lies at least TWIN_RATIO
    times farther from it (in 1 - likeness).

    No check digit covers a name, and a blurred OCR-B 'M' is read as 'N', 'R', 'H' or 'X' now
    and then, one cell at a time: on the tune split of the test bed (cases 0-39 of every
    condition) a blurred 'MOHAMMED' read 'XOHARNED' and validated. Its three 'M' looked like
    the 'M' of the document number (distance 0.0027-0.0044, where two prints of one character
    in the zone are 0.003 apart) and like nothing else they were read as (0.008-0.095). Of the
    86 cells of a name (its padding too) read as two letters or more in those 640 photos, the
    rule changed those three, all to the printed letter, and no other (see NAME_LOOK_RATIO).
    The letters compared with are those _sure_cells vouches for: read alike by every chunking
    where the field allows nothing else, in the fields a check digit covers, and the sex.
    """
    width = _line_width(grid)
    if width is None:
        return
    lines = tuple("".join((cell.ranked() or [UNREAD])[0] for cell in row) for row in grid)
    names = [(row, begin, end) for field_name, row, begin, end in _padding_fields(lines)
             if field_name == "name"]
    if not names:
        return
    sure = _sure_cells(grid, vouched=True)
    shift = _shift(strips)
    typical: float | None = None
    for row, begin, end in names:
        padding = _read_padding(lines[row][begin:end], name=True)
        for k in range(begin, begin + padding if padding >= 0 else end):
            cell = grid[row][k]
            read = lines[row][k]
            letters = {char for char in cell.votes if char.isalpha()}
            if cell.decided is not None or not read.isalpha() or len(letters) < 2:
                continue
            distance = {}
            for char in letters:
                others = [patches[a][b] for a, b in sure.get(char, []) if (a, b) != (row, k)]
                if others:
                    distance[char] = 1.0 - float(np.mean(
                        [_likeness(patches[row][k], other, shift) for other in others]))
            if not distance:
                continue
            best = min(distance, key=distance.__getitem__)
            if best == read:
                continue
            if typical is None:
                typical = _typical_likeness(patches, sure, shift)
            if typical >= 1.0 or distance[best] > NAME_LOOK_RATIO * max(1.0 - typical,
                                                                       TWIN_LIKENESS_FLOOR):
                continue
            if read in distance and distance[read] < TWIN_RATIO * distance[best]:
                continue
            cell.decided = best
            cell.looked = True


def _much_nearer(twin: float, read: float) -> bool:
    """Whether a cell is nearer the zone's sure cells of its twin than those of its reading by a
    factor of TWIN_RATIO or more, in 1 - likeness (see TWIN_RATIO)."""
    return twin - read >= TWIN_MIN_GAIN and 1.0 - read >= TWIN_RATIO * (1.0 - twin)


def _typical_likeness(patches: list[list[np.ndarray]], sure: dict[str, list[tuple[int, int]]],
                      shift: int) -> float:
    """How alike two prints of one letter or digit look in this zone: the mean cohesion of the
    characters surely read in two cells or more ('<' left out: a bar matches any bar). 1.0 when
    there is none, so that nothing is marked by it."""
    found = [_cohesion(patches, tuple(cells), shift)
             for char, cells in sure.items() if char != FILLER and len(cells) >= 2]
    return float(np.mean(found)) if found else 1.0


def _unlike(read: float, typical: float) -> bool:
    """Whether a cell looks unlike the zone's sure cells of its reading by TWIN_OUTLIER_RATIO
    times more than two prints of one character typically do, in 1 - likeness."""
    return typical < 1.0 and 1.0 - read >= TWIN_OUTLIER_RATIO * max(1.0 - typical,
                                                                   TWIN_LIKENESS_FLOOR)


def _cohesion(patches: list[list[np.ndarray]], cells: tuple[tuple[int, int], ...],
              shift: int) -> float:
    """How alike the given cells look to each other: the mean likeness over ordered pairs."""
    return float(np.mean([_likeness(patches[a][b], patches[c][d], shift)
                          for a, b in cells for c, d in cells if (a, b) != (c, d)]))


def _read_alone(engine: Serialised, strips: list[_Strip], grid: list[list[_Cell]],
                doubtful: list[tuple[int, int]]) -> None:
    """Read each doubtful cell on its own: no neighbour to merge with or be dropped next to."""
    if not doubtful or len(doubtful) > MAX_SINGLE_CELLS:
        return
    images, kept = [], []
    for n, k in doubtful:
        x0, x1 = strips[n].span(k, k + 1)
        if x1 - x0 >= MIN_CROP_WIDTH:
            images.append(strips[n].pixels[:, x0:x1])
            kept.append((n, k))
    if not images:
        return
    results, _ = engine.text_rec(images)
    for (n, k), (text, confidence) in zip(kept, results, strict=True):
        chars = normalise_line(text)
        if len(chars) == 1:
            grid[n][k].add(chars, SINGLE_READ_WEIGHT * float(confidence), alone=True)
        elif not chars:
            grid[n][k].alone = ""  # read, as nothing (see _settle_fillers)


def _decide(grid: list[list[_Cell]], today: date | None) -> _Attempt:
    """The lines the votes give, parsed; check-digit-justified alternatives if they fail."""
    lines, alternatives, confidences = [], [], []
    width = _line_width(grid)
    checked = checked_positions(len(grid), width) if width else None
    coded = code_positions(len(grid), width) if width else None
    for n, row in enumerate(grid):
        chars = []
        for k, cell in enumerate(row):
            if cell.looks_filler and not cell.votes:
                chars.append(FILLER)
                continue
            ranked = cell.ranked()
            chars.append(ranked[0] if ranked else "")
            if ranked:
                confidences.append(cell.confidence(ranked[0]))
            total = sum(cell.votes.values())
            others = [c for c in ranked[1:3] if cell.votes[c] >= MIN_ALTERNATIVE_SHARE * total]
            if cell.twin is not None and cell.twin not in others:
                others.append(cell.twin)
            # Only cells a check digit or the list of codes covers are varied: a change
            # anywhere else cannot make the reading pass, and would take a place among the
            # MAX_VARIED_CELLS.
            index = n * len(row) + k
            is_code = coded is not None and index in coded
            if others and (checked is None or index in checked or is_code):
                share = cell.votes[ranked[0]] / total
                # A look-alike the look offers is tried first: stray votes in a run of '<'
                # would otherwise crowd it out of the cells varied.
                share = 0.0 if cell.twin is not None else share
                alternatives.append((share, n, k, others, is_code))
        lines.append(_fill_filler_gaps(chars))
    # A cell nothing was read in stays visibly unread ('?'): parse_mrz takes it for '<' with a
    # warning, and a check digit over it then fails.
    text = tuple("".join(c or UNREAD for c in line) for line in lines)
    confidence = float(np.mean(confidences)) if confidences else None
    # Recorded, so a person can see why a name's letter is not what most readings said.
    looked = [f"line {n + 1} position {k + 1}: read as "
              + ", ".join(repr(c) for c in sorted(cell.votes) if c != cell.decided)
              + f" or {cell.decided!r}; {cell.decided!r} taken, the letter it looks like "
              "elsewhere in the zone"
              for n, row in enumerate(grid) for k, cell in enumerate(row) if cell.looked]
    base = _noted(_parse(text, today), looked)
    if (base is not None and base.valid_check_digits) or not alternatives:
        return _Attempt(text, base, confidence)
    # The state and nationality cells are varied only when they name no known code, first.
    # Then the least certain cells; only cells some reading disagreed on are varied.
    unknown_code = base is None and _parse(text, today, codes=False) is not None
    alternatives = sorted(alt for alt in alternatives if unknown_code or not alt[4])
    alternatives.sort(key=lambda alt: not alt[4])
    chosen = alternatives[:MAX_VARIED_CELLS]
    options = [[None, *alt[3]] for alt in chosen]
    # Fewest changed cells first, the least certain cells first among as many changes.
    combos = sorted(itertools.product(*options), key=lambda combo: (
        sum(choice is not None for choice in combo),
        [choice is None for choice in combo]))
    passing = []
    for combo in combos[1:MAX_VARIANTS + 1]:
        variant = [list(line) for line in text]
        for (_, n, k, _, _), choice in zip(chosen, combo, strict=True):
            if choice is not None:
                variant[n][k] = choice
        candidate = tuple("".join(line) for line in variant)
        result = _noted(_parse(candidate, today), looked)
        if result is not None and result.valid_check_digits:
            changed = frozenset(index for index, choice in enumerate(combo) if choice is not None)
            passing.append((changed, candidate, result))
    # A variant that makes the changes of another passing one and more is not what the check
    # digits asked for: 'I<' read as 'IK' as well (K counts as '<' in a check digit). And
    # variants that differ only in a mark in the padding (taken for '<') are one reading: the
    # one that changes fewest cells stands for it.
    readings: dict[tuple, tuple[tuple[str, ...], MrzResult]] = {}
    for changed, candidate, result in passing:
        if not any(other < changed for other, _, _ in passing):
            readings.setdefault(_fields(result), (candidate, result))
    if len(readings) == 1:
        candidate, result = readings.popitem()[1]
        # Recorded like parse_mrz's own look-alike repairs, so a person can be asked to compare.
        chosen_notes = [
            f"line {n + 1} position {k + 1}: {text[n][k]!r} read as {candidate[n][k]!r}, "
            + ("another reading of the recogniser" if candidate[n][k] in grid[n][k].votes
               else "the look-alike the printed character resembles")
            + (f" ({CHOSEN_BY_CODE_LIST})" if coded is not None and n * len(text[n]) + k in coded
               else f" ({CHOSEN_BY_CHECK_DIGIT} and the others)")
            for n, k in _differences(text, candidate)
        ]
        result = dataclasses.replace(result, corrections=[*chosen_notes, *result.corrections])
        return _Attempt(candidate, result, confidence)
    return _Attempt(text, base, confidence)


def _noted(result: MrzResult | None, notes: list[str]) -> MrzResult | None:
    """The reading with `notes` first among its corrections."""
    if result is None or not notes:
        return result
    return dataclasses.replace(result, corrections=[*notes, *result.corrections])


def _fields(result: MrzResult) -> tuple:
    """What a reading says about the document, without how it was read."""
    values = result.as_dict()
    return tuple(value for key, value in values.items()
                 if key not in ("checks", "valid_check_digits", "corrections", "warnings",
                                "raw_lines"))


def _differences(a: tuple[str, ...], b: tuple[str, ...]) -> list[tuple[int, int]]:
    """(line, position) where two readings differ."""
    return [(n, k) for n, (x, y) in enumerate(zip(a, b, strict=True))
            for k, (p, q) in enumerate(zip(x, y, strict=True)) if p != q]


def _fill_filler_gaps(chars: list[str]) -> list[str]:
    """Cells nobody read between two '<' (or after a '<' at the line end) are '<': the
    recogniser collapses runs of the same character, never a '<' next to anything else."""
    out = list(chars)
    n = 0
    while n < len(out):
        if out[n]:
            n += 1
            continue
        end = n
        while end < len(out) and not out[end]:
            end += 1
        before = out[n - 1] if n > 0 else None
        after = out[end] if end < len(out) else None
        if before == FILLER and after in (FILLER, None):
            out[n:end] = [FILLER] * (end - n)
        n = end
    return out


def _parse(lines: tuple[str, ...], today: date | None, *, codes: bool = True,
           ) -> MrzResult | None:
    """parse_mrz, or None when the lines are no MRZ; stray marks in a name's padding are read
    as the '<' they stand in. With `codes`, an issuing state or nationality that is no code an
    MRZ may hold makes it None too."""
    cleaned, notes = _padding_marks(lines)
    if _filler_read_as_letters(cleaned) or _unread_name(cleaned):
        return None
    try:
        result = parse_mrz(list(cleaned), today=today)
    except MrzError:
        return None
    if not all(part.isalpha() for name in (result.surname, result.given_names)
               for part in name.split()):
        # A digit no letter looks like ('ANNE<4<<<'), left in a name by parse_mrz's repairs.
        return None
    if FILLER in result.document_number:
        # A document number is left-justified, '<' only after it (ICAO 9303 part 3), so a '<'
        # inside one was read in the wrong place: on the held-out split of the test bed a dim
        # '9ZZ2<<<<<' read '97Z2<4<<<' passed its check digit by chance.
        return None
    if codes and not (known_code(result.issuing_country) and known_code(result.nationality)):
        # No check digit covers them: on the tune split of the test bed (40 cases per
        # condition) a glare photo's 'NLD' read 'ZLD' and validated.
        return None
    if notes:
        result = dataclasses.replace(result, corrections=[*notes, *result.corrections])
    return result


def _filler_read_as_letters(lines: tuple[str, ...]) -> bool:
    """Whether a name or optional data holds the same letter three times running: a run of '<'
    read as letters (no transliterated name has one). 'A', 'K' and 'U' count as '<' in a check
    digit, so such a reading can validate: on the held-out split of the test bed (18 cases per
    condition) two screen photos read '<' runs as 'KKK' and 'AAAAAAAAAAA' and validated.

    In a name, the same digit three times running counts too: parse_mrz takes a digit there for
    the letter it looks like, and a TD1 card blurred at radius 7 and enlarged to 12 MP
    (bench.gate_agreement) read its name 'LICCEAICC666666...' and validated as the surname
    'LICCEAICCGGGG...'. In optional data digits may repeat ('000')."""
    for name, row, begin, end in _padding_fields(lines):
        pattern = r"([A-Z0-9])\1\1" if name == "name" else r"([A-Z])\1\1"
        if re.search(pattern, lines[row][begin:end]):
            return True
    return False


def _unread_name(lines: tuple[str, ...]) -> bool:
    """Whether a cell of a name before its padding was read as nothing. parse_mrz would take it
    for '<', and no check digit covers a name: on a card photo of the tune split (40-69 of
    each condition) 'LI<<ZOE' read '?1<<Z0E' and validated as the surname 'I'."""
    for name, row, begin, end in _padding_fields(lines):
        if name != "name":
            continue
        read = lines[row][begin:end]
        start = _read_padding(read, name=True)
        if UNREAD in read[:start if start >= 0 else len(read)]:
            return True
    return False


def _padding_fields(lines: tuple[str, ...]) -> list[tuple[str, int, int, int]]:
    """(field, line, begin, end) of the fields that end in padding: the name, and the optional
    data (which ICAO 9303 left-justifies too)."""
    if len(lines) == 3 and all(len(line) == 30 for line in lines):  # TD1
        return [("name", 2, 0, 30), ("optional data", 0, 15, 30), ("optional data", 1, 18, 29)]
    if len(lines) == 2 and len(lines[0]) in (36, 44) and len(lines[1]) == len(lines[0]):
        visa = lines[0].startswith("V")
        # TD2 optional data ends before the composite check digit, TD3 before the personal
        # number's; a visa's runs to the end of the line.
        end = len(lines[1]) if visa else {36: 35, 44: 42}[len(lines[1])]
        return [("name", 0, 5, len(lines[0])), ("optional data", 1, 28, end)]
    return []


def _padding_start(view: str, name: bool) -> int:
    """Where a field's padding begins: at its first '<<<', or in a name at its second '<<' (the
    one separator between surname and given names is the only '<<' a name holds); -1 if none."""
    start = view.find(FILLER * 3)
    if not name:
        return start
    first = view.find(FILLER * 2)
    if first < 0 or first == start:
        return start
    second = view.find(FILLER * 2, first + 2)
    return second if start < 0 or 0 <= second < start else start


def _read_padding(read: str, *, name: bool) -> int:
    """Where a field's padding begins (see _padding_start; cells read as nothing count as '<'
    there), once the cells before its first '<' that was read are left out; -1 if none.

    Unread cells followed by a mark are no padding: they may be data the recogniser missed.
    On the tune split of the test bed (cases 40-69 of each condition) a glare photo's optional
    data '12345' read '1???5': taken for '<' and a mark, it gave '1', and the composite check
    digit held by chance (2, 3, 4 and 5 weigh 40 there)."""
    view = read.replace(UNREAD, FILLER)
    start = _padding_start(view, name)
    while start >= 0:
        first = start
        while first < len(read) and read[first] == UNREAD:
            first += 1
        if first == len(read):
            return start
        if read[first] == FILLER:
            return first
        found = view.find(FILLER * 3, first + 1)
        start = found if found >= 0 else -1
    return start


def _padding_marks(lines: tuple[str, ...]) -> tuple[tuple[str, ...], list[str]]:
    """The lines with sparse marks after a run of three '<' in the name or optional data read
    as '<'.

    A name never holds '<<<', nor a second '<<' (ICAO 9303 part 3: '<<' between surname and
    given names, '<' between their parts), and optional data is left-justified: from there on
    the field is padding. A thin OCR-B '<' in a long run is now and then read as 'L', 'K', 'C',
    'S' or 'A' (seen in 2 of 32 photos of the test bed's tune split in the name, and in the held-out
    split's one false read in both name and optional data, each a reading that validated: no
    check digit covers the name, and 'A', 'K' and 'U' count as '<' in a check digit). Cells
    nothing was read in ('?') count as '<'. Only marks in runs of at most MAX_PADDING_MARK with
    at least as many '<' around them are taken for such marks; a longer run is data and left
    as read.
    """
    out, notes = list(lines), []
    for name, row, begin, end in _padding_fields(lines):
        read = out[row][begin:end]
        view = read.replace(UNREAD, FILLER)
        start = _read_padding(read, name=name == "name")
        if start < 0:
            continue
        tail = view[start:]
        runs = re.findall(r"[^<]+", tail)
        if not runs or max(len(run) for run in runs) > MAX_PADDING_MARK or \
                sum(len(run) for run in runs) * 2 > len(tail):
            continue
        out[row] = out[row][:begin + start] + FILLER * len(tail) + out[row][end:]
        reason = ("a name has one '<<' and never '<<<'" if name == "name" else
                  "optional data is left-justified")
        notes.append(f"{name}: {''.join(runs)!r} inside the padding read as '<' ({reason})")
    return tuple(out), notes
