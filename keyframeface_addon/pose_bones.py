"""Head and eye pose onto the rig: armature bones when the artist maps them, else a head object.

The 9 pose values are rotations in the face's own frame (yaw > 0 turns to the face's left,
pitch > 0 looks up, roll > 0 tilts towards the left shoulder). Whatever way a rig's bones or
head object point, each rotation is built about the world axis it means (up for yaw, the ears'
axis for pitch, forward for roll; the head faces -Y) and expressed in the frame the channel
rotates in, so it turns the head or eye the way the name says: a bone's rest frame, or for a
head object the frame its parent gives it. A head object (a head without a head bone) is turned
through its delta rotation, which Blender applies on top of the object's own rotation, so the
artist's rotation and animation of the object still work. The keys go to an NLA track of each
object (armature, head object) blended with Combine, on top of the animation below it; the
object's own action is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np
from mathutils import Euler, Quaternion, Vector

from . import anim_compat
from .rig import RigMapping, pose_settings, turned_head_object
from .writers.channels import clear_track, fill_keys, place_strip

POSE_TRACK = "KeyframeFace Head & Eyes"
CHANNELS = {"head_bone": ("headYaw", "headPitch", "headRoll"),
            "left_eye_bone": ("leftEyeYaw", "leftEyePitch", "leftEyeRoll"),
            "right_eye_bone": ("rightEyeYaw", "rightEyePitch", "rightEyeRoll")}
# Where Blender itself groups an object's transform F-curves.
OBJECT_GROUP = "Object Transforms"
REST_ROTATIONS = {"rotation_quaternion": (1.0, 0.0, 0.0, 0.0), "rotation_euler": (0.0, 0.0, 0.0)}


@dataclass
class TurnedChannel:
    """One rotation the pose drives: a bone's, or a head object's delta rotation."""

    owner: bpy.types.Object  # the object whose animation holds the keys
    label: str  # how a report names it
    path_prefix: str  # the data path up to "rotation_euler" / "rotation_quaternion"
    group: str
    rotation_mode: str
    frame: Quaternion  # world orientation of the frame the rotation is applied in
    names: tuple[str, str, str]  # yaw, pitch, roll parameters


def _face_rotation(yaw: float, pitch: float, roll: float) -> Quaternion:
    up = Quaternion(Vector((0.0, 0.0, 1.0)), yaw)
    nod = Quaternion(Vector((1.0, 0.0, 0.0)), -pitch)
    tilt = Quaternion(Vector((0.0, -1.0, 0.0)), -roll)
    return up @ nod @ tilt


def _in_frame(frame: Quaternion, rotation: Quaternion) -> Quaternion:
    """``rotation`` (about world axes) as a rotation applied inside ``frame``."""
    return frame.inverted() @ rotation @ frame


def _bone_frame(armature: bpy.types.Object, bone: bpy.types.Bone) -> Quaternion:
    return (armature.matrix_world.to_3x3() @ bone.matrix_local.to_3x3()).normalized().to_quaternion()


def _parent_frame(obj: bpy.types.Object) -> Quaternion:
    """The world orientation of the frame an object's (delta) rotation is applied in: what
    parenting puts before its own transform (identity without a parent)."""
    return (obj.matrix_world @ obj.matrix_basis.inverted_safe()).to_3x3().normalized().to_quaternion()


def turned_channels(settings, warnings: list[str]) -> list[TurnedChannel]:
    """The rotations the rig settings map: the head and eye bones, and the head object when no
    head bone is mapped. What cannot be keyed is left out with a warning."""
    turned = []
    armature = settings.armature
    for setting, names in CHANNELS.items():
        bone_name = getattr(settings, setting)
        if armature is None or not bone_name:
            continue
        if bone_name not in armature.data.bones:
            warnings.append(f"Bone '{bone_name}' is not in '{armature.name}'; its pose is on the custom properties only.")
            continue
        pose_bone = armature.pose.bones[bone_name]
        turned.append(TurnedChannel(armature, f"bone '{bone_name}'", f'pose.bones["{bpy.utils.escape_identifier(bone_name)}"].',
                                    bone_name, pose_bone.rotation_mode, _bone_frame(armature, pose_bone.bone), names))
    head = turned_head_object(settings)
    if head is not None:
        turned.append(TurnedChannel(head, f"'{head.name}'", "delta_", OBJECT_GROUP, head.rotation_mode,
                                    _parent_frame(head), CHANNELS["head_bone"]))
    for channel in [c for c in turned if c.rotation_mode == "AXIS_ANGLE"]:
        # Objects have no axis-angle delta rotation, and keyed axis-angle interpolates badly.
        warnings.append(f"The {channel.label} rotation is in Axis Angle mode, which KeyframeFace does not key; its pose "
                        "is on the custom properties only. Set its rotation mode to Euler or Quaternion.")
        turned.remove(channel)
    return turned


def _rotation_values(rotation_mode: str, rotations: list[Quaternion]) -> tuple[str, np.ndarray]:
    """The property and per-key values that hold ``rotations`` in ``rotation_mode``; each key
    continues from the one before, so the curves never jump by a full turn or a sign flip."""
    if rotation_mode == "QUATERNION":
        previous, values = Quaternion(), []
        for rotation in rotations:
            rotation = rotation.copy()
            rotation.make_compatible(previous)
            values.append(tuple(rotation))
            previous = rotation
        return "rotation_quaternion", np.array(values)
    previous, values = Euler((0.0, 0.0, 0.0), rotation_mode), []
    for rotation in rotations:
        previous = rotation.to_euler(rotation_mode, previous)
        values.append(tuple(previous))
    return "rotation_euler", np.array(values)


def write_pose_bones(rig: RigMapping, pose_keys: dict, start_frame: int) -> tuple[list[bpy.types.Action], list[str]]:
    """Key the mapped bones and the head object from the composed pose keys (frames from 0),
    each object on its Head & Eyes track. Returns the actions written (none when nothing is
    mapped; on Blender < 4.4 one per object) and warnings for the report."""
    settings = pose_settings(rig)
    if settings is None:
        return [], []
    warnings: list[str] = []
    keyed = []
    for channel in turned_channels(settings, warnings):
        frames = sorted({int(f) for name in channel.names if name in pose_keys for f in pose_keys[name][0]})
        if frames:
            keyed.append((channel, np.array(frames)))
    if not keyed:
        return [], warnings
    owners = list({channel.owner.name: channel.owner for channel, _ in keyed}.values())
    actions, sinks = anim_compat.create_take(f"KFF head & eyes {', '.join(o.name for o in owners)}", owners)
    paths = {owner.name: [] for owner in owners}
    for channel, frames in keyed:
        angles = [np.interp(frames, *pose_keys[n]) if n in pose_keys else np.zeros(len(frames)) for n in channel.names]
        rotations = [_in_frame(channel.frame, _face_rotation(y, p, r)) for y, p, r in zip(*angles)]
        rotation_property, values = _rotation_values(channel.rotation_mode, rotations)
        path = channel.path_prefix + rotation_property
        sink, _slot = sinks[channel.owner.name]
        for index in range(values.shape[1]):
            fill_keys(sink.new_fcurve(path, channel.group, index), frames + start_frame, values[:, index])
        paths[channel.owner.name].append((channel.label, path))
    for action in actions:
        action.use_fake_user = True
    for owner in owners:
        sink, slot = sinks[owner.name]
        place_pose_strip(owner, sink.action, slot, start_frame)
        warnings.extend(_hidden_by_active_action(owner, paths[owner.name]))
    return actions, warnings


def _hidden_by_active_action(owner: bpy.types.Object, written: list[tuple[str, str]]) -> list[str]:
    """A warning when the object's own action keys a rotation just written: it plays on top."""
    action = owner.animation_data.action
    if action is None:
        return []
    keyed = {fcurve.data_path for fcurve in anim_compat.fcurves_for(owner)}
    hidden = [label for label, path in written if path in keyed]
    if not hidden:
        return []
    return [f"The {', '.join(hidden)} rotation is keyed in '{action.name}', which plays on top and hides the generated "
            "head/eye turn; push that action down to combine them."]


def place_pose_strip(owner: bpy.types.ID, action: bpy.types.Action, slot, start_frame: int) -> None:
    """Play ``action`` on the object's Head & Eyes track, combined with its animation below."""
    place_strip(owner, POSE_TRACK, action, slot, start_frame, "COMBINE", "NOTHING")


def release_pose(owner: bpy.types.ID) -> None:
    """Take the strips off the object's Head & Eyes track and put the rotations they turned back
    at rest: with nothing animating them, Blender would hold the last pose played."""
    track = owner.animation_data.nla_tracks.get(POSE_TRACK) if owner.animation_data else None
    if track is None:
        return
    paths = {fcurve.data_path for strip in track.strips if strip.action is not None
             for fcurve in anim_compat.fcurve_container(strip.action, getattr(strip, "action_slot", None)).fcurves}
    clear_track(owner, POSE_TRACK)
    for path in paths:
        struct_path, _, name = path.rpartition(".")
        rest = next((value for suffix, value in REST_ROTATIONS.items() if name.endswith(suffix)), None)
        if rest is not None:
            setattr(owner.path_resolve(struct_path) if struct_path else owner, name, rest)
