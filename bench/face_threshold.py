"""Face match threshold: TAR, FAR and accuracy per threshold on an LFW-format set of fixtures.

    .venv/bin/python -m bench.face_threshold [--out DIR] [--conditions clean,blur,low_light]
                                             [--thresholds 0.30:0.80:0.05] [--target-far 0.001]
                                             [--json PATH]

Writes an LFW-format directory (``--out``, default bench-results/face_threshold_set) from the
face fixtures: each person's photos, then a specimen passport rendered from each photo
(cropped as a passport photo, or whole with ``--whole-photo``) and photographed under each
condition. Genuine pairs: every two photos of one person, and every passport against each
*other* photo of its person (a passport against the photo it was printed from is the same
picture, not a comparison of two). Impostor pairs: every two images of different people.
Then it runs ``verification.calibration.calibrate``, the code behind ``flask
calibrate-faces``, so that command on the written set prints the same table.
"""

import argparse
import itertools
import json
import platform
import time
from pathlib import Path

from PIL import Image

from config import Config
from verification import calibration
from verification.degrade import DEGRADATIONS, degrade
from verification.faces import engine_version
from verification.specimen import SpecimenPerson, render_passport, to_jpeg_bytes

from .face_pipeline import passport_photo

FACES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "faces"
PHOTOS = ("obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "biden_1.jpg", "biden_2.jpg",
          "keanu_reeves_1.jpg", "keanu_reeves_2.jpg", "bill_gates_1.jpg")
# Conditions that change the portrait most among those the intake gate lets through.
CONDITIONS = ("clean", "blur", "low_light")


def build_set(out: Path, conditions: tuple[str, ...],
              whole_photo: bool = False) -> dict[calibration.ImageRef, dict]:
    """Write the images in LFW layout; what each one is, by its reference."""
    people: dict[str, list[str]] = {}
    for name in PHOTOS:
        people.setdefault(name.rsplit("_", 1)[0], []).append(name)
    images: dict[calibration.ImageRef, dict] = {}
    seed = 0
    for person, photos in people.items():
        (out / person).mkdir(parents=True, exist_ok=True)
        refs = iter(calibration.ImageRef(person, n) for n in itertools.count(1))
        for photo in photos:
            ref = next(refs)
            ref.path(out).write_bytes((FACES / photo).read_bytes())
            images[ref] = {"kind": "photo", "source": photo, "condition": None}
        for photo in photos:
            with Image.open(FACES / photo) as source:
                portrait = source.convert("RGB")
            if not whole_photo:
                portrait = passport_photo(portrait)
            page = render_passport(SpecimenPerson(), portrait, seed=seed)
            for condition in conditions:
                ref = next(refs)
                ref.path(out).write_bytes(to_jpeg_bytes(degrade(page, condition, seed)))
                images[ref] = {"kind": "document", "source": photo, "condition": condition}
            seed += 1
    return images


def pair_lines(images: dict[calibration.ImageRef, dict]) -> tuple[list[str], dict]:
    """The lines of the pairs file and what kind of comparison each line is."""
    lines, kinds = [], {}
    for first, second in itertools.combinations(images, 2):
        a, b = images[first], images[second]
        if first.name != second.name:
            kind = "impostor"
            line = f"{first.name}\t{first.number}\t{second.name}\t{second.number}"
        elif a["kind"] == b["kind"] == "photo":
            kind = "photo vs photo"
            line = f"{first.name}\t{first.number}\t{second.number}"
        elif "photo" in (a["kind"], b["kind"]) and a["source"] != b["source"]:
            condition = a["condition"] or b["condition"]
            kind = f"passport ({condition}) vs another photo"
            line = f"{first.name}\t{first.number}\t{second.number}"
        else:
            continue  # two passports of one person, or a passport and its own source photo
        kinds[len(lines) + 2] = kind  # the pairs file's line number (after the header)
        lines.append(line)
    return lines, kinds


def run(out: Path, conditions: tuple[str, ...], spec: str, target_far: float,
        whole_photo: bool = False) -> dict:
    """Build the set, score it with the production pipeline and compute the rates."""
    images = build_set(out, conditions, whole_photo)
    lines, kinds = pair_lines(images)
    pairs_file = out / "pairs.txt"
    # The header is informational (LFW's count); this set is not split into folds.
    pairs_file.write_text(f"{len(lines)}\n" + "\n".join(lines) + "\n")
    pairs = calibration.parse_pairs(pairs_file.read_text())

    def encode(ref: calibration.ImageRef):
        return calibration.encode_photo_file(ref.path(out), max_bytes=Config.MAX_UPLOAD_BYTES,
                                             max_pixels=Config.MAX_IMAGE_PIXELS)

    started = time.perf_counter()
    result = calibration.calibrate(pairs, encode, calibration.threshold_range(spec), target_far)
    seconds = time.perf_counter() - started
    by_kind: dict[str, list[float]] = {}
    closest_impostor = None
    for pair, distance, _ in result.scores.pairs:
        if distance is None:
            continue
        kind = kinds[pair.line]
        by_kind.setdefault(kind, []).append(distance)
        if kind == "impostor" and (closest_impostor is None or distance < closest_impostor[0]):
            closest_impostor = (distance, _describe(images, pair.first),
                                _describe(images, pair.second))
    threshold = Config.FACE_MATCH_THRESHOLD
    out_dict = result.as_dict()
    out_dict.update(
        images=len(images), conditions=list(conditions), seconds=round(seconds, 1),
        portrait="whole photo" if whole_photo else "passport crop",
        configured_threshold=threshold,
        at_configured=calibration.rates_at(result.scores.genuine, result.scores.impostor,
                                           threshold).as_dict(),
        by_kind={kind: {"pairs": len(d), "min": round(min(d), 3), "max": round(max(d), 3),
                        "matching_at_configured": sum(x <= threshold for x in d)}
                 for kind, d in sorted(by_kind.items())},
        closest_impostor=closest_impostor, set_directory=str(out),
        engine="face_recognition", engine_version=engine_version(),
        python=platform.python_version())
    return out_dict


def _describe(images: dict, ref: calibration.ImageRef) -> str:
    image = images[ref]
    if image["kind"] == "photo":
        return image["source"]
    return f"passport from {image['source']} ({image['condition']})"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def main() -> None:
    """Run the bench and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results/face_threshold_set"))
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help=f"degradations of the passports, from {', '.join(DEGRADATIONS)}")
    parser.add_argument("--thresholds", default="0.30:0.80:0.05")
    parser.add_argument("--target-far", type=float, default=0.001)
    parser.add_argument("--whole-photo", action="store_true",
                        help="print each fixture photo whole on its passport, not cropped")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    conditions = tuple(c.strip() for c in args.conditions.split(",") if c.strip())
    result = run(args.out, conditions, args.thresholds, args.target_far, args.whole_photo)
    print(f"{result['images']} images, {result['pairs']} pairs ({result['genuine']} genuine, "
          f"{result['impostor']} impostor), {result['scored']} scored, unscored "
          f"{result['unscored'] or 'none'}; {result['seconds']} s\n")
    print("| threshold | TAR | FAR | accuracy | genuine accepted | impostors accepted |")
    print("|---:|---:|---:|---:|---:|---:|")
    for row in result["thresholds"]:
        print(f"| {row['threshold']:.2f} | {_rate(row['tar'])} | {_rate(row['far'])} | "
              f"{_rate(row['accuracy'])} | {row['genuine_accepted']}/{row['genuine']} | "
              f"{row['impostor_accepted']}/{row['impostor']} |")
    print("\n| pairs | n | distance min | max | matching at "
          f"{result['configured_threshold']} |\n|---|---:|---:|---:|---:|")
    for kind, row in result["by_kind"].items():
        print(f"| {kind} | {row['pairs']} | {row['min']:.3f} | {row['max']:.3f} | "
              f"{row['matching_at_configured']} |")
    distance, first, second = result["closest_impostor"] or (None, "-", "-")
    if distance is not None:
        print(f"\nclosest impostor pair: {first} / {second}, {distance:.3f}")
    recommended = result["recommended_threshold"]
    print(f"target FAR {result['target_far']}: "
          + (f"threshold {recommended:.2f}" if recommended is not None else "no threshold meets it")
          + f" (on {result['impostor']} impostor pairs; showing that FAR takes "
          f"{result['impostor_pairs_needed']})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
