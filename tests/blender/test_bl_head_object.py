"""A head without a head bone turns through its Head Object: the head pose is keyed on the
object's delta rotation, on its own Head & Eyes NLA track, about the world axes the names mean
(also under a rotated parent), leaving the object's own rotation and animation alone; takes
switch and delete that strip like the bones' one."""

import math

import numpy as np
import pytest

from conftest import fbx_round_trip, shared_file

POSE_TRACK = "KeyframeFace Head & Eyes"
FORWARD = (0.0, -1.0, 0.0)  # the face looks along -Y


def _generate(script, emotion, context=""):
    import bpy

    s = bpy.context.scene.keyframeface
    s.script, s.emotion, s.context = script, emotion, context
    s.seed, s.start_frame = 0, 1
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}


def _ashamed():
    # Shame lowers the head (as in test_bl_rig's bones test).
    _generate("I was only remembering.", "ashamed", "She looks at the floor.")


def _world_turn(obj, rest_rotation):
    """The rotation the head has turned by in world space since ``rest_rotation``."""
    import bpy

    bpy.context.view_layer.update()
    return obj.matrix_world.to_3x3().normalized() @ rest_rotation.inverted()


def _forward_over(obj, rest_rotation, frames):
    import bpy
    from mathutils import Vector

    directions = []
    for frame in frames:
        bpy.context.scene.frame_set(frame)
        directions.append(_world_turn(obj, rest_rotation) @ Vector(FORWARD))
    return np.array(directions)


def _turns_as_keyed(blender, obj, rest_rotation):
    """The largest angle between the head's world turn and the pose the take keys (yaw about
    world up, pitch about the ears' axis, roll about forward), at the head's key frames; and
    the largest yaw, pitch and roll keyed."""
    import bpy

    takes = blender("keyframeface_addon.takes")
    channels = blender("keyframeface_addon.writers.channels")
    face_rotation = blender("keyframeface_addon.pose_bones")._face_rotation
    track = takes.active_take(blender("keyframeface_addon.rig").find_rig(obj)).track
    pose = channels.ComposedTrack(track, 30.0).pose()
    names = ("headYaw", "headPitch", "headRoll")
    frames = sorted({int(f) for n in names if n in pose for f in pose[n][0]})
    assert len(frames) >= 2
    errors, keyed = [], []
    for frame in frames:
        angles = [float(np.interp(frame, *pose[n])) if n in pose else 0.0 for n in names]
        bpy.context.scene.frame_set(1 + frame)
        turned = _world_turn(obj, rest_rotation).to_quaternion()
        errors.append(turned.rotation_difference(face_rotation(*angles)).angle)
        keyed.append(angles)
    return max(errors), np.abs(keyed).max(axis=0)


def _open_live_link_face_head():
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(shared_file("heads/Live_Link_Face.blend")))
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    head = bpy.data.objects["FBHead"]
    bpy.context.view_layer.objects.active = head
    return head


def _strip_action(obj):
    track = obj.animation_data.nla_tracks.get(POSE_TRACK)
    return [strip.action for strip in track.strips] if track is not None else []


def test_head_object_bows_the_live_link_face_head_and_leaves_its_own_animation(blender, scene):
    import bpy
    from mathutils import Vector

    head = _open_live_link_face_head()
    # The artist's own animation of the head: a slide along X, and a rotation of their own.
    head.rotation_euler = (0.0, 0.0, math.radians(5.0))
    for frame, x in ((1, 0.0), (61, 0.1)):
        head.location.x = x
        head.keyframe_insert("location", index=0, frame=frame)
    own_action = head.animation_data.action
    own_rotation = tuple(head.rotation_euler)
    bpy.context.view_layer.update()
    rest = head.matrix_world.to_3x3().normalized()
    head.keyframeface_rig.head_object = head

    _ashamed()
    track = head.animation_data.nla_tracks.get(POSE_TRACK)
    assert track is not None and len(track.strips) == 1 and track.strips[0].blend_type == "COMBINE"
    forward = _forward_over(head, rest, range(1, 90, 3))
    assert forward[:, 2].min() < -0.05  # the face tips downwards: the head bows
    assert _turns_as_keyed(blender, head, rest)[0] < 0.01
    # Its own rotation and animation are untouched and still play over the turn.
    assert head.animation_data.action == own_action
    assert tuple(head.rotation_euler) == pytest.approx(own_rotation)
    for frame, x in ((1, 0.0), (31, 0.05), (61, 0.1)):
        bpy.context.scene.frame_set(frame)
        assert head.location.x == pytest.approx(x, abs=1e-4)
        assert (head.matrix_world.translation - Vector((x, 0.0, 0.0))).length < 1e-4  # turns about its origin
    assert tuple(head.delta_location) == (0.0, 0.0, 0.0)


def test_takes_swap_and_delete_the_head_object_strip(blender, scene):
    import bpy

    takes = blender("keyframeface_addon.takes")
    head = _open_live_link_face_head()
    head.keyframeface_rig.head_object = head
    rig = blender("keyframeface_addon.rig").find_rig(head)
    _ashamed()
    ashamed = takes.active_take(rig)
    ashamed_pose = _strip_action(head)
    assert len(ashamed_pose) == 1 and ashamed_pose[0].get("keyframeface_take_id") == ashamed.id
    _generate("There is something moving in the soup.", "disgusted")
    disgusted = takes.active_take(rig)
    disgusted_pose = _strip_action(head)
    assert disgusted_pose[0].get("keyframeface_take_id") == disgusted.id
    assert bpy.ops.keyframeface.take_switch(take=ashamed.name) == {"FINISHED"}
    assert _strip_action(head) == ashamed_pose
    assert bpy.ops.keyframeface.take_delete() == {"FINISHED"}  # the disgusted take plays again
    assert _strip_action(head) == disgusted_pose
    assert bpy.ops.keyframeface.take_delete() == {"FINISHED"}
    assert _strip_action(head) == []
    assert not [a for a in bpy.data.actions if a.get("keyframeface_take_id")]
    bpy.context.scene.frame_set(30)
    assert head.matrix_world.to_quaternion().angle < 1e-5  # the head rests: no turn held from the last take
    assert tuple(head.delta_rotation_euler) == (0.0, 0.0, 0.0)


def test_the_head_object_turn_survives_fbx_export(blender, scene, tmp_path):
    """The FBX bakes the head object's delta rotation into its animation: imported back, the
    head bows at the same frames as in the scene it came from."""
    import bpy

    head = _open_live_link_face_head()
    rest = head.matrix_world.to_3x3().normalized()
    head.keyframeface_rig.head_object = head
    _ashamed()
    frames = range(1, 90, 3)
    before = _forward_over(head, rest, frames)[:, 2]
    assert before.min() < -0.05
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj == head)
    imported = fbx_round_trip(tmp_path / "head_object.fbx")
    bpy.context.scene.frame_set(0)
    after = _forward_over(imported, imported.matrix_world.to_3x3().normalized(), frames)[:, 2]
    assert after.min() < -0.05
    assert np.abs(after - before).max() < 0.02


@pytest.mark.parametrize("parent_axis", ["Z", "X"])
@pytest.mark.parametrize("rotation_mode", ["XYZ", "ZXY", "QUATERNION"])
def test_head_under_a_rotated_parent_turns_about_world_axes(blender, demo_head, parent_axis, rotation_mode):
    """The parent turns the head's frame by 90 degrees and the head's own rotation turns it back,
    so the face still looks along -Y: keying the pose in the parent's frame unconverted would
    nod about the wrong axis."""
    import bpy
    from mathutils import Matrix

    parent = bpy.data.objects.new("Head turntable", None)
    bpy.context.scene.collection.objects.link(parent)
    parent.rotation_euler = Matrix.Rotation(math.radians(90.0), 3, parent_axis).to_euler()
    demo_head.parent = parent
    demo_head.rotation_mode = rotation_mode
    back = Matrix.Rotation(math.radians(-90.0), 3, parent_axis)
    if rotation_mode == "QUATERNION":
        demo_head.rotation_quaternion = back.to_quaternion()
    else:
        demo_head.rotation_euler = back.to_euler(rotation_mode)
    bpy.context.view_layer.update()
    rest = demo_head.matrix_world.to_3x3().normalized()
    assert rest.to_quaternion().angle < 1e-5  # the face looks along -Y
    demo_head.keyframeface_rig.head_object = demo_head
    bpy.context.view_layer.objects.active = demo_head

    _ashamed()
    delta = "delta_rotation_quaternion" if rotation_mode == "QUATERNION" else "delta_rotation_euler"
    pose_action = _strip_action(demo_head)[0]
    anim_compat = blender("keyframeface_addon.anim_compat")
    assert {fc.data_path for fc in anim_compat.all_fcurves(pose_action)} == {delta}
    assert _forward_over(demo_head, rest, range(1, 90, 3))[:, 2].min() < -0.05
    assert _turns_as_keyed(blender, demo_head, rest)[0] < 0.01
    # Disgust turns the head away: yaw and roll go through the conversion too.
    _generate("There is something moving in the soup.", "disgusted")
    error, (yaw, pitch, roll) = _turns_as_keyed(blender, demo_head, rest)
    assert error < 0.01 and max(yaw, roll) > 0.05


def test_axis_angle_head_object_is_left_alone_with_a_warning(blender, demo_head):
    import bpy

    pose_bones = blender("keyframeface_addon.pose_bones")
    demo_head.rotation_mode = "AXIS_ANGLE"
    demo_head.keyframeface_rig.head_object = demo_head
    rig = blender("keyframeface_addon.rig").find_rig(demo_head)
    frames = np.array([0.0, 10.0])
    actions, warnings = pose_bones.write_pose_bones(rig, {"headPitch": (frames, np.array([0.0, -0.3]))}, 1)
    assert actions == [] and len(warnings) == 1 and "Axis Angle" in warnings[0] and demo_head.name in warnings[0]
    assert demo_head.animation_data is None
    _ashamed()  # generation still works; the shapes carry the face
    assert demo_head.animation_data is None


def test_axis_angle_head_bone_is_left_alone_with_a_warning(blender, scene):
    """Keying a bone's axis-angle rotation failed outright before; now it is skipped, the eyes still turn."""
    import bpy

    pose_bones = blender("keyframeface_addon.pose_bones")
    bpy.ops.import_scene.fbx(filepath=str(shared_file("heads/FaceCapLiveModeAvatar.fbx")))
    armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    bpy.context.view_layer.objects.active = armature
    assert bpy.ops.keyframeface.mapping_detect() == {"FINISHED"}
    armature.pose.bones["Head_Joint"].rotation_mode = "AXIS_ANGLE"
    rig = blender("keyframeface_addon.rig").find_rig(armature)
    keys = (np.array([0.0, 10.0]), np.array([0.0, -0.3]))
    actions, warnings = pose_bones.write_pose_bones(rig, {"headPitch": keys, "leftEyeYaw": keys}, 1)
    assert len(warnings) == 1 and "Head_Joint" in warnings[0] and "Axis Angle" in warnings[0]
    anim_compat = blender("keyframeface_addon.anim_compat")
    paths = {fc.data_path for action in actions for fc in anim_compat.all_fcurves(action)}
    assert paths and all("LeftEye_Joint" in path for path in paths)


def test_a_mapped_head_bone_wins_over_the_head_object(blender, demo_head):
    import bpy

    rig = blender("keyframeface_addon.rig")
    armature_data = bpy.data.armatures.new("Rig")
    armature = bpy.data.objects.new("Rig", armature_data)
    bpy.context.scene.collection.objects.link(armature)
    settings = demo_head.keyframeface_rig
    found = rig.find_rig(demo_head)
    assert rig.pose_settings(found) is None and rig.pose_targets(found) == []
    settings.head_object = demo_head
    assert rig.pose_settings(found) == settings and rig.pose_targets(found) == [demo_head]
    settings.armature = armature
    assert rig.pose_targets(found) == [armature, demo_head]  # eye bones on the armature, the head turns the object
    settings.head_bone = "Head"
    assert rig.pose_targets(found) == [armature]


def test_head_object_travels_in_the_mapping_json(blender, demo_head, tmp_path):
    import bpy

    demo_head.keyframeface_rig.head_object = demo_head
    path = tmp_path / "mapping.json"
    assert bpy.ops.keyframeface.mapping_export(filepath=str(path)) == {"FINISHED"}
    demo_head.keyframeface_rig.head_object = None
    assert bpy.ops.keyframeface.mapping_import(filepath=str(path)) == {"FINISHED"}
    assert demo_head.keyframeface_rig.head_object == demo_head


def test_eye_bones_and_a_head_object_turn_together_as_one_take(blender, scene):
    """An armature with eye bones but no head bone: the eyes turn on the armature's track, the
    head on the head object's; switching away and deleting the take clears both."""
    import bpy

    takes = blender("keyframeface_addon.takes")
    bpy.ops.import_scene.fbx(filepath=str(shared_file("heads/FaceCapLiveModeAvatar.fbx")))
    bpy.context.scene.render.fps = 30
    armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    face = max((o for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys),
               key=lambda o: len(o.data.shape_keys.key_blocks))
    bpy.context.view_layer.objects.active = armature
    assert bpy.ops.keyframeface.mapping_detect() == {"FINISHED"}
    settings = armature.keyframeface_rig
    settings.head_bone, settings.head_object = "", face
    rig = blender("keyframeface_addon.rig").find_rig(armature)
    _ashamed()
    take = takes.active_take(rig)
    (eyes,), (head,) = _strip_action(armature), _strip_action(face)
    assert eyes.get("keyframeface_take_id") == head.get("keyframeface_take_id") == take.id
    anim_compat = blender("keyframeface_addon.anim_compat")
    eye_paths = {fc.data_path for fc in anim_compat.fcurve_container(*anim_compat.channels_for([eyes], armature)).fcurves}
    assert eye_paths and all("Eye_Joint" in path for path in eye_paths)  # no head bone keyed
    assert bpy.ops.keyframeface.take_delete() == {"FINISHED"}
    assert _strip_action(armature) == [] and _strip_action(face) == []
    assert tuple(face.delta_rotation_euler) == (0.0, 0.0, 0.0)


class _RecordingLayout:
    """Stands in for a panel's layout (Blender as a module draws no UI): records the
    properties and labels a draw shows."""

    def __init__(self, shown):
        self.shown = shown

    def prop(self, data, name, **_):
        self.shown.append(name)

    def prop_search(self, data, name, *_, **__):
        self.shown.append(name)

    def label(self, text="", **_):
        self.shown.append(text)

    def __getattr__(self, _name):
        return lambda *args, **kwargs: self


def test_rig_panel_offers_the_head_object_without_a_head_bone(blender, demo_head):
    import bpy
    from types import SimpleNamespace

    def drawn():
        shown = []
        panel = SimpleNamespace(layout=_RecordingLayout(shown))
        bpy.types.VIEW3D_PT_keyframeface_rig.draw(panel, SimpleNamespace(active_object=demo_head))
        return shown

    assert "head_object" in drawn() and any("custom properties" in text for text in drawn())
    demo_head.keyframeface_rig.head_object = demo_head
    assert "head_object" in drawn() and not any("custom properties" in text for text in drawn())
    armature = bpy.data.objects.new("Rig", bpy.data.armatures.new("Rig"))
    demo_head.keyframeface_rig.armature, demo_head.keyframeface_rig.head_bone = armature, "Head"
    assert "head_bone" in drawn() and "head_object" not in drawn()  # the head bone wins
