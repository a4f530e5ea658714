"""Face pipeline on 12-megapixel photos: the production path against plain face_recognition.

    .venv/bin/python -m bench.face_pipeline [--megapixels 12] [--json PATH]

Phone selfies are about 12 megapixels. The eight single-face fixture photos are upscaled
(LANCZOS, aspect kept) to that area; specimen passports rendered from four of them (each
photo cropped as a passport photo is, see ``passport_photo``) are framed on a table and
upscaled the same way. Each is saved as a JPEG. On every file, one pass each, after a warm-up
call that loads the models:

(a) production: Pillow decodes the file, ``find_faces`` detects on a copy reduced to 1000 px,
    ``encode_face`` encodes the largest face from a full-resolution crop, as shipped;
(b) steady: production, then the face's steady encoding too (``encode_face(..., steady=True)``),
    which a comparison near the threshold needs on both sides (the selfie and the ID photo);
(c) before: the same as it was before the LFW tuning (no detection retry, the 5-point landmark
    model, no steady encodings), for the time per selfie side by side;
(d) plain: ``face_recognition.load_image_file``, ``face_locations`` (its defaults: HOG, one
    upsampling) and ``face_encodings`` of the largest face, all on the full image.

All are timed from the same JPEG file, decoding included; upload intake (which runs once per
photo whatever the face pipeline) is in neither. Prints p50/p95 per image, the speed ratio,
and whether the two pipelines make the same match decision (distance <= 0.6) on every pair of
the images, with the largest difference in distance.
"""

import argparse
import itertools
import json
import math
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from config import Config
from verification.degrade import degrade
from verification.faces import (
    encode_face,
    engine_version,
    face_distance,
    face_engine,
    find_faces,
)
from verification.specimen import SpecimenPerson, render_passport

FACES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "faces"
SELFIES = ("obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "biden_1.jpg", "biden_2.jpg",
           "keanu_reeves_1.jpg", "keanu_reeves_2.jpg", "bill_gates_1.jpg")
# One passport per person, from the portrait bench.document_checks uses for them.
DOCUMENT_PORTRAITS = ("obama_1.jpg", "biden_2.jpg", "keanu_reeves_1.jpg", "bill_gates_1.jpg")
# A phone camera's JPEG quality setting (the stored copy of an upload uses 92 as well).
PHONE_JPEG_QUALITY = Config.STORED_JPEG_QUALITY


# ICAO 9303 part 3 passport photos show the head (chin to crown) over 70-80% of the photo's
# height; dlib's face box spans about two thirds of the head (brows to chin). A crop twice the
# box's height, 35:45 wide like the photo, frames a fixture photo as a passport photo. Fitted
# whole instead, a loosely framed photo leaves a face too small for the detector (see
# docs/benchmarks.md: the passports from biden_1 and keanu_reeves_1 lose their portrait).
PASSPORT_CROP_HEIGHT = 2.0
PASSPORT_ASPECT = 35 / 45
# The crown sits half a box height above the box; a quarter of a box height of margin above it.
PASSPORT_CROP_ABOVE = 0.75


def passport_photo(photo: Image.Image) -> Image.Image:
    """``photo`` cropped around its largest face the way a passport photo is framed."""
    top, right, bottom, left = find_faces(photo)[0].box
    height = PASSPORT_CROP_HEIGHT * (bottom - top)
    width = height * PASSPORT_ASPECT
    # A tightly framed photo has less room than that: take what there is, in proportion.
    fits = min(1.0, photo.width / width, photo.height / height)
    width, height = width * fits, height * fits
    crop_left = max(0, min(photo.width - width, (left + right) / 2 - width / 2))
    crop_top = max(0, min(photo.height - height, top - PASSPORT_CROP_ABOVE * (bottom - top)))
    return photo.crop((round(crop_left), round(crop_top), round(crop_left + width),
                       round(crop_top + height)))


def person_of(filename: str) -> str:
    """The identity in a fixture file name: obama_2.jpg -> obama."""
    return filename.rsplit("_", 1)[0]


def to_area(image: Image.Image, megapixels: float) -> Image.Image:
    """``image`` resized (LANCZOS, aspect kept) to about ``megapixels`` million pixels."""
    scale = math.sqrt(megapixels * 1e6 / (image.width * image.height))
    return image.resize((round(image.width * scale), round(image.height * scale)),
                        Image.Resampling.LANCZOS)


def build_photos(folder: Path, megapixels: float) -> list[dict]:
    """The selfies and documents as JPEG files in ``folder``: name, person, kind, path, size."""
    photos = []
    for name in SELFIES:
        with Image.open(FACES / name) as source:
            big = to_area(source.convert("RGB"), megapixels)
        photos.append({"name": name, "person": person_of(name), "kind": "selfie", "image": big})
    for seed, name in enumerate(DOCUMENT_PORTRAITS):
        with Image.open(FACES / name) as portrait:
            page = render_passport(SpecimenPerson(), passport_photo(portrait.convert("RGB")),
                                   seed=seed)
        big = to_area(degrade(page, "clean", seed), megapixels)
        photos.append({"name": f"passport from {name}", "person": person_of(name),
                       "kind": "document", "image": big})
    for number, photo in enumerate(photos):
        image = photo.pop("image")
        photo["path"] = folder / f"{number:02d}.jpg"
        photo["size"] = image.size
        image.save(photo["path"], quality=PHONE_JPEG_QUALITY)
    return photos


def production(path: Path) -> tuple[np.ndarray | None, int]:
    """The desk's path: decode, detect on a reduced copy, encode from a full-resolution crop."""
    with Image.open(path) as stored:
        image = stored.convert("RGB")
    faces = find_faces(image)
    return (encode_face(image, faces[0]) if faces else None), len(faces)


def steady(path: Path) -> tuple[np.ndarray | None, int]:
    """The production path, then the face's steady encoding as well: what each side of a
    comparison within STEADY_MARGIN of the threshold costs (returns the steady encoding)."""
    with Image.open(path) as stored:
        image = stored.convert("RGB")
    faces = find_faces(image)
    if not faces:
        return None, 0
    encode_face(image, faces[0])
    return encode_face(image, faces[0], steady=True), len(faces)


def before(path: Path) -> tuple[np.ndarray | None, int]:
    """The production path as it was before the LFW tuning: no detection retry, the 5-point
    landmark model, one encoding of the face (no mirror image)."""
    with Image.open(path) as stored:
        image = stored.convert("RGB")
    faces = find_faces(image, retry=False)
    return (encode_face(image, faces[0], model="small") if faces else None), \
        len(faces)


def plain(path: Path) -> tuple[np.ndarray | None, int]:
    """face_recognition as its README uses it, on the full-size image."""
    engine = face_engine()
    pixels = engine.load_image_file(str(path))
    boxes = engine.face_locations(pixels)
    if not boxes:
        return None, 0
    largest = max(boxes, key=lambda b: min(b[2] - b[0], b[1] - b[3]))
    return engine.face_encodings(pixels, known_face_locations=[largest])[0], len(boxes)


PIPELINES = {"production": production, "steady": steady, "before": before, "plain": plain}


def run(megapixels: float, threshold: float) -> dict:
    """Time both pipelines on every photo and compare their decisions on every pair."""
    # Warm-up: the first call loads the models and allocates; it is not timed.
    for pipeline in PIPELINES.values():
        pipeline(FACES / "keanu_reeves_2.jpg")
    with tempfile.TemporaryDirectory() as folder:
        photos = build_photos(Path(folder), megapixels)
        for photo in photos:
            for label, pipeline in PIPELINES.items():
                started = time.perf_counter()
                encoding, found = pipeline(photo["path"])
                photo[f"{label}_ms"] = (time.perf_counter() - started) * 1000
                photo[f"{label}_faces"] = found
                photo[f"{label}_encoding"] = encoding
                print(f"  {photo['name']:<34} {label:<10} {photo[f'{label}_ms']:7.0f} ms "
                      f"{found} face(s)", flush=True)
    pairs = []
    for first, second in itertools.combinations(photos, 2):
        same = first["person"] == second["person"]
        row = {"first": first["name"], "second": second["name"], "same_person": same}
        for label in PIPELINES:
            a, b = first[f"{label}_encoding"], second[f"{label}_encoding"]
            distance = face_distance(a, b) if a is not None and b is not None else None
            row[f"{label}_distance"] = distance
            row[f"{label}_match"] = distance is not None and distance <= threshold
        pairs.append(row)
    for photo in photos:
        for label in PIPELINES:
            del photo[f"{label}_encoding"]
        photo["path"] = photo["path"].name
    scored = [p for p in pairs if None not in (p["production_distance"], p["plain_distance"])]
    timing = {}
    for label in PIPELINES:
        times = {"all": [p[f"{label}_ms"] for p in photos]}
        for kind in ("selfie", "document"):
            times[kind] = [p[f"{label}_ms"] for p in photos if p["kind"] == kind]
        timing[label] = {kind: {"p50": float(np.percentile(v, 50)),
                                "p95": float(np.percentile(v, 95)), "n": len(v)}
                         for kind, v in times.items()}
    return {
        "megapixels": round(float(np.mean([w * h for w, h in (p["size"] for p in photos)])) / 1e6,
                            1),
        "threshold": threshold,
        "photos": photos,
        "timing": timing,
        "speed_ratio_p50": timing["plain"]["all"]["p50"] / timing["production"]["all"]["p50"],
        "production_over_before": {
            kind: {q: timing["production"][kind][q] / timing["before"][kind][q]
                   for q in ("p50", "p95")} for kind in ("all", "selfie", "document")},
        # A selfie whose distance lies near the threshold: the selfie's steady path and the ID
        # photo's steady path (the job encodes the stored ID photo's portrait again).
        "near_threshold_selfie": {
            q: timing["steady"]["selfie"][q] + timing["steady"]["document"][q]
            for q in ("p50", "p95")},
        "pairs": len(pairs),
        "pairs_scored_by_both": len(scored),
        "decisions_agree": sum(p["production_match"] == p["plain_match"] for p in pairs),
        "decisions_agree_scored_by_both": sum(p["production_match"] == p["plain_match"]
                                              for p in scored),
        "disagreements": [p for p in pairs if p["production_match"] != p["plain_match"]],
        "correct": {label: sum(p[f"{label}_match"] == p["same_person"] for p in pairs)
                    for label in PIPELINES},
        "largest_distance_difference": max(
            (abs(p["production_distance"] - p["plain_distance"]) for p in scored), default=None),
        "pair_rows": pairs,
        "engine_version": engine_version(),
        "python": platform.python_version(),
    }


def main() -> None:
    """Run the bench and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--threshold", type=float, default=Config.FACE_MATCH_THRESHOLD)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.megapixels, args.threshold)
    photos = result["photos"]
    print(f"\n{len(photos)} photos ({sum(p['kind'] == 'selfie' for p in photos)} selfies, "
          f"{sum(p['kind'] == 'document' for p in photos)} documents), "
          f"{result['megapixels']} MP on average, one pass each\n")
    print("| pipeline | photos | p50 ms | p95 ms |\n|---|---|---:|---:|")
    for label, kinds in result["timing"].items():
        for kind, row in kinds.items():
            print(f"| {label} | {kind} ({row['n']}) | {row['p50']:.0f} | {row['p95']:.0f} |")
    print(f"\nplain / production, p50 over all photos: {result['speed_ratio_p50']:.1f}x")
    ratio = result["production_over_before"]["selfie"]
    print(f"production / before, selfies: p50 {ratio['p50']:.2f}x, p95 {ratio['p95']:.2f}x")
    near = result["near_threshold_selfie"]
    print(f"a selfie near the threshold (steady selfie + steady ID photo): p50 {near['p50']:.0f} "
          f"ms, p95 {near['p95']:.0f} ms")
    odd = [f"{p['name']} {p['production_faces']}/{p['plain_faces']}" for p in photos
           if p["production_faces"] != 1 or p["plain_faces"] != 1]
    print("faces found (production/plain): " + (", ".join(odd) or "one face on every photo"))
    print(f"match decisions at {result['threshold']}: the same on {result['decisions_agree']} of "
          f"{result['pairs']} pairs; correct: production {result['correct']['production']}, "
          f"plain {result['correct']['plain']}; largest distance difference "
          f"{result['largest_distance_difference']:.3f}")
    print(f"on the {result['pairs_scored_by_both']} pairs where both found a face: the same "
          f"decision on {result['decisions_agree_scored_by_both']}")
    for row in result["disagreements"]:
        print(f"  differ: {row['first']} / {row['second']} (same person: "
              f"{row['same_person']}): production {row['production_distance']}, "
              f"plain {row['plain_distance']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
