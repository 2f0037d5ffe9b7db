"""Inside Blender's own Python (no torch): an empty emotion field reads the situation by
meaning with the numpy encoder, and the take's notes say so."""

import numpy as np


def test_empty_emotion_reads_the_situation_in_blender(blender, demo_head):
    import bpy

    settings = bpy.context.scene.keyframeface
    settings.script = "My flight was cancelled and my passport is in the checked bag."
    settings.context = "An airport desk at midnight."
    settings.emotion = ""
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    takes = blender("keyframeface_addon.takes")
    track = takes.track_of(demo_head.data.shape_keys.animation_data.action)
    assert any("by meaning: anger" in note for note in track.notes), track.notes
    brows = max(k.weights["browDownLeft"] for k in track.keyframes)
    assert brows > 0.2  # an angry face, not a neutral one
    assert np.isfinite([k.weights["jawOpen"] for k in track.keyframes]).all()
