"""Dialogue scenes in Blender: a Text block becomes one continuous performance on the rig.

Parsing, timing and merging live in ``model_runtime.dialogue``; this module reads the text
block and the sequencer's sound strips, then places the scene like any generated line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

import bpy

from ..model_runtime.backends import get_backend
from ..model_runtime.dialogue import Scene, parse_dialogue, perform_scene
from ..model_runtime.errors import InputError
from .audio import all_strips
from .generation import Generation, place_track, start_frame_of
from .rig import find_rig
from .writers.channels import scene_fps


def sound_timing(scene: bpy.types.Scene, origin_frame: int) -> dict[str, tuple[float, float, str]]:
    """``{name: (start_seconds, duration_seconds, sound_file)}`` for every unmuted sound strip,
    by strip name and by sound file name (both without extension, lowercase), counted from
    ``origin_frame``; the line is aligned to the file."""
    fps = scene_fps(scene)
    timing = {}
    for strip in all_strips(scene):
        if strip.type != "SOUND" or strip.mute:
            continue
        path = bpy.path.abspath(strip.sound.filepath) if strip.sound is not None and strip.sound.filepath else ""
        # Where the sound file's first sample plays (before any trim), so the alignment's times hold.
        span = ((strip.frame_start - origin_frame) / fps, strip.frame_final_duration / fps, path)
        names = [strip.name]
        if path:
            names.append(PurePath(path).name)
        for name in names:
            timing.setdefault(PurePath(name).stem.lower(), span)
            timing.setdefault(name.lower(), span)
    return timing


def dialogue_problem(settings) -> str | None:
    text = settings.dialogue_text
    if text is None:
        return "Choose a text block holding the dialogue (one line per row) in Dialogue > Text"
    if not text.as_string().strip():
        return f"The text block '{text.name}' is empty"
    return None


@dataclass
class PendingScene:
    """A dialogue scene read from Blender (main thread); ``compute`` needs no bpy."""

    lines: list
    options: dict
    start: int
    take_name: str

    def compute(self, backend) -> Scene:
        return perform_scene(self.lines, get_backend(backend), **self.options)


def prepare_scene(scene: bpy.types.Scene, obj: bpy.types.Object, settings) -> PendingScene:
    problem = dialogue_problem(settings)
    if problem:
        raise InputError(problem + ".")
    find_rig(obj)
    fps = scene_fps(scene)
    start = start_frame_of(scene, settings)
    lines = parse_dialogue(settings.dialogue_text.as_string())
    options = dict(
        fps=fps, speaker=settings.dialogue_speaker.strip(), context=settings.context, emotion=settings.emotion,
        seed=settings.seed, intensity=settings.intensity, gap=settings.dialogue_gap,
        sounds=sound_timing(scene, start) if settings.use_sound_strips else None, origin_frame=start,
    )
    return PendingScene(lines, options, start, f"KFF {obj.name} {settings.dialogue_text.name}")


def finish_scene(scene: bpy.types.Scene, obj: bpy.types.Object, settings, pending: PendingScene, performed: Scene,
                 add_markers: bool = True) -> Generation:
    return place_track(scene, obj, find_rig(obj), settings, performed.track, pending.start, add_markers,
                       pending.take_name)


def generate_scene_onto(scene: bpy.types.Scene, obj: bpy.types.Object, settings, backend="builtin",
                        add_markers: bool = True) -> tuple[Generation, Scene]:
    """Perform the dialogue in ``settings.dialogue_text`` on ``obj``'s rig from the start frame.
    Raises a ``KeyframeFaceError`` with a user-facing message; writes nothing on failure."""
    pending = prepare_scene(scene, obj, settings)
    performed = pending.compute(backend)
    return finish_scene(scene, obj, settings, pending, performed, add_markers), performed
