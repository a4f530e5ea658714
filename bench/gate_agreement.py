"""Does the intake quality gate agree with the MRZ reader? The gate runs at upload and refuses a
photo with a sentence the person can act on at once; the reader runs later, in the document job.
A photo the gate accepts but the reader cannot read is heard about much later; a photo the gate
refuses that the reader would have read is a needless retake.

    .venv/bin/python -m bench.gate_agreement [--seeds N] [--json PATH]

For every condition below, document kind (TD3 passport, TD1 card) and seed, it renders a
specimen for a varied holder (`bench.mrz_read.holder`), makes the photo, runs
`verification.quality.assess_document_photo` and `verification.ocr.read_mrz` on it, and counts
the photo as read only when every check digit validates AND every field equals what was
printed (as `bench.mrz_read` does). Conditions:

* every `verification.degrade.DEGRADATIONS` photo;
* a blur sweep, Gaussian radius 0-8 px at the render's native size, and the same photos
  upscaled to ~12 megapixels (a phone photo of a blurred document: same verdict expected);
* JPEG at several qualities and low light at several exposures;
* flatbed scans: the render downscaled to 450-800 px wide, filling the frame;
* with `--testbed N`, N cases per condition of the test bed's tune split (`bench.testbed`;
  the held-out split is never looked at here).

It reports, per condition and overall: of the photos the gate accepts, the share read (goal
>= 97 %); of those it refuses, the share that would have been read (goal <= 5 %); the
confusion table; and the gate's time. Exits 1 when an overall goal is missed.
"""

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

from bench.mrz_read import FIELDS, KINDS, holder
from verification.degrade import DEGRADATIONS, blur, degrade, jpeg, low_light, on_background
from verification.mrz import parse_mrz
from verification.ocr import engine_version, ocr_engine, read_mrz
from verification.quality import QualityThresholds, assess_document_photo

# The goals of the issue: of accepted photos at least this share read, of refused ones at most
# this share readable.
GOAL_ACCEPTED_READ = 0.97
GOAL_REFUSED_READABLE = 0.05
# A 12-megapixel phone photo (4000 x 3000).
PHONE_PIXELS = 12e6
BLUR_RADII = (0, 1, 2, 3, 4, 5, 6, 7, 8)
JPEG_QUALITIES = (10, 20, 30, 50)
LOW_LIGHT_FACTORS = (0.1, 0.15, 0.2, 0.3)
SCAN_WIDTHS = (450, 525, 600, 700, 800)

Maker = Callable[[Image.Image, int], Image.Image]


@dataclass(frozen=True)
class Condition:
    """One kind of photo: its group, its name and how to make it from a render and a seed."""

    group: str
    name: str
    make: Maker


@dataclass
class Photo:
    """What the gate and the reader made of one photo."""

    condition: str
    group: str
    kind: str
    seed: int
    megapixels: float
    accepted: bool
    reasons: list[str]
    scores: dict[str, float | None]
    gate_ms: float
    read: bool
    false_read: bool
    read_ms: float
    error: str | None


@dataclass
class Tally:
    """The confusion table of a set of photos: gate verdict x reader outcome."""

    accepted_read: int = 0
    accepted_unread: int = 0
    refused_read: int = 0
    refused_unread: int = 0
    false_reads: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, photo: Photo) -> None:
        """Count `photo` in its cell."""
        if photo.accepted:
            self.accepted_read += photo.read
            self.accepted_unread += not photo.read
        else:
            self.refused_read += photo.read
            self.refused_unread += not photo.read
            for reason in photo.reasons:
                self.reasons[reason] = self.reasons.get(reason, 0) + 1
        self.false_reads += photo.false_read

    @property
    def photos(self) -> int:
        return self.accepted_read + self.accepted_unread + self.refused_read + self.refused_unread

    @property
    def accepted(self) -> int:
        return self.accepted_read + self.accepted_unread

    @property
    def refused(self) -> int:
        return self.refused_read + self.refused_unread

    @property
    def accepted_read_share(self) -> float | None:
        """Of the photos the gate accepts, the share the reader reads."""
        return self.accepted_read / self.accepted if self.accepted else None

    @property
    def refused_readable_share(self) -> float | None:
        """Of the photos the gate refuses, the share the reader would have read."""
        return self.refused_read / self.refused if self.refused else None

    def as_dict(self) -> dict:
        return {**asdict(self), "photos": self.photos,
                "accepted_read_share": self.accepted_read_share,
                "refused_readable_share": self.refused_readable_share}


def to_phone_size(img: Image.Image) -> Image.Image:
    """`img` enlarged (bicubic) to about PHONE_PIXELS, as a 12 MP photo of the same scene."""
    factor = math.sqrt(PHONE_PIXELS / (img.width * img.height))
    if factor <= 1:
        return img
    size = (round(img.width * factor), round(img.height * factor))
    return img.resize(size, Image.Resampling.BICUBIC)


def scan(img: Image.Image, width: int) -> Image.Image:
    """A flatbed scan of the document `width` px wide (150-300 dpi), cropped to the document."""
    height = max(1, round(img.height * width / img.width))
    return img.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)


def conditions() -> list[Condition]:
    """Every condition the bench runs, in table order."""
    found = [Condition("degradation", name, lambda img, seed, name=name: degrade(img, name, seed))
             for name in DEGRADATIONS]
    for radius in BLUR_RADII:
        found.append(Condition("blur", f"blur r{radius}", lambda img, seed, r=radius:
                               blur(on_background(img, seed=seed), r)))
    for radius in BLUR_RADII:
        found.append(Condition("blur 12 MP", f"blur r{radius} 12 MP", lambda img, seed, r=radius:
                               to_phone_size(blur(on_background(img, seed=seed), r))))
    for quality in JPEG_QUALITIES:
        found.append(Condition("jpeg", f"jpeg q{quality}", lambda img, seed, q=quality:
                               jpeg(on_background(img, seed=seed), q)))
    for factor in LOW_LIGHT_FACTORS:
        found.append(Condition("low_light", f"low_light {factor}", lambda img, seed, f=factor:
                               low_light(on_background(img, seed=seed), f, seed=seed)))
    for width in SCAN_WIDTHS:
        found.append(Condition("scan", f"scan {width} px", lambda img, seed, w=width:
                               scan(img, w)))
    return found


Sample = tuple[str, str, str, int, Image.Image, dict]


def generated(selected: list[Condition], seeds: range, today: date) -> Iterator[Sample]:
    """(group, condition, kind, seed, photo, the MRZ fields printed) for every generated photo."""
    for kind, (render, mrz_lines) in KINDS.items():
        for seed in seeds:
            person = holder(seed)
            document = render(person, seed=seed)
            expected = parse_mrz(list(mrz_lines(person)), today=today).as_dict()
            for condition in selected:
                yield (condition.group, condition.name, kind, seed,
                       condition.make(document, seed), expected)


def testbed_photos(per_condition: int, today: date) -> Iterator[Sample]:
    """The tune split of the generated test bed (bench.testbed), never its held-out split: the
    photo that carries the MRZ of each case, `per_condition` cases per condition."""
    from bench import testbed

    for case in testbed.cases("tune", limit_per_condition=per_condition, today=today):
        yield ("testbed", f"bed {case.condition}", case.layout, case.seed, case.mrz_photo,
               case.expected)


def judge(group: str, condition: str, kind: str, seed: int, photo: Image.Image,
          expected: dict, thresholds: QualityThresholds, today: date,
          earlier: Photo | None = None) -> Photo:
    """Run the gate and the reader on `photo` and compare the reading with `expected`; with
    `earlier` (the same photo's result from an earlier run), its reading stands in."""
    report = assess_document_photo(photo, thresholds)
    scores = {check.check.rsplit(".", 1)[1]: check.score for check in report.checks}
    if earlier is not None:
        read, false_read = earlier.read, earlier.false_read
        read_ms, error = earlier.read_ms, earlier.error
    else:
        reading = read_mrz(photo, today=today)
        validated = reading.found and reading.result.valid_check_digits
        read = bool(validated and all(
            reading.result.as_dict()[key] == expected[key] for key in FIELDS))
        false_read = bool(validated and not read)
        read_ms, error = round(reading.elapsed_ms, 1), reading.error
    return Photo(condition=condition, group=group, kind=kind, seed=seed,
                 megapixels=round(photo.width * photo.height / 1e6, 2), accepted=report.passed,
                 reasons=[check.reason_code for check in report.failures], scores=scores,
                 gate_ms=round(report.elapsed_ms, 2), read=read, false_read=false_read,
                 read_ms=read_ms, error=error)


def earlier_readings(path: Path) -> dict[tuple[str, str, int], Photo]:
    """The photos of an earlier run's JSON by (condition, kind, seed)."""
    photos = json.loads(path.read_text())["photos"]
    return {(p["condition"], p["kind"], p["seed"]): Photo(**p) for p in photos}


def tallies(photos: list[Photo], key: Callable[[Photo], str]) -> dict[str, Tally]:
    """One Tally per value of `key`, in first-seen order."""
    found: dict[str, Tally] = {}
    for photo in photos:
        found.setdefault(key(photo), Tally()).add(photo)
    return found


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def markdown(photos: list[Photo]) -> str:
    """Per condition and overall agreement, then the confusion table and the gate's time."""
    lines = ["| condition | photos | accepted | accepted, read | refused | refused, readable "
             "| refusals |",
             "|---|---:|---:|---:|---:|---:|---|"]
    rows = tallies(photos, lambda photo: photo.condition)
    total = Tally()
    for photo in photos:
        total.add(photo)
    for name, tally in [*rows.items(), ("**all**", total)]:
        refusals = ", ".join(f"{reason} {count}" for reason, count in
                             sorted(tally.reasons.items())) or "-"
        lines.append(
            f"| {name} | {tally.photos} | {tally.accepted} | {tally.accepted_read}/"
            f"{tally.accepted} ({_share(tally.accepted_read_share)}) | {tally.refused} "
            f"| {tally.refused_read}/{tally.refused} ({_share(tally.refused_readable_share)}) "
            f"| {refusals} |")
    lines += ["", "| gate \\ reader | read | not read |", "|---|---:|---:|",
              f"| accepted | {total.accepted_read} | {total.accepted_unread} |",
              f"| refused | {total.refused_read} | {total.refused_unread} |", ""]
    lines += ["| gate time | photos | p50 ms | p95 ms |", "|---|---:|---:|---:|"]
    for label, selected in (("under 4 MP", [p for p in photos if p.megapixels < 4]),
                            ("4 MP and over", [p for p in photos if p.megapixels >= 4])):
        if selected:
            times = [p.gate_ms for p in selected]
            lines.append(f"| {label} | {len(times)} | {statistics.median(times):.0f} "
                         f"| {np.percentile(times, 95):.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the bench; 0 when both overall goals are met."""
    parser = argparse.ArgumentParser(prog="python -m bench.gate_agreement", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=2,
                        help="photos per document kind and condition (default 2)")
    parser.add_argument("--first-seed", type=int, default=0, help="seed of the first photo")
    parser.add_argument("--groups", help="comma-separated condition groups (default: all)")
    parser.add_argument("--testbed", type=int, metavar="N", default=0,
                        help="also run N cases per condition of bench.testbed's tune split")
    parser.add_argument("--reads", type=Path, metavar="JSON",
                        help="take each photo's reading from an earlier run's JSON (same photos, "
                        "same reader) and run only the gate: for trying thresholds")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.seeds < 0 or args.testbed < 0:
        parser.error("--seeds and --testbed must not be negative")
    if args.testbed and importlib.util.find_spec("bench.testbed") is None:
        parser.error("--testbed needs bench/testbed.py, the generated test bed")
    selected = conditions()
    if args.groups:
        groups = {name.strip() for name in args.groups.split(",") if name.strip()}
        unknown = groups - {condition.group for condition in selected}
        if unknown:
            parser.error(f"unknown groups: {', '.join(sorted(unknown))}")
        selected = [condition for condition in selected if condition.group in groups]

    thresholds = QualityThresholds()
    today = date.today()
    earlier = earlier_readings(args.reads) if args.reads else {}
    if not earlier:
        ocr_engine()  # load the models once, outside the timings
    started = time.perf_counter()
    photos: list[Photo] = []
    sources = [generated(selected, range(args.first_seed, args.first_seed + args.seeds), today)]
    if args.testbed:
        sources.append(testbed_photos(args.testbed, today))
    for source in sources:
        for group, condition, kind, seed, photo, expected in source:
            result = judge(group, condition, kind, seed, photo, expected, thresholds, today,
                           earlier.get((condition, kind, seed)))
            photos.append(result)
            print(f"{result.condition} {kind} {seed}: "
                  f"{'accepted' if result.accepted else 'refused ' + ','.join(result.reasons)}, "
                  f"{'read' if result.read else 'not read'}", file=sys.stderr, flush=True)
    print(markdown(photos))
    total = Tally()
    for photo in photos:
        total.add(photo)
    accepted_ok = (total.accepted_read_share or 0.0) >= GOAL_ACCEPTED_READ
    refused_ok = total.refused_readable_share is None or \
        total.refused_readable_share <= GOAL_REFUSED_READABLE
    print(f"\n{len(photos)} photos in {time.perf_counter() - started:.0f} s. Accepted and read: "
          f"{_share(total.accepted_read_share)} (goal >= {GOAL_ACCEPTED_READ:.0%}); refused but "
          f"readable: {_share(total.refused_readable_share)} (goal <= "
          f"{GOAL_REFUSED_READABLE:.0%}).")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "seeds": [args.first_seed, args.first_seed + args.seeds - 1],
            "readings_from": str(args.reads) if args.reads else None,
            "thresholds": asdict(thresholds), "reader": "rapidocr-onnxruntime",
            "reader_version": engine_version(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "today": today.isoformat(),
            "total": total.as_dict(),
            "groups": {k: v.as_dict() for k, v in tallies(photos, lambda p: p.group).items()},
            "conditions": {k: v.as_dict()
                           for k, v in tallies(photos, lambda p: p.condition).items()},
            "photos": [asdict(photo) for photo in photos]}, indent=2) + "\n")
    return 0 if accepted_ok and refused_ok else 1


if __name__ == "__main__":
    sys.exit(main())
