import bpy

from ..keyframeface_addon.dialogue import dialogue_problem, generate_scene_onto
from ..keyframeface_addon.rig import rig_problem
from ..model_runtime.errors import KeyframeFaceError
from .generate import generation_options, report_generation


class KEYFRAMEFACE_OT_generate_dialogue(bpy.types.Operator):
    """Perform every line of the dialogue text block as one continuous take, with a marker per line"""

    bl_idname = "keyframeface.generate_dialogue"
    bl_label = "Generate Scene"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        problem = rig_problem(context.active_object) or dialogue_problem(context.scene.keyframeface)
        if problem:
            cls.poll_message_set(problem)
            return False
        return True

    def execute(self, context):
        settings = context.scene.keyframeface
        problem = rig_problem(context.active_object) or dialogue_problem(settings)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        backend, add_markers = generation_options(context)
        try:
            result, scene = generate_scene_onto(context.scene, context.active_object, settings, backend, add_markers)
        except KeyframeFaceError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        spoken = sum(1 for line in scene.lines if line.performed)
        report_generation(self, result, f"{spoken} of {len(scene.lines)} lines, {len(result.track.keyframes)} keyframes")
        for note in scene.notes:
            self.report({"WARNING"}, note)
        return {"FINISHED"}
