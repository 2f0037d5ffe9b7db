import bpy
from bpy.props import IntProperty, StringProperty

from ..keyframeface_addon import takes
from ..keyframeface_addon.backend_settings import chosen_backend, instantiate
from ..keyframeface_addon.generation import generate_onto
from ..keyframeface_addon.preferences import preferences
from ..keyframeface_addon.rig import find_rig, rig_problem
from ..model_runtime.errors import KeyframeFaceError
from .checks import ExplainsPoll


def _rig_and_take(context, name: str = ""):
    rig = find_rig(context.active_object)
    take = bpy.data.actions.get(name) if name else takes.active_take(rig)
    return rig, take


class _TakeOperator(ExplainsPoll):
    bl_options = {"REGISTER", "UNDO"}

    take: StringProperty(name="Take", description="Name of the take's action (default: the one playing)")

    @classmethod
    def problem(cls, context):
        problem = rig_problem(context.active_object)
        if not problem and not takes.takes_of(find_rig(context.active_object)):
            problem = "No takes yet: press Generate or import a capture."
        return problem


class KEYFRAMEFACE_OT_take_switch(_TakeOperator, bpy.types.Operator):
    """Play this take on the head (its keys and its lip-sync layer)"""

    bl_idname = "keyframeface.take_switch"
    bl_label = "Switch Take"

    def execute(self, context):
        rig, take = _rig_and_take(context, self.take)
        if take is None or take not in takes.takes_of(rig):
            self.report({"ERROR"}, f"'{self.take}' is not a take of this head")
            return {"CANCELLED"}
        takes.switch_take(rig, take)
        self.report({"INFO"}, f"Playing take '{take.name}'")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_take_duplicate(_TakeOperator, bpy.types.Operator):
    """Copy the take (keys and layers) to edit a variant while keeping the original"""

    bl_idname = "keyframeface.take_duplicate"
    bl_label = "Duplicate Take"

    def execute(self, context):
        rig, take = _rig_and_take(context, self.take)
        if take is None:
            self.report({"ERROR"}, "No take is playing; pick one in the list")
            return {"CANCELLED"}
        copy = takes.duplicate_take(take)
        takes.switch_take(rig, copy)
        self.report({"INFO"}, f"Duplicated '{take.name}' as '{copy.name}'")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_take_delete(_TakeOperator, bpy.types.Operator):
    """Delete the take and its layers (your own actions are never deleted)"""

    bl_idname = "keyframeface.take_delete"
    bl_label = "Delete Take"

    def execute(self, context):
        rig, take = _rig_and_take(context, self.take)
        if take is None:
            self.report({"ERROR"}, "No take is playing; pick one in the list")
            return {"CANCELLED"}
        name = take.name
        now = takes.delete_take(rig, take)
        self.report({"INFO"}, f"Deleted '{name}'" + (f"; playing '{now.name}'" if now else ""))
        return {"FINISHED"}


class KEYFRAMEFACE_OT_generate_variations(ExplainsPoll, bpy.types.Operator):
    """Generate several seeded takes of the line at once, to compare in the take list"""

    bl_idname = "keyframeface.generate_variations"
    bl_label = "Generate Variations"
    bl_options = {"REGISTER", "UNDO"}

    count: IntProperty(name="Takes", default=3, min=2, max=12)

    def execute(self, context):
        settings = context.scene.keyframeface
        prefs = preferences(context)
        first_seed, mode = settings.seed, settings.write_mode
        settings.write_mode = "NEW_TAKE"  # variations are compared as takes
        made = []
        try:
            backend = instantiate(*chosen_backend(prefs))
            for offset in range(self.count):
                settings.seed = first_seed + offset
                made.append(generate_onto(context.scene, context.active_object, settings, backend,
                                          add_markers=offset == 0))
        except KeyframeFaceError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        finally:
            settings.seed, settings.write_mode = first_seed, mode
        rig = find_rig(context.active_object)
        first = made[0].written.actions[0]
        takes.switch_take(rig, first)
        self.report({"INFO"}, f"{len(made)} takes, seeds {first_seed}-{first_seed + self.count - 1}; playing '{first.name}'")
        return {"FINISHED"}


CLASSES = (KEYFRAMEFACE_OT_take_switch, KEYFRAMEFACE_OT_take_duplicate, KEYFRAMEFACE_OT_take_delete,
           KEYFRAMEFACE_OT_generate_variations)
