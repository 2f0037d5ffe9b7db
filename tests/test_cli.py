"""``python -m model_runtime`` runs without bpy and fails with one clear line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from model_runtime.formats.llf_csv import read_llf_csv
from model_runtime.track import Track

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return subprocess.run([sys.executable, "-m", "model_runtime", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_generate_then_export(tmp_path):
    track_path, csv_path = tmp_path / "line.json", tmp_path / "line.csv"
    result = run("generate", "--script", "Hello there!", "--context", "A reunion", "--emotion", "delighted",
                 "--seed", "3", "--fps", "24", "--intensity", "0.8", "--out", str(track_path))
    assert result.returncode == 0, result.stderr
    track = Track.load(track_path)
    assert track.seed == 3 and track.fps == 24 and track.intensity == 0.8
    result = run("export", str(track_path), "--format", "llf-csv", "--fps", "60", "--out", str(csv_path))
    assert result.returncode == 0, result.stderr
    capture = read_llf_csv(csv_path)
    assert capture.fps == pytest.approx(60.0, abs=1e-6)
    assert capture.duration == pytest.approx(track.duration, abs=1 / 60)
    assert capture.values[:, :52].max() > 0.2


def test_solve_prints_keyframeface_json():
    result = run("solve", "--description", "The jaw drops and the eyes widen.", "--emotion", "surprise")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    parameters = document["Keyframe_one"]
    assert len(parameters) == 61 and parameters["JawOpen"] > 0.2 and parameters["EyeWideLeft"] > 0.2


def test_bpy_is_never_imported():
    code = "import sys, model_runtime.cli, model_runtime.backends.builtin, model_runtime.playback; print('bpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("args, message", [
    (("generate", "--script", ""), "empty"),
    (("export", "missing.json", "--out", "x.csv"), "cannot read"),
    (("generate", "--script", "Hi", "--backend", "nope"), "Unknown backend"),
])
def test_errors_are_one_line_without_traceback(args, message):
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
