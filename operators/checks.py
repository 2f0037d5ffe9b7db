"""``poll()`` that greys a button out and says why (Blender shows the message as its tooltip)."""

from ..keyframeface_addon.rig import rig_problem


class ExplainsPoll:
    """Subclasses say what stops them in ``problem``; ``poll`` shows it. By default an
    operator needs an active object with ARKit shape keys."""

    @classmethod
    def problem(cls, context) -> str | None:
        return rig_problem(context.active_object)

    @classmethod
    def poll(cls, context):
        problem = cls.problem(context)
        if problem:
            cls.poll_message_set(problem)
            return False
        return True
