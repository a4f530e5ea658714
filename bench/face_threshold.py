"""Face match threshold: TAR, FAR and accuracy per threshold on an LFW-format set of fixtures.

    .venv/bin/python -m bench.face_threshold [--out DIR] [--conditions clean,blur,low_light]
                                             [--same-photo-conditions jpeg_q30,perspective]
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

Separately, outside the TAR/FAR set, it measures the "same photograph" pairs behind
``SelfiePolicy.same_photo_distance`` (an ID, or the picture printed on it, sent as the selfie):
every passport photo against the photo printed on it, and against the clean photo of the same
passport. Besides the set's conditions, the passports are also photographed under
``--same-photo-conditions`` (written to DIR_same_photo, not to the set). Against these it puts
the genuine pairs of two different photographs (a real selfie against the ID): how many of each
fall below the threshold, i.e. are taken for the ID sent as a selfie.
"""

import argparse
import itertools
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from config import Config
from verification import calibration
from verification.degrade import DEGRADATIONS, degrade
from verification.faces import engine_version, face_distance
from verification.selfie import SelfiePolicy
from verification.specimen import SpecimenPerson, render_passport, to_jpeg_bytes

from .face_pipeline import passport_photo, person_of

FACES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "faces"
PHOTOS = ("obama_1.jpg", "obama_2.jpg", "obama_3.jpg", "biden_1.jpg", "biden_2.jpg",
          "keanu_reeves_1.jpg", "keanu_reeves_2.jpg", "bill_gates_1.jpg")
# Conditions that change the portrait most among those the intake gate lets through.
CONDITIONS = ("clean", "blur", "low_light")
# Further photos of each passport, scored only in the same-photograph pairs: a re-sent
# (recompressed) ID and one photographed at an angle.
SAME_PHOTO_CONDITIONS = ("jpeg_q30", "perspective")


def build_set(out: Path, conditions: tuple[str, ...], whole_photo: bool = False,
              extra_conditions: tuple[str, ...] = (), extra_out: Path | None = None,
              ) -> tuple[dict[calibration.ImageRef, dict], dict[Path, dict]]:
    """Write the images in LFW layout; what each one is, by its reference.

    The passports photographed under ``extra_conditions`` go to ``extra_out`` (by path, second
    in the answer), outside the set, so that they enter no pair of the pairs file.
    """
    people: dict[str, list[str]] = {}
    for name in PHOTOS:
        people.setdefault(person_of(name), []).append(name)
    images: dict[calibration.ImageRef, dict] = {}
    extras: dict[Path, dict] = {}
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
            for condition in extra_conditions:
                if extra_out is None:
                    raise ValueError("extra_conditions need extra_out")
                path = extra_out / person / f"{Path(photo).stem}_passport_{condition}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(to_jpeg_bytes(degrade(page, condition, seed)))
                extras[path] = {"kind": "document", "source": photo, "condition": condition}
            seed += 1
    return images, extras


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
        whole_photo: bool = False, same_photo_conditions: tuple[str, ...] = ()) -> dict:
    """Build the set, score it with the production pipeline and compute the rates."""
    extra_conditions = tuple(c for c in same_photo_conditions if c not in conditions)
    extra_out = out.with_name(f"{out.name}_same_photo")
    images, extras = build_set(out, conditions, whole_photo, extra_conditions, extra_out)
    lines, kinds = pair_lines(images)
    pairs_file = out / "pairs.txt"
    # The header is informational (LFW's count); this set is not split into folds.
    pairs_file.write_text(f"{len(lines)}\n" + "\n".join(lines) + "\n")
    pairs = calibration.parse_pairs(pairs_file.read_text())

    encodings: dict[Path, np.ndarray | calibration.Unscorable] = {}

    def encode_file(path: Path) -> np.ndarray:
        # Each file once: the same-photograph pairs below reuse the calibration's encodings.
        if path not in encodings:
            try:
                encodings[path] = calibration.encode_photo_file(
                    path, max_bytes=Config.MAX_UPLOAD_BYTES, max_pixels=Config.MAX_IMAGE_PIXELS)
            except calibration.Unscorable as err:
                encodings[path] = err
        found = encodings[path]
        if isinstance(found, calibration.Unscorable):
            raise found
        return found

    def encode(ref: calibration.ImageRef):
        return encode_file(ref.path(out))

    def steady(ref: calibration.ImageRef):
        return calibration.encode_photo_file(ref.path(out), max_bytes=Config.MAX_UPLOAD_BYTES,
                                             max_pixels=Config.MAX_IMAGE_PIXELS, steady=True)

    started = time.perf_counter()
    # As calibrate-faces: pairs near the configured threshold are measured again.
    result = calibration.calibrate(pairs, encode, calibration.threshold_range(spec), target_far,
                                   steady=steady, threshold=Config.FACE_MATCH_THRESHOLD)
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
    started = time.perf_counter()
    all_images = {ref.path(out): image for ref, image in images.items()} | extras
    same_photo = same_photo_report(all_images, encode_file, conditions + extra_conditions,
                                   SelfiePolicy().same_photo_distance)
    same_photo.update(seconds=round(time.perf_counter() - started, 1),
                      extra_conditions=list(extra_conditions), extra_directory=str(extra_out))
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
        same_photo=same_photo,
        engine="face_recognition", engine_version=engine_version(),
        python=platform.python_version())
    return out_dict


def same_photo_report(images: dict[Path, dict], encode: Callable[[Path], np.ndarray],
                      conditions: tuple[str, ...], threshold: float) -> dict:
    """The same-photograph and the genuine different-photograph distances, per condition.

    Same photograph: a passport photo against the photo printed on it ("printed photo"), and
    against the clean photo of the same passport ("clean passport"); ``caught`` counts those
    below ``threshold``, as ``SelfiePolicy`` compares (the selfie taken for the ID). Different
    photographs of one person: a passport against another photo of its person, and two photos;
    ``below`` counts the genuine selfies that would be refused as the ID.
    """
    photos = {image["source"]: path for path, image in images.items() if image["kind"] == "photo"}
    documents = [(path, image) for path, image in images.items() if image["kind"] == "document"]
    clean = {image["source"]: path for path, image in documents if image["condition"] == "clean"}
    distances: dict[tuple[str, str | None], list[tuple[float, str, str]]] = {}
    unscored: list[str] = []

    def add(kind: str, condition: str | None, first: Path, second: Path) -> None:
        names = _name(images[first]), _name(images[second])
        try:
            distance = face_distance(encode(first), encode(second))
        except calibration.Unscorable:
            unscored.append(" / ".join(names))
            return
        distances.setdefault((kind, condition), []).append((distance, *names))

    for (a, pa), (b, pb) in itertools.combinations(photos.items(), 2):
        if person_of(a) == person_of(b):
            add("other photo", None, pa, pb)
    for path, image in documents:
        source, condition = image["source"], image["condition"]
        add("printed photo", condition, path, photos[source])
        if condition != "clean" and source in clean:
            add("clean passport", condition, path, clean[source])
        for other, other_path in photos.items():
            if other != source and person_of(other) == person_of(source):
                add("other photo", condition, path, other_path)

    def spread(kind: str, condition: str | None) -> dict | None:
        found = distances.get((kind, condition))
        if not found:
            return None
        below = sum(d < threshold for d, _, _ in found)
        return {"pairs": len(found), "min": round(min(found)[0], 3),
                "max": round(max(found)[0], 3),
                ("below" if kind == "other photo" else "caught"): below}

    rows = {condition: {kind: spread(kind, condition)
                        for kind in ("printed photo", "clean passport", "other photo")}
            for condition in conditions}
    rows["photo"] = {"other photo": spread("other photo", None)}
    same = [d for (kind, _), found in distances.items() if kind != "other photo"
            for d, _, _ in found]
    genuine = [d for (kind, _), found in distances.items() if kind == "other photo"
               for d, _, _ in found]
    return {
        "threshold": threshold,
        "by_condition": rows,
        "same_photo_pairs": len(same),
        "same_photo_caught": sum(d < threshold for d in same),
        "genuine_pairs": len(genuine),
        "genuine_min": round(min(genuine), 3) if genuine else None,
        "genuine_below": sum(d < threshold for d in genuine),
        "unscored": unscored,
        "pairs": [{"kind": kind, "condition": condition, "first": first, "second": second,
                   "distance": round(distance, 3)}
                  for (kind, condition), found in distances.items()
                  for distance, first, second in found],
    }


def _describe(images: dict, ref: calibration.ImageRef) -> str:
    return _name(images[ref])


def _name(image: dict) -> str:
    if image["kind"] == "photo":
        return image["source"]
    return f"passport from {image['source']} ({image['condition']})"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _names(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def _print_same_photo(report: dict) -> None:
    threshold = report["threshold"]
    print(f"\nsame photograph (ID sent as selfie), selfie_is_document below {threshold}; "
          f"{report['seconds']} s")
    print(f"| condition | same photo: passport vs printed photo | caught | passport vs clean "
          f"passport | caught | different photo, same person | below {threshold} |")
    print("|---|---:|---:|---:|---:|---:|---:|")

    def cells(row: dict | None, count: str) -> str:
        if row is None:
            return "– | –"
        return f"{row['min']:.3f}-{row['max']:.3f} | {row[count]}/{row['pairs']}"

    for condition, row in report["by_condition"].items():
        print(f"| {condition} | {cells(row.get('printed photo'), 'caught')} | "
              f"{cells(row.get('clean passport'), 'caught')} | "
              f"{cells(row.get('other photo'), 'below')} |")
    print(f"caught {report['same_photo_caught']}/{report['same_photo_pairs']} same-photograph "
          f"pairs; {report['genuine_below']}/{report['genuine_pairs']} genuine pairs of two "
          f"photographs below {threshold} (nearest {report['genuine_min']}); unscored "
          f"{len(report['unscored']) or 'none'}")


def main() -> None:
    """Run the bench and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-results/face_threshold_set"))
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help=f"degradations of the passports, from {', '.join(DEGRADATIONS)}")
    parser.add_argument("--same-photo-conditions", default=",".join(SAME_PHOTO_CONDITIONS),
                        help="further degradations of the passports, measured only against "
                             "the photo printed on them (not in the TAR/FAR set)")
    parser.add_argument("--thresholds", default="0.30:0.80:0.05")
    parser.add_argument("--target-far", type=float, default=0.001)
    parser.add_argument("--whole-photo", action="store_true",
                        help="print each fixture photo whole on its passport, not cropped")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    conditions = _names(args.conditions)
    result = run(args.out, conditions, args.thresholds, args.target_far, args.whole_photo,
                 _names(args.same_photo_conditions))
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
    _print_same_photo(result["same_photo"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
