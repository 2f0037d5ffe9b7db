"""Keyframe edits on the active take: edit and re-solve, regenerate, nudge."""

from dataclasses import dataclass

import bpy
from bpy.props import IntProperty, StringProperty

from ..keyframeface_addon import keyframe_edit
from ..keyframeface_addon.rig import find_rig
from ..keyframeface_addon.takes import active_take
from ..model_runtime.errors import KeyframeFaceError
from ..model_runtime.track import Track
from .checks import ExplainsPoll
from .generate import GenerationOperator, generation_options


def _active_take(context):
    rig = find_rig(context.active_object)
    return rig, active_take(rig)


class _KeyframeCheck(ExplainsPoll):
    index: IntProperty(name="Keyframe", description="Index of the keyframe in the take (0 = first)", min=0)

    @classmethod
    def problem(cls, context):
        take = active_take(find_rig(context.active_object))
        if take is None or take.track is None:
            return "The head is not playing a generated take."
        return None


@dataclass
class _PendingEdit:
    """A keyframe edit read from the take on the main thread; ``compute`` needs no bpy."""

    track: Track
    index: int
    description: str = ""
    attempt: int = 0

    def compute(self, backend):
        if self.attempt:
            return keyframe_edit.vary_keyframe(self.track, self.index, self.attempt, backend)
        return self.description, keyframe_edit.solve_keyframe(self.track, self.index, self.description, backend)


class _KeyframeModelOperator(_KeyframeCheck, GenerationOperator):
    """Asks the model about one keyframe (off the main thread for slow backends), then writes
    only that keyframe's keys."""

    def finish(self, context, pending, result, add_markers):
        description, solved = result
        rig = find_rig(self.head(context))
        take = active_take(rig)
        if take is None or take.track is None or take.track.script != pending.track.script:
            raise KeyframeFaceError("The take changed while the model was thinking: nothing was written.")
        changed = keyframe_edit.apply_keyframe(context.scene, rig, take, self.index, description, solved)
        self.report({"INFO"}, f"Keyframe {self.index + 1}: {description} ({changed} curves)")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_keyframe_resolve_run(_KeyframeModelOperator, bpy.types.Operator):
    """Re-solve one keyframe from a description"""

    bl_idname = "keyframeface.keyframe_resolve_run"
    bl_label = "Re-solve Keyframe"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    description: StringProperty(name="Description", description="What the face does at this keyframe")

    def prepare(self, context):
        _, take = _active_take(context)
        return _PendingEdit(take.track, self.index, self.description)


class KEYFRAMEFACE_OT_keyframe_resolve(_KeyframeCheck, bpy.types.Operator):
    """Edit this keyframe's description and re-solve just this keyframe"""

    bl_idname = "keyframeface.keyframe_resolve"
    bl_label = "Edit & Re-solve Keyframe"
    bl_options = {"REGISTER", "UNDO"}

    description: StringProperty(name="Description", description="What the face does at this keyframe")

    def invoke(self, context, event):
        _, take = _active_take(context)
        track = take.track
        if self.index < len(track.keyframes) and not self.description:
            self.description = track.keyframes[self.index].description
        return context.window_manager.invoke_props_dialog(self, width=520)

    def draw(self, context):
        self.layout.prop(self, "description", text="")

    def execute(self, context):
        try:
            backend, _, _ = generation_options(context)
        except KeyframeFaceError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        if backend != "builtin" and context.window is not None:
            # A slow model: the work continues in a modal operator (progress, Esc); this dialog
            # step changed nothing, so it leaves no undo step of its own.
            bpy.ops.keyframeface.keyframe_resolve_run("INVOKE_DEFAULT", index=self.index, description=self.description)
            return {"CANCELLED"}
        return bpy.ops.keyframeface.keyframe_resolve_run(index=self.index, description=self.description)


class KEYFRAMEFACE_OT_keyframe_regenerate(_KeyframeModelOperator, bpy.types.Operator):
    """Regenerate just this keyframe as a fresh variation"""

    bl_idname = "keyframeface.keyframe_regenerate"
    bl_label = "Regenerate Keyframe"
    bl_options = {"REGISTER", "UNDO"}

    attempt: IntProperty(name="Attempt", description="Which variation (each gives another)", default=1, min=1)

    def prepare(self, context):
        _, take = _active_take(context)
        return _PendingEdit(take.track, self.index, attempt=self.attempt)


class KEYFRAMEFACE_OT_keyframe_nudge(_KeyframeCheck, bpy.types.Operator):
    """Move this keyframe earlier or later, with all its keys and its marker"""

    bl_idname = "keyframeface.keyframe_nudge"
    bl_label = "Nudge Keyframe"
    bl_options = {"REGISTER", "UNDO"}

    frames: IntProperty(name="Frames", default=1)

    def execute(self, context):
        rig, take = _active_take(context)
        try:
            frame = keyframe_edit.nudge_keyframe(context.scene, rig, take, self.index, self.frames)
        except KeyframeFaceError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Keyframe {self.index + 1} now at frame {frame}")
        return {"FINISHED"}


CLASSES = (KEYFRAMEFACE_OT_keyframe_resolve_run, KEYFRAMEFACE_OT_keyframe_resolve, KEYFRAMEFACE_OT_keyframe_nudge,
           KEYFRAMEFACE_OT_keyframe_regenerate)
