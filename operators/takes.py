"""Takes: switch, duplicate, delete, and Generate Variations."""

from dataclasses import dataclass, replace

import bpy
from bpy.props import IntProperty, StringProperty

from ..keyframeface_addon import takes
from ..keyframeface_addon.generation import finish_generation, prepare_generation
from ..keyframeface_addon.rig import find_rig, rig_problem
from .checks import ExplainsPoll
from .generate import GenerationOperator


def _rig_and_take(operator, context):
    """The head and the take the operator names (the playing one by default), or a report saying why not."""
    rig = find_rig(context.active_object)
    if not operator.take:
        take = takes.active_take(rig)
        if take is None:
            operator.report({"ERROR"}, "No take is playing; pick one in the list")
        return rig, take
    take = takes.Take.of(bpy.data.actions.get(operator.take))
    if take is None or take not in takes.takes_of(rig):
        operator.report({"ERROR"}, f"'{operator.take}' is not a take of this head")
        return rig, None
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
        rig, take = _rig_and_take(self, context)
        if take is None:
            return {"CANCELLED"}
        takes.switch_take(context.scene, rig, take)
        self.report({"INFO"}, f"Playing take '{take.name}'")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_take_duplicate(_TakeOperator, bpy.types.Operator):
    """Copy the take (keys and layers) to edit a variant while keeping the original"""

    bl_idname = "keyframeface.take_duplicate"
    bl_label = "Duplicate Take"

    def execute(self, context):
        rig, take = _rig_and_take(self, context)
        if take is None:
            return {"CANCELLED"}
        copy = takes.duplicate_take(take)
        takes.switch_take(context.scene, rig, copy)
        self.report({"INFO"}, f"Duplicated '{take.name}' as '{copy.name}'")
        return {"FINISHED"}


class KEYFRAMEFACE_OT_take_delete(_TakeOperator, bpy.types.Operator):
    """Delete the take and its layers (your own actions are never deleted)"""

    bl_idname = "keyframeface.take_delete"
    bl_label = "Delete Take"

    def execute(self, context):
        rig, take = _rig_and_take(self, context)
        if take is None:
            return {"CANCELLED"}
        name = take.name
        now = takes.delete_take(context.scene, rig, take)
        self.report({"INFO"}, f"Deleted '{name}'" + (f"; playing '{now.name}'" if now else ""))
        return {"FINISHED"}


@dataclass
class _PendingVariations:
    """One line generated with several seeds; ``compute`` needs no bpy."""

    lines: list

    def compute(self, backend):
        return [pending.compute(backend) for pending in self.lines]


class KEYFRAMEFACE_OT_generate_variations(GenerationOperator, bpy.types.Operator):
    """Generate several seeded takes of the line at once, to compare in the take list"""

    bl_idname = "keyframeface.generate_variations"
    bl_label = "Generate Variations"
    bl_options = {"REGISTER", "UNDO"}

    count: IntProperty(name="Takes", default=3, min=2, max=12)

    def prepare(self, context):
        first = prepare_generation(context.scene, context.active_object, context.scene.keyframeface)
        seed = first.request.seed
        return _PendingVariations([
            replace(first, request=replace(first.request, seed=seed + offset),
                    take_name=f"KFF {context.active_object.name} s{seed + offset}")
            for offset in range(self.count)
        ])

    def finish(self, context, pending, tracks, add_markers):
        settings = context.scene.keyframeface
        first_seed, mode = settings.seed, settings.write_mode
        settings.write_mode = "NEW_TAKE"  # variations are compared as takes
        made = []
        try:
            for line, track in zip(pending.lines, tracks):
                settings.seed = line.request.seed  # recorded on the take
                made.append(finish_generation(context.scene, self.head(context), settings, line, track, add_markers))
        finally:
            settings.seed, settings.write_mode = first_seed, mode
        first = made[0].written.take
        takes.switch_take(context.scene, find_rig(self.head(context)), first)
        self.report({"INFO"}, f"{len(made)} takes, seeds {first_seed}-{first_seed + self.count - 1}; playing '{first.name}'")
        return {"FINISHED"}


CLASSES = (KEYFRAMEFACE_OT_take_switch, KEYFRAMEFACE_OT_take_duplicate, KEYFRAMEFACE_OT_take_delete,
           KEYFRAMEFACE_OT_generate_variations)
