"""Capture in and out: Live Link Face CSV onto any rig as sparse keys, KeyframeFace JSON,
and the curve tools on the artist's own curves."""

import json

import numpy as np
import pytest

from conftest import shared_file
from model_runtime.arkit import PARAMETERS
from model_runtime.curves import evaluate
from model_runtime.formats.llf_csv import read_llf_csv


def _assert_refused_leaving_no_action(import_operator, path, message):
    """The importer refuses the file with ``message`` and adds no action."""
    import bpy

    before = len(bpy.data.actions)
    with pytest.raises(RuntimeError, match=message):
        import_operator(filepath=str(path))
    assert len(bpy.data.actions) == before


def _curves(blender, obj):
    anim_compat = blender("keyframeface_addon.anim_compat")
    return {fc.data_path.split('"')[1]: fc for fc in anim_compat.fcurves_for(obj.data.shape_keys)}


def test_import_real_capture_reduced_within_the_error_bound(blender, demo_head):
    import bpy

    path = shared_file("recordings/MySlate_3_Jason_Millers_iPhone.csv")
    scene = bpy.context.scene
    scene.keyframeface.start_frame = 1
    assert bpy.ops.keyframeface.import_llf_csv(filepath=str(path), max_error=0.02) == {"FINISHED"}
    capture = read_llf_csv(path)
    curves = _curves(blender, demo_head)
    # Resampled by time at the scene's 30 fps, not row = frame (the take is 60 fps, 5.45 s).
    last = max(fc.keyframe_points[-1].co[0] for fc in curves.values())
    assert last == pytest.approx(1 + capture.duration * 30, abs=1.0)
    dense = sum(int(capture.duration * 30) + 1 for _ in curves)
    assert sum(len(fc.keyframe_points) for fc in curves.values()) < 0.25 * dense
    frames = np.arange(1, int(last) + 1)
    for name in ("jawOpen", "eyeBlinkLeft", "mouthSmileRight", "browInnerUp"):
        truth = np.interp((frames - 1) / 30.0, capture.times, capture.values[:, PARAMETERS.index(name)])
        played = np.array([curves[name].evaluate(f) for f in frames])
        assert np.abs(played - np.clip(truth, 0, 1)).max() <= 0.021, name


def test_import_on_a_face_cap_rig_by_name(blender, scene):
    import bpy

    bpy.ops.import_scene.fbx(filepath=str(shared_file("heads/FaceCapLiveModeAvatar.fbx")))
    head = bpy.data.objects["Head"]
    bpy.context.view_layer.objects.active = head
    path = shared_file("recordings/apfel.csv")
    assert bpy.ops.keyframeface.import_llf_csv(filepath=str(path), swap_mouth_left_right=True) == {"FINISHED"}
    curves = _curves(blender, head)
    assert "eyeBlink_L" in curves and "jawOpen" in curves
    capture = read_llf_csv(path, swap_mouth_left_right=True)
    column = capture.values[:, PARAMETERS.index("mouthLeft")]
    peak = float(np.clip(column, 0, 1).max())
    keys = np.array([k.co[1] for k in curves["mouthLeft"].keyframe_points])
    assert keys.max() == pytest.approx(peak, abs=0.021)


def test_export_llf_csv_round_trip(blender, demo_head, tmp_path):
    import bpy

    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    path = tmp_path / "out.csv"
    assert bpy.ops.keyframeface.export_llf_csv(filepath=str(path)) == {"FINISHED"}
    capture = read_llf_csv(path)
    assert capture.fps == pytest.approx(30.0, abs=0.01)
    scene = bpy.context.scene
    blocks = demo_head.data.shape_keys.key_blocks
    for frame in (5, 20, 40):
        scene.frame_set(frame)
        row = capture.values[frame - 1]
        for name in ("jawOpen", "browDownLeft", "mouthPressLeft"):
            assert row[PARAMETERS.index(name)] == pytest.approx(blocks[name].value, abs=1e-5)


def test_capture_exported_from_a_real_head_has_the_apps_header(blender, scene, tmp_path):
    import bpy

    recording = shared_file("recordings/MySlate_3_Jason_Millers_iPhone.csv")
    bpy.ops.wm.open_mainfile(filepath=str(shared_file("heads/Live_Link_Face.blend")))
    head = bpy.data.objects["FBHead"]
    bpy.context.view_layer.objects.active = head
    assert bpy.ops.keyframeface.import_llf_csv(filepath=str(recording)) == {"FINISHED"}
    path = tmp_path / "out.csv"
    assert bpy.ops.keyframeface.export_llf_csv(filepath=str(path)) == {"FINISHED"}
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",")[1] == "BlendShapeCount"
    assert header == recording.read_text(encoding="utf-8").splitlines()[0]
    assert len(read_llf_csv(path).times) > 100


def test_keyframeface_json_round_trip(blender, demo_head, tmp_path):
    import bpy

    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    path = tmp_path / "take.json"
    assert bpy.ops.keyframeface.export_keyframeface_json(filepath=str(path)) == {"FINISHED"}
    document = json.loads(path.read_text())
    assert list(document)[:2] == ["Keyframe_one", "Keyframe_two"]
    assert all(len(v) == 61 for v in document.values())
    assert bpy.ops.keyframeface.import_keyframeface_json(filepath=str(path), spacing=1.0) == {"FINISHED"}
    curves = _curves(blender, demo_head)
    second = document["Keyframe_two"]
    assert curves["browDownLeft"].evaluate(1 + 30) == pytest.approx(second["BrowDownLeft"], abs=1e-4)


@pytest.mark.parametrize("change, message", [
    (lambda p: p.pop("TongueOut"), "lacks 1 of 61"),
    (lambda p: p.update(Sparkle=0.5), "unknown name"),
    (lambda p: p.update(JawOpen=1.7), "out of range"),
])
def test_keyframeface_json_with_60_or_62_names_is_refused(blender, demo_head, tmp_path, change, message):
    import bpy

    from model_runtime.formats.keyframeface_json import to_keyframeface
    weights = {n: 0.2 for n in PARAMETERS[:52]}
    pose = {n: 0.0 for n in PARAMETERS[52:]}
    document = to_keyframeface(weights, pose, 0)
    change(document["Keyframe_one"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    _assert_refused_leaving_no_action(bpy.ops.keyframeface.import_keyframeface_json, path, message)


@pytest.mark.parametrize("raw, message", [
    (b"[" * 100_000 + b"]" * 100_000, "nests 100000 levels deep; the limit is 64"),
    (b'{"Keyframe_one": {"JawOpen": 0.5, "Caf\xe9": 1}}', "bomb.json is not UTF-8 text"),
])
def test_hostile_keyframeface_json_is_a_message_not_a_traceback(blender, demo_head, tmp_path, raw, message):
    """Issue 12, item 8: a depth bomb (RecursionError) and Latin-1 text (UnicodeDecodeError)."""
    import bpy

    path = tmp_path / "bomb.json"
    path.write_bytes(raw)
    _assert_refused_leaving_no_action(bpy.ops.keyframeface.import_keyframeface_json, path, message)


@pytest.mark.parametrize("text, message", [
    ("Timecode,BlendshapeCount\n", "no ARKit columns"),
    ("Timecode,JawOpen\n00:00:00:00.000,0.1\nbad,0.2\n", "bad timecode"),
    ("", "empty"),
    ("Timecode,JawOpen,Extra\n\n00:00:00:00.000,nan,1\n", "no usable rows"),
])
def test_bad_csv_leaves_the_scene_unchanged(blender, demo_head, tmp_path, text, message):
    import bpy

    path = tmp_path / "bad.csv"
    path.write_text(text)
    _assert_refused_leaving_no_action(bpy.ops.keyframeface.import_llf_csv, path, message)
    assert demo_head.data.shape_keys.animation_data is None


def test_curve_tools_on_the_artists_own_curves(blender, demo_head):
    import bpy

    key = demo_head.data.shape_keys
    block = key.key_blocks["jawOpen"]
    for frame in range(1, 121):
        block.value = 0.5 + 0.45 * np.sin(frame / 9.0)
        block.keyframe_insert("value", frame=frame)
    fcurve = _curves(blender, demo_head)["jawOpen"]
    for point in fcurve.keyframe_points[:10]:
        point.handle_left_type = point.handle_right_type = "FREE"
        point.handle_right[1] = 1.4
    fcurve.update()
    assert bpy.ops.keyframeface.clamp_curves() == {"FINISHED"}
    values = np.array([fcurve.evaluate(f) for f in np.linspace(1, 120, 600)])
    assert values.max() <= 1.0 + 1e-6 and values.min() >= -1e-6
    dense = np.array([fcurve.evaluate(f) for f in range(1, 121)])
    assert bpy.ops.keyframeface.reduce_keys(max_error=0.01) == {"FINISHED"}
    assert len(fcurve.keyframe_points) < 40
    reduced = np.array([fcurve.evaluate(f) for f in range(1, 121)])
    assert np.abs(reduced - dense).max() <= 0.0101
    assert bpy.ops.keyframeface.smooth_curves(strength=0.5) == {"FINISHED"}
