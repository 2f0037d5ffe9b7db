"""The modal part shared by operators that may wait on a model: the work runs on a worker
thread (``keyframeface_addon.jobs``), a timer checks on it, the status bar shows progress, Esc
cancels, and keys are written on the main thread only once the whole answer validated."""

import bpy

from ..keyframeface_addon.jobs import BackgroundJob
from ..model_runtime.errors import KeyframeFaceError

POLL_SECONDS = 0.1


class BackgroundOperatorMixin:
    _job = None
    _timer = None
    _finish = None

    def start_background(self, context, work, finish, label: str):
        """Run ``work()`` off the main thread; ``finish(context, result)`` returns the operator's result."""
        self._job = BackgroundJob(work, label)
        self._finish = finish
        window_manager = context.window_manager
        self._timer = window_manager.event_timer_add(POLL_SECONDS, window=context.window)
        window_manager.modal_handler_add(self)
        self._show(context)
        return {"RUNNING_MODAL"}

    def _show(self, context) -> None:
        text = f"KeyframeFace: {self._job.label}... {self._job.elapsed:.0f} s (Esc to cancel)"
        if context.workspace:
            context.workspace.status_text_set(text)
        for area in context.screen.areas if context.screen else ():
            if area.type == "VIEW_3D":
                area.tag_redraw()

    def _end(self, context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        if context.workspace:
            context.workspace.status_text_set(None)
        self._job.forget()

    def modal(self, context, event):
        if event.type == "ESC" and event.value == "PRESS":
            self._job.cancel()
            self._end(context)
            self.report({"WARNING"}, f"Cancelled after {self._job.elapsed:.1f} s: nothing was written")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if not self._job.done:
            self._show(context)
            return {"PASS_THROUGH"}
        self._end(context)
        error = self._job.error
        if error is not None:
            message = str(error) if isinstance(error, KeyframeFaceError) else f"{type(error).__name__}: {error}"
            self.report({"ERROR"}, message)
            return {"CANCELLED"}
        try:
            return self._finish(context, self._job.result)
        except KeyframeFaceError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        except ReferenceError:
            self.report({"ERROR"}, "The head was deleted while the model was thinking: nothing was written")
            return {"CANCELLED"}
