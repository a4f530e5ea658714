"""Faces on LFW DevTrain: the face pipeline before and as shipped, on two halves split by person.

    .venv/bin/python -m bench.face_lfw [--lfw DIR] [--cache DIR] [--json PATH]

The LFW View 1 development pairs (``../shared/fixtures/lfw-devtrain``, see its README: for
calibration only, never copied into the project) are split by person into a tuning half and a
held-apart half (a person's half is the parity of the first byte of the SHA-256 of their
name); a listed pair belongs to a half when both its people do. Everything the shipped
pipeline chose was chosen on the tuning half; both are reported.

Each image goes once through upload intake and the face pipeline per variant (several minutes
for the 3,443 images); what it gives is cached in ``--cache`` (git-ignored ``bench-results``),
so a second run reads it back. Per image: the face nearest the centre found by ``find_faces``
with no upsampling (``before``), and, where that found none, with the shipped retry
(``find_faces``' retry); the encodings of that face with the 5-point and the 68-point
landmark models, and its steady encoding (for pairs near the threshold).

Printed per pipeline and half: accuracy, TAR and FAR at the threshold on the listed pairs,
faces missed, unscored pairs; TAR at FAR <= 0.002 and 0.001 against every image of one person
paired with every image of each other person in the half (the README's widened impostor side,
about 1.4 million pairs per half) and the listed genuine pairs. Exits 0 with a message when the
LFW folder is absent.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import multiprocessing
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from config import Config
from verification.calibration import ImageRef, Pair, nearest_centre, parse_pairs
from verification.faces import (
    RETRY_UPSAMPLE,
    STEADY_MARGIN,
    FoundFace,
    encode_face,
    engine_version,
    find_faces,
    steady_distance,
)
from verification.images import normalize_upload

ROOT = Path(__file__).resolve().parent.parent
LFW = ROOT.parent / "shared" / "fixtures" / "lfw-devtrain"
CACHE = ROOT / "bench-results" / "lfw-cache"
TARGET_FARS = (0.002, 0.001)


def half_of(name: str) -> str:
    """'tune' or 'held' for a person, fixed by their name."""
    return "tune" if hashlib.sha256(name.encode()).digest()[0] % 2 == 0 else "held"


def pair_half(pair: Pair) -> str | None:
    """The half both people of a pair are in; None when they are in different halves."""
    first, second = half_of(pair.first.name), half_of(pair.second.name)
    return first if first == second else None


def _load(path: Path) -> Image.Image:
    clean = normalize_upload(path.read_bytes(), max_bytes=Config.MAX_UPLOAD_BYTES,
                             max_pixels=Config.MAX_IMAGE_PIXELS)
    with Image.open(io.BytesIO(clean.data)) as stored:
        return stored.convert("RGB")


def _central(faces: list[FoundFace], image: Image.Image) -> FoundFace | None:
    return faces[nearest_centre([f.box for f in faces], image.size)] if faces else None


@dataclass
class Encoded:
    """What the pipeline variants give for every image (index i is refs[i])."""

    refs: list[ImageRef]
    found_first: np.ndarray      # bool: a face without upsampling
    found_retry: np.ndarray      # bool: a face with the upsampled HOG retry (or found_first)
    found_cnn: np.ndarray        # bool: a face with the whole retry, the CNN detector last
    small: np.ndarray            # 5-point encodings of the face (zeros where none)
    large: np.ndarray            # 68-point encodings


def encode_all(root: Path, refs: list[ImageRef], cache: Path) -> Encoded:
    """Encode every image once, reading back the cache when it holds the same images."""
    path = cache / "encodings.npz"
    names = [str(ref.path(Path())) for ref in refs]
    if path.exists():
        data = np.load(path)
        if list(data["names"]) == names:
            return _with_cnn(root, Encoded(refs, data["found_first"], data["found_retry"],
                                           data["found_retry"].copy(), data["small"],
                                           data["large"]), cache)
    found_first = np.zeros(len(refs), bool)
    found_retry = np.zeros(len(refs), bool)
    small = np.zeros((len(refs), 128))
    large = np.zeros((len(refs), 128))
    started = time.perf_counter()
    for i, ref in enumerate(refs):
        image = _load(ref.path(root))
        face = _central(find_faces(image, retry=False), image)
        found_first[i] = face is not None
        if face is None:
            face = _central(find_faces(image, upsample=RETRY_UPSAMPLE, retry=False), image)
            if face is None:
                print(f"  {ref.path(Path())}: no face with upsampling {RETRY_UPSAMPLE}",
                      file=sys.stderr)
        if face is not None:
            found_retry[i] = True
            small[i] = encode_face(image, face, model="small")
            large[i] = encode_face(image, face, model="large")
        if i % 250 == 0:
            print(f"  encoded {i}/{len(refs)} ({time.perf_counter() - started:.0f} s)",
                  file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, names=np.array(names), found_first=found_first, found_retry=found_retry,
             small=small, large=large)
    return _with_cnn(root, Encoded(refs, found_first, found_retry, found_retry.copy(), small,
                                   large), cache)


def _with_cnn(root: Path, enc: Encoded, cache: Path) -> Encoded:
    """``enc`` with the faces the CNN detector finds where the HOG passes found none."""
    path = cache / "cnn.npz"
    missing = [i for i in range(len(enc.refs)) if not enc.found_retry[i]]
    names = [str(enc.refs[i].path(Path())) for i in missing]
    if path.exists() and list(np.load(path)["names"]) == names:
        data = np.load(path)
        found, small, large = data["found"], data["small"], data["large"]
    else:
        found = np.zeros(len(missing), bool)
        small, large = np.zeros((len(missing), 128)), np.zeros((len(missing), 128))
        for k, i in enumerate(missing):
            image = _load(enc.refs[i].path(root))
            face = _central(find_faces(image), image)  # the whole retry: CNN last
            if face is not None:
                found[k] = True
                small[k] = encode_face(image, face, model="small")
                large[k] = encode_face(image, face, model="large")
        np.savez(path, names=np.array(names), found=found, small=small, large=large)
    for k, i in enumerate(missing):
        enc.found_cnn[i] = found[k]
        if found[k]:
            enc.small[i], enc.large[i] = small[k], large[k]
    return enc


def _steady_one(path: Path) -> np.ndarray | None:
    image = _load(path)
    face = _central(find_faces(image), image)
    return None if face is None else encode_face(image, face, steady=True)


def steady_encodings(root: Path, enc: Encoded, cache: Path, workers: int) -> np.ndarray:
    """Each image's steady encoding (``encode_face(..., steady=True)``, 68-point landmarks),
    computed by ``workers`` processes and cached."""
    path = cache / "steady-large.npz"
    names = [str(ref.path(Path())) for ref in enc.refs]
    if path.exists():
        data = np.load(path)
        if list(data["names"]) == names:
            return data["steady"]
    steady = np.zeros((len(enc.refs), 128))
    todo = [i for i in range(len(enc.refs)) if enc.found_cnn[i]]
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for k, found in enumerate(pool.imap(_steady_one, [enc.refs[i].path(root) for i in todo],
                                            chunksize=8)):
            if found is not None:
                steady[todo[k]] = found
            if k % 500 == 0:
                print(f"  steady {k}/{len(todo)} ({time.perf_counter() - started:.0f} s)",
                      file=sys.stderr)
    np.savez(path, names=np.array(names), steady=steady)
    return steady


@dataclass(frozen=True)
class Pipeline:
    name: str
    retry: int        # 0: one detection pass; 1: the upsampled HOG retry; 2: then the CNN
    model: str        # landmark model
    steady: str       # "": one encoding; "near": measured again on steady encodings within
                      # STEADY_MARGIN of the threshold (faces.steady_distance); "always":
                      # steady encodings throughout


def _tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> tuple[float, float]:
    """(TAR, threshold) at the largest threshold accepting at most ``far`` of the impostors."""
    allowed = int(far * len(impostor))
    ordered = np.sort(impostor)
    # Accept strictly below the (allowed+1)-th smallest impostor distance.
    limit = ordered[allowed] if allowed < len(ordered) else np.inf
    return float(np.mean(genuine < limit)), float(limit)


def _grid(stack: np.ndarray) -> np.ndarray:
    squares = np.sum(stack ** 2, axis=1)
    return np.sqrt(np.maximum(squares[:, None] + squares[None, :] - 2 * stack @ stack.T, 0))


def evaluate(pipe: Pipeline, enc: Encoded, pairs: list[Pair], half: str, threshold: float,
             steady_all: np.ndarray | None) -> dict:
    """The figures of one pipeline on one half."""
    index = {ref: i for i, ref in enumerate(enc.refs)}
    found = (enc.found_first, enc.found_retry, enc.found_cnn)[pipe.retry]
    vectors = enc.large if pipe.model == "large" else enc.small
    if pipe.steady == "always":
        vectors = steady_all
    steady = steady_all if pipe.steady == "near" else None
    mine = [p for p in pairs if pair_half(p) == half]
    people = [i for i, ref in enumerate(enc.refs) if half_of(ref.name) == half]
    missed = [str(enc.refs[i].path(Path())) for i in people if not found[i]]
    genuine, impostor, errors, unscored, remeasured = [], [], [], 0, 0
    for pair in mine:
        a, b = index[pair.first], index[pair.second]
        if not (found[a] and found[b]):
            unscored += 1
            continue
        distance = float(np.linalg.norm(vectors[a] - vectors[b]))
        if steady is not None:
            distance, again = steady_distance(distance, threshold,
                                              lambda a=a, b=b: (steady[a], steady[b]))
            remeasured += again
        (genuine if pair.genuine else impostor).append(distance)
        if (distance <= threshold) != pair.genuine:
            errors.append({"line": pair.line, "pair": f"{pair.first.name} {pair.first.number} "
                           f"{pair.second.name} {pair.second.number}",
                           "kind": "false reject" if pair.genuine else "false accept",
                           "distance": round(distance, 4)})
    genuine_a, impostor_a = np.array(genuine), np.array(impostor)
    tar = float(np.mean(genuine_a <= threshold))
    far = float(np.mean(impostor_a <= threshold))
    accuracy = (np.sum(genuine_a <= threshold) + np.sum(impostor_a > threshold)) / (
        len(genuine_a) + len(impostor_a))
    # The widened impostor side: every scored image against every other person's in the half.
    scored = [i for i in people if found[i]]
    names = np.array([enc.refs[i].name for i in scored])
    grid = _grid(vectors[scored])
    if steady is not None:
        grid = np.where(np.abs(grid - threshold) <= STEADY_MARGIN, _grid(steady[scored]), grid)
    upper = np.triu(np.ones_like(grid, dtype=bool), k=1) & (names[:, None] != names[None, :])
    wide = grid[upper]
    out = {"pipeline": pipe.name, "half": half, "listed_pairs": len(mine),
           "genuine": len(genuine), "impostor": len(impostor), "unscored_pairs": unscored,
           "faces_missed": len(missed), "missed_images": missed,
           "accuracy": round(float(accuracy), 4), "tar": round(tar, 4), "far": round(far, 4),
           "wide_impostor_pairs": int(wide.size),
           "wide_far_at_threshold": round(float(np.mean(wide <= threshold)), 5),
           "remeasured_pairs": remeasured, "errors": errors}
    for target in TARGET_FARS:
        rate, limit = _tar_at_far(genuine_a, wide, target)
        out[f"tar_at_far_{target}"] = round(rate, 4)
        out[f"threshold_at_far_{target}"] = round(limit, 4)
    return out


PIPELINES = (
    Pipeline("before (no upsampling, 5-point, single encoding)", 0, "small", ""),
    Pipeline("HOG retry upsampled", 1, "small", ""),
    Pipeline("HOG + CNN retry", 2, "small", ""),
    Pipeline("HOG + CNN retry, 68-point", 2, "large", ""),
    Pipeline("shipped: retry, 68-point, steady near threshold", 2, "large", "near"),
    Pipeline("retry, 68-point, steady always", 2, "large", "always"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, default=LFW)
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--threshold", type=float, default=Config.FACE_MATCH_THRESHOLD)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--workers", type=int, default=2,
                        help="Processes computing the steady encodings (first run only)")
    args = parser.parse_args()
    pairs_file = args.lfw / "pairsDevTrain.txt"
    if not pairs_file.exists():
        print(f"face_lfw: skipped, no LFW DevTrain pairs at {pairs_file} (see "
              "docs/benchmarks.md, 'Faces on LFW DevTrain')")
        return
    pairs = parse_pairs(pairs_file.read_text(encoding="utf-8"))
    refs = sorted({ref for pair in pairs for ref in (pair.first, pair.second)},
                  key=lambda r: (r.name, r.number))
    enc = encode_all(args.lfw, refs, args.cache)
    results = []
    print(f"LFW DevTrain {len(pairs)} pairs, {len(refs)} images; threshold {args.threshold}; "
          f"measured again on steady encodings within {STEADY_MARGIN} of it; face_recognition "
          f"{engine_version()}; {platform.machine()}, {platform.python_version()}")
    header = (f"{'pipeline':<48} {'half':<5} {'acc':>6} {'TAR':>6} {'FAR':>6} "
              f"{'TAR@.002':>8} {'TAR@.001':>8} {'missed':>6} {'unscored':>8} {'remeasured':>10}")
    print(header)
    steady = None
    for pipe in PIPELINES:
        if pipe.steady and steady is None:
            steady = steady_encodings(args.lfw, enc, args.cache, args.workers)
        for half in ("tune", "held"):
            row = evaluate(pipe, enc, pairs, half, args.threshold, steady)
            results.append(row)
            print(f"{pipe.name:<48} {half:<5} {row['accuracy']:>6.4f} {row['tar']:>6.4f} "
                  f"{row['far']:>6.4f} {row['tar_at_far_0.002']:>8.4f} "
                  f"{row['tar_at_far_0.001']:>8.4f} {row['faces_missed']:>6} "
                  f"{row['unscored_pairs']:>8} {row['remeasured_pairs']:>10}")
    for row in results:
        print(f"\n{row['pipeline']}, {row['half']}: {row['genuine']} genuine + "
              f"{row['impostor']} impostor listed pairs; widened impostors "
              f"{row['wide_impostor_pairs']} (FAR at threshold {row['wide_far_at_threshold']}); "
              f"threshold for FAR 0.002 / 0.001: {row['threshold_at_far_0.002']} / "
              f"{row['threshold_at_far_0.001']}")
        for error in row["errors"]:
            print(f"  {error['kind']:<13} line {error['line']:>4}  {error['pair']:<60} "
                  f"{error['distance']:.4f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"threshold": args.threshold, "results": results},
                                        indent=2))


if __name__ == "__main__":
    main()
