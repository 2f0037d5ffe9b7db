"""A take can be trusted on real heads: it defines every mapped shape over its range (no value
left over from an earlier take or a slider), its markers follow it, and a capture drives the
mapped head and eye bones like a generated line does."""

import numpy as np
import pytest

from conftest import fbx_round_trip, shared_file
from model_runtime.arkit import PARAMETERS
from model_runtime.formats.llf_csv import read_llf_csv
from model_runtime.playback import sample_channel


def _open_live_link_face_head():
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(shared_file("heads/Live_Link_Face.blend")))
    head = bpy.data.objects["FBHead"]
    bpy.context.view_layer.objects.active = head
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    return head


def _generate(script, emotion, context="", **settings):
    import bpy

    s = bpy.context.scene.keyframeface
    s.script, s.emotion, s.context = script, emotion, context
    for name, value in settings.items():
        setattr(s, name, value)
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}


def _played_matches_take(blender, head):
    """Every mapped shape plays what the active take's track says, over the take's range."""
    import bpy

    rig = blender("keyframeface_addon.rig").find_rig(head)
    take = blender("keyframeface_addon.takes").active_take(rig)
    track = take.track
    scene = bpy.context.scene
    frames = np.arange(take.start_frame, take.start_frame + round(track.duration * 30) + 1, 3)
    blocks = head.data.shape_keys.key_blocks
    worst = {}
    for frame in frames:
        scene.frame_set(int(frame))
        for name, block in rig.primary.shapes.items():
            expected = float(np.clip(sample_channel(track, name, [(frame - take.start_frame) / 30.0])[0], 0, 1))
            worst[block] = max(worst.get(block, 0.0), abs(blocks[block].value - expected))
    return {name: round(error, 3) for name, error in worst.items() if error > 0.021}


def test_a_take_defines_every_mapped_shape(blender, scene, tmp_path):
    import bpy

    head = _open_live_link_face_head()
    blocks = head.data.shape_keys.key_blocks
    assert sum(1 for b in blocks[1:] if abs(b.value) > 1e-6) >= 30  # the file is saved with slider values
    fbx = blender("keyframeface_addon.fbx")
    warned = fbx.animation_problems(fbx.export_objects(head))
    assert any("not animated" in problem for problem in warned), warned

    _generate("How dare you!", "furious", "He broke her trust.", use_playhead=False, start_frame=1)
    assert _played_matches_take(blender, head) == {}  # no slider value leaks under the take
    assert not [p for p in fbx.animation_problems(fbx.export_objects(head)) if "not animated" in p]

    bpy.context.scene.frame_set(31)
    _generate("I love you.", "tender", "She finally says it.", use_playhead=True)
    assert _played_matches_take(blender, head) == {}  # nothing left over from the furious take

    path = tmp_path / "saved.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    head = bpy.data.objects["FBHead"]
    bpy.context.view_layer.objects.active = head
    assert _played_matches_take(blender, head) == {}

    imported = fbx_round_trip(tmp_path / "take.fbx")
    bpy.context.scene.frame_set(45)
    assert imported.data.shape_keys.key_blocks["EyeWideLeft"].value == pytest.approx(0.0, abs=0.03)
    assert imported.data.shape_keys.key_blocks["BrowDownLeft"].value < 0.3


def _tool_markers(scene):
    return sorted((m.frame, m.name) for m in scene.timeline_markers if m.name.startswith("KF"))


def _expected_markers(take):
    return sorted(take.markers(30.0))


def test_markers_follow_the_take(blender, scene):
    import bpy

    head = _open_live_link_face_head()
    takes = blender("keyframeface_addon.takes")
    rig = blender("keyframeface_addon.rig").find_rig(head)
    s = bpy.context.scene.keyframeface
    s.script, s.emotion, s.use_playhead, s.start_frame = "Wait, you knew all along?", "shocked", False, 1
    assert bpy.ops.keyframeface.generate_variations(count=3) == {"FINISHED"}
    first, second, third = takes.takes_of(rig)
    scene = bpy.context.scene
    assert _tool_markers(scene) == _expected_markers(first) != _expected_markers(second)
    assert bpy.ops.keyframeface.take_switch(take=second.name) == {"FINISHED"}
    assert _tool_markers(scene) == _expected_markers(second)

    assert bpy.ops.keyframeface.keyframe_resolve(index=1, description="The eyes widen and the jaw drops") == {"FINISHED"}
    assert _tool_markers(scene) == _expected_markers(takes.active_take(rig))
    assert any("The eyes widen" in name for _, name in _tool_markers(scene))

    before = _tool_markers(scene)
    assert bpy.ops.keyframeface.keyframe_nudge(index=1, frames=1) == {"FINISHED"}
    assert _tool_markers(scene) == _expected_markers(takes.active_take(rig))
    assert before[1][0] + 1 == _tool_markers(scene)[1][0]

    assert bpy.ops.keyframeface.take_duplicate() == {"FINISHED"}
    copy = takes.active_take(rig)
    assert copy != second and _tool_markers(scene) == _expected_markers(copy)
    assert bpy.ops.keyframeface.take_switch(take=third.name) == {"FINISHED"}
    assert bpy.ops.keyframeface.take_delete() == {"FINISHED"}  # the newest other take plays: the copy
    assert _tool_markers(scene) == _expected_markers(takes.active_take(rig))
    for take in list(takes.takes_of(rig)):
        assert bpy.ops.keyframeface.take_delete(take=take.name) == {"FINISHED"}
    assert _tool_markers(scene) == []


def test_capture_import_drives_mapped_head_and_eye_bones(blender, scene):
    import bpy

    bpy.ops.import_scene.fbx(filepath=str(shared_file("heads/FaceCapLiveModeAvatar.fbx")))
    bpy.context.scene.render.fps = 30  # the FBX import set the file's rate
    armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    bpy.context.view_layer.objects.active = armature
    assert bpy.ops.keyframeface.mapping_detect() == {"FINISHED"}
    assert armature.keyframeface_rig.left_eye_bone == "LeftEye_Joint"
    path = shared_file("recordings/MySlate_3_Jason_Millers_iPhone.csv")
    bpy.context.scene.keyframeface.start_frame = 1
    assert bpy.ops.keyframeface.import_llf_csv(filepath=str(path)) == {"FINISHED"}
    track = armature.animation_data.nla_tracks.get("KeyframeFace Head & Eyes")
    assert track is not None and len(track.strips) == 1

    capture = read_llf_csv(path)
    turn = np.linalg.norm(capture.values[:, [PARAMETERS.index(n) for n in ("leftEyeYaw", "leftEyePitch", "leftEyeRoll")]], axis=1)
    peak = int(np.argmax(turn))
    assert turn[peak] > 0.2
    eye = armature.pose.bones["LeftEye_Joint"]
    scene = bpy.context.scene
    scene.frame_set(1 + round(capture.times[peak] * 30))
    bpy.context.view_layer.update()
    posed = (armature.matrix_world @ eye.matrix).to_3x3()
    rest = (armature.matrix_world @ eye.bone.matrix_local).to_3x3()
    turned = (posed @ rest.inverted()).to_quaternion()
    assert turned.angle == pytest.approx(turn[peak], abs=0.05)  # the eyeball turns as captured

    # The bone keys belong to the take: a generated take brings its own, switching back restores these.
    takes = blender("keyframeface_addon.takes")
    rig = blender("keyframeface_addon.rig").find_rig(armature)
    capture_take = takes.active_take(rig)
    captured = track.strips[0].action
    assert captured.get("keyframeface_take_id") == capture_take.id
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    assert track.strips[0].action != captured
    assert bpy.ops.keyframeface.take_switch(take=capture_take.name) == {"FINISHED"}
    assert track.strips[0].action == captured
    captured_name = captured.name
    assert bpy.ops.keyframeface.take_delete() == {"FINISHED"}
    assert captured_name not in bpy.data.actions
    assert track.strips[0].action is not None  # the generated take's, never a deleted one
