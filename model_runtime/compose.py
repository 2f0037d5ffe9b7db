"""Compose: solved keyframes + lip sync + blinks -> one track.

Shared by every backend, so a performance planned and solved by an LLM gets the same lip
sync, blinks and clean keys as the built-in one. Layers are kept apart in the track (the
artist can mute or replace lip sync); ``playback.py`` combines them into the curves Blender
plays.
"""

from __future__ import annotations

import numpy as np

from .arkit import BLENDSHAPE_RANGE, POSE_RANGE
from .blinks import blink_channels, blink_times
from .curves import evaluate_many, reduce_curves
from .lipsync import PLAIN, lipsync_channels
from .stages import GenerateRequest, Plan, SolvedKeyframe
from .track import Keyframe, Layer, Track

# Layers are reduced to the keys that reproduce them within this error.
LAYER_TOLERANCE = 0.01
APEX_LABELS = ("apex", "emphasis", "question", "shift")


def _clamp(values: dict[str, float], bounds) -> dict[str, float]:
    low, high = bounds
    return {name: min(max(float(value), low), high) for name, value in values.items()}


def reduce_layer(channels: dict[str, list[tuple[float, float]]], tolerance: float = LAYER_TOLERANCE):
    """Drop keys the Auto Clamped curve through the remaining ones reproduces within
    ``tolerance``; drop channels that never move."""
    moving = {name: (np.array([t for t, _ in keys]), np.array([v for _, v in keys]))
              for name, keys in channels.items() if keys and max(abs(v) for _, v in keys) >= 1e-4}
    reduced = {}
    for (name, (times, values)), (kept, _) in zip(moving.items(), reduce_curves(list(moving.values()), tolerance)):
        reduced[name] = [(float(times[i]), float(values[i])) for i in kept]
    return reduced


def compose_track(request: GenerateRequest, plan: Plan, solved: list[SolvedKeyframe], backend: str) -> Track:
    duration = round(plan.duration, 4)
    keyframes = [
        Keyframe(
            time=min(max(round(planned.time, 4), 0.0), duration),
            label=planned.label,
            description=planned.description,
            weights=_clamp(result.weights, BLENDSHAPE_RANGE),
            pose=_clamp(result.pose, POSE_RANGE),
        )
        for planned, result in zip(plan.keyframes, solved)
    ]
    style = plan.mouth or PLAIN
    notes = list(plan.notes) + list(request.audio.get("notes", []))
    words = plan.timing.words
    layers = {}
    key_times = np.array([k.time for k in keyframes])

    def expression(names, times):
        return evaluate_many(key_times, [[k.weights.get(name, 0.0) for k in keyframes] for name in names], times)

    stressed = {phrase.stressed_word for phrase in plan.timing.phrases if phrase.stressed_word is not None}
    stressed |= {i for i, word in enumerate(words) if word.emphasized}
    lip = reduce_layer(lipsync_channels(words, plan.speech_energy, style=style, stressed=stressed,
                                        expression=expression))
    if lip:
        layers["lipsync"] = Layer("add", lip, "Mouth shapes from the script's phonemes, added to the expression "
                                  "(while speaking it also takes back most of the expression's own mouth opening).")
    pauses = [phrase.end for phrase in plan.timing.phrases]
    apexes = [k.time for k in plan.keyframes if k.label in APEX_LABELS]
    blinks = blink_channels(blink_times(duration, plan.blink_rate, pauses, apexes, request.seed, plan.blink_speed),
                            plan.blink_speed)
    if blinks:
        layers["blinks"] = Layer("max", blinks, "Natural blinks, kept away from expressive apexes.")

    for result in solved:
        notes.extend(result.notes)
    return Track(
        fps=request.fps,
        duration=duration,
        script=request.script,
        context=request.context,
        emotion=request.emotion,
        backend=backend,
        seed=request.seed,
        intensity=request.intensity,
        keyframes=keyframes,
        layers=layers,
        notes=notes,
        analysis=plan.analysis,
        # Notes alone (a strip's sound could not be read) are no recording to keep.
        audio=dict(request.audio) if "file" in request.audio else {},
    )
