"""What a track looks like when played: layers combined, sampled, and reduced to the sparse
keys the writer puts on F-curves.

Every curve (keyframes and layers) is an Auto Clamped Bezier through its keys, exactly as
Blender interpolates them (``curves.py``), so the Live Link Face export and the keys written
into Blender show the same performance.

Which keys are authored and which are reduced: the plan's expression keyframes are the
artist's editable keys, sparse by design, so a channel only the expression moves keeps Auto
Clamped keys (keyframe edits reshape it key by key). A channel a generated layer moves (the
blinks on the lids, lip sync on the mouth) is dense, and goes through the one reducer every
dense curve uses (``fitting.py``: fewest keys, fitted handles), with the keyframes' frames
still keys.
"""

from __future__ import annotations

import numpy as np

from .arkit import BLENDSHAPE_INDEX, PARAMETERS, POSE_INDEX
from .curves import evaluate, evaluate_each, evaluate_many, reduce_curves
from .fitting import FittedCurve, fit_curves
from .limits import check_fps, check_frames
from .track import Track

# Composed curves are reduced to keys within this error of the combined performance; a
# lip-sync layer is reproduced within a looser bound (a fast mouth hides 0.015 easily).
KEY_TOLERANCE = 0.005
LAYER_KEY_TOLERANCE = 0.015
# A channel whose combined curve never leaves zero by more than this gets no F-curve.
UNUSED = 1e-4


def _bounds(name: str) -> tuple[float, float]:
    return (0.0, 1.0) if name in BLENDSHAPE_INDEX else (-1.0, 1.0)


def _keyframe_values(track: Track, name: str) -> list[float]:
    source = "weights" if name in BLENDSHAPE_INDEX else "pose"
    return [getattr(k, source)[name] for k in track.keyframes]


def _expression(track: Track, name: str, times) -> np.ndarray:
    key_times = np.array([k.time for k in track.keyframes])
    return evaluate(key_times, np.array(_keyframe_values(track, name)), times)


def _channel(track: Track, name: str, times, blends=("max", "add"), expression=None, contributions=None) -> np.ndarray:
    # "max" layers (blinks) act on the expression, "add" layers (lip sync) go on top: the same
    # order as in Blender, where the lip-sync NLA track and the take's action are summed.
    value = _expression(track, name, times) if expression is None else expression
    if contributions is None:
        contributions = _layer_values(track, _blended(track, blends), times, [name])
    for blend in blends:
        for layer_name in layer_names(track, blend):
            value = _apply_layer(value, track.layers[layer_name], contributions.get((layer_name, name)))
    low, high = _bounds(name)
    return np.clip(value, low, high)


def sample_channel(track: Track, name: str, times) -> np.ndarray:
    """The combined value of one parameter at ``times`` (seconds)."""
    return _channel(track, name, np.asarray(times, dtype=np.float64))


def layer_names(track: Track, blend: str) -> list[str]:
    return [name for name, layer in track.layers.items() if layer.blend == blend]


def _blended(track: Track, blends) -> list[str]:
    return [layer_name for blend in blends for layer_name in layer_names(track, blend)]


def _layer_values(track: Track, layers: list[str], times, names=None) -> dict:
    """``{(layer, parameter): its curve at times}`` for ``layers`` (for ``names`` only, when
    given): all the layers' curves evaluated in one pass."""
    wanted = [(layer_name, name, keys) for layer_name in layers
              for name, keys in track.layers[layer_name].channels.items() if keys and (names is None or name in names)]
    curves = [(np.array([t for t, _ in keys]), np.array([v for _, v in keys]), times) for _, _, keys in wanted]
    return {(layer_name, name): values for (layer_name, name, _), values in zip(wanted, evaluate_each(curves))}


def _apply_layer(value, layer, contribution):
    if contribution is None:
        return value
    return value + contribution if layer.blend == "add" else np.maximum(value, contribution)


def sample(track: Track, times) -> np.ndarray:
    """All 61 parameters (``arkit.PARAMETERS`` order) at ``times``: shape (len(times), 61)."""
    times = np.asarray(times, dtype=np.float64)
    key_times = np.array([k.time for k in track.keyframes])
    curves = [_keyframe_values(track, name) for name in PARAMETERS]
    # The expression channels share their key times: evaluated together.
    expression = evaluate_many(key_times, curves, times)
    contributions = _layer_values(track, _blended(track, ("max", "add")), times)
    return np.column_stack([_channel(track, name, times, expression=row, contributions=contributions)
                            for row, name in zip(expression, PARAMETERS)])


def frame_times(track: Track, fps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Whole frames covering the track, and their times in seconds."""
    fps = track.fps if fps is None else check_fps(fps)
    frames = np.arange(0, check_frames(track.duration, fps))
    return frames, frames / fps


def keyframe_frames(track: Track, fps: float | None = None) -> list[int]:
    fps = fps or track.fps
    return [int(round(k.time * fps)) for k in track.keyframes]


def key_arrays(entry) -> tuple[np.ndarray, np.ndarray, FittedCurve | None]:
    """Frames, values and fitted handles of a channel's keys, given as ``(frames, values)``
    (Auto Clamped) or as a ``FittedCurve``."""
    if isinstance(entry, FittedCurve):
        return entry.x, entry.y, entry
    frames, values = entry
    return frames, values, None


def composed_keys(track: Track, fps: float | None = None, tolerance: float | None = None,
                  layers: str = "all", fitted: bool = False) -> dict:
    """Sparse keys per used parameter, frames relative to the track start, within
    ``tolerance`` of the played curve: ``(frames, values)`` for Auto Clamped keys (a channel
    only the expression keyframes move: the artist's keys, reshaped key by key), a
    ``fitting.FittedCurve`` (the fewest keys with fitted handles) for a channel a generated
    layer moves, and for every channel with ``fitted`` (layers the artist replaces whole).

    ``layers="all"``: the whole performance in one set of curves (the channels any layer moves
    fitted). ``layers="base"``: the expression with its "max" layers. In both, the semantic
    keyframes' frames are always keys. ``layers=<name>``: one "add" layer alone (its offsets,
    which may be negative).
    """
    frames, times = frame_times(track, fps)
    if tolerance is None:
        tolerance = KEY_TOLERANCE if layers in ("all", "base") else LAYER_KEY_TOLERANCE
    if layers in ("all", "base"):
        required = sorted(set(keyframe_frames(track, fps)))
        blends = ("max", "add") if layers == "all" else ("max",)
        names = PARAMETERS
        # The expression channels share their key times: evaluated together.
        key_times = np.array([k.time for k in track.keyframes])
        expression = dict(zip(PARAMETERS, evaluate_many(key_times, [_keyframe_values(track, name) for name in PARAMETERS], times)))
        contributions = _layer_values(track, _blended(track, blends), times)
        curve = lambda name: _channel(track, name, times, blends, expression[name], contributions)  # noqa: E731
    else:
        required = []
        layer = track.layers[layers]
        names = [name for name in PARAMETERS if name in layer.channels]
        alone = _layer_values(track, [layers], times)
        curve = lambda name: _apply_layer(np.zeros_like(times), layer, alone.get((layers, name)))  # noqa: E731
    used = {}
    for name in names:
        values = curve(name)
        if np.abs(values).max(initial=0.0) > UNUSED:
            used[name] = values
    if fitted:
        dense = set(used)
    elif layers in ("all", "base"):
        dense = _layered(track, "max") | (_layered(track, "add") if layers == "all" else set())
    else:
        dense = set()
    reduced = [name for name in used if name in dense]
    result = {}
    if reduced:
        rows = np.array([used[name] for name in reduced]).reshape(len(reduced), len(frames))
        result.update(zip(reduced, fit_curves(frames, rows, tolerance, required=required)))
    authored = [name for name in used if name not in dense]
    kept = reduce_curves([(frames, used[name]) for name in authored], tolerance, required=required)
    for name, (keep, _) in zip(authored, kept):
        result[name] = (frames[keep].astype(np.int64), used[name][keep])
    return {name: result[name] for name in used}


def _layered(track: Track, blend: str) -> set[str]:
    """The channels a layer of this blend moves."""
    return {channel for name in layer_names(track, blend) for channel in track.layers[name].channels}


def parameter_index(name: str) -> int:
    if name in BLENDSHAPE_INDEX:
        return BLENDSHAPE_INDEX[name]
    return len(BLENDSHAPE_INDEX) + POSE_INDEX[name]
