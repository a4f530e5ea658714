"""How well `verification.ocr.read_mrz` reads specimen passports (TD3) and ID cards (TD1)
photographed under each degradation of `verification.degrade`.

    .venv/bin/python -m bench.mrz_read [--seeds N] [--json PATH]

For every document kind, degradation and seed it renders a specimen for a varied holder, makes
the degraded photo and reads it. A photo counts as read only when the check digits validate AND
every field equals the holder's (as the MRZ writes them: transliterated, cut to length). A
reading that validates with a wrong field is a false read, reported on its own. For
cut_off_corner, photos in which part of the MRZ print lies outside the frame cannot be read by
anyone: they are counted as "MRZ outside frame" and left out of that row's rate.
"""

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

from verification.degrade import DEGRADATIONS, degrade
from verification.mrz import parse_mrz
from verification.ocr import engine_version, ocr_engine, read_mrz
from verification.specimen import (
    SpecimenPerson,
    id_card_mrz,
    passport_mrz,
    render_id_card,
    render_passport,
)

KINDS = {
    "TD3": (render_passport, passport_mrz),
    "TD1": (render_id_card, id_card_mrz),
}
# The fields a reading must get right (all of MrzResult's data; not its checks or notes).
FIELDS = ("format", "document_type", "issuing_country", "surname", "given_names",
          "document_number", "nationality", "date_of_birth", "sex", "expiry_date",
          "optional_data", "optional_data_2")

# Holders vary in name length (1 to 26 letters, hyphens, apostrophes, several given names),
# document numbers (letters and digits, short ones padded with '<', TD1 numbers over 9
# characters that run on into the optional data), sex and dates.
SURNAMES = ("ERIKSSON", "LI", "O'NEIL", "MUELLER-SCHMIDT", "NGUYEN", "VAN DER BERG", "DOE",
            "ABERCROMBIE FITZGERALD", "KOWALCZYK", "ØSTERGÅRD", "YU", "DE LA CRUZ")
GIVEN_NAMES = ("ANNA MARIA", "JO", "JEAN-PIERRE", "MOHAMMED ALI", "X", "SIOBHAN", "ZOË",
               "MARIE CLAIRE ANNE", "", "TÕNU", "WILHELMINA", "KAI")
DOCUMENT_NUMBERS = ("L898902C3", "D23145890", "AB12345", "K4M7R2", "123456789", "P1234",
                    "ZE184226B", "Y7Q9X93A1", "C01X00T47", "9ZZ2", "M70689098")
OPTIONAL_DATA = ("", "", "", "ZE184226B", "12345", "A1B2")

# The MRZ print is the only pure black in a specimen (everything else is dark blue or grey), and
# it sits on the pale band at the bottom: this is how the bench finds its pixels.
_MRZ_INK = (0, 0, 0)
_PROBE_MRZ, _PROBE_REST = (255, 0, 255), (0, 255, 0)


def holder(seed: int) -> SpecimenPerson:
    """A varied specimen holder, the same for the same seed."""
    rng = random.Random(f"holder-{seed}")
    return SpecimenPerson(
        surname=rng.choice(SURNAMES),
        given_names=rng.choice(GIVEN_NAMES),
        sex=rng.choice("MFX"),
        date_of_birth=date(rng.randint(1935, 2008), rng.randint(1, 12), rng.randint(1, 28)),
        expiry_date=date(rng.randint(2026, 2036), rng.randint(1, 12), rng.randint(1, 28)),
        document_number=rng.choice(DOCUMENT_NUMBERS),
        optional_data=rng.choice(OPTIONAL_DATA),
        nationality=rng.choice(("UTO", "UTO", "D", "NLD")),
    )


def mrz_outside_frame(document: Image.Image, degradation: str, seed: int) -> bool:
    """Whether the photo `degrade` makes of `document` loses any MRZ ink off the frame.

    The degradation is replayed on a probe image (MRZ pixels magenta, the rest green) with the
    same seed: framing and shifting copy pixels exactly, so every MRZ pixel still in the frame
    is still magenta. Only meaningful for degradations that move pixels without resampling
    (cut_off_corner); rotation and perspective expand or keep the canvas and lose nothing.
    """
    pixels = np.asarray(document.convert("RGB"))
    ink = (pixels == _MRZ_INK).all(axis=-1)
    probe = np.where(ink[..., None], _PROBE_MRZ, _PROBE_REST).astype(np.uint8)
    photo = np.asarray(degrade(Image.fromarray(probe, "RGB"), degradation, seed))
    kept = int((photo == _PROBE_MRZ).all(axis=-1).sum())
    return kept < int(ink.sum())


@dataclass
class Row:
    """Counts for one document kind and degradation."""

    kind: str
    degradation: str
    photos: int = 0
    read: int = 0
    false_reads: int = 0
    outside: int = 0
    read_outside: int = 0
    times_ms: list[float] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)

    @property
    def readable(self) -> int:
        return self.photos - self.outside

    @property
    def rate(self) -> float | None:
        return self.read / self.readable if self.readable else None

    def as_dict(self) -> dict:
        return {
            "kind": self.kind, "degradation": self.degradation, "photos": self.photos,
            "mrz_outside_frame": self.outside, "readable": self.readable,
            "read_and_validated": self.read, "rate": self.rate, "false_reads": self.false_reads,
            "read_although_outside": self.read_outside,
            "p50_ms": _percentile(self.times_ms, 50), "p95_ms": _percentile(self.times_ms, 95),
            "failed_seeds": self.failures,
        }


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def measure(kind: str, degradation: str, seeds: range, today: date) -> Row:
    """Read every seed's photo for one kind and degradation."""
    render, mrz_lines = KINDS[kind]
    row = Row(kind, degradation)
    for seed in seeds:
        person = holder(seed)
        document = render(person, seed=seed)
        photo = degrade(document, degradation, seed)
        outside = degradation == "cut_off_corner" and mrz_outside_frame(document, degradation,
                                                                       seed)
        expected = parse_mrz(list(mrz_lines(person)), today=today).as_dict()
        reading = read_mrz(photo, today=today)
        row.photos += 1
        row.times_ms.append(reading.elapsed_ms)
        validated = reading.found and reading.result.valid_check_digits
        correct = validated and all(
            reading.result.as_dict()[key] == expected[key] for key in FIELDS)
        if validated and not correct:
            row.false_reads += 1
        if outside:
            row.outside += 1
            row.read_outside += correct
        elif correct:
            row.read += 1
        else:
            row.failures.append(seed)
    return row


def table(rows: list[Row]) -> str:
    """The markdown table of all rows and the totals."""
    lines = [
        "| document | degradation | photos | MRZ outside frame | read + validated | rate "
        "| false reads | p50 ms | p95 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.kind} | {row.degradation} | {row.photos} | "
            f"{row.outside if row.degradation == 'cut_off_corner' else '–'} | "
            f"{row.read}/{row.readable} | {_percent(row.rate)} | {row.false_reads} | "
            f"{_percentile(row.times_ms, 50):.0f} | {_percentile(row.times_ms, 95):.0f} |"
        )
    for label, selected in (
        ("clean", [r for r in rows if r.degradation == "clean"]),
        ("degraded", [r for r in rows if r.degradation != "clean"]),
    ):
        if not selected:
            continue
        read = sum(r.read for r in selected)
        readable = sum(r.readable for r in selected)
        times = [t for r in selected for t in r.times_ms]
        lines.append(
            f"| **all** | **{label}** | {sum(r.photos for r in selected)} | "
            f"{sum(r.outside for r in selected)} | {read}/{readable} | "
            f"{_percent(read / readable if readable else None)} | "
            f"{sum(r.false_reads for r in selected)} | {_percentile(times, 50):.0f} | "
            f"{_percentile(times, 95):.0f} |"
        )
    return "\n".join(lines)


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{100 * rate:.1f}%"


def main(argv: list[str] | None = None) -> int:
    """Run the measurement, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.mrz_read", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20, help="photos per kind and degradation")
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first photo")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help="comma-separated document kinds (default: all)")
    parser.add_argument("--degradations", default=",".join(DEGRADATIONS),
                        help="comma-separated degradations (default: all)")
    args = parser.parse_args(argv)
    kinds = [kind.strip().upper() for kind in args.kinds.split(",") if kind.strip()]
    degradations = [name.strip() for name in args.degradations.split(",") if name.strip()]
    for name in degradations:
        if name not in DEGRADATIONS:
            parser.error(f"unknown degradation {name!r}; known: {', '.join(DEGRADATIONS)}")
    for kind in kinds:
        if kind not in KINDS:
            parser.error(f"unknown document kind {kind!r}; known: {', '.join(KINDS)}")

    seeds = range(args.first_seed, args.first_seed + args.seeds)
    # A fixed "today" keeps birth-century decisions stable across runs.
    today = date.today()
    started = time.perf_counter()
    ocr_engine()  # load the models once, outside the timings
    rows = []
    for kind in kinds:
        for name in degradations:
            row = measure(kind, name, seeds, today)
            rows.append(row)
            print(f"{kind} {name}: {row.read}/{row.readable} read, {row.false_reads} false, "
                  f"{row.outside} outside frame, failed seeds {row.failures}",
                  file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "engine": "rapidocr-onnxruntime", "engine_version": engine_version(),
            "seeds": [seeds.start, seeds.stop - 1], "today": today.isoformat(),
            "total_seconds": round(time.perf_counter() - started, 1),
            "rows": [row.as_dict() for row in rows],
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
