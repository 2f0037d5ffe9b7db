"""Constrained decoding that spends the model only on what is free.

A KeyframeFace answer is mostly fixed text: 61 parameter names, quotes, colons and commas. The
model decodes only the numbers, labels and descriptions; the fixed text in between is *fed*
(fast-forwarded) in the same forward pass as the token that made it certain. Everything runs
on one KV cache:

- the prompt prefix that a line's keyframes share (system message, description sequence,
  background, emotion) is computed once and shared by every row;
- a line's keyframes are decoded together, one row each, in one forward pass per step; rows
  advance by different numbers of tokens, so for Llama-shaped models the rows' tokens are
  packed into one sequence with no padding (``packed.PackedRows``), other models take
  transformers' forward with padding masked out of attention (``packed.PaddedRows``);
- the grammar engine is llguidance (``LLMatcher``: vocabulary masks and fast-forward tokens
  from a Lark grammar, ``constrained.Grammar.lark``). ``ReferenceConstraint`` runs the same
  loop with our pure-Python grammar instead (no fast-forward): the tests compare the two.

torch and llguidance are imported lazily; ``DecodeStats`` counts what the benchmark reports.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackendError
from .constrained import Grammar, TokenTable
from .packed import PackedRows, PaddedRows, packs

ENGINE_HINT = "pip install llguidance==1.9.1"


@dataclass
class DecodeStats:
    """What one decode cost: forward passes, tokens the model chose and tokens fed to it."""

    rows: int = 0
    steps: int = 0
    prompt_tokens: int = 0
    shared_prompt_tokens: int = 0
    decoded_tokens: int = 0
    fed_tokens: int = 0
    forward_seconds: float = 0.0
    engine_seconds: float = 0.0
    seconds: float = 0.0

    def add(self, other: "DecodeStats") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class EngineConstraint:
    """One row's grammar in llguidance: masks and fast-forward tokens."""

    def __init__(self, engine_tokenizer, grammar: Grammar):
        import llguidance

        self.matcher = llguidance.LLMatcher(engine_tokenizer, grammar.lark(), log_level=0)
        if self.matcher.is_error():
            raise BackendError(f"The grammar engine refused the answer's grammar: {self.matcher.get_error()}")
        self.tokens: list[int] = []

    def forced(self) -> list[int]:
        return list(self.matcher.compute_ff_tokens())

    def allowed(self, vocab_size: int):
        import numpy

        bits = numpy.frombuffer(self.matcher.compute_bitmask(), dtype=numpy.uint8)
        allowed = numpy.zeros(vocab_size, dtype=bool)
        unpacked = numpy.unpackbits(bits, bitorder="little")[:vocab_size].astype(bool)
        allowed[: unpacked.size] = unpacked
        return allowed

    def consume(self, tokens: list[int]) -> None:
        if tokens and not self.matcher.consume_tokens(tokens):
            raise BackendError(f"The grammar engine rejected tokens it allowed: {self.matcher.get_error()}")
        self.tokens += tokens

    def done(self) -> bool:
        return self.matcher.is_accepting()


class ReferenceConstraint:
    """One row's grammar in pure Python (``constrained.Grammar``): the reference, no fast-forward."""

    def __init__(self, table: TokenTable, grammar: Grammar):
        self.table, self.grammar, self.state = table, grammar, grammar.start
        self.tokens: list[int] = []

    def forced(self) -> list[int]:
        return []

    def allowed(self, vocab_size: int):
        import numpy

        allowed = numpy.zeros(vocab_size, dtype=bool)
        ids = [i for i in self.table.allowed(self.grammar, self.state) if i < vocab_size]
        allowed[ids] = True
        return allowed

    def consume(self, tokens: list[int]) -> None:
        for token in tokens:
            state = self.grammar.advance(self.state, self.table.strings.get(token, ""))
            if state is None:
                raise BackendError("The reference grammar rejected a token it allowed.")
            self.state = state
        self.tokens += tokens

    def done(self) -> bool:
        return self.grammar.done(self.state)


def engine_tokenizer(tokenizer, vocab_size: int, folder=None):
    """llguidance's view of a model's tokenizer (about a second to build: keep it). Read from
    the folder's ``tokenizer.json`` when there is one: the file the model was saved with, not a
    transformers version's rebuilt idea of it."""
    try:
        import llguidance
        import llguidance.hf
    except ImportError:
        raise BackendError(f"The Local model backend's grammar engine is missing: {ENGINE_HINT}") from None
    try:
        saved = Path(folder or "", "tokenizer.json")
        if folder and saved.is_file():
            return llguidance.LLTokenizer(_byte_level_said(saved.read_text(encoding="utf-8")), n_vocab=vocab_size,
                                          eos_token=tokenizer.eos_token_id)
        return llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size)
    except ValueError as error:
        raise BackendError(f"The grammar engine cannot read this model's tokenizer ({error}); "
                           "it needs a fast (tokenizer.json) tokenizer.") from None


def _byte_level_said(tokenizer_json: str) -> str:
    """A byte-level BPE vocabulary ('Ġ' stands for a space) with a decoder that says so. Some
    transformers versions save such a tokenizer (SmolLM2's, read from its GGUF, with 5.17) with
    a sentencepiece-style decoder chain; the engine then reads 'Ġ' literally."""
    data = json.loads(tokenizer_json)
    vocab = (data.get("model") or {}).get("vocab") or {}
    byte_level = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    decoder = data.get("decoder") or {}
    if decoder.get("type") == "ByteLevel" or not isinstance(vocab, dict) or not any(t.startswith("Ġ") for t in vocab):
        return tokenizer_json
    data["decoder"] = byte_level
    return json.dumps(data, ensure_ascii=False)


def _shared_prefix(prompts: list[list[int]]) -> int:
    """How many leading tokens every prompt shares, leaving each at least one of its own."""
    shortest = min(len(p) for p in prompts)
    length = 0
    while length < shortest - 1 and all(p[length] == prompts[0][length] for p in prompts):
        length += 1
    return length


def _choose(logits, allowed, temperature: float, generator):
    import torch

    masked = logits.float().masked_fill(~allowed, float("-inf"))
    if not torch.isfinite(masked).any():
        raise BackendError("The grammar left no token to choose (the model's vocabulary cannot write the answer).")
    if temperature <= 0:
        return int(masked.argmax())
    probabilities = torch.softmax(masked / temperature, dim=-1)
    return int(torch.multinomial(probabilities.cpu(), 1, generator=generator))


@functools.cache
def growing_cache_layer():
    """A KV-cache layer that appends into room reserved ahead (doubling when full) instead of
    concatenating: transformers' ``DynamicLayer`` copies the whole cache at every step, which
    on a CPU cost as much as the attention itself for a line's rows."""
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            used = self.keys.shape[-2] if self.keys.numel() else 0
            end = used + key_states.shape[-2]
            room = getattr(self, "room", None)
            # First update, full, or the base class replaced the tensors (repeat_interleave, crop).
            if room is None or self.keys is not self.view or end > room[0].shape[-2]:
                capacity = max(2 * end, 256)
                room = tuple(states.new_empty(states.shape[:-2] + (capacity, states.shape[-1]))
                             for states in (key_states, value_states))
                if used:
                    room[0][..., :used, :] = self.keys
                    room[1][..., :used, :] = self.values
                self.room = room
            room[0][..., used:end, :] = key_states
            room[1][..., used:end, :] = value_states
            self.keys, self.values = room[0][..., :end, :], room[1][..., :end, :]
            self.view = self.keys
            return self.keys, self.values

    return GrowingLayer


def grouped_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs):
    """Scaled dot-product attention that reads each key/value head once for the query heads
    sharing it (grouped-query attention) instead of copying the cache once per query head:
    transformers' CPU path repeats the keys and values in memory at every layer and step."""
    import torch

    batch, heads, length, dim = query.shape
    groups = heads // key.shape[1]
    grouped = query.reshape(batch, key.shape[1], groups * length, dim)
    mask = attention_mask
    if mask is None and length > 1:
        mask = torch.ones(length, key.shape[-2], dtype=torch.bool, device=query.device).tril(key.shape[-2] - length)
    if mask is not None and groups > 1:
        mask = mask.repeat(*([1] * (mask.dim() - 2)), groups, 1)  # the query rows are grouped head by head
    output = torch.nn.functional.scaled_dot_product_attention(grouped, key, value, attn_mask=mask, scale=scaling)
    return output.reshape(batch, heads, length, dim).transpose(1, 2).contiguous(), None


GROUPED_ATTENTION = "keyframeface_grouped"


def use_grouped_attention(model) -> bool:
    """Switch a model that uses transformers' sdpa attention to ``grouped_attention``; False
    when this transformers or model cannot (it then keeps its own)."""
    try:
        from transformers import AttentionInterface
        from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask

        if getattr(model.config, "_attn_implementation", None) != "sdpa":
            return False
        AttentionInterface.register(GROUPED_ATTENTION, grouped_attention)
        ALL_MASK_ATTENTION_FUNCTIONS.register(GROUPED_ATTENTION, sdpa_mask)
        model.set_attn_implementation(GROUPED_ATTENTION)
        return True
    except (ImportError, AttributeError, ValueError, TypeError):
        return False


def decode(model, prompts: list[list[int]], constraints: list, *, pad_id: int, max_new_tokens: int = 4096,
           temperature: float = 0.0, seed: int = 0, stats: DecodeStats | None = None,
           pack: bool = True) -> list[list[int]]:
    """Decode one answer per prompt, each held to its constraint; returns each row's answer
    tokens (decoded and fed). All rows share one forward pass per step: packed into one
    sequence when the model allows it (``packed.PackedRows``, and ``pack``), else as a padded
    batch through transformers' forward."""
    import torch

    started = time.perf_counter()
    stats = stats if stats is not None else DecodeStats()
    rows = len(prompts)
    generator = torch.Generator().manual_seed(seed)
    # The fixed text each answer starts with ('{"Keyframe_one": {"EyeBlinkLeft": ') goes in with the prompt.
    starts = [c.forced() for c in constraints]
    for constraint, forced in zip(constraints, starts):
        constraint.consume(forced)
    stats.fed_tokens += sum(len(f) for f in starts)
    prompts = [list(p) + f for p, f in zip(prompts, starts)]
    shared = _shared_prefix(prompts)
    stats.rows += rows
    stats.prompt_tokens += sum(len(p) for p in prompts)
    stats.shared_prompt_tokens += shared

    with torch.inference_mode():
        passes = (PackedRows(model, rows) if pack and packs(model)
                  else PaddedRows(model, rows, pad_id, growing_cache_layer()))
        if shared:
            tick = time.perf_counter()
            passes.prefill(prompts[0][:shared])
            stats.forward_seconds += time.perf_counter() - tick
        pending = [p[shared:] for p in prompts]
        decoded = [0] * rows
        while any(pending):
            tick = time.perf_counter()
            logits = passes.step(pending)
            stats.forward_seconds += time.perf_counter() - tick
            stats.steps += 1
            tick = time.perf_counter()
            for row, tokens in enumerate(pending):
                if not tokens:
                    continue
                constraint = constraints[row]
                if constraint.done():
                    pending[row] = []
                    continue
                if decoded[row] >= max_new_tokens:
                    raise BackendError(f"The model stopped before finishing the JSON (max_new_tokens={max_new_tokens} "
                                       "may be too small).")
                allowed = torch.from_numpy(constraint.allowed(logits[row].shape[-1])).to(logits[row].device)
                token = _choose(logits[row], allowed, temperature, generator)
                constraint.consume([token])
                decoded[row] += 1
                forced = [] if constraint.done() else constraint.forced()
                constraint.consume(forced)
                stats.decoded_tokens += 1
                stats.fed_tokens += len(forced)
                # A finished row needs no more passes: its last tokens are never read back.
                pending[row] = [] if constraint.done() else [token] + forced
            stats.engine_seconds += time.perf_counter() - tick
    stats.seconds += time.perf_counter() - started
    return [c.tokens for c in constraints]
