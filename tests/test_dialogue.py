"""Dialogue scenes: rows of text (or CSV) -> lines placed in time -> one continuous track."""

import numpy as np
import pytest

from model_runtime.arkit import BLENDSHAPES, PARAMETERS
from model_runtime.backends import get_backend
from model_runtime.dialogue import parse_dialogue, perform_scene
from model_runtime.errors import InputError
from model_runtime.playback import sample
from model_runtime.track import Track

SCENE = """# The diary
ANNA (hurt, turning into anger): I can't believe you did this to me.
[pause 1.5]
BEN: I'm sorry. I didn't think it mattered.
[id anna_02] ANNA (cold): Get out. Now.
Note this, with a comma: it is no speaker.
(whispering) Just go.
"""


def test_rows_give_speaker_emotion_tags_and_pauses():
    lines = parse_dialogue(SCENE)
    assert [line.speaker for line in lines] == ["ANNA", "BEN", "ANNA", "", ""]
    assert lines[0].emotion == "hurt, turning into anger" and lines[0].script.startswith("I can't")
    assert lines[1].pause_before == 1.5 and lines[1].emotion == ""
    assert [line.id for line in lines] == ["line01", "line02", "anna_02", "line04", "line05"]
    assert lines[3].script == "Note this, with a comma: it is no speaker."
    assert lines[4].emotion == "whispering" and lines[4].script == "Just go."
    assert lines[1].row == 4


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("# only a comment\n[pause 2]", "no spoken lines"),
    ("ANNA: hi\n[volume 3] BEN: no", "row 2: unknown tag [volume]"),
    ("[pause 1] BEN: hi", "row 1: [pause] stands on a row of its own"),
    ("[at ten] BEN: hi", "row 1: start frame 'ten'"),
    ("BEN: hi\n[pause -2]", "row 2: pause -2 must be between 0 and 3600"),
])
def test_bad_rows_name_the_row(text, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_dialogue(text)


def test_csv_scene_reads_columns_by_name():
    lines = parse_dialogue("Script,Speaker,ID,duration\nHello there.,Anna,a1,2.5\nBye.,Ben,b1,\n")
    assert [(l.id, l.speaker, l.duration) for l in lines] == [("a1", "Anna", 2.5), ("b1", "Ben", None)]
    with pytest.raises(InputError, match="row 3: the script is empty"):
        parse_dialogue("id,script\na,Hello.\nb,\n")


def test_lines_follow_one_another_with_gaps_and_pauses():
    scene = perform_scene(parse_dialogue(SCENE), get_backend(), 30.0, gap=0.3)
    starts = [p.start for p in scene.lines]
    ends = [p.end for p in scene.lines]
    assert starts[0] == 0.0
    assert starts[1] == pytest.approx(ends[0] + 1.5 + 0.3)
    for i in range(2, len(starts)):
        assert starts[i] == pytest.approx(ends[i - 1] + 0.3)
    track = Track.from_json(scene.track.to_json())
    assert track.duration == pytest.approx(ends[-1], abs=1e-3)
    times = [k.time for k in track.keyframes]
    assert times == sorted(times)
    assert [line["id"] for line in track.analysis["lines"]] == ["line01", "line02", "anna_02", "line04", "line05"]
    assert "BEN: I'm sorry." in track.script


def test_no_snap_to_neutral_between_lines():
    scene = perform_scene(parse_dialogue("ANNA (furious): You lied to me!\n[pause 2]\nANNA (furious): Again!"),
                          get_backend(), 30.0)
    first, second = scene.lines
    gap_times = np.linspace(first.end, second.start, 9)
    values = sample(scene.track, gap_times)[:, : len(BLENDSHAPES)]
    # The face stays expressive through the pause instead of dropping to zero.
    assert values.sum(axis=1).min() > 0.25 * values.sum(axis=1).max()
    # Blinks while silent: the pause is long enough for at least one.
    blinks = scene.track.layers["blinks"].channels["eyeBlinkLeft"]
    assert any(first.end < t < second.start for t, v in blinks if v > 0.5)


def test_back_to_back_lines_share_one_transition_key():
    lines = parse_dialogue("ANNA (happy): Good morning.\nANNA (sad): I got the letter.")
    scene = perform_scene(lines, get_backend(), 30.0, gap=0.0)
    singles = [perform_scene([line], get_backend(), 30.0, seed=i).track for i, line in enumerate(lines)]
    labels = [k.label for k in scene.track.keyframes]
    assert labels.count("transition") == 1
    assert len(labels) == sum(len(t.keyframes) for t in singles) - 1


def test_speaker_performs_own_lines_while_others_take_their_time():
    lines = parse_dialogue(SCENE)
    scene = perform_scene(lines, get_backend(), 30.0, speaker="anna")
    assert [p.performed for p in scene.lines] == [True, False, True, False, False]
    assert scene.track.script.count("ANNA:") == 2
    ben = scene.lines[1]
    assert ben.duration > 1.0 and scene.lines[2].start > ben.end
    with pytest.raises(InputError, match="No line is spoken by 'carol'.*ANNA, BEN"):
        perform_scene(lines, get_backend(), 30.0, speaker="carol")


def test_sound_and_frames_set_timing():
    lines = parse_dialogue("[id clip_a] A: One two three.\n[at 150] A: Four.")
    scene = perform_scene(lines, get_backend(), 30.0, sounds={"CLIP_A": (1.0, 3.0)}, origin_frame=30)
    first, second = scene.lines
    assert (first.start, first.duration) == (1.0, 3.0)
    assert first.track.duration == pytest.approx(3.0)
    assert second.start == pytest.approx((150 - 30) / 30.0)
    with pytest.raises(InputError, match="line02 .* starts at frame 120, before line clip_a ends at frame 150"):
        perform_scene(parse_dialogue("[id clip_a] A: One two three.\n[at 120] A: Four."), get_backend(), 30.0,
                      sounds={"clip_a": (1.0, 4.0)})
    with pytest.raises(InputError, match="before the scene's start frame 30"):
        perform_scene(parse_dialogue("[at 10] A: Hi."), get_backend(), 30.0, origin_frame=30)


def test_scene_command_writes_one_track_and_a_csv(tmp_path):
    import subprocess
    import sys

    from model_runtime.formats.llf_csv import read_llf_csv
    from tests.conftest import ROOT

    source = tmp_path / "scene.txt"
    source.write_text(SCENE, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "model_runtime", "scene", str(source), "--speaker", "ANNA",
                           "--out", str(tmp_path / "scene.json"), "--csv", str(tmp_path / "scene.csv")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    track = Track.load(tmp_path / "scene.json")
    assert [l["performed"] for l in track.analysis["lines"]] == [True, False, True, False, False]
    assert "listening" in done.stderr and "anna_02" in done.stderr
    assert read_llf_csv(tmp_path / "scene.csv").times[-1] == pytest.approx(track.duration, abs=1 / 60)
    bad = tmp_path / "bad.txt"
    bad.write_text("ANNA: Hi.\n[volume 3] BEN: no\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "model_runtime", "scene", str(bad), "--out", str(tmp_path / "x.json")],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2 and "row 2: unknown tag [volume]" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.json").exists()
