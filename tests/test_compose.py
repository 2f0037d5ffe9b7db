"""Compose on its own (model_runtime/compose.py): solved keyframes + lip sync + blinks -> a
track whose values stay in range, whose layers are sparse and faithful, and whose eyes are
open when the expression peaks."""

import numpy as np
import pytest

from model_runtime.arkit import BLENDSHAPES, POSE
from model_runtime.backends.builtin import BuiltinBackend
from model_runtime.compose import APEX_LABELS, LAYER_TOLERANCE, compose_track, reduce_layer
from model_runtime.curves import evaluate
from model_runtime.lipsync import lipsync_channels, viseme_sequence
from model_runtime.script_timing import time_script
from model_runtime.stages import GenerateRequest, Plan, PlannedKeyframe, SolvedKeyframe


def _solved(**weights):
    return SolvedKeyframe({name: weights.get(name, 0.0) for name in BLENDSHAPES}, {name: 0.0 for name in POSE})


def _plan(script, labels=("onset", "apex", "release")):
    timing = time_script(script)
    times = np.linspace(0.0, timing.duration, len(labels))
    return Plan([PlannedKeyframe(float(t), label, f"keyframe {label}") for t, label in zip(times, labels)],
                timing, timing.duration, notes=["from the plan"])


def _layer_value(track, layer, name, times):
    keys = track.layers[layer].channels.get(name)
    if not keys:
        return np.zeros(len(times))
    return evaluate(np.array([t for t, _ in keys]), np.array([v for _, v in keys]), np.asarray(times, float))


def test_values_are_clamped_and_times_kept_inside_the_line():
    script = "I can't believe you did this."
    plan = _plan(script)
    plan.keyframes[-1].time = plan.duration + 5.0
    wild = SolvedKeyframe({name: 1.7 for name in BLENDSHAPES}, {name: -3.0 for name in POSE}, ["from the solver"])
    track = compose_track(GenerateRequest(script), plan, [wild, _solved(), _solved()], backend="test")
    assert all(0.0 <= k.time <= track.duration for k in track.keyframes)
    assert all(v == 1.0 for v in track.keyframes[0].weights.values())
    assert all(v == -1.0 for v in track.keyframes[0].pose.values())
    assert track.notes == ["from the plan", "from the solver"] and track.backend == "test"


def test_layers_are_sparse_and_within_their_error_bound():
    timing = time_script("We did it. We actually did it! Nobody believed we could.")
    raw = lipsync_channels(timing.words)
    reduced = reduce_layer(raw)
    assert sum(len(keys) for keys in reduced.values()) < 0.8 * sum(len(keys) for keys in raw.values())
    for name, keys in reduced.items():
        times = np.array([t for t, _ in raw[name]])
        truth = evaluate(times, np.array([v for _, v in raw[name]]), times)
        kept = evaluate(np.array([t for t, _ in keys]), np.array([v for _, v in keys]), times)
        assert np.abs(kept - truth).max() <= LAYER_TOLERANCE + 1e-6, name
    assert reduce_layer({"cheekPuff": [(0.0, 0.0), (1.0, 0.00001)]}) == {}  # a channel that never moves


def test_eyes_are_open_around_every_apex():
    backend = BuiltinBackend()
    script = "I can't believe you did this to me! You read it? All of it? Every single page? Get out! Now!"
    for seed in range(6):
        request = GenerateRequest(script, emotion="anxious, turning into anger", seed=seed).validated()
        plan = backend.plan(request)
        track = compose_track(request, plan, backend.solve_all([k.description for k in plan.keyframes], "", ""), "builtin")
        apexes = [k.time for k in track.keyframes if k.label in APEX_LABELS]
        assert len(apexes) >= 3 and "blinks" in track.layers
        around = np.concatenate([np.linspace(apex - 0.2, apex + 0.2, 41) for apex in apexes])
        assert _layer_value(track, "blinks", "eyeBlinkLeft", around).max() < 0.05, seed


def test_lips_meet_on_bilabials_even_when_the_expression_holds_the_jaw_open():
    script = "Oh my, maybe both of them!"
    plan = _plan(script, ("onset", "apex", "shift", "release"))
    gasp = [_solved(jawOpen=0.55, browInnerUp=0.6)] * len(plan.keyframes)
    track = compose_track(GenerateRequest(script), plan, gasp, backend="test")
    closures = [time for time, viseme in viseme_sequence(plan.timing.words) if viseme == "PP"]
    assert closures
    assert _layer_value(track, "lipsync", "mouthClose", closures).min() >= 0.55 - LAYER_TOLERANCE


@pytest.mark.parametrize("script", ["Hi.", "Well... I suppose so, if you really insist on it."])
def test_layers_have_the_blend_playback_expects(script):
    plan = _plan(script)
    track = compose_track(GenerateRequest(script, seed=1), plan, [_solved()] * 3, backend="test")
    assert track.layers["lipsync"].blend == "add"
    if "blinks" in track.layers:
        assert track.layers["blinks"].blend == "max"
    for layer in track.layers.values():
        for keys in layer.channels.values():
            assert all(-1.0 <= v <= 1.0 for _, v in keys)
