"""Takes: each generation is a take; switch, duplicate, delete, variations; the artist's
actions untouched."""

import numpy as np

from model_runtime.playback import sample_channel
from tests.conftest import played


def test_variations_switch_duplicate_delete(blender, demo_head):
    import bpy

    takes = blender("keyframeface_addon.takes")
    rig = blender("keyframeface_addon.rig").find_rig(demo_head)
    key = demo_head.data.shape_keys
    key.key_blocks["browInnerUp"].value = 0.2
    key.key_blocks["browInnerUp"].keyframe_insert("value", frame=1)
    artist = key.animation_data.action
    assert bpy.ops.keyframeface.generate_variations(count=3) == {"FINISHED"}
    listed = takes.takes_of(rig)
    assert len(listed) == 3 and [t.seed for t in listed] == [0, 1, 2]
    assert takes.active_take(rig) == listed[0]
    frames = np.arange(1, 60)
    played_by_take = {}
    for take in listed:
        assert bpy.ops.keyframeface.take_switch(take=take.name) == {"FINISHED"}
        track = take.track
        jaw = played(demo_head, frames, "jawOpen")
        expected = sample_channel(track, "jawOpen", (frames - 1) / 30.0)
        assert np.abs(jaw - expected).max() < 0.021  # the take and its own lip-sync layer
        played_by_take[take.name] = played(demo_head, frames, "browDownLeft")
    first, _, third = played_by_take.values()
    assert np.abs(first - third).max() > 0.02  # seeded variations differ visibly
    bpy.ops.keyframeface.take_switch(take=listed[0].name)
    assert bpy.ops.keyframeface.take_duplicate() == {"FINISHED"}
    assert len(takes.takes_of(rig)) == 4
    copy = takes.active_take(rig)
    assert copy != listed[0] and copy.id != listed[0].id
    assert np.allclose(played(demo_head, frames, "jawOpen"), sample_channel(copy.track, "jawOpen", (frames - 1) / 30.0), atol=0.021)
    assert bpy.ops.keyframeface.take_delete() == {"FINISHED"}
    assert len(takes.takes_of(rig)) == 3 and takes.active_take(rig) == listed[-1]
    for take in list(takes.takes_of(rig)):
        bpy.ops.keyframeface.take_delete(take=take.name)
    assert not takes.takes_of(rig)
    assert key.animation_data.action == artist  # back to the artist's own action
    assert "Artist" not in artist.name and artist.name in bpy.data.actions
    assert not [a for a in bpy.data.actions if a.get("keyframeface_take_id")]


def test_picking_a_take_in_the_list_plays_it(blender, demo_head):
    import bpy

    takes = blender("keyframeface_addon.takes")
    rig = blender("keyframeface_addon.rig").find_rig(demo_head)
    bpy.ops.keyframeface.generate_variations(count=2)
    first, second = takes.takes_of(rig)
    bpy.context.scene.keyframeface.take_index = list(bpy.data.actions).index(second.action)
    assert takes.active_take(rig) == second


def test_naming_something_that_is_not_a_take_changes_nothing(blender, demo_head):
    import bpy
    import pytest

    takes = blender("keyframeface_addon.takes")
    rig = blender("keyframeface_addon.rig").find_rig(demo_head)
    bpy.ops.keyframeface.generate_variations(count=2)
    playing = takes.active_take(rig)
    artist = bpy.data.actions.new("Artist walk")
    for operator in (bpy.ops.keyframeface.take_duplicate, bpy.ops.keyframeface.take_delete,
                     bpy.ops.keyframeface.take_switch):
        for name in ("Artist walk", "no such action"):
            with pytest.raises(RuntimeError, match=f"'{name}' is not a take of this head"):
                operator(take=name)
    assert len(takes.takes_of(rig)) == 2 and takes.active_take(rig) == playing
    assert "Artist walk" in bpy.data.actions
    bpy.data.actions.remove(artist)
