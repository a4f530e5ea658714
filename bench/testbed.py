"""The generated MRZ test bed: specimen documents of several designs, MRZ fonts and formats,
photographed, scanned and recompressed under many conditions, in two splits.

    from bench.testbed import cases
    for case in cases("tune", limit_per_condition=2):
        reading = read_mrz(case.back or case.front)  # case.expected: the fields printed

Every case is one document (`layout`, printed in MRZ font variant `font`) for a varied holder
(`bench.mrz_read.holder`: hard names, diacritics, short and long document numbers) under one
`condition`: "clean" (on a table, as `verification.degrade.DEGRADATIONS["clean"]`), every other
`DEGRADATIONS` entry, and every `BED_DEGRADATIONS` entry (flatbed scans 450-800 px wide,
8-12 MP phone photos of cards with perspective and bend, moire photos of a screen, upside-down
photos, JPEG at quality 20, 40, 60 and 85). Cards whose MRZ is on the back (`national_td1`)
come as two photos, `front` and `back`, both under the condition; `mrz_side` says which one
carries the MRZ. Images are made only when a case is drawn from the iterator: a 12 MP photo
takes about 3 s to make.

Splits:

* "tune": seeds from 100000, the layouts TUNE_LAYOUTS and MRZ fonts TUNE_FONTS only. A reader
  (or a gate) may be tuned on it.
* "held_out": seeds from 900000 (disjoint from tune's), the same layouts and fonts plus
  HELD_OUT_LAYOUT (a TD2 residence card: another format, design and colour scheme) and
  HELD_OUT_FONT (OCR-B condensed and heavy, on a tighter pitch), which the tune split never
  has. Tuning never looks at it; report it beside tune.

At the default 18 cases per condition each split holds 288 cases (16 conditions).
"""

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date

from PIL import Image

from bench.mrz_read import FIELDS, holder, mrz_outside_frame
from verification.degrade import BED_DEGRADATIONS, DEGRADATIONS, degrade
from verification.mrz import parse_mrz
from verification.specimen import MRZ_STYLES, RenderedDocument, SpecimenPerson, render_document

SPLITS = ("tune", "held_out")
TUNE_LAYOUTS = ("utopia_td3", "utopia_td1", "national_td1", "republic_td3")
HELD_OUT_LAYOUT = "residence_td2"
TUNE_FONTS = ("ocrb", "ocrb_heavy", "ocrb_light", "ocrb_narrow", "ocrb_wide")
HELD_OUT_FONT = "ocrb_condensed_heavy"
# Cards only for the 8-12 MP card photos (passport pages are not flexed like a card).
CARD_LAYOUTS = ("utopia_td1", "national_td1", "residence_td2")
CARD_ONLY_CONDITIONS = ("card_photo",)
CONDITIONS = ("clean", *(name for name in DEGRADATIONS if name != "clean"), *BED_DEGRADATIONS)
DEFAULT_PER_CONDITION = 18
# Seeds: split base + 1000 x condition index + case index; the back of a two-sided card is
# photographed with the case's seed + BACK_SEED_OFFSET, so no two photos share a seed.
SEED_BASE = {"tune": 100_000, "held_out": 900_000}
MAX_PER_CONDITION = 500
BACK_SEED_OFFSET = 500


@dataclass(frozen=True)
class CaseSpec:
    """What one case will be, before any image is made."""

    id: str
    split: str
    layout: str
    font: str
    condition: str
    seed: int


@dataclass(frozen=True)
class BedCase:
    """One case of the bed: the photos, what their MRZ says, and whether it is all in frame."""

    id: str
    split: str
    layout: str
    font: str
    condition: str
    seed: int
    front: Image.Image
    back: Image.Image | None
    expected: dict  # MrzResult.as_dict() names -> values, for bench.mrz_read.FIELDS
    mrz_in_frame: bool
    mrz_lines: tuple[str, ...]
    mrz_side: str  # "front" or "back": the photo that carries the MRZ

    @property
    def mrz_photo(self) -> Image.Image:
        """The photo that carries the MRZ."""
        return self.back if self.mrz_side == "back" and self.back is not None else self.front


def layouts(split: str) -> tuple[str, ...]:
    """The layouts a split draws from (the held-out one first, so small limits include it)."""
    _known(split)
    return (HELD_OUT_LAYOUT, *TUNE_LAYOUTS) if split == "held_out" else TUNE_LAYOUTS


def fonts(split: str) -> tuple[str, ...]:
    """The MRZ font variants a split draws from."""
    _known(split)
    return (HELD_OUT_FONT, *TUNE_FONTS) if split == "held_out" else TUNE_FONTS


def plan(split: str, *, limit_per_condition: int | None = None,
         conditions: tuple[str, ...] | None = None) -> list[CaseSpec]:
    """The cases of `split`, cheaply: layout, font, condition and seed of each."""
    per_condition = DEFAULT_PER_CONDITION if limit_per_condition is None else limit_per_condition
    if not 0 <= per_condition <= MAX_PER_CONDITION:
        raise ValueError(f"limit_per_condition must be in 0..{MAX_PER_CONDITION}")
    chosen = CONDITIONS if conditions is None else conditions
    for name in chosen:
        if name not in CONDITIONS:
            raise ValueError(f"unknown condition {name!r}; known: {', '.join(CONDITIONS)}")
    split_layouts, split_fonts = layouts(split), fonts(split)
    specs = []
    for index, condition in enumerate(CONDITIONS):
        if condition not in chosen:
            continue
        pool = split_layouts
        if condition in CARD_ONLY_CONDITIONS:
            pool = tuple(name for name in split_layouts if name in CARD_LAYOUTS)
        for k in range(per_condition):
            seed = SEED_BASE[split] + 1000 * index + k
            # Layouts cycle with the case, fonts with a different stride: every pairing occurs.
            layout = pool[(k + index) % len(pool)]
            font = split_fonts[(k // len(pool) + 2 * index + k) % len(split_fonts)]
            specs.append(CaseSpec(f"{split}-{condition}-{k:03d}", split, layout, font,
                                  condition, seed))
    return specs


def cases(split: str, *, limit_per_condition: int | None = None,
          conditions: tuple[str, ...] | None = None,
          today: date | None = None) -> Iterator[BedCase]:
    """The cases of `split` ("tune" or "held_out"), each made when it is drawn."""
    today = today or date.today()
    for spec in plan(split, limit_per_condition=limit_per_condition, conditions=conditions):
        yield build(spec, today=today)


def build(spec: CaseSpec, *, today: date | None = None) -> BedCase:
    """Render, photograph and describe one planned case."""
    today = today or date.today()
    person, document = _document(spec)
    front = degrade(document.front, spec.condition, spec.seed)
    back = None
    if document.back is not None:
        back = degrade(document.back, spec.condition, spec.seed + BACK_SEED_OFFSET)
    mrz_seed = spec.seed + (BACK_SEED_OFFSET if document.mrz_side == "back" else 0)
    in_frame = not (spec.condition == "cut_off_corner"
                    and mrz_outside_frame(document.mrz_image, spec.condition, mrz_seed))
    parsed = parse_mrz(list(document.lines), today=today).as_dict()
    return BedCase(
        id=spec.id, split=spec.split, layout=spec.layout, font=spec.font,
        condition=spec.condition, seed=spec.seed, front=front, back=back,
        expected={key: parsed[key] for key in FIELDS}, mrz_in_frame=in_frame,
        mrz_lines=document.lines, mrz_side=document.mrz_side,
    )


def _document(spec: CaseSpec) -> tuple[SpecimenPerson, RenderedDocument]:
    """The holder and the rendered document of a case (sides tagged with their dpi)."""
    person = holder(spec.seed)
    try:
        document = render_document(spec.layout, person, seed=spec.seed,
                                   mrz_style=MRZ_STYLES[spec.font])
    except ValueError:
        # TD2 has room for 7 optional characters: a holder with more carries none.
        person = replace(person, optional_data="")
        document = render_document(spec.layout, person, seed=spec.seed,
                                   mrz_style=MRZ_STYLES[spec.font])
    for side in (document.front, document.back):
        if side is not None:
            dpi = side.width / (document.width_mm / 25.4)
            side.info["dpi"] = (dpi, dpi)
    return person, document


def _known(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")

