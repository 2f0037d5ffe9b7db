import bpy
from bpy.props import IntProperty, StringProperty

from ..keyframeface_addon import keyframe_edit
from ..keyframeface_addon.backend_settings import chosen_backend, instantiate
from ..keyframeface_addon.preferences import preferences
from ..keyframeface_addon.rig import find_rig
from ..keyframeface_addon.takes import active_take
from ..keyframeface_addon.writer import track_of
from ..model_runtime.errors import KeyframeFaceError
from .checks import ExplainsPoll


class _KeyframeOperator(ExplainsPoll):
    bl_options = {"REGISTER", "UNDO"}

    index: IntProperty(name="Keyframe", description="Index of the keyframe in the take (0 = first)", min=0)

    @classmethod
    def problem(cls, context):
        take = active_take(find_rig(context.active_object))
        if take is None or track_of(take) is None:
            return "The head is not playing a generated take."
        return None

    def target(self, context):
        rig = find_rig(context.active_object)
        return rig, active_take(rig)

    def backend(self, context):
        """The chosen backend; ``KeyframeFaceError`` (reported by ``run``) when it cannot run."""
        return instantiate(*chosen_backend(preferences(context)))

    def run(self, action, *args):
        try:
            return action(*args)
        except KeyframeFaceError as error:
            self.report({"ERROR"}, str(error))
            return None


class KEYFRAMEFACE_OT_keyframe_resolve(_KeyframeOperator, bpy.types.Operator):
    """Edit this keyframe's description and re-solve just this keyframe"""

    bl_idname = "keyframeface.keyframe_resolve"
    bl_label = "Edit & Re-solve Keyframe"

    description: StringProperty(name="Description", description="What the face does at this keyframe")

    def invoke(self, context, event):
        rig, take = self.target(context)
        track = track_of(take)
        if self.index < len(track.keyframes) and not self.description:
            self.description = track.keyframes[self.index].description
        return context.window_manager.invoke_props_dialog(self, width=520)

    def draw(self, context):
        self.layout.prop(self, "description", text="")

    def execute(self, context):
        rig, take = self.target(context)
        changed = self.run(lambda: keyframe_edit.resolve_keyframe(context.scene, rig, take, self.index,
                                                                  self.description, self.backend(context)))
        if changed is None:
            return {"CANCELLED"}
        self.report({"INFO"}, f"Keyframe {self.index + 1} re-solved ({changed} curves)")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_keyframe_nudge(_KeyframeOperator, bpy.types.Operator):
    """Move this keyframe earlier or later, with all its keys and its marker"""

    bl_idname = "keyframeface.keyframe_nudge"
    bl_label = "Nudge Keyframe"

    frames: IntProperty(name="Frames", default=1)

    def execute(self, context):
        rig, take = self.target(context)
        frame = self.run(keyframe_edit.nudge_keyframe, context.scene, rig, take, self.index, self.frames)
        if frame is None:
            return {"CANCELLED"}
        self.report({"INFO"}, f"Keyframe {self.index + 1} now at frame {frame}")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_keyframe_regenerate(_KeyframeOperator, bpy.types.Operator):
    """Regenerate just this keyframe as a fresh variation"""

    bl_idname = "keyframeface.keyframe_regenerate"
    bl_label = "Regenerate Keyframe"

    attempt: IntProperty(name="Attempt", description="Which variation (each gives another)", default=1, min=1)

    def execute(self, context):
        rig, take = self.target(context)
        description = self.run(lambda: keyframe_edit.regenerate_keyframe(context.scene, rig, take, self.index,
                                                                         self.attempt, self.backend(context)))
        if description is None:
            return {"CANCELLED"}
        self.report({"INFO"}, f"Keyframe {self.index + 1}: {description}")
        return {"FINISHED"}


CLASSES = (KEYFRAMEFACE_OT_keyframe_resolve, KEYFRAMEFACE_OT_keyframe_nudge, KEYFRAMEFACE_OT_keyframe_regenerate)
