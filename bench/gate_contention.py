"""The upload gate's time alone and while background checks run in the same process.

    python -m bench.gate_contention [--rounds N] [--scale S] [--json PATH]

The gate (quality measurements plus portrait detection, as an upload request runs it) and the
background checks (document check with OCR, selfie check) share one face engine and one OCR
engine per process, each behind its lock (verification/serialised.py). This measures what the
lock costs a request: the gate's p50/p95 alone, then with one thread running document and
selfie checks back to back, as the embedded executor's thread does under load.
"""

import argparse
import json
import threading
import time
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

from verification.degrade import degrade
from verification.documents import check_document, find_portrait
from verification.quality import assess_document_photo
from verification.selfie import check_selfie
from verification.specimen import SpecimenPerson, render_passport

FACES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "faces"


def _photos(scale: float) -> tuple[Image.Image, Image.Image]:
    person = SpecimenPerson(expiry_date=date(date.today().year + 3, 1, 10))
    document = degrade(render_passport(person, Image.open(FACES / "obama_1.jpg"), seed=0),
                       "clean", 0)
    document = document.resize((round(document.width * scale), round(document.height * scale)),
                               Image.Resampling.BICUBIC)
    return document, Image.open(FACES / "obama_2.jpg").convert("RGB")


def _gate_times(document: Image.Image, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        assess_document_photo(document)
        find_portrait(document, encode=False)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _summary(times: list[float]) -> dict:
    return {"p50_ms": round(float(np.percentile(times, 50)), 1),
            "p95_ms": round(float(np.percentile(times, 95)), 1),
            "max_ms": round(max(times), 1), "n": len(times)}


def run(rounds: int, scale: float) -> dict:
    """The gate alone, then beside a thread running the background checks without pause."""
    document, selfie = _photos(scale)
    portrait = find_portrait(document)
    _gate_times(document, 2)  # engines loaded, caches warm
    alone = _gate_times(document, rounds)

    stop = threading.Event()
    checks_done = []

    def background() -> None:
        while not stop.is_set():
            check_document(document)
            check_selfie(selfie, document=portrait.encoding)
            checks_done.append(1)

    worker = threading.Thread(target=background, daemon=True)
    worker.start()
    try:
        busy = _gate_times(document, rounds)
    finally:
        stop.set()
        worker.join()
    return {"megapixels": round(document.width * document.height / 1e6, 1),
            "gate_alone": _summary(alone), "gate_beside_checks": _summary(busy),
            "background_checks_meanwhile": len(checks_done)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--scale", type=float, default=3.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.rounds, args.scale)
    print(f"document photo: {result['megapixels']} MP")
    for name in ("gate_alone", "gate_beside_checks"):
        row = result[name]
        print(f"{name:20s} p50 {row['p50_ms']:8.1f} ms  p95 {row['p95_ms']:8.1f} ms  "
              f"max {row['max_ms']:8.1f} ms  (n={row['n']})")
    print(f"background checks completed meanwhile: {result['background_checks_meanwhile']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
