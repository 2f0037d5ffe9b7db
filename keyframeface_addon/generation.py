"""Generate a performance and put it on a rig: the core the Generate operator calls."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from ..model_runtime.audio.sync import with_recording, with_speech
from ..model_runtime.audio.voice import voice_missing
from ..model_runtime.backends import GenerateRequest, get_backend
from ..model_runtime.errors import InputError
from ..model_runtime.track import Track
from .audio import chosen_recording, play_with_animation, voice_cache, voice_folder
from .rig import RigMapping, find_rig
from .writers import layer_on_top, new_take, replace_range
from .writers.channels import ComposedTrack, PlaceOptions, scene_fps
from .writers.new_take import WriteResult

WRITE_MODES = (
    ("NEW_TAKE", "New Take", "A new take (action) the tool owns; your action is kept"),
    ("REPLACE_RANGE", "Replace Range", "Replace the keys in the line's frame range of the action that is playing; keys outside it are untouched"),
    ("LAYER", "Layer on Top", "Add the line as an NLA layer above the animation that is playing"),
)
# The writer of each write mode.
WRITERS = {"NEW_TAKE": new_take.place, "REPLACE_RANGE": replace_range.place, "LAYER": layer_on_top.place}


@dataclass
class Generation:
    track: Track
    rig: RigMapping
    start_frame: int
    end_frame: int
    keys: int
    summary: str
    written: WriteResult | None = None
    dropped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def request_from_settings(settings, fps: float) -> GenerateRequest:
    return GenerateRequest(
        script=settings.script,
        context=settings.context,
        emotion=settings.emotion,
        seed=settings.seed,
        fps=fps,
        intensity=settings.intensity,
    )


def start_frame_of(scene, settings) -> int:
    return scene.frame_current if settings.use_playhead else settings.start_frame


@dataclass
class PendingGeneration:
    """Everything a generation needs from the scene, read on the main thread, so that
    ``compute`` can run on a worker thread without touching bpy."""

    request: GenerateRequest
    start: int
    fit_seconds: float | None
    take_name: str
    # The recording that times the line, or where the scratch voice writes it (then
    # ``voice_cache`` holds the patched voice model); a sound strip plays it from ``start``.
    audio_file: str = ""
    speak: bool = False
    voice_cache: str = ""
    lead_frames: int = 0

    @property
    def slow(self) -> bool:
        """Aligning or synthesizing takes seconds: it runs off the main thread."""
        return bool(self.audio_file)

    def compute(self, backend) -> Track:
        request = self.request
        if self.speak:
            request = with_speech(request, self.audio_file, self.lead_frames, cache=Path(self.voice_cache))
        elif self.audio_file:
            request = with_recording(request, self.audio_file, lead_frames=self.lead_frames)
        track = get_backend(backend).generate(request)
        if self.fit_seconds and "alignment" not in track.audio:
            track = track.retimed(self.fit_seconds)
        return track


def prepare_generation(scene: bpy.types.Scene, obj: bpy.types.Object, settings) -> PendingGeneration:
    """Check the rig and the settings and read what generation needs. Raises a
    ``KeyframeFaceError`` with a user-facing message."""
    find_rig(obj)
    fps = scene_fps(scene)
    start = start_frame_of(scene, settings)
    if settings.fit_to_range and settings.range_end <= start:
        raise InputError(f"The range end ({settings.range_end}) must come after the start frame ({start}).")
    request = request_from_settings(settings, fps).validated()
    fit = (settings.range_end - start) / fps if settings.fit_to_range else None
    audio_file, strip_start = chosen_recording(scene, settings)
    if strip_start is not None:
        start = strip_start
    return PendingGeneration(request, start, fit, f"KFF {obj.name} s{settings.seed}", audio_file,
                             lead_frames=settings.audio_lead)


def prepare_speech(scene: bpy.types.Scene, obj: bpy.types.Object, settings) -> PendingGeneration:
    """Like ``prepare_generation``, the line spoken by the scratch voice into a new WAV file."""
    missing = voice_missing()
    if missing:
        raise InputError(missing)
    pending = prepare_generation(scene, obj, settings)
    name = "".join(c if c.isalnum() else "_" for c in settings.script.strip()[:32]).strip("_") or "line"
    pending.audio_file = str(voice_folder() / f"{name}_s{settings.seed}_{uuid.uuid4().hex[:6]}.wav")
    pending.speak, pending.voice_cache = True, str(voice_cache())
    return pending


def finish_generation(scene: bpy.types.Scene, obj: bpy.types.Object, settings, pending: PendingGeneration,
                      track: Track, add_markers: bool = True) -> Generation:
    """Write a computed track (main thread); the rig is looked up again in case it changed.
    A line timed by audio gets a sound strip that plays it with the animation."""
    result = place_track(scene, obj, find_rig(obj), settings, track, pending.start, add_markers, pending.take_name)
    if pending.audio_file and track.audio:
        warning = play_with_animation(scene, pending.audio_file, pending.start)
        if warning:
            result.warnings.append(warning)
    return result


def generate_onto(scene: bpy.types.Scene, obj: bpy.types.Object, settings, backend="builtin",
                  add_markers: bool = True) -> Generation:
    """Plan, solve and compose with ``backend`` (a name or a backend), then put the keys on
    ``obj``'s rig the way ``settings.write_mode`` says. Raises a ``KeyframeFaceError`` with a
    user-facing message; writes nothing on failure."""
    pending = prepare_generation(scene, obj, settings)
    return finish_generation(scene, obj, settings, pending, pending.compute(backend), add_markers)


def place_track(scene: bpy.types.Scene, obj: bpy.types.Object, rig: RigMapping, settings, track: Track,
                start: int, add_markers: bool, take_name: str) -> Generation:
    """Put a generated ``track`` on ``rig`` from frame ``start`` the way ``settings.write_mode``
    says (a new take, a replaced range, or an NLA layer), with head and eye pose on mapped bones."""
    composed = ComposedTrack(track, scene_fps(scene))
    options = PlaceOptions(take_name, add_markers, settings.seed)
    placed = WRITERS[settings.write_mode](scene, rig, composed, start, options)
    return Generation(track, rig, placed.start_frame, placed.end_frame, placed.keys, placed.summary,
                      placed.written, placed.dropped, placed.warnings)
