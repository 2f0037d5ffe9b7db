"""Generate Scene: a dialogue text block performed as one take."""

import bpy

from ..keyframeface_addon.dialogue import dialogue_problem, finish_scene, prepare_scene
from ..keyframeface_addon.rig import rig_problem
from .generate import GenerationOperator, report_generation


class KEYFRAMEFACE_OT_generate_dialogue(GenerationOperator, bpy.types.Operator):
    """Perform every line of the dialogue text block as one continuous take, with a marker per line"""

    bl_idname = "keyframeface.generate_dialogue"
    bl_label = "Generate Scene"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def problem(cls, context):
        return rig_problem(context.active_object) or dialogue_problem(context.scene.keyframeface)

    def prepare(self, context):
        return prepare_scene(context.scene, context.active_object, context.scene.keyframeface)

    def finish(self, context, pending, performed, add_markers):
        result = finish_scene(context.scene, self.head(context), context.scene.keyframeface, pending, performed,
                              add_markers)
        spoken = sum(1 for line in performed.lines if line.performed)
        report_generation(self, result, f"{spoken} of {len(performed.lines)} lines, {len(result.track.keyframes)} keyframes")
        for note in performed.notes:
            self.report({"WARNING"}, note)
        return {"FINISHED"}
