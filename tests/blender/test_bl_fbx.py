"""FBX export keeps shape-key animation: proven by importing the file back. Real third-party
ARKit heads load, get driven and survive the round trip."""

import numpy as np
import pytest

from conftest import shared_file


def _generate(**settings):
    import bpy

    for name, value in settings.items():
        setattr(bpy.context.scene.keyframeface, name, value)
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}


def _keyed_values(blender, obj):
    """{shape name: [(frame, value Blender plays)]} at the frames of the generated take's keys."""
    import bpy

    anim_compat = blender("keyframeface_addon.anim_compat")
    frames_by_name = {}
    for fcurve in anim_compat.fcurves_for(obj.data.shape_keys):
        if fcurve.data_path.startswith("key_blocks"):
            name = fcurve.data_path.split('"')[1]
            frames_by_name[name] = [int(round(p.co[0])) for p in fcurve.keyframe_points]
    scene = bpy.context.scene
    blocks = obj.data.shape_keys.key_blocks
    result = {name: [] for name in frames_by_name}
    for frame in sorted({f for frames in frames_by_name.values() for f in frames}):
        scene.frame_set(frame)
        for name, frames in frames_by_name.items():
            if frame in frames:
                result[name].append((frame, blocks[name].value))
    return result


def _import_and_read(path, names_by_mesh, frames, ascii_fbx=False):
    """Import ``path`` into an empty scene and read shape values at ``frames``."""
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    if ascii_fbx:
        bpy.ops.wm.fbx_import(filepath=str(path))
    else:
        bpy.ops.import_scene.fbx(filepath=str(path), anim_offset=0)
    scene = bpy.context.scene
    meshes = [o for o in scene.objects if o.type == "MESH" and o.data.shape_keys]
    values = {}
    for frame in frames:
        scene.frame_set(frame)
        for obj in meshes:
            for name in names_by_mesh:
                block = obj.data.shape_keys.key_blocks.get(name)
                if block is not None:
                    values[(name, frame)] = block.value
    return values


def _check_round_trip(keyed, imported, tolerance=0.02):
    checked = 0
    for name, keys in keyed.items():
        for frame, value in keys:
            if (name, frame) in imported:
                assert imported[(name, frame)] == pytest.approx(value, abs=tolerance), (name, frame)
                checked += 1
    assert checked > 20
    return checked


def test_demo_head_fbx_round_trip(blender, demo_head, tmp_path):
    import bpy

    _generate(start_frame=1)
    keyed = _keyed_values(blender, demo_head)
    frames = sorted({f for keys in keyed.values() for f, _ in keys})
    path = tmp_path / "demo.fbx"
    assert bpy.ops.keyframeface.export_fbx(filepath=str(path)) == {"FINISHED"}
    assert path.stat().st_size > 10000
    imported = _import_and_read(path, list(keyed), frames)
    _check_round_trip(keyed, imported)


def test_export_restores_scene_state(blender, demo_head, tmp_path):
    import bpy

    _generate(start_frame=40)
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end, scene.frame_current = 1, 500, 77
    assert bpy.ops.keyframeface.export_fbx(filepath=str(tmp_path / "x.fbx")) == {"FINISHED"}
    assert (scene.frame_start, scene.frame_end, scene.frame_current) == (1, 500, 77)


def test_export_warns_when_animation_would_be_lost(blender, demo_head):
    fbx = blender("keyframeface_addon.fbx")
    problems = fbx.animation_problems(fbx.export_objects(demo_head))
    assert problems and "no shape-key animation" in problems[0]
    _generate()
    curve = blender("keyframeface_addon.anim_compat").fcurves_for(demo_head.data.shape_keys)[0]
    curve.mute = True
    assert any("muted" in p for p in fbx.animation_problems(fbx.export_objects(demo_head)))


def _real_head_round_trip(blender, tmp_path, obj, ascii_reimport=False):
    import bpy

    rig = blender("keyframeface_addon.rig").find_rig(obj)
    bpy.context.view_layer.objects.active = obj
    _generate(script="Wait... you mean it was you all along?", emotion="shock turning into anger", start_frame=1)
    mesh = rig.primary.obj
    keyed = _keyed_values(blender, mesh)
    blocks = mesh.data.shape_keys.key_blocks
    scene = bpy.context.scene
    moved = 0
    for frame in range(1, scene.frame_end, 3):
        scene.frame_set(frame)
        moved = max(moved, max(blocks[rig.primary.shapes["jawOpen"]].value, blocks[rig.primary.shapes["browDownLeft"]].value))
    assert moved > 0.2
    path = tmp_path / "real.fbx"
    assert bpy.ops.keyframeface.export_fbx(filepath=str(path)) == {"FINISHED"}
    frames = sorted({f for keys in keyed.values() for f, _ in keys})
    imported = _import_and_read(path, list(keyed), frames)
    _check_round_trip(keyed, imported)
    return rig


def test_face_cap_ascii_head(blender, scene, tmp_path):
    import bpy

    path = shared_file("heads/FaceCapHeadGeneric.fbx")
    if not hasattr(bpy.types, "WM_OT_fbx_import") and bpy.app.version < (5, 0, 0):
        pytest.skip("ASCII FBX needs Blender 5's ufbx importer (wm.fbx_import)")
    bpy.ops.wm.fbx_import(filepath=str(path))
    head = bpy.data.objects["head"]
    rig = _real_head_round_trip(blender, tmp_path, head)
    assert len(rig.covered) == 52
    assert rig.primary.shapes["eyeBlinkLeft"] == "eyeBlink_L"


def test_skinned_face_cap_avatar(blender, scene, tmp_path):
    import bpy

    bpy.ops.import_scene.fbx(filepath=str(shared_file("heads/FaceCapLiveModeAvatar.fbx")))
    armature = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    rig = blender("keyframeface_addon.rig").find_rig(armature)  # the armature finds its child meshes
    assert rig.missing == ["tongueOut"]
    _real_head_round_trip(blender, tmp_path, armature)


def test_live_link_face_blend(blender, scene, tmp_path):
    import bpy

    bpy.ops.wm.open_mainfile(filepath=str(shared_file("heads/Live_Link_Face.blend")))
    head = bpy.data.objects["FBHead"]
    rig = _real_head_round_trip(blender, tmp_path, head)
    assert rig.missing == ["tongueOut"]
    assert rig.primary.shapes["jawOpen"] == "JawOpen"
