"""One way to create and read F-curves on Blender 4.2 LTS through 5.x.

Blender 4.4 introduced slotted actions (an action holds channelbags per slot; one action can
animate several data-blocks); 5.0 removed the legacy ``Action.fcurves``. On 4.4+ a take is
one action with a slot per Key datablock; on 4.2/4.3 it is one legacy action per Key.
"""

from __future__ import annotations

import bpy

HAS_SLOTS = bpy.app.version >= (4, 4, 0)
# On 4.2/4.3 a take has one legacy action per data-block; this property names the data-block.
LEGACY_TARGET = "keyframeface_target"


class ChannelSink:
    """Where the F-curves for one animated data-block go."""

    def __init__(self, action: bpy.types.Action, container, groups):
        self.action = action
        self._fcurves = container
        self._groups = groups
        self._group_cache: dict[str, bpy.types.ActionGroup] = {}

    def new_fcurve(self, data_path: str, group: str, index: int = 0) -> bpy.types.FCurve:
        fcurve = self._fcurves.new(data_path, index=index)
        found = self._group_cache.get(group)
        if found is None:
            found = self._groups.get(group) or self._groups.new(group)
            self._group_cache[group] = found
        fcurve.group = found
        return fcurve


def _channelbag(action: bpy.types.Action, slot):
    try:
        from bpy_extras.anim_utils import action_ensure_channelbag_for_slot
    except ImportError:
        action_ensure_channelbag_for_slot = None
    if action_ensure_channelbag_for_slot is not None:
        return action_ensure_channelbag_for_slot(action, slot)
    layer = action.layers[0] if action.layers else action.layers.new("Layer")
    strip = layer.strips[0] if layer.strips else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True)


def create_take(name: str, ids: list[bpy.types.ID]) -> tuple[list[bpy.types.Action], dict[str, tuple[ChannelSink, object]]]:
    """New action(s) for ``ids``; returns the actions and, per id name, its sink and slot."""
    sinks: dict[str, tuple[ChannelSink, object]] = {}
    if HAS_SLOTS:
        action = bpy.data.actions.new(name)
        for id_ in ids:
            slot = action.slots.new(id_type=id_.id_type, name=id_.name)
            bag = _channelbag(action, slot)
            sinks[id_.name] = (ChannelSink(action, bag.fcurves, bag.groups), slot)
        return [action], sinks
    actions = []
    for id_ in ids:
        action = bpy.data.actions.new(name if len(ids) == 1 else f"{name} {id_.name}")
        action.id_root = id_.id_type
        action[LEGACY_TARGET] = id_.name
        actions.append(action)
        sinks[id_.name] = (ChannelSink(action, action.fcurves, action.groups), None)
    return actions, sinks


def channels_for(actions: list[bpy.types.Action], id_: bpy.types.ID):
    """(action, slot) among ``actions`` (one take's) that animates ``id_``, or (None, None)."""
    for action in actions:
        if HAS_SLOTS:
            for slot in action.slots:
                if slot.name_display == id_.name and slot.target_id_type in (id_.id_type, "UNSPECIFIED"):
                    return action, slot
        elif action.get(LEGACY_TARGET) == id_.name:
            return action, None
    return None, None


def copy_action(action: bpy.types.Action, name: str) -> bpy.types.Action:
    """A full copy (slots, channelbags, custom properties) under a new name."""
    duplicate = action.copy()
    duplicate.name = name
    return duplicate


def assign(id_: bpy.types.ID, action: bpy.types.Action, slot=None) -> None:
    animation = id_.animation_data or id_.animation_data_create()
    animation.action = action
    if slot is not None:
        animation.action_slot = slot


def current_assignment(id_: bpy.types.ID):
    """(action, slot) currently animating ``id_``."""
    animation = id_.animation_data
    if animation is None:
        return None, None
    return animation.action, (animation.action_slot if HAS_SLOTS else None)


def fcurves_for(id_: bpy.types.ID) -> list[bpy.types.FCurve]:
    """The F-curves that animate ``id_`` through its assigned action (and slot)."""
    action, slot = current_assignment(id_)
    if action is None or (HAS_SLOTS and slot is None):
        return []
    return list(fcurve_container(action, slot).fcurves)


def fcurve_container(action: bpy.types.Action, slot=None):
    """What holds ``action``'s F-curves for ``slot`` (``.fcurves``, ``.groups``): the slot's
    channelbag on 4.4+ (created if missing), the action itself on the legacy path."""
    if HAS_SLOTS:
        return _channelbag(action, slot)
    return action


def all_fcurves(action: bpy.types.Action) -> list[bpy.types.FCurve]:
    if HAS_SLOTS:
        return [fc for layer in action.layers for strip in layer.strips for bag in strip.channelbags for fc in bag.fcurves]
    return list(action.fcurves)
