import pytest

from model_runtime.arkit import (
    BLENDSHAPES, LIVE_LINK_FACE_COLUMNS, PARAMETERS, POSE, mirror, pascal, region_of, to_arkit,
)


def test_schema_sizes_and_orders():
    assert len(BLENDSHAPES) == 52 and len(set(BLENDSHAPES)) == 52
    assert len(POSE) == 9 and PARAMETERS == BLENDSHAPES + POSE
    assert BLENDSHAPES[0] == "eyeBlinkLeft" and BLENDSHAPES[-1] == "tongueOut"
    assert sorted(LIVE_LINK_FACE_COLUMNS) == sorted(BLENDSHAPES)
    # Live Link Face swaps these pairs relative to Apple's order.
    assert LIVE_LINK_FACE_COLUMNS.index("jawRight") < LIVE_LINK_FACE_COLUMNS.index("jawLeft")
    assert BLENDSHAPES.index("jawLeft") < BLENDSHAPES.index("jawRight")
    assert LIVE_LINK_FACE_COLUMNS.index("mouthRight") < LIVE_LINK_FACE_COLUMNS.index("mouthLeft")


@pytest.mark.parametrize("name, expected", [
    ("jawOpen", "jawOpen"),                      # camelCase (Apple, Ready Player Me)
    ("JawOpen", "jawOpen"),                      # PascalCase (Live Link Face, Unreal)
    ("eyeBlink_L", "eyeBlinkLeft"),              # Face Cap
    ("mouthSmile_R", "mouthSmileRight"),
    ("jawLeft", "jawLeft"),                      # direction names stay
    ("mouthRight", "mouthRight"),
    ("eye_blink_left", "eyeBlinkLeft"),          # snake_case
    ("mouth_smile_l", "mouthSmileLeft"),
    ("A01_Brow_Inner_Up", "browInnerUp"),        # Reallusion CC3
    ("A25_Jaw_Open", "jawOpen"),
    ("A52_Tongue_Out", "tongueOut"),
    ("A38_Mouth_Smile_Left", "mouthSmileLeft"),
    ("Face.jawOpen", "jawOpen"),                 # prefixed by FBX/glTF import
    ("blendShape1.mouthLeft", "mouthLeft"),
    ("head_geo:browDown_R", "browDownRight"),
    ("CC_Base_Body_jawOpen", "jawOpen"),
    ("HeadYaw", "headYaw"),
    ("Basis", None),
    ("jawOpenish", None),
    ("", None),
])
def test_naming_conventions(name, expected):
    assert to_arkit(name) == expected


def test_every_convention_round_trips_all_52():
    for name in BLENDSHAPES:
        assert to_arkit(pascal(name)) == name
        snake = "".join("_" + c.lower() if c.isupper() else c for c in name)
        assert to_arkit(snake) == name
        assert to_arkit(f"blendShape1.{name}") == name
        if name.endswith("Left"):
            assert to_arkit(name[:-4] + "_L") == name


def test_mirror_and_regions():
    assert mirror("mouthSmileLeft") == "mouthSmileRight"
    assert mirror("jawRight") == "jawLeft"
    assert mirror("jawOpen") == "jawOpen"
    assert region_of("browInnerUp") == "Brows" and region_of("mouthClose") == "Mouth"
    assert region_of("tongueOut") == "Tongue" and region_of("eyeWideLeft") == "Eyes"
