"""Time of each document check, as the verification job and the intake gate run them.

    python -m bench.document_checks [--seeds N] [--scale S] [--json PATH]

For TD3 and TD1 specimens with a real portrait, over the degradations the gate lets through,
runs ``check_document`` (quality, portrait with encoding, MRZ read and the rest) and the
intake gate (quality plus portrait detection), on photos scaled by ``--scale`` (3 gives
about 12 megapixels, a phone camera's output). Prints p50 and p95 per step in milliseconds.
"""

import argparse
import json
import time
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

from verification.degrade import degrade
from verification.documents import PersonFacts, check_document, find_portrait
from verification.quality import assess_document_photo
from verification.specimen import SpecimenPerson, render_id_card, render_passport

FACES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "faces"
PORTRAITS = ("obama_1.jpg", "biden_2.jpg", "bill_gates_1.jpg", "keanu_reeves_1.jpg")
DEGRADATIONS = ("clean", "blur", "glare", "rotation", "low_light", "jpeg_q30", "perspective")
RENDERS = {"TD3": render_passport, "TD1": render_id_card}


def _person(seed: int) -> SpecimenPerson:
    return SpecimenPerson(document_number=f"X{seed:02d}4{seed * 7919 % 100000:05d}",
                          expiry_date=date(date.today().year + 3, 1 + seed % 12, 10))


def run(seeds: int, scale: float) -> dict:
    """Time every step on ``seeds`` photos per document format and degradation."""
    timings: dict[str, list[float]] = {}
    pixels: list[int] = []
    for render in RENDERS.values():
        for degradation in DEGRADATIONS:
            for seed in range(seeds):
                portrait = Image.open(FACES / PORTRAITS[seed % len(PORTRAITS)])
                person = _person(seed)
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
                started = time.perf_counter()
                report = check_document(photo, account=facts, typed=facts)
                timings.setdefault("check_document (all)", []).append(
                    (time.perf_counter() - started) * 1000)
                for step, ms in report.timings_ms.items():
                    timings.setdefault(f"  {step}", []).append(ms)
                pixels.append(photo.width * photo.height)
    return {
        "photos": len(pixels), "scale": scale,
        "megapixels": round(float(np.mean(pixels)) / 1e6, 1),
        "steps": {step: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95)),
                         "n": len(v)} for step, v in timings.items()},
    }


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
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
