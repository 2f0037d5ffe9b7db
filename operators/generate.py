import bpy

from ..keyframeface_addon.generation import generate_onto
from ..keyframeface_addon.preferences import preferences
from ..keyframeface_addon.rig import rig_problem
from ..model_runtime.errors import KeyframeFaceError


def generation_options(context) -> tuple[str, bool]:
    """The backend and marker choice from the add-on preferences."""
    prefs = preferences(context)
    return (prefs.backend if prefs else "builtin"), (prefs.add_markers if prefs else True)


def report_generation(operator, result, what: str) -> None:
    """Tell the artist what a generation wrote, and every warning it met."""
    operator.report({"INFO"}, (
        f"{what}, {result.keys} keys, frames {result.start_frame}-{result.end_frame}: "
        f"{result.summary} ({result.rig.summary()})"
    ))
    if result.dropped:
        operator.report({"WARNING"}, f"The rig lacks {len(result.dropped)} generated shapes: {', '.join(result.dropped)}")
    written = result.written
    if written and written.kept_actions:
        operator.report({"INFO"}, f"Your previous action(s) kept with a fake user: {', '.join(written.kept_actions)}")
    if written and written.extended_scene:
        operator.report({"INFO"}, f"Scene end extended to frame {written.end_frame}")
    for warning in result.warnings:
        operator.report({"WARNING"}, warning)
    for note in result.track.notes:
        operator.report({"WARNING"}, note)


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
        backend, add_markers = generation_options(context)
        try:
            result = generate_onto(context.scene, context.active_object, context.scene.keyframeface,
                                   backend, add_markers)
        except KeyframeFaceError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        report_generation(self, result, f"{len(result.track.keyframes)} keyframes")
        return {"FINISHED"}
