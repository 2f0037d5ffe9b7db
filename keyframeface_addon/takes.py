"""Takes: every generation or import is a take, a set of actions the tool owns that share a
take id: the main action (what the Graph Editor shows) and its layer actions (rest, lip sync)
placed on the tool's NLA tracks. Switching, duplicating and deleting a take touch only those
actions; the artist's own actions are never changed.
"""

from __future__ import annotations

import uuid

import bpy

from . import anim_compat
from .rig import RigMapping
from .writer import BASE_TRACK_NAME, LAYER_TRACK_NAMES, MAIN_ROLE as MAIN, ROLE, TAKE_ID, TAKE_TAG, ensure_track


def take_actions(take_id: str) -> list[bpy.types.Action]:
    return [a for a in bpy.data.actions if a.get(TAKE_ID) == take_id]


def main_actions(take_id: str) -> list[bpy.types.Action]:
    return [a for a in take_actions(take_id) if a.get(ROLE) == MAIN]


def takes_of(rig: RigMapping) -> list[bpy.types.Action]:
    """The takes (one main action each; on Blender < 4.4 the primary mesh's) that animate
    this rig, oldest first."""
    if rig.primary is None:
        return []
    key = rig.primary.key
    found = []
    for action in bpy.data.actions:
        if action.get(ROLE) == MAIN and action.get(TAKE_TAG):
            if anim_compat.channels_for([action], key)[0] is not None:
                found.append(action)
    return found


def active_take(rig: RigMapping) -> bpy.types.Action | None:
    if rig.primary is None:
        return None
    action, _ = anim_compat.current_assignment(rig.primary.key)
    return action if action is not None and action.get(ROLE) == MAIN else None


def switch_take(rig: RigMapping, take: bpy.types.Action) -> None:
    """Play ``take`` on every mesh of the rig: its main action and its layer strips."""
    take_id = take.get(TAKE_ID)
    group = take_actions(take_id)
    mains = [a for a in group if a.get(ROLE) == MAIN]
    blend = take.get("keyframeface_blend", "REPLACE")
    start = int(take.get("keyframeface_start_frame", 1))
    for mesh in rig.meshes:
        action, slot = anim_compat.channels_for(mains, mesh.key)
        if action is None:
            continue
        anim_compat.assign(mesh.key, action, slot)
        mesh.key.animation_data.action_blend_type = blend
        for role, track_name in (("rest", BASE_TRACK_NAME), *LAYER_TRACK_NAMES.items()):
            layer_action, layer_slot = anim_compat.channels_for([a for a in group if a.get(ROLE) == role], mesh.key)
            existing = mesh.key.animation_data.nla_tracks.get(track_name)
            if existing is not None:
                for strip in list(existing.strips):
                    existing.strips.remove(strip)
            if layer_action is None:
                continue
            track, _ = ensure_track(mesh.key, track_name)
            strip = track.strips.new(track_name, start, layer_action)
            if layer_slot is not None:
                strip.action_slot = layer_slot
            strip.blend_type = "REPLACE" if role == "rest" else "ADD"
            strip.extrapolation = "HOLD" if role == "rest" else "NOTHING"


def duplicate_take(take: bpy.types.Action) -> bpy.types.Action:
    """Copy every action of the take under a new take id; returns the new main action."""
    new_id = uuid.uuid4().hex
    copies = {}
    for action in take_actions(take.get(TAKE_ID)):
        copy = anim_compat.copy_action(action, f"{action.name} copy")
        copy[TAKE_ID] = new_id
        copy.use_fake_user = True
        copies[action.name] = copy
    for copy in copies.values():
        if "keyframeface_layer_actions" in copy:
            names = [n for n in copy["keyframeface_layer_actions"].split(",") if n]
            copy["keyframeface_layer_actions"] = ",".join(copies[n].name for n in names if n in copies)
    return copies[take.name]


def delete_take(rig: RigMapping, take: bpy.types.Action) -> bpy.types.Action | None:
    """Remove the take's actions. If it was playing, the newest other take plays instead (or
    the artist's action from before the first take). Returns what plays now, if a take."""
    playing = active_take(rig) == take
    doomed = take_actions(take.get(TAKE_ID))
    remaining = [t for t in takes_of(rig) if t not in doomed]
    previous_name = take.get("keyframeface_previous_action")
    for mesh in rig.meshes:
        animation = mesh.key.animation_data
        if animation is None:
            continue
        if animation.action in doomed:
            animation.action = None
        for track in animation.nla_tracks:
            for strip in list(track.strips):
                if strip.action in doomed:
                    track.strips.remove(strip)
    for action in doomed:
        bpy.data.actions.remove(action)
    if not playing:
        return None
    if remaining:
        switch_take(rig, remaining[-1])
        return remaining[-1]
    previous = bpy.data.actions.get(previous_name) if previous_name else None
    if previous is not None:
        for mesh in rig.meshes:
            animation = mesh.key.animation_data or mesh.key.animation_data_create()
            animation.action = previous
            animation.action_blend_type = "REPLACE"
    return None
