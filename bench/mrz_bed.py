"""How well the MRZ reader reads the generated test bed (bench.testbed), per split and condition.

    .venv/bin/python -m bench.mrz_bed [--split tune|held_out|both] [--limit N]
        [--conditions a,b] [--check-document] [--json PATH]

For every case it reads the MRZ with `verification.ocr.read_mrz`: the front photo, then (when
that gives no reading whose check digits validate) the back photo of a two-sided card, as
`check_document` does. With --check-document it also runs
`verification.documents.check_document(front, back)` on the same photos and reports it as a
second reader. A photo counts as read only when every check digit validates AND every field
equals what was printed (bench.mrz_read.FIELDS); a reading that validates with a wrong field is
a false read. Photos whose MRZ lies partly outside the frame (cut_off_corner) are counted apart
and left out of the rate. Times are each reader's wall time per case (both sides when read).

Other readers can be measured in the same run, on the same photos:

    from bench.mrz_bed import measure, table
    rows = measure("held_out", readers={"mine": lambda case, today: my_reader(case)})
"""

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from bench.mrz_read import FIELDS
from bench.testbed import CONDITIONS, SPLITS, BedCase, cases
from verification.documents import check_document
from verification.mrz import MrzResult
from verification.ocr import engine_version, ocr_engine, read_mrz

# A reader takes a case and "today" and returns the MRZ it read (None when it read none).
Reader = Callable[[BedCase, date], MrzResult | None]


def read_mrz_reader(case: BedCase, today: date) -> MrzResult | None:
    """`read_mrz` on the front, then on the back when the front gives no valid reading."""
    reading = read_mrz(case.front, today=today)
    if case.back is not None and not (reading.found and reading.result.valid_check_digits):
        back = read_mrz(case.back, today=today)
        if back.found and (not reading.found or back.result.valid_check_digits):
            reading = back
    return reading.result


def check_document_reader(case: BedCase, today: date) -> MrzResult | None:
    """The MRZ `check_document` read from the front and back photos."""
    return check_document(case.front, case.back, today=today).reading.result


READERS: dict[str, Reader] = {"read_mrz": read_mrz_reader}


@dataclass
class Row:
    """Counts for one reader, split and condition."""

    reader: str
    split: str
    condition: str
    photos: int = 0
    outside: int = 0
    read: int = 0
    false_reads: int = 0
    read_outside: int = 0
    times_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    false_ids: list[str] = field(default_factory=list)

    @property
    def in_frame(self) -> int:
        return self.photos - self.outside

    @property
    def rate(self) -> float | None:
        return self.read / self.in_frame if self.in_frame else None

    def add(self, case: BedCase, result: MrzResult | None, elapsed_ms: float) -> None:
        """Score one reading of `case`."""
        self.photos += 1
        self.times_ms.append(elapsed_ms)
        validated = result is not None and result.valid_check_digits
        got = result.as_dict() if result is not None else {}
        correct = validated and all(got[key] == case.expected[key] for key in FIELDS)
        if validated and not correct:
            self.false_reads += 1
            self.false_ids.append(case.id)
        if not case.mrz_in_frame:
            self.outside += 1
            self.read_outside += correct
        elif correct:
            self.read += 1
        else:
            self.failures.append(case.id)

    def as_dict(self) -> dict:
        return {
            "reader": self.reader, "split": self.split, "condition": self.condition,
            "photos": self.photos, "mrz_in_frame": self.in_frame,
            "mrz_outside_frame": self.outside, "read_and_validated": self.read,
            "rate": self.rate, "false_reads": self.false_reads,
            "read_although_outside": self.read_outside,
            "p50_ms": _percentile(self.times_ms, 50), "p95_ms": _percentile(self.times_ms, 95),
            "failed": self.failures, "false_read_cases": self.false_ids,
        }


def measure(split: str, *, readers: dict[str, Reader] | None = None,
            limit_per_condition: int | None = None, conditions: tuple[str, ...] | None = None,
            today: date | None = None, progress: Callable[[str], None] | None = None,
            ) -> list[Row]:
    """Run every reader on every case of `split`; one Row per reader and condition.

    Each case's photos are made once and given to every reader in turn."""
    readers = readers or READERS
    today = today or date.today()
    rows: dict[tuple[str, str], Row] = {}
    for case in cases(split, limit_per_condition=limit_per_condition, conditions=conditions,
                      today=today):
        for name, reader in readers.items():
            row = rows.setdefault((name, case.condition), Row(name, split, case.condition))
            started = time.perf_counter()
            result = reader(case, today)
            row.add(case, result, (time.perf_counter() - started) * 1000)
        if progress:
            progress(case.id)
    return list(rows.values())


def totals(rows: Iterable[Row]) -> list[Row]:
    """Per reader and split: one row for clean photos, one for all degraded ones."""
    out: dict[tuple[str, str, str], Row] = {}
    for row in rows:
        label = "clean" if row.condition == "clean" else "degraded"
        total = out.setdefault((row.reader, row.split, label),
                               Row(row.reader, row.split, f"all {label}"))
        total.photos += row.photos
        total.outside += row.outside
        total.read += row.read
        total.false_reads += row.false_reads
        total.read_outside += row.read_outside
        total.times_ms.extend(row.times_ms)
        total.failures.extend(row.failures)
        total.false_ids.extend(row.false_ids)
    return list(out.values())


def table(rows: list[Row]) -> str:
    """The markdown table of `rows` and their totals."""
    lines = [
        "| reader | split | condition | photos | MRZ in frame | read right | rate "
        "| false reads | p50 ms | p95 ms |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in [*rows, *totals(rows)]:
        bold = "**" if row.condition.startswith("all ") else ""
        lines.append(
            f"| {row.reader} | {row.split} | {bold}{row.condition}{bold} | {row.photos} "
            f"| {row.in_frame} | {row.read}/{row.in_frame} | {_percent(row.rate)} "
            f"| {row.false_reads} | {_ms(_percentile(row.times_ms, 50))} "
            f"| {_ms(_percentile(row.times_ms, 95))} |")
    return "\n".join(lines)


def _percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{100 * rate:.1f}%"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def main(argv: list[str] | None = None) -> int:
    """Run the measurement, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.mrz_bed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=(*SPLITS, "both"), default="both")
    parser.add_argument("--limit", type=int, default=None,
                        help="cases per condition (default: bench.testbed's, 18)")
    parser.add_argument("--conditions", default=",".join(CONDITIONS),
                        help="comma-separated conditions (default: all)")
    parser.add_argument("--check-document", action="store_true",
                        help="also run check_document on front and back")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)
    conditions = tuple(name.strip() for name in args.conditions.split(",") if name.strip())
    for name in conditions:
        if name not in CONDITIONS:
            parser.error(f"unknown condition {name!r}; known: {', '.join(CONDITIONS)}")
    readers = dict(READERS)
    if args.check_document:
        readers["check_document"] = check_document_reader
    splits = SPLITS if args.split == "both" else (args.split,)

    today = date.today()
    started = time.perf_counter()
    ocr_engine()  # load the models once, outside the timings
    rows: list[Row] = []
    for split in splits:
        rows.extend(measure(split, readers=readers, limit_per_condition=args.limit,
                            conditions=conditions, today=today,
                            progress=lambda case_id: print(case_id, file=sys.stderr,
                                                           flush=True)))
    print(table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "engine": "rapidocr-onnxruntime", "engine_version": engine_version(),
            "today": today.isoformat(), "limit_per_condition": args.limit,
            "total_seconds": round(time.perf_counter() - started, 1),
            "rows": [row.as_dict() for row in rows],
            "totals": [row.as_dict() for row in totals(rows)],
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
