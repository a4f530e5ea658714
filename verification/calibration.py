"""Face-match calibration: LFW-format pairs, their distances, and the rates at each threshold.

A pairs file in the format of Labeled Faces in the Wild (LFW) lists pairs of photos of the
same person (genuine) and of two people (impostor). Each pair is scored by the production
pipeline (``find_faces`` on a reduced copy, ``encode_face`` on a full-resolution crop); a pair
matches at a threshold when the distance between the two encodings is at most that threshold.
The true-accept rate (TAR) is the share of genuine pairs that match, the false-accept rate
(FAR) the share of impostor pairs that match.

Pure functions, no Flask and no database: ``flask calibrate-faces`` and
``bench/face_threshold.py`` both run ``calibrate``.
"""

from __future__ import annotations

import io
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
from PIL import Image

from .faces import encode_face, face_distance, find_faces, steady_distance
from .images import ImageRejected, normalize_upload

# Why a pair could not be scored (counted per pair, by its first image that failed).
MISSING_FILE = "missing_file"
UNREADABLE = "unreadable"
NO_FACE = "no_face"

# A range of thresholds wider than this is a typing mistake, not a calibration.
MAX_THRESHOLDS = 1000
# With no false accept among N impostor pairs, the true FAR is below 3/N with 95% confidence
# (the "rule of three"), so showing a FAR of at most F takes at least 3/F impostor pairs.
RULE_OF_THREE = 3
# A person's directory name: LFW's names (letters, digits, '_', '-', '.', apostrophes), never
# a path that leaves the images directory.
_NAME = re.compile(r"^(?!\.\.?$)[^/\\\x00]+$")


class PairsFileError(ValueError):
    """A pairs file that does not follow the LFW format; ``line`` is 1-based (0: the file)."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


class Unscorable(Exception):
    """An image of a pair that cannot be encoded; ``reason`` is one of the reason constants."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ImageRef:
    """Photo ``number`` (1-based) of person ``name`` in an LFW directory."""

    name: str
    number: int

    def path(self, root: Path) -> Path:
        """Where LFW keeps it: root/name/name_0001.jpg (the number zero-padded to 4 digits)."""
        return Path(root) / self.name / f"{self.name}_{self.number:04d}.jpg"


@dataclass(frozen=True)
class Pair:
    """Two photos to compare, and the line of the pairs file that listed them."""

    first: ImageRef
    second: ImageRef
    line: int

    @property
    def genuine(self) -> bool:
        """True when both photos show the same person."""
        return self.first.name == self.second.name


def parse_pairs(text: str) -> list[Pair]:
    """The pairs of an LFW pairs file; PairsFileError names the first malformed line.

    The first line is a header, either one count ("300") or folds and pairs per fold
    ("10<TAB>300"); it is informational, every following line is read. Then
    ``name<TAB>n1<TAB>n2`` (a matched pair) or ``name1<TAB>n1<TAB>name2<TAB>n2`` (a mismatched
    one). A file without the header line is read all the same.
    """
    pairs = []
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields:
            continue
        if number == 1 and len(fields) <= 2 and all(f.isdigit() for f in fields):
            continue  # the header
        if len(fields) == 3:
            first = ImageRef(_name(fields[0], number), _image_number(fields[1], number))
            second = ImageRef(first.name, _image_number(fields[2], number))
        elif len(fields) == 4:
            first = ImageRef(_name(fields[0], number), _image_number(fields[1], number))
            second = ImageRef(_name(fields[2], number), _image_number(fields[3], number))
        else:
            raise PairsFileError(number, f"expected 'name n1 n2' or 'name1 n1 name2 n2' "
                                         f"(tab-separated), got {len(fields)} fields: {raw!r}")
        if first == second:
            raise PairsFileError(number, f"compares {first.name} image {first.number} "
                                         "with itself")
        pairs.append(Pair(first, second, number))
    if not pairs:
        raise PairsFileError(0, "the file lists no pairs")
    return pairs


def _name(text: str, line: int) -> str:
    if not _NAME.match(text):
        raise PairsFileError(line, f"{text!r} is not a person's directory name")
    return text


def _image_number(text: str, line: int) -> int:
    if not text.isdigit() or int(text) < 1:
        raise PairsFileError(line, f"image number {text!r} is not a whole number from 1")
    return int(text)


def threshold_range(spec: str) -> list[float]:
    """The thresholds of "start:stop:step", both ends included ("0.30:0.80:0.05")."""
    parts = spec.split(":")
    try:
        start, stop, step = (Decimal(p.strip()) for p in parts)
    except (ValueError, InvalidOperation):
        raise ValueError(f"{spec!r} is not start:stop:step, e.g. 0.30:0.80:0.05") from None
    if not all(v.is_finite() for v in (start, stop, step)) or not (step > 0 and 0 <= start <= stop):
        raise ValueError(f"{spec!r}: need 0 <= start <= stop and a step above 0")
    count = int((stop - start) / step) + 1
    if count > MAX_THRESHOLDS:
        raise ValueError(f"{spec!r} gives {count} thresholds; at most {MAX_THRESHOLDS}")
    # Decimal steps, so 0.30 + 6 x 0.05 is exactly 0.6 and a distance of 0.6 ties with it.
    return [float(start + i * step) for i in range(count)]


def nearest_centre(boxes: Sequence[tuple[int, int, int, int]], size: tuple[int, int]) -> int:
    """The index of the box (top, right, bottom, left) whose centre is nearest the image's.

    LFW photos are centred on the person they are filed under; others may be in the frame.
    On a tie the earlier box wins (find_faces lists the largest first).
    """
    if not boxes:
        raise ValueError("no faces to choose from")
    width, height = size

    def off_centre(box: tuple[int, int, int, int]) -> float:
        top, right, bottom, left = box
        return math.hypot((left + right) / 2 - width / 2, (top + bottom) / 2 - height / 2)

    return min(range(len(boxes)), key=lambda i: off_centre(boxes[i]))


def encode_photo_file(path: Path, *, max_bytes: int, max_pixels: int,
                      steady: bool = False) -> np.ndarray:
    """The encoding of the face nearest the centre of a photo file, as the desk would take it.

    The file goes through upload intake (limits, orientation, metadata strip); Unscorable
    when it is missing, unreadable or shows no face. ``steady``: its steady encoding.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise Unscorable(MISSING_FILE, str(path)) from None
    except OSError as err:
        raise Unscorable(UNREADABLE, f"{path}: {err.strerror or err}") from None
    try:
        clean = normalize_upload(data, max_bytes=max_bytes, max_pixels=max_pixels)
    except ImageRejected as err:
        raise Unscorable(UNREADABLE, f"{path}: {err.message}") from None
    with Image.open(io.BytesIO(clean.data)) as stored:
        image = stored.convert("RGB")
    faces = find_faces(image)
    if not faces:
        raise Unscorable(NO_FACE, str(path))
    face = faces[nearest_centre([f.box for f in faces], image.size)]
    return encode_face(image, face, steady=steady)


@dataclass
class Scores:
    """The distance of every scored pair, split by kind, and why the others were not scored."""

    genuine: list[float] = field(default_factory=list)
    impostor: list[float] = field(default_factory=list)
    # (pair, distance or None, reason or None) in the order of the file.
    pairs: list[tuple[Pair, float | None, str | None]] = field(default_factory=list)
    unscored: Counter = field(default_factory=Counter)
    unscored_images: dict[ImageRef, str] = field(default_factory=dict)
    encoded: int = 0
    # Pairs whose distance lay near the threshold and was measured again on steady encodings.
    remeasured: int = 0


def score_pairs(pairs: Sequence[Pair], encode: Callable[[ImageRef], np.ndarray], *,
                steady: Callable[[ImageRef], np.ndarray] | None = None,
                threshold: float | None = None) -> Scores:
    """The distance of each pair; ``encode`` runs once per image however many pairs use it.

    With ``steady`` (an image's steady encoding) and ``threshold``, a distance near the
    threshold is measured again as the selfie check does (faces.steady_distance).
    """
    cache: dict[ImageRef, np.ndarray | Unscorable] = {}
    steady_cache: dict[ImageRef, np.ndarray] = {}
    scores = Scores()

    def encoding(ref: ImageRef) -> np.ndarray:
        if ref not in cache:
            try:
                cache[ref] = encode(ref)
                scores.encoded += 1
            except Unscorable as err:
                cache[ref] = err
                scores.unscored_images[ref] = err.reason
        found = cache[ref]
        if isinstance(found, Unscorable):
            raise found
        return found

    def steady_pair(pair: Pair) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            for ref in (pair.first, pair.second):
                if ref not in steady_cache:
                    steady_cache[ref] = steady(ref)
        except Unscorable:
            return None
        return steady_cache[pair.first], steady_cache[pair.second]

    for pair in pairs:
        try:
            distance = face_distance(encoding(pair.first), encoding(pair.second))
            if steady is not None and threshold is not None:
                distance, again = steady_distance(distance, threshold,
                                                  lambda pair=pair: steady_pair(pair))
                scores.remeasured += again
        except Unscorable as err:
            scores.unscored[err.reason] += 1
            scores.pairs.append((pair, None, err.reason))
            continue
        (scores.genuine if pair.genuine else scores.impostor).append(distance)
        scores.pairs.append((pair, distance, None))
    return scores


@dataclass(frozen=True)
class ThresholdRates:
    """TAR, FAR and accuracy at one threshold; None where there is nothing to divide by."""

    threshold: float
    tar: float | None
    far: float | None
    accuracy: float | None
    genuine_accepted: int
    genuine: int
    impostor_accepted: int
    impostor: int

    def as_dict(self) -> dict:
        """JSON-safe values."""
        return asdict(self)


def rates_at(genuine: Sequence[float], impostor: Sequence[float],
             threshold: float) -> ThresholdRates:
    """The rates at ``threshold``: a pair matches when its distance is at most the threshold."""
    genuine_accepted = sum(1 for d in genuine if d <= threshold)
    impostor_accepted = sum(1 for d in impostor if d <= threshold)
    right = genuine_accepted + len(impostor) - impostor_accepted
    total = len(genuine) + len(impostor)
    return ThresholdRates(
        threshold=threshold,
        tar=genuine_accepted / len(genuine) if genuine else None,
        far=impostor_accepted / len(impostor) if impostor else None,
        accuracy=right / total if total else None,
        genuine_accepted=genuine_accepted, genuine=len(genuine),
        impostor_accepted=impostor_accepted, impostor=len(impostor))


def rate_table(genuine: Sequence[float], impostor: Sequence[float],
               thresholds: Sequence[float]) -> list[ThresholdRates]:
    """The rates at each threshold, in the order given."""
    return [rates_at(genuine, impostor, t) for t in thresholds]


def threshold_for_far(table: Sequence[ThresholdRates], target_far: float) -> ThresholdRates | None:
    """The row of the largest threshold whose FAR is at most ``target_far``.

    None when no row meets it, or when there were no impostor pairs (no FAR was measured).
    """
    meeting = [row for row in table if row.far is not None and row.far <= target_far]
    return max(meeting, key=lambda row: row.threshold, default=None)


def impostor_pairs_needed(target_far: float) -> int:
    """How many impostor pairs, all rejected, it takes to show a FAR below ``target_far``."""
    return math.ceil(RULE_OF_THREE / target_far)


@dataclass(frozen=True)
class PairError:
    """A pair the match decides wrongly at a threshold, with its distance."""

    pair: Pair
    distance: float

    @property
    def kind(self) -> str:
        """'false reject' (a genuine pair over the threshold) or 'false accept'."""
        return "false reject" if self.pair.genuine else "false accept"

    def as_dict(self) -> dict:
        """JSON-safe values: the pairs file's line, the two images, the kind, the distance."""
        return {"line": self.pair.line, "first": str(self.pair.first.path(Path())),
                "second": str(self.pair.second.path(Path())), "kind": self.kind,
                "distance": round(self.distance, 4)}


def errors_at(scores: Scores, threshold: float) -> list[PairError]:
    """The scored pairs decided wrongly at ``threshold``, nearest the threshold first."""
    wrong = [PairError(pair, distance) for pair, distance, _ in scores.pairs
             if distance is not None and (distance <= threshold) != pair.genuine]
    return sorted(wrong, key=lambda e: abs(e.distance - threshold))


@dataclass(frozen=True)
class Calibration:
    """Everything ``calibrate`` measured, ready to print or to dump as JSON."""

    scores: Scores
    table: list[ThresholdRates]
    target_far: float
    recommended: ThresholdRates | None

    def as_dict(self) -> dict:
        """The JSON form (see ``flask calibrate-faces --json``)."""
        scores = self.scores
        return {
            "pairs": len(scores.pairs),
            "scored": len(scores.genuine) + len(scores.impostor),
            "unscored": dict(sorted(scores.unscored.items())),
            "unscored_images": [{"image": str(ref.path(Path())), "reason": why}
                                for ref, why in scores.unscored_images.items()],
            "genuine": len(scores.genuine),
            "impostor": len(scores.impostor),
            "remeasured_pairs": scores.remeasured,
            "distances": {"genuine": _spread(scores.genuine),
                          "impostor": _spread(scores.impostor)},
            "thresholds": [row.as_dict() for row in self.table],
            "target_far": self.target_far,
            "recommended_threshold": self.recommended.threshold if self.recommended else None,
            "impostor_pairs_needed": impostor_pairs_needed(self.target_far),
        }


def _spread(distances: Sequence[float]) -> dict | None:
    if not distances:
        return None
    return {"min": round(min(distances), 4), "max": round(max(distances), 4),
            "mean": round(float(np.mean(distances)), 4)}


def calibrate(pairs: Sequence[Pair], encode: Callable[[ImageRef], np.ndarray],
              thresholds: Sequence[float], target_far: float, *,
              steady: Callable[[ImageRef], np.ndarray] | None = None,
              threshold: float | None = None) -> Calibration:
    """Score every pair and compute the rates at each threshold and the one for ``target_far``.

    ``steady`` and ``threshold``: see score_pairs (the distances measured again near
    ``threshold`` are used at every threshold of the table).
    """
    scores = score_pairs(pairs, encode, steady=steady, threshold=threshold)
    table = rate_table(scores.genuine, scores.impostor, thresholds)
    return Calibration(scores=scores, table=table, target_far=target_far,
                       recommended=threshold_for_far(table, target_far))
