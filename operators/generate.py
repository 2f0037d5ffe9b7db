"""Generate: one line as a take; the generating operators' shared part (checks, background work)."""

import bpy

from ..keyframeface_addon.backend_settings import chosen_backend, instantiate
from ..keyframeface_addon.generation import finish_generation, prepare_generation, prepare_speech
from ..keyframeface_addon.preferences import preferences
from ..keyframeface_addon.rig import rig_problem
from ..model_runtime.audio.voice import voice_missing
from ..model_runtime.errors import KeyframeFaceError
from .background import BackgroundOperatorMixin
from .checks import ExplainsPoll


def generation_options(context) -> tuple[str, dict, bool]:
    """The backend (name, options) and the marker choice from the add-on preferences; raises
    ``KeyframeFaceError`` when the chosen backend cannot run (offline, no model...)."""
    prefs = preferences(context)
    name, options = chosen_backend(prefs)
    return name, options, (prefs.add_markers if prefs else True)


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


class GenerationOperator(ExplainsPoll, BackgroundOperatorMixin):
    """Shared flow: check, read the scene (main thread), compute with the chosen backend
    (inline for the built-in one, on a worker thread from the UI for the others), write."""

    bl_options = {"REGISTER", "UNDO"}

    _head_name = ""
    # What the status bar says while audio is aligned or spoken.
    busy_label = "aligning the recording"

    def head(self, context):
        """The object the operator started on: the artist may select another while a slow
        model thinks, and the keys must still go where they were asked for."""
        obj = context.scene.objects.get(self._head_name) if self._head_name else context.active_object
        if obj is None:
            raise KeyframeFaceError(f"'{self._head_name}' was deleted while the model was thinking: nothing was written.")
        return obj

    def prepare(self, context):
        raise NotImplementedError

    def finish(self, context, pending, result):
        raise NotImplementedError

    def _setup(self, context):
        problem = self.problem(context)
        if problem:
            raise KeyframeFaceError(problem)
        self._head_name = context.active_object.name
        name, options, add_markers = generation_options(context)
        return name, options, add_markers, self.prepare(context)

    def execute(self, context):
        try:
            name, options, add_markers, pending = self._setup(context)
            result = pending.compute(instantiate(name, options))
            return self.finish(context, pending, result, add_markers)
        except KeyframeFaceError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}

    def invoke(self, context, event):
        try:
            name, options, add_markers, pending = self._setup(context)
        except KeyframeFaceError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        slow = getattr(pending, "slow", False)
        if (name == "builtin" and not slow) or context.window is None:
            # The built-in model takes milliseconds; without a window (background mode) there
            # is no interface to keep responsive.
            return self.execute(context)
        label = f"{self.busy_label if slow else 'generating'} with {name}"
        return self.start_background(
            context, lambda: pending.compute(instantiate(name, options)),
            lambda ctx, result: self.finish(ctx, pending, result, add_markers), label,
        )


class LineOperator(GenerationOperator):
    """One line from the main panel's settings onto the active head."""

    def finish(self, context, pending, track, add_markers):
        result = finish_generation(context.scene, self.head(context), context.scene.keyframeface, pending, track,
                                   add_markers)
        report_generation(self, result, f"{len(result.track.keyframes)} keyframes")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_generate(LineOperator, bpy.types.Operator):
    """Generate facial keyframes for the script, context and emotion on the active head"""

    bl_idname = "keyframeface.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}

    def prepare(self, context):
        return prepare_generation(context.scene, context.active_object, context.scene.keyframeface)


class KEYFRAMEFACE_OT_speak_line(LineOperator, bpy.types.Operator):
    """Speak the script with the offline scratch voice, place it as a sound strip, and generate the performance timed by its phones"""

    bl_idname = "keyframeface.speak_line"
    bl_label = "Speak Line"
    bl_options = {"REGISTER", "UNDO"}
    busy_label = "speaking the line"

    @classmethod
    def problem(cls, context):
        return rig_problem(context.active_object) or voice_missing()

    def prepare(self, context):
        return prepare_speech(context.scene, context.active_object, context.scene.keyframeface)
