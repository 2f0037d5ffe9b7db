import json
import math

import pytest

from model_runtime.arkit import BLENDSHAPES, POSE
from model_runtime.backends import GenerateRequest, get_backend
from model_runtime.errors import TrackError
from model_runtime.track import Track


@pytest.fixture(scope="module")
def track_dict():
    track = get_backend().generate(GenerateRequest(script="Well, that went better than expected!", emotion="relieved"))
    return json.loads(track.to_json())


def test_track_json_contract(track_dict):
    assert track_dict["format"] == "keyframeface.track" and track_dict["version"] == 2
    for field in ("fps", "duration", "script", "context", "emotion", "backend", "seed", "keyframes"):
        assert field in track_dict
    keyframe = track_dict["keyframes"][0]
    assert set(keyframe) >= {"time", "label", "description", "weights", "pose"}
    assert list(keyframe["weights"]) == list(BLENDSHAPES)
    assert list(keyframe["pose"]) == list(POSE)
    assert "lipsync" in track_dict["layers"] and "blinks" in track_dict["layers"]


def test_round_trip(track_dict, tmp_path):
    track = Track.from_dict(track_dict)
    path = tmp_path / "t.json"
    track.save(path)
    again = Track.load(path)
    assert json.loads(again.to_json()) == json.loads(track.to_json())


def _broken(track_dict, change):
    data = json.loads(json.dumps(track_dict))
    change(data)
    return data


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(version=3), "version"),
    (lambda d: d.update(format="other"), "format"),
    (lambda d: d["keyframes"][0]["weights"].update(jawOpen=float("nan")), "finite"),
    (lambda d: d["keyframes"][0]["weights"].update(jawOpen=1.5), "outside"),
    (lambda d: d["keyframes"][0]["pose"].update(headYaw=-3), "outside"),
    (lambda d: d["keyframes"][0]["weights"].update(jawOpenWide=0.1), "unknown names"),
    (lambda d: d["keyframes"][0]["weights"].pop("tongueOut"), "lacks"),
    (lambda d: d.pop("keyframes"), "lacks 'keyframes'"),
    (lambda d: d.update(keyframes=[]), "non-empty"),
    (lambda d: d.update(fps=math.inf), "finite"),
    (lambda d: d["layers"]["lipsync"]["channels"].update(jawWide=[[0.1, 0.2]]), "unknown name"),
    (lambda d: d["layers"]["blinks"].update(blend="multiply"), "blend"),
    (lambda d: d.update(surprise=1), "unknown fields"),
])
def test_rejects_invalid_tracks_with_a_clear_message(track_dict, change, message):
    with pytest.raises(TrackError, match=message):
        Track.from_dict(_broken(track_dict, change))


def test_rejects_non_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(TrackError, match="not valid JSON"):
        Track.load(path)
    with pytest.raises(TrackError, match="cannot read"):
        Track.load(tmp_path / "missing.json")
