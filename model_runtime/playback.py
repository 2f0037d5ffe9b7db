"""What a track looks like when played: layers combined, sampled, and reduced to the sparse
keys the writer puts on F-curves.

Every curve (keyframes and layers) is an Auto Clamped Bezier through its keys, exactly as
Blender interpolates them (``curves.py``), so the Live Link Face export and the keys written
into Blender show the same performance.
"""

from __future__ import annotations

import numpy as np

from .arkit import BLENDSHAPE_INDEX, PARAMETERS, POSE_INDEX
from .curves import evaluate, reduce_keys
from .track import Track

# Composed curves are reduced to keys within this error of the combined performance.
KEY_TOLERANCE = 0.005
# A channel whose combined curve never leaves zero by more than this gets no F-curve.
UNUSED = 1e-4


def _bounds(name: str) -> tuple[float, float]:
    return (0.0, 1.0) if name in BLENDSHAPE_INDEX else (-1.0, 1.0)


def sample_channel(track: Track, name: str, times) -> np.ndarray:
    """The combined value of one parameter at ``times`` (seconds)."""
    times = np.asarray(times, dtype=np.float64)
    key_times = np.array([k.time for k in track.keyframes])
    source = "weights" if name in BLENDSHAPE_INDEX else "pose"
    key_values = np.array([getattr(k, source)[name] for k in track.keyframes])
    value = evaluate(key_times, key_values, times)
    for blend in ("add", "max"):
        for layer in track.layers.values():
            keys = layer.channels.get(name)
            if layer.blend != blend or not keys:
                continue
            layer_times = np.array([t for t, _ in keys])
            layer_values = np.array([v for _, v in keys])
            contribution = evaluate(layer_times, layer_values, times)
            value = value + contribution if blend == "add" else np.maximum(value, contribution)
    low, high = _bounds(name)
    return np.clip(value, low, high)


def sample(track: Track, times) -> np.ndarray:
    """All 61 parameters (``arkit.PARAMETERS`` order) at ``times``: shape (len(times), 61)."""
    times = np.asarray(times, dtype=np.float64)
    return np.column_stack([sample_channel(track, name, times) for name in PARAMETERS])


def frame_times(track: Track, fps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Whole frames covering the track, and their times in seconds."""
    fps = fps or track.fps
    frames = np.arange(0, int(round(track.duration * fps)) + 1)
    return frames, frames / fps


def keyframe_frames(track: Track, fps: float | None = None) -> list[int]:
    fps = fps or track.fps
    return [int(round(k.time * fps)) for k in track.keyframes]


def composed_keys(track: Track, fps: float | None = None, tolerance: float = KEY_TOLERANCE) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Sparse keys per used parameter: ``{name: (frames, values)}``, frames relative to the
    track start. The semantic keyframes' frames are always keys; other keys are added only
    where the combined curve (lip sync, blinks) needs them to stay within ``tolerance``."""
    frames, times = frame_times(track, fps)
    required = sorted(set(keyframe_frames(track, fps)))
    result = {}
    for name in PARAMETERS:
        values = sample_channel(track, name, times)
        if np.abs(values).max(initial=0.0) <= UNUSED:
            continue
        kept = reduce_keys(frames, values, tolerance, required=required)
        result[name] = (frames[kept].astype(np.int64), values[kept])
    return result


def parameter_index(name: str) -> int:
    if name in BLENDSHAPE_INDEX:
        return BLENDSHAPE_INDEX[name]
    return len(BLENDSHAPE_INDEX) + POSE_INDEX[name]
