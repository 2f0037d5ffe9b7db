"""``python -m model_runtime batch``: a CSV of lines -> files per line, bad rows reported,
resumable, on every core."""

import csv
import os
import subprocess
import sys

import pytest

from model_runtime.batch import BatchSettings, run_batch
from model_runtime.formats.llf_csv import read_llf_csv
from model_runtime.track import Track
from tests.conftest import ROOT

ROWS = [
    ["id", "speaker", "script", "context", "emotion", "duration"],
    ["anna_001", "Anna", "I can't believe you did this to me.", "Her friend read her diary.", "hurt, turning into anger", ""],
    ["ben_001", "Ben", "I'm sorry.", "", "guilty", "2.5"],
    ["bad_empty", "Ben", "", "", "", ""],
    ["anna_002", "Anna", "Get out.", "", "cold anger", ""],
    ["bad_duration", "Ben", "Wait!", "", "", "soon"],
    ["guard_001", "Guard", "Halt! Who goes there?", "A night watch.", "alert", ""],
]


def _write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def test_cli_writes_every_good_line_and_reports_bad_rows(tmp_path):
    source = tmp_path / "lines.csv"
    _write(source, ROWS)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "model_runtime", "batch", str(source), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "2 rows failed" in done.stderr and "lines/s" in done.stderr
    for line_id in ("anna_001", "ben_001", "anna_002", "guard_001"):
        track = Track.load(out / f"{line_id}.track.json")
        capture = read_llf_csv(out / f"{line_id}.csv")
        assert capture.fps == pytest.approx(60) and capture.times[-1] == pytest.approx(track.duration, abs=1 / 60)
        assert track.analysis["line"]["id"] == line_id
    assert Track.load(out / "ben_001.track.json").duration == pytest.approx(2.5)
    with open(out / "errors.csv", newline="") as handle:
        errors = list(csv.DictReader(handle))
    assert [(e["row"], e["error"]) for e in errors] == [
        ("4", "row 4: the script is empty"),
        ("6", "row 6: duration 'soon' is not a number of seconds"),
    ]


def test_resume_redoes_only_missing_changed_or_cut_off_lines(tmp_path):
    rows = [r for r in ROWS if not r[0].startswith("bad")]
    source, out = tmp_path / "lines.csv", tmp_path / "out"
    _write(source, rows)
    first = run_batch(source, out, jobs=1, progress=None)
    assert (first.written, first.skipped, first.errors) == (4, 0, 0)
    again = run_batch(source, out, jobs=1, progress=None)
    assert (again.written, again.skipped) == (0, 4)

    rows[2] = ["ben_001", "Ben", "I'm so sorry.", "", "guilty", "2.5"]  # edited row
    _write(source, rows)
    (out / "anna_002.csv").unlink()  # lost output
    (out / "guard_001.csv.part").write_text("cut off mid-write")
    edited = run_batch(source, out, jobs=1, progress=None)
    assert (edited.written, edited.skipped) == (2, 2)
    assert Track.load(out / "ben_001.track.json").script == "I'm so sorry."
    assert (out / "anna_002.csv").exists()


def test_every_core_gives_the_same_files_as_one(tmp_path):
    rows = [ROWS[0]] + [[f"l{i:03d}", "A", f"Line number {i}, said with feeling!", "", "excited", ""] for i in range(24)]
    source = tmp_path / "lines.csv"
    _write(source, rows)
    serial = run_batch(source, tmp_path / "one", jobs=1, progress=None)
    parallel = run_batch(source, tmp_path / "many", jobs=2, progress=None)
    assert serial.written == parallel.written == 24
    for i in (0, 11, 23):
        assert (tmp_path / "one" / f"l{i:03d}.track.json").read_bytes() == (tmp_path / "many" / f"l{i:03d}.track.json").read_bytes()
    assert not [name for name in os.listdir(tmp_path / "many") if name.endswith(".part")]


def test_unknown_columns_and_backend_fail_before_any_work(tmp_path):
    source = tmp_path / "lines.csv"
    _write(source, [["id", "script", "mood"], ["a", "Hi.", "odd"]])
    with pytest.raises(Exception, match="unknown columns: mood"):
        run_batch(source, tmp_path / "out", progress=None)
    _write(source, ROWS[:2])
    with pytest.raises(Exception, match="Unknown backend 'nope'"):
        run_batch(source, tmp_path / "out2", BatchSettings(backend="nope"), progress=None)
    assert not (tmp_path / "out2").exists()
