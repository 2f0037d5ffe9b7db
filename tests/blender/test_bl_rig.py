"""Any rig: naming presets and hand-fixed mappings saved on the object and shared as JSON,
stale mappings reported, head and eye pose onto mapped bones."""

import json

import pytest

from conftest import shared_file
from model_runtime.arkit import BLENDSHAPES, convention_name


def _cc3_head():
    import bpy

    bpy.ops.mesh.primitive_cube_add()
    head = bpy.context.active_object
    head.name = "CC_Base_Body"
    head.shape_key_add(name="Basis")
    for name in BLENDSHAPES[:30]:
        head.shape_key_add(name=convention_name(name, "cc3"))
    head.shape_key_add(name="Smile_Extreme")  # a custom shape the artist maps by hand
    return head


def test_cc3_preset_and_hand_fixed_mapping(blender, scene, tmp_path):
    import bpy

    rig = blender("keyframeface_addon.rig")
    head = _cc3_head()
    head.keyframeface_rig.preset = "CC3"
    assert bpy.ops.keyframeface.mapping_detect() == {"FINISHED"}
    table = {item.arkit: item.shape for item in head.keyframeface_rig.mapping}
    assert table["jawOpen"] == "A25_Jaw_Open" and table["tongueOut"] == ""
    item = next(i for i in head.keyframeface_rig.mapping if i.arkit == "tongueOut")
    item.shape = "Smile_Extreme"
    found = rig.find_rig(head)
    assert found.meshes[0].shapes["tongueOut"] == "Smile_Extreme" and len(found.covered) == 31
    # Saved on the object: survives save and reload.
    path = tmp_path / "rig.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    head = bpy.data.objects["CC_Base_Body"]
    assert rig.find_rig(head).meshes[0].shapes["tongueOut"] == "Smile_Extreme"
    # Shared as JSON.
    mapping = tmp_path / "mapping.json"
    bpy.context.view_layer.objects.active = head
    assert bpy.ops.keyframeface.mapping_export(filepath=str(mapping)) == {"FINISHED"}
    document = json.loads(mapping.read_text())
    assert document["format"] == "keyframeface.mapping" and document["meshes"]["CC_Base_Body"]["jawOpen"] == "A25_Jaw_Open"
    assert bpy.ops.keyframeface.mapping_clear() == {"FINISHED"}
    assert "tongueOut" not in rig.find_rig(head).covered
    assert bpy.ops.keyframeface.mapping_import(filepath=str(mapping)) == {"FINISHED"}
    assert rig.find_rig(head).meshes[0].shapes["tongueOut"] == "Smile_Extreme"


def test_mapping_to_a_deleted_shape_is_reported(blender, scene):
    import bpy

    rig = blender("keyframeface_addon.rig")
    head = _cc3_head()
    bpy.ops.keyframeface.mapping_detect()
    head.active_shape_key_index = list(head.data.shape_keys.key_blocks.keys()).index("A25_Jaw_Open")
    bpy.ops.object.shape_key_remove()
    problem = rig.rig_problem(head)
    assert "deleted shape keys" in problem and "A25_Jaw_Open" in problem
    with pytest.raises(RuntimeError, match="deleted shape keys"):
        bpy.ops.keyframeface.generate()


def test_bad_mapping_json_is_refused(blender, scene, tmp_path):
    import bpy

    _cc3_head()
    path = tmp_path / "bad.json"
    for document, message in (({"format": "other"}, "not a KeyframeFace mapping"),
                              ({"format": "keyframeface.mapping", "version": 1, "meshes": {"CC_Base_Body": {"jawWide": "x"}}}, "unknown ARKit"),
                              ({"format": "keyframeface.mapping", "version": 1, "meshes": {"Nobody": {"jawOpen": "x"}}, "pose": {}}, None)):
        path.write_text(json.dumps(document))
        if message is None:
            assert bpy.ops.keyframeface.mapping_import(filepath=str(path)) == {"FINISHED"}  # single mesh takes it
        else:
            with pytest.raises(RuntimeError, match=message):
                bpy.ops.keyframeface.mapping_import(filepath=str(path))


def test_a_refused_mapping_changes_nothing(blender, scene, tmp_path):
    import bpy

    rig = blender("keyframeface_addon.rig")
    head = _cc3_head()
    bpy.ops.mesh.primitive_cube_add()
    teeth = bpy.context.active_object
    teeth.name, teeth.parent = "CC_Base_Teeth", head
    teeth.shape_key_add(name="Basis")
    teeth.shape_key_add(name="A25_Jaw_Open")
    bpy.context.view_layer.objects.active = head
    assert bpy.ops.keyframeface.mapping_detect() == {"FINISHED"}
    next(i for i in head.keyframeface_rig.mapping if i.arkit == "tongueOut").shape = "Smile_Extreme"
    before = {mesh.obj.name: dict(mesh.shapes) for mesh in rig.find_rig(head).meshes}
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"format": "keyframeface.mapping", "version": 1,
                                "meshes": {"CC_Base_Body": {"jawOpen": "Smile_Extreme"},
                                           "CC_Base_Teeth": {"jawOpen": "A25_Jaw_Open", "teethShow": "x"}}}))
    with pytest.raises(RuntimeError, match="meshes.CC_Base_Teeth: unknown ARKit name"):
        bpy.ops.keyframeface.mapping_import(filepath=str(path))
    assert {mesh.obj.name: dict(mesh.shapes) for mesh in rig.find_rig(head).meshes} == before


def test_pose_goes_to_mapped_bones(blender, scene):
    import bpy
    from mathutils import Vector

    bpy.ops.import_scene.fbx(filepath=str(shared_file("heads/FaceCapLiveModeAvatar.fbx")))
    armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    bpy.context.view_layer.objects.active = armature
    assert bpy.ops.keyframeface.mapping_detect() == {"FINISHED"}
    settings = armature.keyframeface_rig
    assert settings.armature == armature
    assert (settings.head_bone, settings.left_eye_bone, settings.right_eye_bone) == ("Head_Joint", "LeftEye_Joint", "RightEye_Joint")
    s = bpy.context.scene.keyframeface
    s.script, s.emotion, s.context = "I was only remembering.", "ashamed", "She looks at the floor."
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    track = armature.animation_data.nla_tracks.get("KeyframeFace Head & Eyes")
    assert track is not None and track.strips[0].blend_type == "COMBINE"
    head = armature.pose.bones["Head_Joint"]
    scene_ = bpy.context.scene
    forward = []
    for frame in range(1, 60, 5):
        scene_.frame_set(frame)
        bpy.context.view_layer.update()
        posed = (armature.matrix_world @ head.matrix).to_3x3()
        rest = (armature.matrix_world @ head.bone.matrix_local).to_3x3()
        forward.append((posed @ rest.inverted()) @ Vector((0.0, -1.0, 0.0)))
    # Shame lowers the head: the face's forward direction tips downwards at some point.
    assert min(f[2] for f in forward) < -0.05
