"""The track model: one generated performance, and its JSON file format.

A track holds the semantic expression keyframes (each with a time, a label, a description,
all 52 ARKit weights and the 9 pose values) and, beside them, other layers (lip sync, blinks)
as sparse per-channel curves. ``compose.py`` turns a track into the curves Blender plays.

JSON (``format: keyframeface.track``, ``version: 2``) is the contract between the backends,
the command line, the server and the add-on; ``Track.from_dict`` rejects anything else with a
message that says what is wrong and where. Version 2 added ``audio``: the recording a line
was timed by (file, duration, hash) and its alignment (words, phones, times), so a later
re-solve keeps the sync; version 1 files (no audio) still load.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from .arkit import BLENDSHAPE_INDEX, BLENDSHAPE_RANGE, BLENDSHAPES, POSE, POSE_INDEX, POSE_RANGE
from .audio.alignment import Alignment
from .errors import FormatError, KeyframeFaceError, TrackError
from .files import atomic_write, loads_json, read_text
from .limits import MAX_DURATION_SECONDS, MAX_FPS, MIN_FPS

FORMAT = "keyframeface.track"
VERSION = 2
READABLE_VERSIONS = (1, 2)

LAYER_BLENDS = ("add", "max")


@dataclass
class Keyframe:
    """One semantic expression keyframe."""

    time: float
    label: str
    description: str
    weights: dict[str, float]
    pose: dict[str, float]

    def to_dict(self) -> dict:
        return {
            "time": round(self.time, 4),
            "label": self.label,
            "description": self.description,
            "weights": {name: round(self.weights[name], 4) for name in BLENDSHAPES},
            "pose": {name: round(self.pose[name], 4) for name in POSE},
        }


@dataclass
class Layer:
    """Sparse curves of one layer on top of the expression keyframes.

    ``channels`` maps an ARKit parameter to ``[(time_seconds, value), ...]`` keys, played with
    the same Auto Clamped Bezier interpolation as the keyframes. ``blend`` says how the layer
    combines with what is below it: ``add`` (lip sync moves the mouth on top of the emotion;
    its values are offsets in [-1, 1]) or ``max`` (a blink closes the lids whatever the
    expression). The combined value is always clamped to the parameter's range.
    """

    blend: str
    channels: dict[str, list[tuple[float, float]]]
    description: str = ""

    def to_dict(self) -> dict:
        return {
            "blend": self.blend,
            "description": self.description,
            "channels": {
                name: [[round(t, 4), round(v, 4)] for t, v in keys]
                for name, keys in self.channels.items()
            },
        }


@dataclass
class Track:
    fps: float
    duration: float
    script: str
    context: str
    emotion: str
    backend: str
    seed: int
    keyframes: list[Keyframe]
    intensity: float = 1.0
    layers: dict[str, Layer] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    analysis: dict = field(default_factory=dict)
    # The recording that timed the line: file, duration, sha256, alignment (see model_runtime.audio).
    audio: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "fps": self.fps,
            "duration": round(self.duration, 4),
            "script": self.script,
            "context": self.context,
            "emotion": self.emotion,
            "backend": self.backend,
            "seed": self.seed,
            "intensity": self.intensity,
            "keyframes": [keyframe.to_dict() for keyframe in self.keyframes],
            "layers": {name: layer.to_dict() for name, layer in self.layers.items()},
            "notes": list(self.notes),
            "analysis": self.analysis,
        }
        if self.audio:
            data["audio"] = self.audio
        return data

    def retimed(self, duration: float) -> "Track":
        """The same performance stretched or squeezed to last ``duration`` seconds (fitting a
        line to a frame range or a recorded audio clip)."""
        if duration <= 0:
            raise TrackError("a performance must last longer than 0 s")
        factor = duration / self.duration if self.duration > 0 else 1.0
        data = self.to_dict()
        data["duration"] = round(duration, 4)
        for keyframe in data["keyframes"]:
            keyframe["time"] = min(round(keyframe["time"] * factor, 4), data["duration"])
        for layer in data["layers"].values():
            for name, keys in layer["channels"].items():
                retimed = []
                for time, value in keys:
                    time = min(round(time * factor, 4), data["duration"])
                    if not retimed or time > retimed[-1][0]:
                        retimed.append([time, value])
                layer["channels"][name] = retimed
        return Track.from_dict(data)

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    def save(self, path) -> None:
        atomic_write(path, self.to_json())

    @classmethod
    def from_dict(cls, data) -> "Track":
        return _parse_track(data)

    @classmethod
    def from_json(cls, text: str) -> "Track":
        try:
            data = loads_json(text, "the track")
        except FormatError as error:
            raise TrackError(str(error)) from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path) -> "Track":
        try:
            text = read_text(path, str(path))
        except FormatError as error:
            raise TrackError(str(error)) from None
        return cls.from_json(text)


_TOP_LEVEL = {
    "format", "version", "fps", "duration", "script", "context", "emotion", "backend", "seed",
    "intensity", "keyframes", "layers", "notes", "analysis", "audio",
}
_REQUIRED = ("format", "version", "fps", "duration", "keyframes")


def _number(value, where: str, low: float | None = None, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TrackError(f"{where} must be a number, not {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise TrackError(f"{where} is {value}; values must be finite numbers")
    if (low is not None and value < low) or (high is not None and value > high):
        raise TrackError(f"{where} = {value:g} is outside [{low:g}, {high:g}]")
    return value


def _text(value, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TrackError(f"{where} must be text")
    return value


def _named_values(mapping, where: str, names: tuple[str, ...], index: dict, bounds) -> dict:
    if not isinstance(mapping, dict):
        raise TrackError(f"{where} must be an object of name -> number")
    unknown = [name for name in mapping if name not in index]
    if unknown:
        raise TrackError(f"{where} has unknown names: {', '.join(sorted(unknown)[:5])}")
    missing = [name for name in names if name not in mapping]
    if missing:
        raise TrackError(
            f"{where} lacks {len(missing)} of {len(names)} names (first: {missing[0]})"
        )
    low, high = bounds
    return {name: _number(mapping[name], f"{where}.{name}", low, high) for name in names}


def _parse_track(data) -> Track:
    if not isinstance(data, dict):
        raise TrackError("a track must be a JSON object")
    if data.get("format") != FORMAT:
        raise TrackError(f"not a KeyframeFace track: format is {data.get('format')!r}, expected {FORMAT!r}")
    if data.get("version") not in READABLE_VERSIONS:
        raise TrackError(f"unsupported track version {data.get('version')!r}; this build reads versions "
                         f"{', '.join(map(str, READABLE_VERSIONS))}")
    for name in _REQUIRED:
        if name not in data:
            raise TrackError(f"track lacks '{name}'")
    unknown = sorted(set(data) - _TOP_LEVEL)
    if unknown:
        raise TrackError(f"track has unknown fields: {', '.join(unknown)}")

    fps = _number(data["fps"], "fps", MIN_FPS, MAX_FPS)
    duration = _number(data["duration"], "duration", 0.0, MAX_DURATION_SECONDS)
    if not isinstance(data["keyframes"], list) or not data["keyframes"]:
        raise TrackError("keyframes must be a non-empty list")
    keyframes = []
    last_time = -math.inf
    for i, raw in enumerate(data["keyframes"]):
        where = f"keyframes[{i}]"
        if not isinstance(raw, dict):
            raise TrackError(f"{where} must be an object")
        time = _number(raw.get("time"), f"{where}.time", 0.0, duration)
        if time < last_time:
            raise TrackError(f"{where}.time = {time:g} comes before the previous keyframe")
        last_time = time
        keyframes.append(Keyframe(
            time=time,
            label=_text(raw.get("label"), f"{where}.label"),
            description=_text(raw.get("description"), f"{where}.description"),
            weights=_named_values(raw.get("weights"), f"{where}.weights", BLENDSHAPES, BLENDSHAPE_INDEX, BLENDSHAPE_RANGE),
            pose=_named_values(raw.get("pose"), f"{where}.pose", POSE, POSE_INDEX, POSE_RANGE),
        ))

    layers = {}
    raw_layers = data.get("layers") or {}
    if not isinstance(raw_layers, dict):
        raise TrackError("layers must be an object of name -> layer")
    for name, raw in raw_layers.items():
        layers[name] = _parse_layer(raw, f"layers.{name}", duration)

    notes = data.get("notes") or []
    if not isinstance(notes, list) or not all(isinstance(note, str) for note in notes):
        raise TrackError("notes must be a list of text")
    analysis = data.get("analysis") or {}
    if not isinstance(analysis, dict):
        raise TrackError("analysis must be an object")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TrackError("seed must be an integer")
    return Track(
        fps=fps,
        duration=duration,
        script=_text(data.get("script"), "script"),
        context=_text(data.get("context"), "context"),
        emotion=_text(data.get("emotion"), "emotion"),
        backend=_text(data.get("backend"), "backend"),
        seed=seed,
        intensity=_number(data.get("intensity", 1.0), "intensity", 0.0, 10.0),
        keyframes=keyframes,
        layers=layers,
        notes=list(notes),
        analysis=analysis,
        audio=_parse_audio(data.get("audio"), duration),
    )


def _parse_audio(raw, duration: float) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise TrackError("audio must be an object")
    _text(raw.get("file"), "audio.file")
    _text(raw.get("sha256"), "audio.sha256")
    _number(raw.get("duration"), "audio.duration", 0.0, 24 * 3600.0)
    if raw.get("alignment") is not None:
        try:
            Alignment.from_dict(raw["alignment"])
        except KeyframeFaceError as error:
            raise TrackError(f"audio.alignment: {error}") from None
    return raw


def _parse_layer(raw, where: str, duration: float) -> Layer:
    if not isinstance(raw, dict):
        raise TrackError(f"{where} must be an object")
    blend = raw.get("blend", "add")
    if blend not in LAYER_BLENDS:
        raise TrackError(f"{where}.blend must be one of {', '.join(LAYER_BLENDS)}, not {blend!r}")
    channels_raw = raw.get("channels")
    if not isinstance(channels_raw, dict):
        raise TrackError(f"{where}.channels must be an object of name -> keys")
    channels = {}
    for name, keys in channels_raw.items():
        if name in BLENDSHAPE_INDEX:
            # An additive layer holds offsets: lip sync may close a mouth the emotion opened.
            bounds = (-1.0, 1.0) if blend == "add" else BLENDSHAPE_RANGE
        elif name in POSE_INDEX:
            bounds = POSE_RANGE
        else:
            raise TrackError(f"{where}.channels has an unknown name: {name}")
        if not isinstance(keys, list):
            raise TrackError(f"{where}.channels.{name} must be a list of [time, value]")
        parsed = []
        last = -math.inf
        for j, key in enumerate(keys):
            if not isinstance(key, (list, tuple)) or len(key) != 2:
                raise TrackError(f"{where}.channels.{name}[{j}] must be [time, value]")
            time = _number(key[0], f"{where}.channels.{name}[{j}] time", 0.0, duration)
            value = _number(key[1], f"{where}.channels.{name}[{j}] value", *bounds)
            if time <= last:
                raise TrackError(f"{where}.channels.{name}: key times must increase")
            last = time
            parsed.append((time, value))
        channels[name] = parsed
    return Layer(blend=blend, channels=channels, description=_text(raw.get("description"), f"{where}.description"))
