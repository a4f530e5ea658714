"""The current MRZ reader beside the reader of commit 413181e, on the generated test bed.

    .venv/bin/python -m bench.mrz_readers [--split tune|held_out|both] [--limit N] [--json PATH]

Both readers get the same photos of every case (`bench.mrz_bed.measure`): the front, then the
back of a two-sided card when the front gives no valid reading. Read right, false reads and
times as in `bench.mrz_bed`.
"""

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from bench.baseline import ocr_413181e
from bench.mrz_bed import BedCase, measure, read_mrz_reader, table
from bench.testbed import SPLITS
from verification.mrz import MrzResult


def baseline_reader(case: BedCase, today: date) -> MrzResult | None:
    """The reader of 413181e on the front, then on the back, as `read_mrz_reader` does."""
    reading = ocr_413181e.read_mrz(case.front, today=today)
    if case.back is not None and not (reading.found and reading.result.valid_check_digits):
        back = ocr_413181e.read_mrz(case.back, today=today)
        if back.found and (not reading.found or back.result.valid_check_digits):
            reading = back
    return reading.result


READERS = {"current": read_mrz_reader, "413181e": baseline_reader}


def main(argv: list[str] | None = None) -> int:
    """Measure both readers on the chosen splits and print one table."""
    parser = argparse.ArgumentParser(prog="python -m bench.mrz_readers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=(*SPLITS, "both"), default="both")
    parser.add_argument("--limit", type=int, default=None, help="cases per condition")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    splits = SPLITS if args.split == "both" else (args.split,)
    rows = []
    for split in splits:
        rows.extend(measure(split, readers=READERS, limit_per_condition=args.limit,
                            progress=lambda case_id: print(case_id, file=sys.stderr)))
    rows = sorted(rows, key=lambda row: (row.reader, row.split))
    print(table(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([row.as_dict() for row in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
