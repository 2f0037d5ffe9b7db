"""Emotion from the situation: the numpy MiniLM (the same vectors as the torch model), the
labelled corpus, the calibrated head, and the emotion reader that falls back to it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from model_runtime._data import load_json
from model_runtime.backends.builtin.emotion import LEXICON, read_emotion
from model_runtime.meaning import minilm, situation
from model_runtime.meaning.wordpiece import WordPiece

pytestmark = pytest.mark.skipif(not situation.available(), reason="encoder weights missing: run ./kff (it extracts them)")

TEXTS = ["The doctor just called. The tumour is gone.", "a person who is gobsmacked", "x",
         "Crème brûlée at the naïve café, 東京! Really?? (Don't.)",
         "Somebody put my lunch in the microwave with the foil still on. Office kitchen, smoke everywhere."]


def test_numpy_encoder_agrees_with_the_torch_model():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    path = str(minilm._wheel_folder())
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(path, local_files_only=True).eval()
    with torch.no_grad():
        batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        expected = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    for text in TEXTS:
        assert WordPiece(minilm.WEIGHTS_DIR / minilm.VOCAB_FILE).encode(text, 512) == tokenizer(text)["input_ids"], text
    together = minilm.shared().encode(TEXTS)  # padded into one batch
    alone = np.stack([minilm.shared().encode([text])[0] for text in TEXTS])
    assert (together * expected).sum(1).min() > 0.999
    assert (alone * expected).sum(1).min() > 0.999
    # The intermediate layers the situation reader also reads, from the same pass.
    with torch.no_grad():
        states = model(**batch, output_hidden_states=True).hidden_states
    layers = (0, 3, minilm.LAYERS)
    ours = minilm.shared().encode(TEXTS, layers=layers)
    for slot, layer in enumerate(layers):
        pooled = torch.nn.functional.normalize((states[layer] * mask).sum(1) / mask.sum(1), dim=1).numpy()
        assert (ours[:, slot] * pooled).sum(1).min() > 0.999, layer
    assert np.allclose(ours[:, -1], together, atol=1e-6)


@pytest.mark.parametrize("layers", [(), (7,), (-1, 6)])
def test_layers_outside_the_model_are_refused(layers):
    with pytest.raises(ValueError, match="layers are 0"):
        minilm.shared().encode(["Hello."], layers=layers)


def test_a_head_written_before_intermediate_layers_still_reads_the_last_layer_only(tmp_path):
    """Heads from before stop 18 have no 'layers': they were trained on the last layer alone."""
    with np.load(situation.HEAD_FILE) as shipped:
        old = {name: shipped[name] for name in shipped.files if name != "layers"}
    old["weights"] = old["weights"][:, : 3 * minilm.WIDTH]  # the last layer's block
    np.savez(tmp_path / "old.npz", **old)
    reader = situation.SituationReader(tmp_path / "old.npz")
    assert reader.layers == (minilm.LAYERS,)
    reading = reader.read("We won! The whole cup, we actually won it!", "The team lifts the trophy in the rain.")
    assert abs(sum(reading.probabilities.values()) - 1.0) < 1e-5


def test_the_corpus_has_enough_varied_situations_without_emotion_words():
    families = load_json(situation.CORPUS)["families"]
    assert set(families) == set(situation.GENERATOR_FAMILY)
    everyday = {"down", "flat", "lost", "dead", "won", "cold", "please", "blue", "why", "hurt", "believe", "sorry", "help"}
    naming = re.compile(r"(?<![\w'])(" + "|".join(re.escape(w) for w in LEXICON if w not in everyday) + r")(?![\w'])")
    scripts = set()
    for family, items in families.items():
        assert len(items) >= 60, family
        for item in items:
            text = f"{item['script']} {item['context']}".lower()
            assert not naming.search(text), (family, item, naming.search(text).group(0))
            assert item["script"] not in scripts
            scripts.add(item["script"])
    splits = [s["split"] for s in situation.corpus()]
    assert 0.15 < splits.count("heldout") / len(splits) < 0.25
    heldout_families = {s["family"] for s in situation.corpus() if s["split"] == "heldout"}
    assert heldout_families == set(families)


@pytest.mark.parametrize("script, context, family", [
    ("My flight was cancelled and my passport is in the checked bag.", "An airport desk at midnight.", "anger"),
    ("Put it down here, next to the others.", "A clerk sorting parcels in a mail room.", "neutral"),
    ("Something is scratching at the window. We're on the fourth floor.", "Two children alone in a flat at night.", "fear"),
])
def test_an_empty_emotion_reads_the_situation_by_meaning(script, context, family):
    reading = read_emotion("", script, context)
    assert reading.source == "situation"
    mix = reading.families()
    assert max(mix, key=mix.get) == situation.GENERATOR_FAMILY[family]
    assert any("by meaning" in note for note in reading.notes)


def test_a_delivery_alone_still_reads_the_situation():
    from model_runtime.backends import GenerateRequest
    from model_runtime.backends.builtin import BuiltinBackend

    track = BuiltinBackend().generate(GenerateRequest(
        script="My flight was cancelled and my passport is in the checked bag.", context="An airport desk at midnight.",
        emotion="shouting", seed=1))
    assert any("by meaning: anger" in note for note in track.notes)


def test_unsure_readings_stay_neutral_and_say_so(monkeypatch):
    reader = situation.shared_reader()
    monkeypatch.setattr(reader, "threshold", 1.01)
    reading = read_emotion("", "My flight was cancelled and my passport is in the checked bag.", "An airport desk.")
    assert reading.summary() == "neutral"
    assert any("unsure" in note and "neutral" in note for note in reading.notes)


def test_confidence_is_calibrated_and_readings_are_remembered(monkeypatch):
    reader = situation.shared_reader()
    assert 0.05 < reader.temperature < 5.0 and 0.0 < reader.threshold < 1.0
    first = reader.read("We did it, the last box is in. Our own flat.", "A couple drops onto the sofa.")
    assert abs(sum(first.probabilities.values()) - 1.0) < 1e-5

    def no_encoding(texts, *args):
        raise AssertionError("encoded again")

    monkeypatch.setattr(reader.encoder, "encode", no_encoding)
    assert reader.read("We did it, the last box is in. Our own flat.", "A couple drops onto the sofa.") == first


def test_explicit_emotion_words_keep_their_priority():
    reading = read_emotion("furious", "The doctor just called. The tumour is gone.", "A mother in her kitchen.")
    assert reading.source == "emotion" and reading.summary() == "furious"


def test_a_known_emotion_never_loads_the_encoder():
    """Issue 12.13: an emotion the lexicon knows costs no encoder; an unknown one loads it once."""
    code = (
        "from model_runtime.backends import GenerateRequest\n"
        "from model_runtime.backends.builtin import BuiltinBackend\n"
        "from model_runtime.meaning import minilm\n"
        "import sys\n"
        "backend = BuiltinBackend()\n"
        "backend.generate(GenerateRequest(script='Get out of my house.', context='A break-in.', emotion='furious'))\n"
        "known = minilm.loaded() or 'torch' in sys.modules\n"
        "backend.generate(GenerateRequest(script='Get out of my house.', emotion='gobsmacked'))\n"
        "print(known, minilm.loaded(), 'torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                            cwd=str(minilm.DATA_DIR.parent.parent))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "False"]


@pytest.mark.parametrize("emotion, absent", [("not happy, not sad", {"joy", "sadness"}),
                                             ("no longer angry", {"anger"}),
                                             ("calm, without fear", {"fear"})])
def test_negated_emotions_are_not_shown(emotion, absent):
    """Issue 12.15: 'not happy, not sad' used to read as a happy+sad blend."""
    reading = read_emotion(emotion, "There is something I have to tell you.", "")
    assert not absent & set(reading.families()), reading.summary()
    assert any("Negated" in note for note in reading.notes)
    assert "not" not in reading.unknown_words


def test_hardly_leaves_a_trace_and_negation_ends_with_the_clause():
    hardly = read_emotion("hardly surprised")
    plain = read_emotion("surprised")
    assert hardly.parts[0].felt[0].intensity < 0.5 * plain.parts[0].felt[0].intensity
    reading = read_emotion("not angry, but hurt")
    assert "anger" not in reading.families() and "hurt" in reading.summary()


def test_a_negated_emotion_stays_off_the_face_whatever_the_situation():
    script, context = "We won! The whole cup, we actually won it!", "The team lifts the trophy in the rain."
    assert max(read_emotion("", script, context).families().items(), key=lambda kv: kv[1])[0] == "joy"
    reading = read_emotion("not happy", script, context)
    assert "joy" not in reading.families()


def test_training_command_writes_a_head_the_reader_loads(tmp_path, monkeypatch):
    from model_runtime.meaning import train

    few = [s for s in situation.corpus() if s["script"][0] in "TW"][:40]
    monkeypatch.setattr(train, "corpus", lambda: few)
    report = train.train(tmp_path / "head.npz", verbose=False)
    assert report["situations"] == len(few)
    reader = situation.SituationReader(tmp_path / "head.npz")
    reading = reader.read(few[0]["script"], few[0]["context"])
    assert set(reading.probabilities) <= set(situation.GENERATOR_FAMILY)
    with np.load(situation.HEAD_FILE) as shipped:
        assert [str(f) for f in shipped["families"]] == list(load_json(situation.CORPUS)["families"])
        assert shipped["weights"].shape == (8, 3 * len(situation.READ_LAYERS) * minilm.WIDTH)
        assert tuple(shipped["layers"]) == situation.READ_LAYERS
    json.dumps(report)


def _with_test_set(monkeypatch, path):
    from model_runtime import evaluation

    names = [name for name, _ in evaluation.SITUATION_SETS]
    assert any(name.startswith("dev") and "tuning" in name for name in names)
    test = next(name for name in names if name.startswith("test"))
    monkeypatch.setattr(evaluation, "SITUATION_SETS", ((test, path),))
    return evaluation


def test_the_eval_reports_a_test_set_file_with_a_confusion_matrix(tmp_path, monkeypatch):
    """The coordinator adds data/eval/situations_test.json after the stop; the eval must read
    that format ({"_about", "situations": [{"script", "context", "family"}]}) as it is."""
    path = tmp_path / "situations_test.json"
    path.write_text(json.dumps({"_about": "tiny", "situations": [
        {"script": "We won! The whole cup, we actually won it!", "context": "The team lifts the trophy in the rain.",
         "family": "happiness"},
        {"script": "Something is scratching at the window. We're on the fourth floor.",
         "context": "Two children alone in a flat at night.", "family": "fear"},
        {"script": "Put it down here, next to the others.", "context": "A clerk sorting parcels in a mail room.",
         "family": "surprise"}]}), encoding="utf-8")
    evaluation = _with_test_set(monkeypatch, path)
    results = evaluation.run_situations()
    test = next(s for name, s in results["sets"].items() if name.startswith("test"))
    assert test["situations"] == 3
    assert abs(test["accuracy"] - 2 / 3) < 1e-9  # the parcel clerk is labelled surprise, read neutral
    families = results["families"]
    assert test["confusion"][families.index("surprise")][families.index("neutral")] == 1
    assert sum(map(sum, test["confusion"])) == 3
    report = evaluation.format_situations(results)
    assert re.search(r"^test .*: 67% of 3", report, re.M)


@pytest.mark.parametrize("content, message", [
    (None, "not present"),
    ("{not json", "could not be read"),
    (json.dumps({"situations": [{"script": "Hi.", "context": "", "family": "glee"}]}), "'glee', not one of"),
    (json.dumps({"items": []}), "no list of situations"),
])
def test_a_missing_or_malformed_test_set_is_reported_not_raised(tmp_path, monkeypatch, content, message):
    path = tmp_path / "situations_test.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    evaluation = _with_test_set(monkeypatch, path)
    report = evaluation.format_situations(evaluation.run_situations())
    line = next(line for line in report.splitlines() if line.startswith("test"))
    assert message in line and "%" not in line


def test_a_retrain_reads_encodings_back_and_keeps_what_it_did_not_use(tmp_path, monkeypatch):
    from model_runtime.meaning import train

    cache = tmp_path / "encoded.npz"
    few = situation.corpus()[:3]
    first = train.encoded_features(few, cache)
    assert first.shape == (3, 3 * len(situation.READ_LAYERS) * minilm.WIDTH)

    def no_encoding(texts, *args):
        raise AssertionError(f"encoded again: {texts}")

    monkeypatch.setattr(minilm.shared(), "encode", no_encoding)
    assert np.array_equal(train.encoded_features(few[1:], cache), first[1:])
    assert np.array_equal(train.encoded_features(few, cache), first)  # the first one is still known
    monkeypatch.undo()
    # A cache of other layers is not mistaken for this one's.
    last_only = train.encoded_features(few, cache, layers=(minilm.LAYERS,))
    assert last_only.shape == (3, 3 * minilm.WIDTH)
    assert np.allclose(last_only, first.reshape(3, len(situation.READ_LAYERS), -1)[:, situation.READ_LAYERS.index(minilm.LAYERS)])


def test_the_neutral_threshold_is_the_highest_that_costs_no_accuracy():
    from model_runtime.meaning import train

    neutral = 2
    labels = np.array([0, 1, 2, 2])
    probabilities = np.array([[0.9, 0.05, 0.05], [0.3, 0.5, 0.2], [0.45, 0.1, 0.45], [0.1, 0.3, 0.6]])
    # Up to 0.45 every reading is right (the unsure third row becomes neutral from 0.5 on, the
    # second row is lost above 0.5): the threshold is 0.5.
    assert train.fit_threshold(probabilities, labels, neutral) == 0.5


def test_outside_writers_are_marked_in_the_corpus():
    """Stops 17-18: writers who never saw the corpus added situations; their hand is kept, so
    training can measure how a head reads a writer it was not trained on."""
    situations = situation.corpus()
    hands = {s["hand"] for s in situations}
    outside = {"a", "b", "c", "d", "e", "f"}
    assert situation.OWN_HAND in hands and outside <= hands
    for hand in outside:
        per_family = [sum(1 for s in situations if s["hand"] == hand and s["family"] == f) for f in situation.GENERATOR_FAMILY]
        assert min(per_family) >= 55, (hand, per_family)


def test_a_hand_is_read_by_a_head_that_never_saw_it():
    """The calibration's predictions for a writer come from a head trained without that writer:
    a writer whose labels contradict everyone else's is read by the others' rule (all wrong)."""
    from model_runtime.meaning import train

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(120, 4)).astype(np.float32)
    labels = (vectors[:, 0] > 0).astype(int)
    hands = np.array([situation.OWN_HAND] * 80 + ["a"] * 40)
    labels[hands == "a"] = 1 - labels[hands == "a"]
    logits = train.out_of_hand_logits(vectors, labels, hands, 2)
    assert np.isnan(logits[hands == situation.OWN_HAND]).all()
    assert (logits[hands == "a"].argmax(1) != labels[hands == "a"]).mean() > 0.9


def test_training_reports_each_hand_read_by_heads_trained_without_it(tmp_path, monkeypatch):
    from model_runtime.meaning import train

    few = [s for s in situation.corpus() if s["script"][0] in "TW"]
    few = [s for s in few if s["hand"] == situation.OWN_HAND][:40] + [s for s in few if s["hand"] == "a"][:24]
    monkeypatch.setattr(train, "corpus", lambda: few)
    report = train.train(tmp_path / "head.npz", verbose=False, measure_hands=True)
    assert report["calibrated_on"] == "other hands"
    assert set(report["cross_hand"]) == {situation.OWN_HAND, "a", "mean"}
    assert all(0.0 <= v <= 1.0 for v in report["cross_hand"].values())
    assert report["cross_hand"]["mean"] == round((report["cross_hand"][situation.OWN_HAND] + report["cross_hand"]["a"]) / 2, 3)
