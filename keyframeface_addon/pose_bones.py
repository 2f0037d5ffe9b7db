"""Head and eye pose onto armature bones, when the artist maps them.

The 9 pose values are rotations in the face's own frame (yaw > 0 turns to the face's left,
pitch > 0 looks up, roll > 0 tilts towards the left shoulder). Whatever way a rig's bones
point, each rotation is built about the world axis it means (up for yaw, the ears' axis for
pitch, forward for roll; the head faces -Y) and expressed in the bone's rest frame, so it
turns the bone the way the name says. The keys go to an NLA track of the armature blended with
Combine, on top of the body animation below it; the armature's own action is left alone.
"""

from __future__ import annotations

import bpy
import numpy as np
from mathutils import Quaternion, Vector

from . import anim_compat
from .rig import RigMapping, pose_settings
from .writers.channels import fill_keys, place_strip

POSE_TRACK = "KeyframeFace Head & Eyes"
CHANNELS = {"head_bone": ("headYaw", "headPitch", "headRoll"),
            "left_eye_bone": ("leftEyeYaw", "leftEyePitch", "leftEyeRoll"),
            "right_eye_bone": ("rightEyeYaw", "rightEyePitch", "rightEyeRoll")}


def _face_rotation(yaw: float, pitch: float, roll: float) -> Quaternion:
    up = Quaternion(Vector((0.0, 0.0, 1.0)), yaw)
    nod = Quaternion(Vector((1.0, 0.0, 0.0)), -pitch)
    tilt = Quaternion(Vector((0.0, -1.0, 0.0)), -roll)
    return up @ nod @ tilt


def _bone_local(armature: bpy.types.Object, bone: bpy.types.Bone, rotation: Quaternion) -> Quaternion:
    rest = (armature.matrix_world.to_3x3() @ bone.matrix_local.to_3x3()).normalized().to_quaternion()
    return rest.inverted() @ rotation @ rest


def write_pose_bones(rig: RigMapping, pose_keys: dict, start_frame: int) -> tuple[bpy.types.Action | None, list[str]]:
    """Key the mapped bones from the composed pose keys (frames from 0) on the armature's
    Head & Eyes track. Returns the action written (None when no bone is mapped) and warnings
    for the report."""
    settings = pose_settings(rig)
    if settings is None:
        return None, []
    armature = settings.armature
    warnings = []
    bones = {}
    for setting in CHANNELS:
        name = getattr(settings, setting)
        if not name:
            continue
        if name not in armature.data.bones:
            warnings.append(f"Bone '{name}' is not in '{armature.name}'; its pose is on the custom properties only.")
            continue
        bones[setting] = armature.pose.bones[name]
    frames = sorted({int(f) for channels in CHANNELS.values() for n in channels if n in pose_keys for f in pose_keys[n][0]})
    if not bones or not frames:
        return None, warnings
    frames = np.array(frames)
    actions, sinks = anim_compat.create_take(f"KFF head & eyes {armature.name}", [armature])
    sink, slot = sinks[armature.name]
    for setting, pose_bone in bones.items():
        angles = [np.interp(frames, *pose_keys[n]) if n in pose_keys else np.zeros(len(frames)) for n in CHANNELS[setting]]
        rotations = [_bone_local(armature, pose_bone.bone, _face_rotation(y, p, r)) for y, p, r in zip(*angles)]
        escaped = bpy.utils.escape_identifier(pose_bone.name)
        if pose_bone.rotation_mode == "QUATERNION":
            values = np.array([tuple(q) for q in rotations])
            path = f'pose.bones["{escaped}"].rotation_quaternion'
        else:
            values = np.array([tuple(q.to_euler(pose_bone.rotation_mode)) for q in rotations])
            path = f'pose.bones["{escaped}"].rotation_euler'
        for index in range(values.shape[1]):
            fill_keys(sink.new_fcurve(path, pose_bone.name, index), frames + start_frame, values[:, index])
    actions[0].use_fake_user = True
    place_pose_strip(armature, actions[0], slot, start_frame)
    animation = armature.animation_data
    if animation.action is not None:
        keyed = {fc.data_path for fc in anim_compat.fcurves_for(armature)}
        hidden = [b.name for b in bones.values() if any(f'"{b.name}"' in p and "rotation" in p for p in keyed)]
        if hidden:
            warnings.append(f"{', '.join(hidden)} rotation is keyed in '{animation.action.name}', which plays on top "
                            "and hides the generated head/eye turn; push that action down to combine them.")
    return actions[0], warnings


def place_pose_strip(armature: bpy.types.Object, action: bpy.types.Action, slot, start_frame: int) -> None:
    """Play ``action`` on the armature's Head & Eyes track, combined with the body animation below."""
    place_strip(armature, POSE_TRACK, action, slot, start_frame, "COMBINE", "NOTHING")
