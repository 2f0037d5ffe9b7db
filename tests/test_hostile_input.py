"""Issue 12's hostile inputs, one test per defect: files, numbers and text that used to end in a
traceback, a hang, a huge allocation, a wiped file or a misleading message."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest

from model_runtime.arkit import PARAMETERS
from model_runtime.cli import main
from model_runtime.errors import FormatError, InputError, KeyframeFaceError
from model_runtime.formats.llf_csv import read_llf_csv, write_llf_csv
from tests.conftest import ROOT
from tests.servers import child_processes


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


# ------------------------------------------------------------------ 4: no wiped files

def _cli(*arguments, **options):
    return subprocess.run([sys.executable, "-m", "model_runtime", *arguments], cwd=ROOT, capture_output=True,
                          timeout=120, **options)


def test_4_a_failing_generate_leaves_the_existing_output_as_it_was(tmp_path):
    out = tmp_path / "t.json"
    out.write_text("precious", encoding="utf-8")
    done = _cli("generate", "--script", b"Hi \xff\xfe there", "--out", str(out))
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert b"not UTF-8" in done.stderr
    assert out.read_text(encoding="utf-8") == "precious" and sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]


def test_4_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    from model_runtime.files import atomic_write

    target = tmp_path / "out.csv"
    target.write_text("old", encoding="utf-8")

    def half_then_fail(handle):
        handle.write("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, half_then_fail)
    assert target.read_text(encoding="utf-8") == "old" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


# ------------------------------------------------------------------ 6, 7: limits and numeric flags

def _track_file(tmp_path, **changes):
    from model_runtime.backends import GenerateRequest, get_backend

    data = get_backend().generate(GenerateRequest(script="Hello there.")).to_dict()
    data.update(changes)
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_6_a_day_long_track_is_refused_with_the_limit(tmp_path):
    from model_runtime.track import Track

    with pytest.raises(KeyframeFaceError, match=r"duration = 86400 is outside \[0, 3600\]"):
        Track.load(_track_file(tmp_path, duration=86400.0))


@pytest.mark.parametrize("arguments, message", [
    (["export", "T", "--fps", "1e7", "--out", "x.csv"], "fps = 1e+07 fps is outside the limits 1 to 240"),
    (["batch", "lines.csv", "--out", "o", "--csv-fps", "1e6"], "fps = 1e+06 fps is outside"),
    (["export", "T", "--fps", "nan", "--out", "x.csv"], "fps is nan"),
    (["export", "T", "--fps", "inf", "--out", "x.csv"], "fps is inf"),
    (["export", "T", "--fps", "-60", "--out", "x.csv"], "fps = -60 fps is outside"),
    (["export", "T", "--fps", "0", "--out", "x.csv"], "fps = 0 fps is outside"),
    (["generate", "--script", "Hi", "--fps", "nan"], "fps is nan"),
    (["scene", "s.txt", "--out", "x.json", "--gap", "1e9"], "gap = 1e+09 s is outside"),
    (["generate", "--script", "Hi", "--intensity", "inf"], "intensity is inf"),
])
def test_6_7_numbers_out_of_bounds_are_usage_errors_naming_the_limit(capsys, arguments, message):
    with pytest.raises(SystemExit) as stopped:
        main(arguments)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [
    ("[at 99999999999999999999] ANNA: Hi.", "outside Blender's frames"),
    ("[at 900000] ANNA: Hi.", "a performance lasts at most 1 h"),
    ("ANNA: Hi.\n[pause 3000]\nANNA: Hello.\n[pause 3000]\nANNA: Bye.", "a performance lasts at most 1 h"),
])
def test_6_scenes_beyond_the_limits_are_refused_quickly(text, message):
    from model_runtime.backends import get_backend
    from model_runtime.dialogue import parse_dialogue, perform_scene

    with pytest.raises(InputError, match=message):
        perform_scene(parse_dialogue(text), get_backend(), 30.0)


def test_6_an_export_refuses_too_many_frames_before_allocating(tmp_path):
    from model_runtime.formats.llf_csv import write_track_llf_csv
    from model_runtime.track import Track

    track = Track.load(_track_file(tmp_path, duration=3600.0))
    with pytest.raises(InputError, match="frames .* the limit is 216,001 frames"):
        write_track_llf_csv(tmp_path / "x.csv", track, 240)


# ------------------------------------------------------------------ 8: decoding

def test_8_scene_files_in_utf16_or_with_a_bom_are_read_and_latin1_is_named(tmp_path):
    scene = "ANNA (warm): Grüß dich.\nBEN: Hallo.\n"
    for encoding, name in (("utf-16", "u16.txt"), ("utf-8-sig", "bom.txt")):
        (tmp_path / name).write_text(scene, encoding=encoding)
        done = _cli("scene", str(tmp_path / name), "--speaker", "ANNA", "--out", str(tmp_path / f"{name}.json"))
        assert done.returncode == 0, done.stderr
    (tmp_path / "latin1.txt").write_bytes(scene.encode("latin-1"))
    done = _cli("scene", str(tmp_path / "latin1.txt"), "--out", str(tmp_path / "l.json"))
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert b"latin1.txt is not UTF-8 text: byte 0xfc on line 1" in done.stderr


def test_8_batch_csv_with_invalid_utf8_or_an_unterminated_quote(tmp_path):
    (tmp_path / "bad.csv").write_bytes(b"id,script\na,Caf\xe9!\n")
    done = _cli("batch", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "o1"), "--quiet")
    assert done.returncode == 2 and b"Traceback" not in done.stderr and b"bad.csv is not UTF-8" in done.stderr
    (tmp_path / "quote.csv").write_text('id,script\na,Hello.\nb,"Never closed\n' + "x" * 200_000 + "\n",
                                        encoding="utf-8")
    done = _cli("batch", str(tmp_path / "quote.csv"), "--out", str(tmp_path / "o2"), "--quiet", "--jobs", "1")
    assert done.returncode == 1 and b"Traceback" not in done.stderr
    errors = (tmp_path / "o2" / "errors.csv").read_text(encoding="utf-8")
    assert "never closed" in errors and (tmp_path / "o2" / "a.track.json").exists()


def test_8_keyframeface_json_depth_bomb_is_a_format_error(tmp_path):
    from model_runtime.formats.keyframeface_json import read_keyframeface_json

    with pytest.raises(FormatError, match="nests 100000 levels deep; the limit is 64"):
        read_keyframeface_json("[" * 100_000 + "]" * 100_000)
    with pytest.raises(FormatError, match="nests"):
        read_keyframeface_json('{"Keyframe_one": ' * 5000 + "1" + "}" * 5000)


# ------------------------------------------------------------------ 10: scene text

def test_10_a_bom_is_not_part_of_the_first_speaker():
    from model_runtime.dialogue import parse_dialogue

    lines = parse_dialogue("\ufeffANNA: Hi.\nBEN: Yo.")
    assert [line.speaker for line in lines] == ["ANNA", "BEN"]


def test_10_a_semicolon_csv_is_a_csv_not_dialogue():
    from model_runtime.dialogue import parse_dialogue

    lines = parse_dialogue("id;speaker;script;emotion\na1;ANNA;Hello there.;warm\nb1;BEN;Hi, you.;\n")
    assert [(line.id, line.speaker, line.script) for line in lines] == [("a1", "ANNA", "Hello there."),
                                                                        ("b1", "BEN", "Hi, you.")]


@pytest.mark.parametrize("text, message", [
    ("ANNA:", "names a speaker but gives no words"),
    ("ANNA (sad):", "names a speaker but gives no words"),
    ("[at 10 ANNA: Hello.", r"the tag \[at has no closing '\]'"),
])
def test_10_a_speaker_alone_or_an_unclosed_tag_is_an_error_not_dialogue(text, message):
    from model_runtime.dialogue import parse_dialogue

    with pytest.raises(InputError, match=message):
        parse_dialogue(f"BEN: Fine.\n{text}")


# ------------------------------------------------------------------ 14 and minor: batch

def test_minor_errors_csv_names_the_id_and_ids_cannot_make_hidden_files(tmp_path):
    from model_runtime.batch import run_batch

    (tmp_path / "lines.csv").write_text("id,script,duration\nok,Hello.,\n..,Hidden?,\n.env,Hidden?,\nslow,Wait.,soon\n",
                                        encoding="utf-8")
    report = run_batch(tmp_path / "lines.csv", tmp_path / "out", jobs=1, progress=None)
    assert (report.total, report.written, report.errors) == (4, 1, 3)
    import csv as csv_module

    with open(tmp_path / "out" / "errors.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv_module.DictReader(handle))
    assert [row["id"] for row in rows] == ["", "", "slow"]
    assert "may not start or end with '.'" in rows[0]["error"]
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_minor_the_track_loader_accepts_a_utf8_bom(tmp_path):
    from model_runtime.track import Track

    path = _track_file(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert Track.load(path).script == "Hello there."


def _alive(pid: int) -> bool:
    from pathlib import Path

    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_14_batch_workers_end_with_a_killed_batch(tmp_path):
    import os
    import signal
    import time

    rows = ["id,script,emotion"] + [f"l{i:04d},Line number {i} is spoken with feeling!,excited" for i in range(3000)]
    (tmp_path / "lines.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "model_runtime", "batch", str(tmp_path / "lines.csv"), "--out",
                                str(out), "--jobs", "2", "--quiet"], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(out.glob("*.track.json"))) < 4:
            time.sleep(0.1)
        workers = child_processes(process.pid)
        assert len(workers) >= 2
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers)
        written = len(list(out.glob("*.track.json")))
        time.sleep(1.0)
        assert len(list(out.glob("*.track.json"))) == written  # nothing written after the batch died
    finally:
        if process.poll() is None:
            process.kill()
