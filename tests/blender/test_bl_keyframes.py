"""Editing one keyframe: re-solve from a new description, nudge, regenerate; other keys stay."""

import pytest


def _keys(blender, obj):
    anim_compat = blender("keyframeface_addon.anim_compat")
    return {fc.data_path: [tuple(round(c, 5) for c in p.co) for p in fc.keyframe_points]
            for fc in anim_compat.fcurves_for(obj.data.shape_keys)}


def test_resolve_one_keyframe_changes_only_its_frame(blender, demo_head):
    import bpy

    takes = blender("keyframeface_addon.takes")
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    take = demo_head.data.shape_keys.animation_data.action
    track = takes.track_of(take)
    frame = 1 + round(track.keyframes[2].time * 30)
    before = _keys(blender, demo_head)
    assert bpy.ops.keyframeface.keyframe_resolve(index=2, description="A broad grin, the eyes crinkle and the brows lift.") == {"FINISHED"}
    after = _keys(blender, demo_head)
    path = 'key_blocks["mouthSmileLeft"].value'
    smile = dict(after[path])[frame]
    assert smile > 0.4
    for data_path, keys in before.items():
        unchanged_before = [k for k in keys if k[0] != frame]
        unchanged_after = [k for k in after[data_path] if k[0] != frame]
        assert unchanged_before == unchanged_after, data_path
    track = takes.track_of(take)
    assert track.keyframes[2].description.startswith("A broad grin")
    marker = next(m for m in bpy.context.scene.timeline_markers if m.frame == frame)
    assert "A broad grin" in marker.name


def test_nudge_moves_its_keys_and_marker(blender, demo_head):
    import bpy

    takes = blender("keyframeface_addon.takes")
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    take = demo_head.data.shape_keys.animation_data.action
    track = takes.track_of(take)
    frame = 1 + round(track.keyframes[1].time * 30)
    assert bpy.ops.keyframeface.keyframe_nudge(index=1, frames=2) == {"FINISHED"}
    keys = _keys(blender, demo_head)['key_blocks["browInnerUp"].value']
    frames = [k[0] for k in keys]
    assert frame + 2 in frames and frame not in frames
    assert any(m.frame == frame + 2 for m in bpy.context.scene.timeline_markers)
    assert takes.track_of(take).keyframes[1].time == pytest.approx((frame + 1) / 30, abs=1e-3)
    with pytest.raises(RuntimeError, match="neighbours"):
        bpy.ops.keyframeface.keyframe_nudge(index=1, frames=-200)


def test_regenerate_one_keyframe(blender, demo_head):
    import bpy

    takes = blender("keyframeface_addon.takes")
    assert bpy.ops.keyframeface.generate(), {"FINISHED"}
    take = demo_head.data.shape_keys.animation_data.action
    old = takes.track_of(take).keyframes[1].description
    results = set()
    for attempt in (1, 2, 3):
        assert bpy.ops.keyframeface.keyframe_regenerate(index=1, attempt=attempt) == {"FINISHED"}
        results.add(takes.track_of(take).keyframes[1].description)
    assert results - {old}


def test_keyframe_tools_need_a_generated_take(blender, demo_head):
    import bpy

    assert not bpy.types.KEYFRAMEFACE_OT_keyframe_nudge.poll(bpy.context)


def test_resolving_a_keyframe_on_the_fitted_lids_keeps_them_in_range(blender, demo_head):
    """The lids carry the blinks, so their keys have fitted handles; a re-solved keyframe that
    shuts the eyes moves its key there, which becomes Auto Clamped (its fitted handles belonged
    to the old value): the lids play the new value at that frame and never leave 0..1."""
    import bpy
    import numpy as np

    takes = blender("keyframeface_addon.takes")
    anim_compat = blender("keyframeface_addon.anim_compat")
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    take = demo_head.data.shape_keys.animation_data.action
    track = takes.track_of(take)
    frame = 1 + round(track.keyframes[1].time * 30)
    path = 'key_blocks["eyeBlinkLeft"].value'
    lids = next(fc for fc in anim_compat.fcurves_for(demo_head.data.shape_keys) if fc.data_path == path)
    assert {p.handle_left_type for p in lids.keyframe_points} <= {"ALIGNED", "FREE"}
    before = lids.evaluate(frame)
    description = "The eyes squeeze shut tight, the brows pull down hard."
    assert bpy.ops.keyframeface.keyframe_resolve(index=1, description=description) == {"FINISHED"}
    point = next(p for p in lids.keyframe_points if round(p.co[0]) == frame)
    assert point.handle_left_type == point.handle_right_type == "AUTO_CLAMPED"
    assert point.co[1] > before + 0.3 and lids.evaluate(frame) == pytest.approx(point.co[1], abs=1e-6)
    first, last = lids.range()
    played = np.array([lids.evaluate(f) for f in np.linspace(first, last, 4000)])
    assert played.min() >= -1e-6 and played.max() <= 1.0 + 1e-6
