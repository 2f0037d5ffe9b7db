"""``python -m model_runtime`` runs without bpy and fails with one clear line."""

import json
import os
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


def _paper_model(keys_seen: list, bodies: list, status: int = 200):
    """An OpenAI-compatible endpoint that solves like the paper's model (one keyframe per
    request) and records each request's Authorization header and body."""
    from model_runtime.arkit import BLENDSHAPES, POSE
    from model_runtime.formats.keyframeface_json import to_keyframeface
    from tests.servers import FaultServer, chat_answer, send

    def reply(handler):
        keys_seen.append(handler.headers.get("Authorization"))
        bodies.append(handler.body)
        if status != 200:
            send(handler, status, b'{"error": "no"}')
            return
        asked = handler.body["messages"][-1]["content"].rsplit("Keyframe ", 1)[-1].rstrip(".").strip()
        index = ["One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"].index(asked)
        send(handler, 200, chat_answer(json.dumps(to_keyframeface({n: 0.3 for n in BLENDSHAPES}, {n: 0.0 for n in POSE}, index))))

    return FaultServer(reply)


SECRET = "sk-test-never-echoed-4815162342"


def test_generate_plans_built_in_while_the_papers_model_solves_with_a_key_from_the_environment(tmp_path):
    keys, bodies = [], []
    server = _paper_model(keys, bodies)
    out = tmp_path / "line.json"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "model_runtime", "generate", "--script", "I can't believe it.", "--emotion", "hurt",
             "--backend", "openai", "--base-url", server.url, "--model", "keyframeface", "--plan", "builtin",
             "--api-key-env", "KFF_TEST_KEY", "--retries", "1", "--out", str(out)],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "KFF_TEST_KEY": SECRET})
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    # Only the paper's solve prompt was sent (no planning prompt the model was never trained for).
    assert bodies and all(body["messages"][0]["content"].startswith("You are a professional facial animator.")
                          and "Keyframe Description Sequence:" in body["messages"][1]["content"] for body in bodies)
    assert len(bodies) == len(Track.load(out).keyframes)
    assert set(keys) == {f"Bearer {SECRET}"}
    assert SECRET not in result.stdout + result.stderr + out.read_text()


def test_the_api_key_is_not_echoed_when_the_server_refuses():
    keys, bodies = [], []
    server = _paper_model(keys, bodies, status=401)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "model_runtime", "generate", "--script", "Hi.", "--backend", "openai",
             "--base-url", server.url, "--model", "m", "--retries", "1"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "OPENAI_API_KEY": SECRET})
    finally:
        server.close()
    assert result.returncode == 2 and "401" in result.stderr and "Traceback" not in result.stderr
    assert set(keys) == {f"Bearer {SECRET}"}  # the default variable is OPENAI_API_KEY
    assert SECRET not in result.stdout + result.stderr
