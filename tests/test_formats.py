import io
import json

import numpy as np
import pytest

from conftest import shared_data, shared_file
from model_runtime.arkit import PARAMETERS
from model_runtime.errors import FormatError
from model_runtime.formats.keyframeface_json import (
    build_messages, keyframe_key, parse_keyframe_answer, read_keyframeface_json, to_keyframeface,
)
from model_runtime.formats.llf_csv import format_timecode, read_llf_csv, write_llf_csv


@pytest.mark.parametrize("name, rows, fps, skipped", [
    ("MySlate_3_Jason_Millers_iPhone.csv", 328, 59.96, 0),
    ("alex_rom_4.csv", 3809, 29.99, 0),
    ("apfel.csv", 1926 - 35, 29.97, 35),
])
def test_reads_real_live_link_face_recordings(name, rows, fps, skipped):
    capture = read_llf_csv(shared_file(f"recordings/{name}"))
    assert len(capture.times) == rows
    assert capture.fps == pytest.approx(fps, abs=0.05)
    assert capture.skipped_rows == skipped
    assert len(capture.present) == 61
    assert np.all(np.diff(capture.times) > 0)


@pytest.mark.parametrize("name", ["MySlate_3_Jason_Millers_iPhone.csv", "alex_rom_4.csv", "apfel.csv"])
def test_written_header_is_the_one_real_recordings_have(name, tmp_path):
    """Exactly the app's header, `BlendShapeCount` included, so tools that match it verbatim read our files."""
    real = shared_file(f"recordings/{name}").read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "ours.csv"
    write_llf_csv(path, np.arange(3) / 60.0, np.zeros((3, 61)))
    assert path.read_text(encoding="utf-8").splitlines()[0] == real


def _crafted_take() -> str:
    """Live Link Face rows with what real takes have: tracking-loss rows, negative pose values,
    a blank row of commas, CRLF line ends, a ';' drop-frame separator, values of every width."""
    rng = np.random.default_rng(3)
    header = "Timecode,BlendShapeCount," + ",".join(f"C{i}" for i in range(61))
    names = ["JawOpen", "MouthClose", "HeadYaw", "EyeBlinkLeft"]
    header = "Timecode,BlendShapeCount," + ",".join(names)
    lines = [header]
    for row in range(400):
        seconds = 3600 * 23 + 59 * 60 + 59 + row / 60.0  # runs past midnight
        whole = int(seconds) % 86400
        frame = (seconds - int(seconds)) * 60
        stamp = f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}{';' if row % 7 == 0 else ':'}{frame:06.3f}"
        if row % 50 == 13:
            lines.append(f"{stamp},0")  # tracking loss
            continue
        if row == 77:
            lines.append(",,,,,")
        digits = int(rng.integers(0, 11))
        values = [f"{v:.{digits}f}" for v in (rng.random(), rng.random(), rng.uniform(-1, 1), 1.0)]
        lines.append(f"{stamp},4," + ",".join(values))
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize("source", ["crafted", "MySlate_3_Jason_Millers_iPhone.csv", "alex_rom_4.csv", "apfel.csv"])
def test_whole_table_reading_matches_row_by_row_reading(source, monkeypatch):
    """The numpy whole-table reader (what makes a 10-minute take load fast) reads exactly what
    the row-by-row reader reads: every value bit for bit, times, skipped rows, notes."""
    from model_runtime.formats import llf_csv

    text = _crafted_take() if source == "crafted" else shared_file(f"recordings/{source}").read_text(encoding="utf-8-sig")
    with monkeypatch.context() as patch:
        def refuse(*args):
            raise AssertionError("the whole-table reader fell back to reading rows")

        patch.setattr(llf_csv, "_read_standard_rows", refuse)
        patch.setattr(llf_csv, "_read_rows", refuse)
        whole = read_llf_csv(io.StringIO(text))
    with monkeypatch.context() as patch:
        patch.setattr(llf_csv, "_read_standard_table", lambda *args: None)
        rows = read_llf_csv(io.StringIO(text))
    assert np.array_equal(whole.values, rows.values, equal_nan=True)
    assert np.array_equal(whole.times, rows.times)
    assert (whole.fps, whole.skipped_rows, whole.notes, whole.present) == (rows.fps, rows.skipped_rows, rows.notes, rows.present)
    if source == "crafted":
        assert whole.skipped_rows == 8 and len(whole.times) == 392
        assert whole.values[:, PARAMETERS.index("headYaw")].min() < -0.5


@pytest.mark.parametrize("cell", ["1e-05", " 0.5", '"0.5"', "", "-", ".", "0.12345678901234567", "nan"])
def test_cells_the_whole_table_reader_refuses_are_read_row_by_row(cell):
    """Exponents, blanks, quotes, empty or sign-only cells, more digits than a float holds:
    the file is read as before, row by row, with the same result."""
    text = "Timecode,BlendShapeCount,JawOpen,MouthClose\n00:00:01:00.000,2,0.25,{}\n00:00:01:02.000,2,0.5,0.75\n"
    capture = read_llf_csv(io.StringIO(text.format(cell)))
    expected = {"1e-05": 1e-05, " 0.5": 0.5, '"0.5"': 0.5, "0.12345678901234567": 0.12345678901234567}
    close = capture.values[:, PARAMETERS.index("mouthClose")]
    if cell in expected:
        assert len(capture.times) == 2 and close[0] == expected[cell]
    else:  # not a number: the row is skipped and said so
        assert len(capture.times) == 1 and close[0] == 0.75 and capture.skipped_rows == 1


def test_values_above_one_and_columns_by_name():
    capture = read_llf_csv(shared_file("recordings/alex_rom_4.csv"))
    look_in = capture.values[:, PARAMETERS.index("eyeLookInLeft")]
    assert look_in.max() == pytest.approx(1.053, abs=0.001)
    assert capture.values[:, PARAMETERS.index("tongueOut")].max() == pytest.approx(1.0, abs=1e-4)
    slate = read_llf_csv(shared_file("recordings/MySlate_3_Jason_Millers_iPhone.csv"))
    # Zero in every row of this take (README): proves JawRight was not read from JawLeft's column.
    assert np.all(slate.values[:, PARAMETERS.index("jawRight")] == 0)
    assert np.all(slate.values[:, PARAMETERS.index("mouthRight")] == 0)
    swapped = read_llf_csv(shared_file("recordings/MySlate_3_Jason_Millers_iPhone.csv"), swap_mouth_left_right=True)
    assert np.all(swapped.values[:, PARAMETERS.index("mouthLeft")] == 0)


def test_write_then_read_back(tmp_path):
    times = np.arange(0, 90) / 60.0
    rng = np.random.default_rng(0)
    values = np.zeros((90, 61))
    values[:, :52] = rng.random((90, 52))
    values[:, 52:] = rng.uniform(-1, 1, (90, 9))
    path = tmp_path / "take.csv"
    write_llf_csv(path, times, values)
    header = path.read_text().splitlines()[0].split(",")
    assert header[:2] == ["Timecode", "BlendShapeCount"]
    assert header[17:20] == ["JawRight", "JawLeft", "JawOpen"]
    back = read_llf_csv(path)
    assert back.fps == pytest.approx(60.0, abs=1e-6)
    assert np.allclose(back.values, values, atol=1e-6)


def test_header_matched_by_name_case_insensitively():
    text = "timecode,blendshapecount,JAWOPEN,mouthleft\n00:00:00:00.000,2,0.5,0.25\n00:00:00:02.000,2,0.6,0.1\n"
    capture = read_llf_csv(io.StringIO(text))
    assert set(capture.present) == {"jawOpen", "mouthLeft"}
    assert capture.values[1, PARAMETERS.index("jawOpen")] == 0.6
    assert capture.fps == pytest.approx(30.0)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("a,b\n1,2\n", "Timecode"),
    ("Timecode,Foo\n00:00:00:00.000,1\n", "no ARKit columns"),
    ("Timecode,JawOpen\nnot-a-time,0.5\n", "bad timecode"),
    ("Timecode,JawOpen\n", "no usable rows"),
])
def test_bad_csv_gets_a_clear_message(text, message):
    with pytest.raises(FormatError, match=message):
        read_llf_csv(io.StringIO(text))


def test_timecode_format():
    assert format_timecode(0.0) == "00:00:00:00.000"
    assert format_timecode(3661.5) == "01:01:01:30.000"


def test_paper_prompt_is_reproduced_exactly():
    lines = [json.loads(line) for line in shared_data("keyframeface_samples/example.jsonl").read_text().splitlines() if line.strip()]
    for index, line in enumerate(lines):
        user = line["messages"][1]["content"]
        descriptions = [row.split(": ", 1)[1] for row in user.splitlines() if row.startswith("- Keyframe")]
        background = next(row for row in user.splitlines() if row.startswith("Background: "))[12:]
        emotion = next(row for row in user.splitlines() if row.startswith("Emotion: "))[9:]
        assert build_messages(descriptions, background, emotion, index) == line["messages"]


def _answer(**overrides):
    weights = {name: 0.1 for name in PARAMETERS[:52]}
    pose = {name: 0.0 for name in PARAMETERS[52:]}
    document = to_keyframeface(weights, pose, 0)
    document["Keyframe_one"].update(overrides)
    return json.dumps(document)


def test_parses_model_answers_strictly():
    wrapped = "<think>the brows...</think>\nHere you go:\n```json\n" + _answer(JawOpen=0.7) + "\n```\nDone."
    parsed = parse_keyframe_answer(wrapped)
    assert parsed.key == "Keyframe_one" and parsed.weights["jawOpen"] == 0.7 and not parsed.missing
    clamped = parse_keyframe_answer(_answer(JawOpen=1.4, HeadYaw=-2.0))
    assert clamped.weights["jawOpen"] == 1.0 and clamped.pose["headYaw"] == -1.0
    assert set(clamped.clamped) == {"JawOpen", "HeadYaw"}
    document = json.loads(_answer())
    del document["Keyframe_one"]["TongueOut"]
    document["Keyframe_one"]["Sparkle"] = 1
    partial = parse_keyframe_answer(json.dumps(document))
    assert partial.missing == ["tongueOut"] and partial.ignored == ["Sparkle"]


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("no json here", "no JSON object"),
    ('{"Keyframe_one": {"JawOpen": NaN}}', "finite"),
    ('{"Keyframe_one": {"JawOpen": "wide"}}', "not a number"),
    ('{"Keyframe_one": {"Sparkle": 1}}', "no ARKit parameter"),
])
def test_unusable_answers_raise(text, message):
    with pytest.raises(FormatError, match=message):
        parse_keyframe_answer(text)


def test_keyframeface_json_documents():
    assert keyframe_key(0) == "Keyframe_one" and keyframe_key(20) == "Keyframe_twenty-one"
    two = json.loads(_answer())
    two["Keyframe_two"] = two["Keyframe_one"]
    assert len(read_keyframeface_json(json.dumps(two))) == 2
    assert len(read_keyframeface_json(_answer() + "\n" + _answer() + "\n")) == 2


def test_capture_quirks_are_reported_not_fatal():
    text = ("Timecode,BlendShapeCount,JawOpen,MouthLeft,Sparkle\n"
            "00:00:00:00.000,3,0.1,0.2,9\n"
            "\n"
            "00:00:00:02.000,0\n"
            "00:00:00:04.000,3,nan,0.2,9\n"
            "00:00:00:06.000,3,1.08,0.2,9\n")
    capture = read_llf_csv(io.StringIO(text))
    assert len(capture.times) == 2 and capture.skipped_rows == 2
    assert any("Sparkle" in note for note in capture.notes)          # extra column ignored
    assert any("missing" in note for note in capture.notes)          # 50 shapes absent
    assert capture.values[1, PARAMETERS.index("jawOpen")] == pytest.approx(1.08)  # kept; clamped on import


def test_large_files_are_refused_beyond_the_limit(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("Timecode,JawOpen\n" + "00:00:00:00.000,0.1\n" * 1000)
    with pytest.raises(FormatError, match="limit"):
        read_llf_csv(path, max_bytes=1000)


def test_reduce_capture_resamples_by_time_and_bounds_the_error():
    from model_runtime.capture import reduce_capture

    capture = read_llf_csv(shared_file("recordings/apfel.csv"))
    reduced = reduce_capture(capture, 24.0, max_error=0.02)
    assert reduced.frames == int(capture.duration * 24) + 1
    assert reduced.max_error <= 0.02 and reduced.kept_fraction < 0.2
    assert reduced.clamped_samples > 0  # EyeLookInLeft reaches 1.076 in this take
