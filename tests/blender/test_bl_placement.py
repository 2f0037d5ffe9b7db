"""Placing a line: at the playhead, fitted to a range, replacing a range of the playing
action (keys outside untouched), or as a layer on top of the artist's animation."""

import numpy as np
import pytest


def _artist_jaw(obj, frames=range(1, 201, 10)):
    key = obj.data.shape_keys
    block = key.key_blocks["jawOpen"]
    for frame in frames:
        block.value = 0.3 if (frame // 10) % 2 else 0.1
        block.keyframe_insert("value", frame=frame)
    return key.animation_data.action


def _fcurve(blender, obj, name):
    anim_compat = blender("keyframeface_addon.anim_compat")
    return next(fc for fc in anim_compat.fcurves_for(obj.data.shape_keys) if f'"{name}"' in fc.data_path)


def test_replace_range_keeps_keys_outside(blender, demo_head):
    import bpy

    artist = _artist_jaw(demo_head)
    before = {round(p.co[0]): p.co[1] for p in _fcurve(blender, demo_head, "jawOpen").keyframe_points}
    settings = bpy.context.scene.keyframeface
    settings.write_mode, settings.start_frame = "REPLACE_RANGE", 60
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    assert demo_head.data.shape_keys.animation_data.action == artist
    after = {round(p.co[0]): p.co[1] for p in _fcurve(blender, demo_head, "jawOpen").keyframe_points}
    end = max(f for f in after if f not in before or after[f] != before.get(f))
    for frame, value in before.items():
        if frame < 60 or frame > end:
            assert after[frame] == pytest.approx(value), frame
    assert any(60 <= f <= end for f in after) and "browDownLeft" in str([fc.data_path for fc in blender("keyframeface_addon.anim_compat").fcurves_for(demo_head.data.shape_keys)])


def test_replace_range_writes_the_channels_layers_move_with_the_fitted_reducer(blender, demo_head):
    """Inside the replaced range, channels a generated layer moves (lip sync on the jaw, blinks
    on the lids) get the reducer's fitted handles and play the performance within the bound;
    a channel only the expression keyframes move keeps Auto Clamped keys."""
    import bpy

    from model_runtime.playback import KEY_TOLERANCE, sample_channel

    _artist_jaw(demo_head)
    scene = bpy.context.scene
    settings = scene.keyframeface
    settings.write_mode, settings.start_frame = "REPLACE_RANGE", 60
    settings.script = "I waited all night by the phone. You never called, not once. Now you want to talk?"
    result = blender("keyframeface_addon.generation").generate_onto(scene, demo_head, settings)
    track = result.track
    fps = scene.render.fps / scene.render.fps_base
    frames = np.arange(60, result.end_frame + 1)
    layered = set(track.layers["lipsync"].channels) | set(track.layers["blinks"].channels)
    assert {"jawOpen", "eyeBlinkLeft"} <= layered and "browDownLeft" not in layered
    for name in ("jawOpen", "eyeBlinkLeft", "browDownLeft"):
        fcurve = _fcurve(blender, demo_head, name)
        inside = {p.handle_left_type for p in fcurve.keyframe_points if 60 <= p.co[0] <= result.end_frame}
        assert inside <= ({"ALIGNED", "FREE"} if name in layered else {"AUTO_CLAMPED"}), name
        played = np.array([fcurve.evaluate(float(f)) for f in frames])
        truth = sample_channel(track, name, (frames - 60) / fps)
        assert np.abs(played - truth).max() <= KEY_TOLERANCE + 2e-6, name


def test_layer_on_top_adds_to_the_artists_animation(blender, demo_head):
    import bpy

    artist = _artist_jaw(demo_head)
    scene = bpy.context.scene
    settings = scene.keyframeface
    settings.write_mode, settings.start_frame = "LAYER", 1
    track = blender("keyframeface_addon.generation")  # noqa: F841 (module import check)
    base = []
    for frame in (5, 25, 45):
        scene.frame_set(frame)
        base.append(demo_head.data.shape_keys.key_blocks["jawOpen"].value)
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    animation = demo_head.data.shape_keys.animation_data
    names = [t.name for t in animation.nla_tracks]
    assert artist.name in names and any(n.startswith("KeyframeFace Layer") for n in names)
    assert artist.use_fake_user
    layered = []
    for frame in (5, 25, 45):
        scene.frame_set(frame)
        layered.append(demo_head.data.shape_keys.key_blocks["jawOpen"].value)
    assert all(l >= b - 1e-6 for l, b in zip(layered, base)) and max(np.subtract(layered, base)) > 0.05
    brow = []
    for frame in range(1, 90, 4):
        scene.frame_set(frame)
        brow.append(demo_head.data.shape_keys.key_blocks["browDownLeft"].value)
    assert 0.0 <= min(brow) and max(brow) > 0.2 and max(brow) <= 1.0  # not added onto the 1.0 default
    # Muting the layer brings the artist's animation back exactly.
    for track_ in animation.nla_tracks:
        if track_.name.startswith("KeyframeFace Layer"):
            track_.mute = True
    scene.frame_set(25)
    assert demo_head.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(base[1], abs=1e-6)


def test_playhead_and_fit_to_range(blender, demo_head):
    import bpy

    scene = bpy.context.scene
    settings = scene.keyframeface
    scene.frame_current = 42
    settings.use_playhead, settings.fit_to_range, settings.range_end = True, True, 142
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    frames = [m.frame for m in scene.timeline_markers]
    assert min(frames) == 42 and max(frames) == 142
    settings.range_end = 30
    with pytest.raises(RuntimeError, match="must come after"):
        bpy.ops.keyframeface.generate()
