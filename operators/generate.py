import bpy

from ..keyframeface_addon.generation import generate_onto
from ..keyframeface_addon.preferences import preferences
from ..keyframeface_addon.rig import rig_problem
from ..model_runtime.errors import KeyframeFaceError


class KEYFRAMEFACE_OT_generate(bpy.types.Operator):
    """Generate facial keyframes for the script, context and emotion on the active head"""

    bl_idname = "keyframeface.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        problem = rig_problem(context.active_object)
        if problem:
            cls.poll_message_set(problem)
            return False
        return True

    def execute(self, context):
        problem = rig_problem(context.active_object)
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        prefs = preferences(context)
        backend = prefs.backend if prefs else "builtin"
        add_markers = prefs.add_markers if prefs else True
        try:
            result = generate_onto(context.scene, context.active_object, context.scene.keyframeface,
                                   backend, add_markers)
        except KeyframeFaceError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self.report({"INFO"}, (
            f"{len(result.track.keyframes)} keyframes, {result.keys} keys, frames {result.start_frame}-{result.end_frame}: "
            f"{result.summary} ({result.rig.summary()})"
        ))
        if result.dropped:
            self.report({"WARNING"}, f"The rig lacks {len(result.dropped)} generated shapes: {', '.join(result.dropped)}")
        written = result.written
        if written and written.kept_actions:
            self.report({"INFO"}, f"Your previous action(s) kept with a fake user: {', '.join(written.kept_actions)}")
        if written and written.extended_scene:
            self.report({"INFO"}, f"Scene end extended to frame {written.end_frame}")
        for warning in result.warnings:
            self.report({"WARNING"}, warning)
        for note in result.track.notes:
            self.report({"WARNING"}, note)
        return {"FINISHED"}
