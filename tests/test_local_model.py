"""The Local model backend with a tiny random-weight model built by the test: constrained
decoding turns even random weights into valid, in-range keyframes and plans."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from model_runtime.arkit import BLENDSHAPES, POSE  # noqa: E402
from model_runtime.backends import GenerateRequest, get_backend  # noqa: E402
from model_runtime.backends.llm import LABELS  # noqa: E402
from model_runtime.errors import BackendError  # noqa: E402
from model_runtime.track import Track  # noqa: E402
from tests.servers import our_server  # noqa: E402
from tests.tiny_model import build_tiny_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture(scope="module")
def local(tiny_model):
    return get_backend("local", model_path=str(tiny_model))


def test_random_weights_still_give_valid_in_range_keyframes(local):
    for index in range(2):
        solved = local.solve(["The brows lift and the jaw drops.", "A broad smile."], index, "A party.", "joy")
        assert set(solved.weights) == set(BLENDSHAPES) and set(solved.pose) == set(POSE)
        assert all(0 <= v <= 1 for v in solved.weights.values()) and all(-1 <= v <= 1 for v in solved.pose.values())
        assert not solved.notes  # nothing missing, nothing clamped: the decoder allowed only valid output


def test_generate_with_model_plan_is_a_valid_track(local):
    track = local.generate(GenerateRequest(script="Hello there!", emotion="happy", seed=1))
    again = Track.from_json(track.to_json())
    assert len(again.keyframes) >= 2 and all(k.label in LABELS and k.description for k in again.keyframes)
    assert any("Planned by the local model tiny-llama" in note for note in track.notes)
    assert "lipsync" in track.layers  # composition is shared with every backend


def test_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(BackendError, match="does not exist"):
        get_backend("local", model_path=str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendError, match="no config.json"):
        get_backend("local", model_path=str(tmp_path / "empty"))


def test_our_servers_openai_route_served_by_the_local_model(tiny_model):
    with our_server("--backend", "local", "--model", str(tiny_model)) as url:
        backend = get_backend("openai", base_url=url, model="keyframeface-local", plan="builtin")
        track = backend.generate(GenerateRequest(script="Good morning.", emotion="calm"))
    assert all(0 <= v <= 1 for k in track.keyframes for v in k.weights.values())
    assert not [n for n in track.notes if "left out" in n or "clamped" in n]
