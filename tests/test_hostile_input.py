"""Issue 12's hostile inputs, one test per defect: files, numbers and text that used to end in a
traceback, a hang, a huge allocation, a wiped file or a misleading message."""

import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from model_runtime.arkit import PARAMETERS
from model_runtime.cli import main
from model_runtime.errors import FormatError, InputError, KeyframeFaceError
from model_runtime.formats.llf_csv import read_llf_csv, write_llf_csv
from tests.conftest import ROOT


def _take(seconds=5.0, fps=60, start=1.0) -> list[str]:
    """A Live Link Face take as text rows (header first)."""
    times = np.arange(0, seconds, 1 / fps)
    values = np.tile(np.linspace(0, 0.5, len(PARAMETERS)), (len(times), 1))
    stream = io.StringIO()
    write_llf_csv(stream, times, values, start_seconds=start)
    return stream.getvalue().splitlines()


def _read(rows: list[str]):
    return read_llf_csv(io.StringIO("\n".join(rows) + "\n"))


# ------------------------------------------------------------------ 5: timecode glitches

@pytest.mark.parametrize("glitch", ["23:59:59:00.000", "9999:00:00:00.000", "12:00:00:00.000"])
def test_5_one_glitched_timecode_is_skipped_not_a_day_long_take(glitch):
    rows = _take()
    middle = rows[150].split(",", 1)
    rows[150] = f"{glitch},{middle[1]}"
    capture = _read(rows)
    assert capture.duration == pytest.approx(5.0 - 1 / 60, abs=0.02)
    assert len(capture.times) == 299 and capture.skipped_rows == 1
    assert any("glitches" in note for note in capture.notes)


def test_5_a_take_across_midnight_is_still_one_take():
    capture = _read(_take(start=86400 - 2.0))
    assert capture.duration == pytest.approx(5.0 - 1 / 60, abs=0.02) and capture.skipped_rows == 0


def test_5_an_absurd_span_is_refused_before_allocating():
    row = _take(seconds=0.1)[1].split(",", 1)[1]
    every_five_seconds = [f"{t // 3600:02d}:{t // 60 % 60:02d}:{t % 60:02d}:00.000,{row}" for t in range(0, 5400, 5)]
    with pytest.raises(FormatError, match="spans 1.5 h; a capture lasts at most 1 h"):
        _read(_take(seconds=0.1)[:1] + every_five_seconds)


# ------------------------------------------------------------------ 9: messages that say what is wrong

def test_9_trailing_commas_and_extra_cells_are_read_and_reported():
    rows = _take(seconds=1.0)
    trailing = [rows[0]] + [row + "," for row in rows[1:]]
    capture = _read(trailing)
    assert len(capture.times) == 60 and capture.skipped_rows == 0
    extra = [rows[0]] + [row + ",1,2" for row in rows[1:]]
    capture = _read(extra)
    assert len(capture.times) == 60
    assert any("more cells than the header" in note for note in capture.notes)


def test_9_an_all_nan_column_is_missing_not_a_reason_to_drop_every_row():
    rows = _take(seconds=1.0)
    header = rows[0].split(",")
    column = header.index("JawOpen")
    broken = [rows[0]]
    for row in rows[1:]:
        cells = row.split(",")
        cells[column] = "nan"
        broken.append(",".join(cells))
    capture = _read(broken)
    assert len(capture.times) == 60 and "jawOpen" not in capture.present
    assert np.isnan(capture.values[:, PARAMETERS.index("jawOpen")]).all()
    assert any("JawOpen" in note for note in capture.notes)


def test_9_blank_rows_are_not_counted_as_skipped():
    rows = _take(seconds=1.0)
    capture = _read([rows[0]] + [r for row in rows[1:] for r in (row, ",,,")])
    assert len(capture.times) == 60 and capture.skipped_rows == 0 and not capture.notes[:1] == ["skipped"]


def test_9_no_usable_rows_says_why():
    rows = _take(seconds=0.1)
    with pytest.raises(FormatError, match="fewer cells than the header"):
        _read([rows[0]] + [row.split(",")[0] + ",0" for row in rows[1:]])
    with pytest.raises(FormatError, match="no ARKit column holds a number"):
        _read([rows[0]] + [row.split(",")[0] + ",61," + ",".join(["x"] * 61) for row in rows[1:]])
    staggered = []
    for i, row in enumerate(rows[1:]):
        cells = row.split(",")
        cells[2 + i % 61] = "x"
        staggered.append(",".join(cells))
    with pytest.raises(FormatError, match="each of the 6 rows has an empty cell or one that is not a number"):
        _read([rows[0]] + staggered)
