"""The Local model backend with a tiny random-weight model built by the test: the grammar
engine turns even random weights into valid, in-range keyframes and plans, feeds the fixed JSON
instead of decoding it, decodes a line's keyframes together exactly as one at a time, and
catches the empty answers random weights give."""

import json
import random

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("llguidance")

from model_runtime.arkit import BLENDSHAPES, POSE  # noqa: E402
from model_runtime.backends import GenerateRequest, get_backend  # noqa: E402
from model_runtime.backends.constrained import keyframe_grammar, plan_grammar  # noqa: E402
from model_runtime.backends.decoding import DecodeStats, EngineConstraint  # noqa: E402
from model_runtime.backends.llm import LABELS, build_messages  # noqa: E402
from model_runtime.errors import BackendError  # noqa: E402
from model_runtime.formats.keyframeface_json import keyframe_key, parse_keyframe_answer  # noqa: E402
from model_runtime.track import Track  # noqa: E402
from tests.servers import our_server  # noqa: E402
from tests.test_llm import VOCABULARY, _random_walk  # noqa: E402
from tests.tiny_model import build_tiny_model  # noqa: E402

DESCRIPTIONS = ["The brows lift and the jaw drops.", "A broad smile.", "The lips press together."]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Two intra-op threads on a shared two-core machine spin against each other (60x slower here).
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture(scope="module")
def local(tiny_model):
    return get_backend("local", model_path=str(tiny_model))


def _answers(backend, indices, temperature=0.0):
    conversations = [build_messages(DESCRIPTIONS, "A party.", "joy", i) for i in indices]
    return backend.with_options(temperature=temperature).complete_many(
        conversations, [keyframe_grammar(keyframe_key(i)) for i in indices])


def test_random_weights_still_give_valid_in_range_keyframes(local):
    for index, text in zip(range(3), _answers(local, range(3), temperature=1.0)):
        parsed = parse_keyframe_answer(text)
        assert parsed.key == keyframe_key(index)
        assert set(parsed.weights) == set(BLENDSHAPES) and set(parsed.pose) == set(POSE)
        assert not parsed.missing and not parsed.clamped and not parsed.ignored
        numbers = json.loads(text)[keyframe_key(index)].values()
        assert all(len(repr(float(v)).split(".")[1]) <= 3 for v in numbers)


def test_the_fixed_json_is_fed_not_decoded_and_the_prompt_prefix_is_shared(local):
    local.stats = DecodeStats()
    _answers(local, [0])
    one = local.stats
    assert one.fed_tokens > one.decoded_tokens  # names, quotes, colons and commas were fast-forwarded
    assert one.steps == one.decoded_tokens  # one forward pass per decoded token, none per fed token
    local.stats = DecodeStats()
    _answers(local, range(3))
    three = local.stats
    assert three.rows == 3 and three.shared_prompt_tokens > 0.9 * one.prompt_tokens
    assert three.steps < 2 * one.steps  # three keyframes in one pass per step, not three passes


def test_a_line_decoded_together_equals_its_keyframes_decoded_one_by_one(local):
    # Padding, positions and the shared prefix change nothing: greedy answers are identical.
    together = _answers(local, range(3))
    assert together == [_answers(local, [i])[0] for i in range(3)]


def test_engine_and_reference_grammar_agree(local, tiny_model):
    reference = get_backend("local", model_path=str(tiny_model), engine="reference")
    reference_text = _answers(reference, [1])[0]
    grammar = keyframe_grammar(keyframe_key(1))
    assert grammar.done(grammar.advance(grammar.start, reference_text))
    # Whatever the reference grammar allows, the engine allows too, token by token...
    for text in [reference_text] + [_random_walk(keyframe_grammar(), VOCABULARY, random.Random(s)) for s in range(2)]:
        rows = EngineConstraint(local._engine_tokenizer, keyframe_grammar(json.loads(text).popitem()[0]))
        rows.consume(local.tokenizer(text, add_special_tokens=False)["input_ids"])
        assert rows.done()
    # ...and what it refuses (a value out of range, a fourth decimal), the engine refuses.
    for bad in ('{"Keyframe_one": {"EyeBlinkLeft": 1.5', '{"Keyframe_one": {"EyeBlinkLeft": 0.1234'):
        with pytest.raises(BackendError):
            EngineConstraint(local._engine_tokenizer, keyframe_grammar()).consume(
                local.tokenizer(bad, add_special_tokens=False)["input_ids"])


def test_random_weights_are_caught_as_degenerate_and_replaced_or_refused(local):
    track = local.generate(GenerateRequest(script="Hello there!", emotion="happy", seed=1))
    again = Track.from_json(track.to_json())
    assert len(again.keyframes) >= 2 and all(k.label in LABELS and k.description for k in again.keyframes)
    notes = " ".join(track.notes)
    assert "The plan from the local model tiny-llama was degenerate" in notes and "built-in planner instead" in notes
    assert "from the local model tiny-llama was degenerate" in notes and "built-in solver instead" in notes
    assert "lipsync" in track.layers  # composition is shared with every backend
    with pytest.raises(BackendError, match="The plan from the local model tiny-llama was degenerate"):
        local.with_options(on_degenerate="fail").generate(GenerateRequest(script="Hello there!", emotion="happy"))


def test_the_plan_grammar_holds_with_random_weights(local):
    grammar = plan_grammar(3, 2.5, LABELS, max_description=12)
    text = local.with_options(temperature=1.0).complete_many(
        [[{"role": "user", "content": "Plan a line."}]], [grammar])[0]
    planned = json.loads(text)["keyframes"]
    assert len(planned) == 3 and all(0 <= k["time"] <= 2.5 and k["label"] in LABELS and k["description"].strip()
                                     and len(k["description"]) <= 12 for k in planned)


def test_request_options_share_the_model_and_model_options_are_refused(local):
    variant = local.with_options(plan="builtin", temperature=0.5, on_degenerate="fail")
    assert variant.model is local.model and variant.plan_source == "builtin" and local.plan_source == "model"
    with pytest.raises(BackendError, match="need another model"):
        local.with_options(model_path="/elsewhere")
    with pytest.raises(BackendError, match="on_degenerate must be one of builtin, fail"):
        local.with_options(on_degenerate="ignore")


def test_missing_model_directory_and_bad_device_are_clear_errors(tmp_path, tiny_model):
    import torch

    with pytest.raises(BackendError, match="does not exist"):
        get_backend("local", model_path=str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackendError, match="no config.json"):
        get_backend("local", model_path=str(tmp_path / "empty"))
    with pytest.raises(BackendError, match="device must be one of auto, cpu, cuda"):
        get_backend("local", model_path=str(tiny_model), device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(BackendError, match="sees no CUDA GPU"):
            get_backend("local", model_path=str(tiny_model), device="cuda")


def test_our_servers_openai_route_served_by_the_local_model(tiny_model):
    with our_server("--backend", "local", "--model", str(tiny_model)) as url:
        backend = get_backend("openai", base_url=url, model="keyframeface-local", plan="builtin")
        track = backend.generate(GenerateRequest(script="Good morning.", emotion="calm"))
    assert all(0 <= v <= 1 for k in track.keyframes for v in k.weights.values())
    assert not [n for n in track.notes if "left out" in n or "clamped" in n]


def test_smollm2_from_its_wheel_plans_and_solves_a_constrained_line_end_to_end():
    from model_runtime.backends import smollm2

    if smollm2.gguf_path() is None:
        pytest.skip(f"SmolLM2 is not installed ({smollm2.INSTALL_HINT}; ./kff test installs it)")
    # The built-in planner keeps the CPU time modest (the tiny model covers the model's plan).
    backend = get_backend("local", model_path="smollm2", device="cpu", plan="builtin")
    backend.stats = DecodeStats()
    track = Track.from_json(backend.generate(GenerateRequest(script="Fine.", emotion="tired")).to_json())
    # Valid, complete, in range (Track.from_json refuses anything else), every keyframe decoded
    # by the model in one batch, and any degenerate keyframe replaced and said.
    assert len(track.keyframes) >= 2
    assert backend.stats.rows == len(track.keyframes) and backend.stats.steps < backend.stats.decoded_tokens
    assert backend.stats.fed_tokens >= 61 * len(track.keyframes)  # the 61 names were fed, not decoded
    solved_by_model = len(track.keyframes) - sum("was degenerate" in note for note in track.notes)
    assert all("solved with the built-in solver instead" in n for n in track.notes if "was degenerate" in n)
    assert 0 <= solved_by_model <= len(track.keyframes)


def _two_passes_with_padding(model, layer):
    """Logits of two cached passes over three rows, one of them left-padded, on ``layer``."""
    import torch
    from transformers import DynamicCache

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (3, 12), generator=generator)
    mask = torch.ones(3, 12, dtype=torch.long)
    mask[1, :4] = 0
    cache = DynamicCache()
    cache.layer_class_to_replicate = layer
    with torch.inference_mode():
        first = model(ids[:, :8], attention_mask=mask[:, :8], cache=cache, use_cache=True).logits
        second = model(ids[:, 8:], attention_mask=mask, cache=cache, use_cache=True).logits
    return first[mask[:, :8].bool()], second[mask[:, 8:].bool()]


def test_grouped_attention_and_the_growing_cache_compute_what_transformers_computes():
    # A model whose query heads share key/value heads (grouped-query attention, as SmolLM2).
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.cache_utils import DynamicLayer

    from model_runtime.backends.decoding import GROUPED_ATTENTION, growing_cache_layer, use_grouped_attention

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    model = LlamaForCausalLM(config).eval()
    model.set_attn_implementation("sdpa")
    theirs = _two_passes_with_padding(model, DynamicLayer)
    assert use_grouped_attention(model) and model.config._attn_implementation == GROUPED_ATTENTION
    ours = _two_passes_with_padding(model, growing_cache_layer())
    for expected, got in zip(theirs, ours):
        assert torch.allclose(expected, got, atol=1e-5)


def test_int8_weights_on_the_cpu_unless_float32_is_asked_for_and_logits_for_one_position_a_row(tiny_model):
    import torch

    int8 = get_backend("local", model_path=str(tiny_model), device="cpu")
    full = get_backend("local", model_path=str(tiny_model), device="cpu", precision="float32")
    assert int8.precision == "int8" and full.precision == "float32"
    assert not any(type(m) is torch.nn.Linear for m in int8.model.modules())
    assert any(type(m) is torch.nn.Linear for m in full.model.modules())
    with pytest.raises(BackendError, match="precision must be one of int8, float32"):
        get_backend("local", model_path=str(tiny_model), precision="half")
    # Whatever the rows feed in a pass, the vocabulary's logits are computed at one position a row.
    positions = []
    hook = full.model.get_output_embeddings().register_forward_hook(lambda m, args, out: positions.append(out.shape[1]))
    try:
        _answers(full, range(3))
    finally:
        hook.remove()
    assert positions and set(positions) == {1}
    for index, text in zip(range(3), _answers(int8, range(3))):
        assert parse_keyframe_answer(text).key == keyframe_key(index)


def test_rows_packed_into_one_sequence_compute_what_transformers_computes_for_each_row_alone():
    # Rows feeding different numbers of tokens, one finishing early (it leaves the cache), on a
    # shared prefix, with grouped-query attention: each row's logits are the model's own for its text.
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from model_runtime.backends.decoding import growing_cache_layer
    from model_runtime.backends.packed import PackedRows, PaddedRows, packs

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    model = LlamaForCausalLM(config).eval()
    assert packs(model)
    prefix = [3, 9, 27, 17, 51]
    feeds = [[[1, 2, 3], [4], [5, 6, 7, 8, 9, 10]], [[11], [12, 13, 14], [15]], [[16, 17], [18], []],
             [[19], [20, 21], []], [[22], [], []]]
    for passes in (PackedRows(model, 3), PaddedRows(model, 3, 0, growing_cache_layer())):
        texts = [list(prefix) for _ in range(3)]
        with torch.inference_mode():
            passes.prefill(prefix)
            for step in feeds:
                logits = passes.step(step)
                for row, tokens in enumerate(step):
                    assert (logits[row] is None) == (not tokens)
                    if tokens:
                        texts[row] += tokens
                        alone = model(torch.tensor([texts[row]])).logits[0, -1]
                        assert torch.allclose(logits[row], alone, atol=1e-5), type(passes).__name__


def test_packed_and_padded_rows_decode_the_same_line(tiny_model):
    import copy

    full = get_backend("local", model_path=str(tiny_model), device="cpu", precision="float32")
    padded = copy.copy(full)
    padded.pack = False
    full.stats, padded.stats = DecodeStats(), DecodeStats()
    assert _answers(full, range(3)) == _answers(padded, range(3))
    assert full.stats.steps == padded.stats.steps and full.stats.decoded_tokens == padded.stats.decoded_tokens
