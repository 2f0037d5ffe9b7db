"""The demo head carries all 52 ARKit shapes, each moving the right region the right way."""

import numpy as np
import pytest

from model_runtime.arkit import BLENDSHAPES

# shape -> (region test on basis positions, axis, sign of the mean displacement there).
# +X is the character's own left; the face looks down -Y; +Z is up.
EXPECTED = {
    "jawOpen": ("below_mouth", 2, -1),
    "jawForward": ("below_mouth", 1, -1),
    "jawLeft": ("below_mouth", 0, +1),
    "jawRight": ("below_mouth", 0, -1),
    "eyeBlinkLeft": ("left_eye", 2, -1),
    "eyeBlinkRight": ("right_eye", 2, -1),
    "eyeWideLeft": ("left_eye_front", 2, +1),
    "eyeSquintRight": ("right_eye", 2, +1),
    "eyeLookUpLeft": ("left_eye", 2, +1),
    "eyeLookDownRight": ("right_eye", 2, -1),
    "eyeLookInLeft": ("left_eye_front", 0, -1),
    "eyeLookOutLeft": ("left_eye_front", 0, +1),
    "eyeLookInRight": ("right_eye_front", 0, +1),
    "eyeLookOutRight": ("right_eye_front", 0, -1),
    "mouthSmileLeft": ("left_mouth", 2, +1),
    "mouthSmileRight": ("right_mouth", 2, +1),
    "mouthFrownLeft": ("left_mouth", 2, -1),
    "mouthStretchRight": ("right_mouth", 0, -1),
    "mouthLeft": ("mouth", 0, +1),
    "mouthRight": ("mouth", 0, -1),
    "mouthPucker": ("mouth", 1, -1),
    "mouthFunnel": ("mouth", 1, -1),
    "mouthLowerDownLeft": ("left_mouth", 2, -1),
    "mouthUpperUpRight": ("right_mouth", 2, +1),
    "browDownLeft": ("left_brow", 2, -1),
    "browDownRight": ("right_brow", 2, -1),
    "browInnerUp": ("brows", 2, +1),
    "browOuterUpLeft": ("left_brow", 2, +1),
    "browOuterUpRight": ("right_brow", 2, +1),
    "cheekSquintLeft": ("left_cheek", 2, +1),
    "noseSneerRight": ("right_nose", 2, +1),
    "cheekPuff": ("cheeks", 1, -1),
    "tongueOut": ("mouth", 1, -1),
}


def _regions(basis):
    x, y, z = basis[:, 0], basis[:, 1], basis[:, 2]
    front = y < 0
    left_eye = front & (np.abs(z - 0.018) < 0.016) & (x > 0.015) & (x < 0.05)
    right_eye = front & (np.abs(z - 0.018) < 0.016) & (x < -0.015) & (x > -0.05)
    return {
        # The front of the eye: pupil, iris and the lid edges (what a viewer sees move).
        "left_eye_front": left_eye & (y < y[left_eye].min() + 0.006),
        "right_eye_front": right_eye & (y < y[right_eye].min() + 0.006),
        "below_mouth": front & (z < -0.06),
        "mouth": front & (np.abs(z + 0.046) < 0.012) & (np.abs(x) < 0.03),
        "left_mouth": front & (np.abs(z + 0.046) < 0.012) & (x > 0.01) & (x < 0.035),
        "right_mouth": front & (np.abs(z + 0.046) < 0.012) & (x < -0.01) & (x > -0.035),
        "left_eye": left_eye,
        "right_eye": right_eye,
        "left_brow": front & (z > 0.03) & (z < 0.06) & (x > 0.01),
        "right_brow": front & (z > 0.03) & (z < 0.06) & (x < -0.01),
        "brows": front & (z > 0.03) & (z < 0.06),
        "left_cheek": front & (z < 0.0) & (z > -0.04) & (x > 0.025),
        "cheeks": front & (z < 0.0) & (z > -0.06) & (np.abs(x) > 0.03),
        "right_nose": front & (z < -0.01) & (z > -0.04) & (x < 0) & (x > -0.02),
    }


@pytest.fixture(scope="module")
def shapes(blender):
    import bpy

    bpy.ops.wm.read_homefile(use_empty=True)
    assert bpy.ops.keyframeface.demo_head() == {"FINISHED"}
    key = bpy.context.active_object.data.shape_keys
    def positions(block):
        co = np.empty(len(block.data) * 3, dtype=np.float32)
        block.data.foreach_get("co", co)
        return co.reshape(-1, 3).astype(np.float64)
    return {block.name: positions(block) for block in key.key_blocks}


def test_all_52_shapes_present_and_moving(shapes):
    assert list(shapes)[1:] == list(BLENDSHAPES)
    basis = shapes["Basis"]
    for name in BLENDSHAPES:
        moved = np.linalg.norm(shapes[name] - basis, axis=1).max()
        assert moved > 0.0015, f"{name} barely moves ({moved * 1000:.2f} mm)"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shape_moves_the_right_region_the_right_way(shapes, name):
    basis = shapes["Basis"]
    regions = _regions(basis)
    region, axis, sign = EXPECTED[name]
    delta = shapes[name] - basis
    inside = regions[region]
    moving = inside & (np.linalg.norm(delta, axis=1) > 1e-4)
    assert moving.sum() > 5, f"{name} does not move {region}"
    assert np.sign(delta[moving, axis].mean()) == sign


def test_left_shapes_stay_on_the_left(shapes):
    basis = shapes["Basis"]
    for name in ("eyeBlinkLeft", "browDownLeft", "mouthSmileLeft", "cheekSquintLeft", "browOuterUpLeft"):
        delta = np.linalg.norm(shapes[name] - basis, axis=1)
        moved = delta > 0.2 * delta.max()
        assert (basis[moved, 0] > -0.004).all(), name
