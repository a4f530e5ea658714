"""Time of each document check, as the verification job and the intake gate run them, with the
current MRZ reader and the reader of commit 413181e side by side.

    python -m bench.document_checks [--seeds N] [--scale S] [--json PATH]

For TD3 and TD1 specimens with a real portrait, over the degradations the gate lets through,
runs ``check_document`` (quality, portrait with encoding, MRZ read and the rest) and the
intake gate (quality plus portrait detection), on photos scaled by ``--scale`` (3 gives
about 12 megapixels, a phone camera's output). Every photo is checked twice in one run: with
the current reader and with the frozen reader of commit 413181e (``bench/baseline``, swapped in
for ``verification.documents.read_mrz``), in alternating order so both see the same load.
Prints p50 and p95 per step in milliseconds, and each reader's read rate (every field right
and the check digits valid) and false reads (valid check digits, a wrong field).
"""

import argparse
import contextlib
import json
import time
from datetime import date
from pathlib import Path
from unittest import mock

import numpy as np
from PIL import Image

from bench.baseline import ocr_413181e
from bench.mrz_read import FIELDS
from verification import documents
from verification.degrade import degrade
from verification.documents import PersonFacts, check_document, find_portrait
from verification.mrz import parse_mrz
from verification.quality import assess_document_photo
from verification.specimen import (
    SpecimenPerson,
    id_card_mrz,
    passport_mrz,
    render_id_card,
    render_passport,
)

FACES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "faces"
PORTRAITS = ("obama_1.jpg", "biden_2.jpg", "bill_gates_1.jpg", "keanu_reeves_1.jpg")
DEGRADATIONS = ("clean", "blur", "glare", "rotation", "low_light", "jpeg_q30", "perspective")
RENDERS = {"TD3": (render_passport, passport_mrz), "TD1": (render_id_card, id_card_mrz)}
READERS = ("current", "413181e")


def _person(seed: int) -> SpecimenPerson:
    return SpecimenPerson(document_number=f"X{seed:02d}4{seed * 7919 % 100000:05d}",
                          expiry_date=date(date.today().year + 3, 1 + seed % 12, 10))


def _check(photo: Image.Image, facts: PersonFacts, reader: str):
    """check_document with one of the two readers; (report, milliseconds)."""
    patch = (mock.patch.object(documents, "read_mrz", ocr_413181e.read_mrz)
             if reader == "413181e" else contextlib.nullcontext())
    with patch:
        started = time.perf_counter()
        report = check_document(photo, account=facts, typed=facts)
        return report, (time.perf_counter() - started) * 1000


def run(seeds: int, scale: float) -> dict:
    """Time every step on ``seeds`` photos per document format and degradation."""
    timings: dict[str, list[float]] = {}
    reads = {reader: {"read": 0, "false_reads": 0, "photos": 0} for reader in READERS}
    pixels: list[int] = []
    today = date.today()
    turn = 0
    for render, lines in RENDERS.values():
        for degradation in DEGRADATIONS:
            for seed in range(seeds):
                portrait = Image.open(FACES / PORTRAITS[seed % len(PORTRAITS)])
                person = _person(seed)
                expected = parse_mrz(list(lines(person)), today=today).as_dict()
                photo = degrade(render(person, portrait, seed=seed), degradation, seed)
                if scale != 1:
                    photo = photo.resize((round(photo.width * scale),
                                          round(photo.height * scale)),
                                         Image.Resampling.BICUBIC)
                started = time.perf_counter()
                assess_document_photo(photo)
                find_portrait(photo, encode=False)
                timings.setdefault("intake gate (quality + face)", []).append(
                    (time.perf_counter() - started) * 1000)
                facts = PersonFacts("Anna Maria Eriksson", person.date_of_birth)
                turn += 1
                order = READERS if turn % 2 else READERS[::-1]
                for reader in order:
                    report, ms = _check(photo, facts, reader)
                    timings.setdefault(f"check_document (all), {reader} reader", []).append(ms)
                    for step, step_ms in report.timings_ms.items():
                        timings.setdefault(f"  {step}, {reader} reader", []).append(step_ms)
                    mrz = report.mrz
                    valid = mrz is not None and mrz.valid_check_digits
                    right = valid and all(mrz.as_dict()[key] == expected[key] for key in FIELDS)
                    counts = reads[reader]
                    counts["photos"] += 1
                    counts["read"] += right
                    counts["false_reads"] += valid and not right
                pixels.append(photo.width * photo.height)
    return {
        "photos": len(pixels), "scale": scale,
        "megapixels": round(float(np.mean(pixels)) / 1e6, 1),
        "steps": {step: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95)),
                         "n": len(v)} for step, v in sorted(timings.items(), key=_order)},
        "reads": reads,
    }


def _order(item: tuple[str, list[float]]) -> tuple[int, str]:
    step = item[0]
    return (0 if step.startswith("intake") else 1, step.split(", ")[-1], step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--scale", type=float, default=3.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.seeds, args.scale)
    print(f"{result['photos']} photos (TD3 and TD1 x {len(DEGRADATIONS)} conditions x "
          f"{args.seeds} seeds), scaled x{args.scale}: {result['megapixels']} MP on average\n")
    print("| step | p50 ms | p95 ms |\n|---|---:|---:|")
    for step, row in result["steps"].items():
        print(f"| {step} | {row['p50']:.0f} | {row['p95']:.0f} |")
    print("\n| reader | read right | false reads |\n|---|---:|---:|")
    for reader, counts in result["reads"].items():
        print(f"| {reader} | {counts['read']}/{counts['photos']} | {counts['false_reads']} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
