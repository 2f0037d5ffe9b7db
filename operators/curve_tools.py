"""Curve Tools operators on any shape-key curves, the artist's too: clamp, smooth, reduce keys."""

import bpy
from bpy.props import BoolProperty, FloatProperty

from ..keyframeface_addon import curve_tools
from .checks import ExplainsPoll


class _CurveTool(ExplainsPoll):
    bl_options = {"REGISTER", "UNDO"}

    only_selected: BoolProperty(name="Only Selected Curves", description="Only the F-curves selected in the Graph Editor")

    @classmethod
    def problem(cls, context):
        obj = context.active_object
        if obj is None or not curve_tools.shape_key_fcurves(obj):
            return "The active object has no shape-key animation."
        return None

    def curves(self, context):
        return curve_tools.shape_key_fcurves(context.active_object, self.only_selected)


class KEYFRAMEFACE_OT_clamp_curves(_CurveTool, bpy.types.Operator):
    """Keep shape-key curves inside 0..1: clamp keys and turn overshooting handles to Auto Clamped"""

    bl_idname = "keyframeface.clamp_curves"
    bl_label = "Clamp Curves"

    def execute(self, context):
        changed = sum(curve_tools.clamp_handles(fcurve) for fcurve in self.curves(context))
        self.report({"INFO"}, f"{changed} keys clamped")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_smooth_curves(_CurveTool, bpy.types.Operator):
    """Smooth shape-key curves by pulling each key towards its neighbours"""

    bl_idname = "keyframeface.smooth_curves"
    bl_label = "Smooth Curves"

    strength: FloatProperty(name="Strength", default=0.5, min=0.0, max=1.0)

    def execute(self, context):
        moved = sum(curve_tools.smooth_fcurve(fcurve, self.strength) for fcurve in self.curves(context))
        self.report({"INFO"}, f"{moved} keys smoothed")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_reduce_keys(_CurveTool, bpy.types.Operator):
    """Replace curves by the fewest keys with fitted handles that stay within an error bound and never overshoot (in the Graph Editor: the selected curves, any property; elsewhere: the active object's shape-key curves)"""

    bl_idname = "keyframeface.reduce_keys"
    bl_label = "Reduce Keys"

    max_error: FloatProperty(name="Max Error", description="Largest difference from the curve before reducing, at any frame",
                             default=0.02, min=0.0005, max=10.0, soft_max=0.2, precision=3)

    @classmethod
    def problem(cls, context):
        if context.area is not None and context.area.type == "GRAPH_EDITOR":
            if not getattr(context, "selected_editable_fcurves", None):
                return "Select the curves to reduce in the Graph Editor."
            return None
        return super().problem(context)

    def curves(self, context):
        if context.area is not None and context.area.type == "GRAPH_EDITOR":
            return list(context.selected_editable_fcurves)
        return super().curves(context)

    def execute(self, context):
        before = after = skipped = 0
        for fcurve in self.curves(context):
            if len(fcurve.modifiers):
                skipped += 1  # the keys alone are not what plays
                continue
            b, a = curve_tools.reduce_fcurve(fcurve, self.max_error)
            before += b
            after += a
        message = f"{before:,} keys -> {after:,} ({after / max(before, 1):.1%}) within {self.max_error}"
        if skipped:
            message += f"; {skipped} curve(s) with modifiers left alone"
        self.report({"INFO"}, message)
        return {"FINISHED"}


def draw_graph_menu(self, context):
    self.layout.separator()
    self.layout.operator(KEYFRAMEFACE_OT_reduce_keys.bl_idname, text="Reduce Keys (KeyframeFace)")


CLASSES = (KEYFRAMEFACE_OT_clamp_curves, KEYFRAMEFACE_OT_smooth_curves, KEYFRAMEFACE_OT_reduce_keys)
