"""Generate on a head: sparse, editable keys that play exactly the generated performance."""

import numpy as np
import pytest

from model_runtime.arkit import BLENDSHAPES, POSE
from model_runtime.playback import sample_channel


def _generate(**settings):
    import bpy

    scene = bpy.context.scene
    for name, value in settings.items():
        setattr(scene.keyframeface, name, value)
    return bpy.ops.keyframeface.generate()


def _played(obj, frames, names):
    """Shape values as Blender evaluates them (all layers) at ``frames``."""
    import bpy

    scene = bpy.context.scene
    blocks = obj.data.shape_keys.key_blocks
    values = {name: [] for name in names}
    for frame in frames:
        scene.frame_set(int(frame))
        for name in names:
            values[name].append(blocks[name].value)
    return {name: np.array(v) for name, v in values.items()}


def _fcurves(blender, obj):
    anim_compat = blender("keyframeface_addon.anim_compat")
    return {fc.data_path: fc for fc in anim_compat.fcurves_for(obj.data.shape_keys)}


def test_generate_writes_sparse_keys_that_play_the_track(blender, demo_head):
    import bpy

    assert _generate(start_frame=10, seed=4) == {"FINISHED"}
    takes = blender("keyframeface_addon.takes")
    action = demo_head.data.shape_keys.animation_data.action
    assert takes.is_take(action) and action.use_fake_user
    track = takes.track_of(action)
    curves = _fcurves(blender, demo_head)
    # One F-curve per shape used, grouped by region, Bezier: Auto Clamped handles where only the
    # expression keyframes move the shape (the artist's keys), fitted handles (the one reducer)
    # on the lids the blinks move, whose keys still include every keyframe's frame.
    assert len(curves) == len(set(curves))
    assert 10 <= len(curves) <= 61
    blinked = {f'key_blocks["{name}"].value' for name in track.layers["blinks"].channels}
    assert blinked == {'key_blocks["eyeBlinkLeft"].value', 'key_blocks["eyeBlinkRight"].value'}
    keyframe_frames = {10 + round(k.time * 30) for k in track.keyframes}
    total_keys = 0
    for path, fcurve in curves.items():
        assert fcurve.group is not None
        assert all(p.interpolation == "BEZIER" for p in fcurve.keyframe_points)
        kinds = {p.handle_left_type for p in fcurve.keyframe_points}
        assert kinds <= ({"ALIGNED", "FREE"} if path in blinked else {"AUTO_CLAMPED"}), path
        assert keyframe_frames <= {round(p.co[0]) for p in fcurve.keyframe_points}, path
        total_keys += len(fcurve.keyframe_points)
    frames = np.arange(10, 10 + round(track.duration * 30) + 1)
    assert total_keys < 0.5 * len(curves) * len(frames)  # sparse, not one key per frame
    # Blender plays exactly the composed performance (take + lip-sync track, within the
    # reduction tolerance).
    played = _played(demo_head, frames, ("jawOpen", "browDownLeft", "eyeBlinkRight", "mouthPressLeft", "mouthFunnel"))
    for name, values in played.items():
        expected = sample_channel(track, name, (frames - 10) / 30.0)
        assert np.abs(values - expected).max() < 0.021, name
    # Values stay in range everywhere.
    for fcurve in curves.values():
        values = np.array([fcurve.evaluate(f) for f in np.linspace(frames[0], frames[-1], 300)])
        low = -1.0 if fcurve.data_path.startswith('["') else 0.0
        assert values.min() >= low - 1e-6 and values.max() <= 1.0 + 1e-6
    # Lip sync is its own layer: an NLA track the artist can mute.
    writer_layer = takes.layer_track(demo_head.data.shape_keys)
    assert writer_layer is not None and len(writer_layer.strips) == 1
    writer_layer.mute = True
    silent = _played(demo_head, frames, ("jawOpen",))["jawOpen"]
    writer_layer.mute = False
    assert silent.max() < 0.5 * played["jawOpen"].max()
    # The pose is keyed beside the shapes as custom properties, not dropped.
    assert any(path == f'["{name}"]' for name in POSE for path in curves)
    # Semantic keyframes are timeline markers with their labels.
    markers = sorted(bpy.context.scene.timeline_markers, key=lambda m: m.frame)
    assert [m.frame for m in markers] == [10 + round(k.time * 30) for k in track.keyframes]
    assert markers[0].name.startswith("KF1 onset:")


def test_generated_shapes_move_the_head(blender, demo_head):
    import bpy

    assert _generate(emotion="furious", script="Get OUT of my house!") == {"FINISHED"}
    scene = bpy.context.scene
    blocks = demo_head.data.shape_keys.key_blocks
    peaks = {}
    for frame in range(1, scene.frame_end + 1, 2):
        scene.frame_set(frame)
        for name in ("browDownLeft", "jawOpen"):
            peaks[name] = max(peaks.get(name, 0.0), blocks[name].value)
    assert peaks["browDownLeft"] > 0.4 and peaks["jawOpen"] > 0.2


def test_artist_action_is_kept_and_survives_save_and_reload(blender, demo_head, tmp_path):
    import bpy

    key = demo_head.data.shape_keys
    key.key_blocks["jawOpen"].value = 0.3
    key.key_blocks["jawOpen"].keyframe_insert("value", frame=5)
    artist_action = key.animation_data.action
    artist_action.name = "Artist Jaw"
    assert _generate() == {"FINISHED"}
    assert key.animation_data.action.name != "Artist Jaw"
    assert _generate(seed=7) == {"FINISHED"}  # a second take leaves the first in place
    path = tmp_path / "kept.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    assert "Artist Jaw" in bpy.data.actions
    anim_compat = blender("keyframeface_addon.anim_compat")
    artist_curves = anim_compat.all_fcurves(bpy.data.actions["Artist Jaw"])
    assert [tuple(p.co) for p in artist_curves[0].keyframe_points] == [(5.0, pytest.approx(0.3))]
    takes = [a for a in bpy.data.actions if a.get("keyframeface_take")]
    assert len(takes) == 2


def test_markers_of_a_new_take_replace_the_old_ones_in_range(demo_head):
    import bpy

    scene = bpy.context.scene
    scene.timeline_markers.new("artist note", frame=3)
    assert _generate(seed=1) == {"FINISHED"}
    first = len(scene.timeline_markers)
    assert _generate(seed=2) == {"FINISHED"}
    names = [m.name for m in scene.timeline_markers]
    assert "artist note" in names
    assert len(names) <= first + 1


def test_rig_with_few_shapes_reports_what_is_missing(blender, scene):
    import bpy

    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.active_object
    cube.shape_key_add(name="Basis")
    for name in ("JawOpen", "EyeBlink_L", "eyeBlink_R", "A38_Mouth_Smile_Left"):
        cube.shape_key_add(name=name)
    rig = blender("keyframeface_addon.rig").find_rig(cube)
    assert set(rig.covered) == {"jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft"}
    assert len(rig.missing) == 48
    assert _generate(emotion="happy", script="Hello! It is so good to see you again after all these years.") == {"FINISHED"}
    curves = _fcurves(blender, cube)
    assert 'key_blocks["JawOpen"].value' in curves and 'key_blocks["EyeBlink_L"].value' in curves


def test_child_meshes_are_driven_too(blender, scene):
    import bpy

    bpy.ops.keyframeface.demo_head()
    head = bpy.context.active_object
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.01)
    teeth = bpy.context.active_object
    teeth.parent = head
    teeth.shape_key_add(name="Basis")
    teeth.shape_key_add(name="jawOpen")
    bpy.context.view_layer.objects.active = head
    assert _generate() == {"FINISHED"}
    jaw = _played(teeth, range(1, 100, 3), ("jawOpen",))["jawOpen"]
    assert jaw.max() > 0.2  # the teeth open with the speech
    head_jaw = _played(head, range(1, 100, 3), ("jawOpen",))["jawOpen"]
    assert np.allclose(jaw, head_jaw, atol=1e-5)
    assert not any(path.startswith('["') for path in _fcurves(blender, teeth))  # pose: primary mesh only


@pytest.mark.parametrize("setup, message", [
    ("nothing", "no active object"),
    ("no_keys", "no shape keys"),
    ("wrong_keys", "No ARKit shape keys"),
])
def test_unusable_targets_explain_why(blender, scene, setup, message):
    import bpy

    if setup != "nothing":
        bpy.ops.mesh.primitive_cube_add()
        if setup == "wrong_keys":
            bpy.context.active_object.shape_key_add(name="Basis")
            bpy.context.active_object.shape_key_add(name="Smile2")
    else:
        bpy.context.view_layer.objects.active = None
    operator = bpy.types.KEYFRAMEFACE_OT_generate
    problem = blender("keyframeface_addon.rig").rig_problem(bpy.context.active_object)
    assert message in problem
    assert not operator.poll(bpy.context)
    with pytest.raises(RuntimeError, match="poll"):
        bpy.ops.keyframeface.generate()


@pytest.mark.parametrize("script, message", [
    ("", "empty"),
    ("   ", "empty"),
    ("x" * 20001, "limit"),
])
def test_bad_input_writes_nothing(blender, demo_head, script, message):
    import bpy

    before = (len(bpy.data.actions), len(bpy.context.scene.timeline_markers))
    with pytest.raises(RuntimeError, match=message):
        _generate(script=script)
    assert (len(bpy.data.actions), len(bpy.context.scene.timeline_markers)) == before
    assert demo_head.data.shape_keys.animation_data is None


@pytest.mark.parametrize("script", ["word " * 1000, "😡 you did WHAT?! 🙃", "我不敢相信你会这样对我。"])
def test_long_emoji_and_non_latin_scripts_generate(blender, demo_head, script):
    assert _generate(script=script) == {"FINISHED"}
    assert _fcurves(blender, demo_head)


def test_linked_mesh_cannot_be_keyed(blender, scene, tmp_path):
    import bpy

    bpy.ops.keyframeface.demo_head()
    library = tmp_path / "library.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(library))
    bpy.ops.wm.read_homefile(use_empty=True)
    with bpy.data.libraries.load(str(library), link=True) as (source, target):
        target.objects = ["KeyframeFace Demo Head"]
    linked = target.objects[0]
    bpy.context.scene.collection.objects.link(linked)
    problem = blender("keyframeface_addon.rig").rig_problem(linked)
    assert problem and "linked" in problem


def test_failure_while_writing_leaves_the_scene_unchanged(blender, demo_head, monkeypatch):
    import bpy

    channels = blender("keyframeface_addon.writers.channels")
    before = (set(bpy.data.actions.keys()), len(bpy.context.scene.timeline_markers))

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(channels, "fill_keys", explode)
    with pytest.raises(RuntimeError, match="undone"):
        _generate()
    assert (set(bpy.data.actions.keys()), len(bpy.context.scene.timeline_markers)) == before
    animation = demo_head.data.shape_keys.animation_data
    assert animation is None or animation.action is None


def test_all_52_shapes_can_be_written(blender, demo_head):
    import bpy

    channels = blender("keyframeface_addon.writers.channels")
    new_take = blender("keyframeface_addon.writers.new_take")
    rig = blender("keyframeface_addon.rig").find_rig(demo_head)
    from model_runtime.backends import GenerateRequest, get_backend

    track = get_backend().generate(GenerateRequest(script="Oh wow, look at that!", emotion="amazed"))
    for keyframe in track.keyframes:
        for name in BLENDSHAPES:
            keyframe.weights[name] = max(keyframe.weights[name], 0.05)
    result = new_take.write_track(bpy.context.scene, rig, channels.ComposedTrack(track, 30.0), 1)
    assert not result.dropped
    shape_curves = [path for path in _fcurves(blender, demo_head) if path.startswith("key_blocks")]
    assert len(shape_curves) == 52
