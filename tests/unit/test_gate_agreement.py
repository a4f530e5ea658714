"""The gate-against-reader bench: its confusion counts and shares, and a run that judges the
photos with the gate alone, taking the readings from an earlier run's JSON."""

import json

import pytest

from bench.gate_agreement import SCAN_WIDTHS, Photo, Tally, main


def photo(accepted: bool, read: bool, reasons=()) -> Photo:
    return Photo(condition="c", group="g", kind="TD3", seed=0, megapixels=1.0,
                 accepted=accepted, reasons=list(reasons), scores={}, gate_ms=1.0, read=read,
                 false_read=False, read_ms=1.0, error=None)


def test_tally_counts_each_cell_and_the_two_shares():
    tally = Tally()
    for accepted, read, count in ((True, True, 37), (True, False, 3), (False, True, 1),
                                  (False, False, 19)):
        for _ in range(count):
            tally.add(photo(accepted, read, () if accepted else ("document_blurry",)))
    assert (tally.accepted, tally.refused, tally.photos) == (40, 20, 60)
    assert tally.accepted_read_share == pytest.approx(37 / 40)
    assert tally.refused_readable_share == pytest.approx(1 / 20)
    assert tally.reasons == {"document_blurry": 20}


def test_empty_tally_has_no_shares():
    assert Tally().accepted_read_share is None and Tally().refused_readable_share is None


@pytest.mark.parametrize(("read", "status"), ((True, 0), (False, 1)))
def test_a_run_with_earlier_readings_judges_scans_with_the_gate(tmp_path, read, status):
    """Every flatbed scan 450-800 px wide passes the gate; whether the goals are met then
    depends on the readings alone."""
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"photos": [
        {**photo(False, read).__dict__, "condition": f"scan {width} px", "kind": kind}
        for width in SCAN_WIDTHS for kind in ("TD3", "TD1")]}))
    out = tmp_path / "out.json"
    assert main(["--seeds", "1", "--groups", "scan", "--reads", str(earlier),
                 "--json", str(out)]) == status
    result = json.loads(out.read_text())
    assert result["total"]["photos"] == 2 * len(SCAN_WIDTHS)
    assert result["total"]["refused_read"] + result["total"]["refused_unread"] == 0
    assert all(p["accepted"] and p["read"] == read for p in result["photos"])
