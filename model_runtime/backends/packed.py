"""Decode passes that pack a line's rows into one sequence (Llama-shaped models).

transformers' forward takes rows as a padded batch: a row feeding one token beside a row
feeding a parameter name (8 tokens) computes 8 positions, and each padding position also takes
a slot in every row's KV cache, so by the end of a line's keyframes attention reads almost
twice the keys a row holds. Here the rows' real tokens go through the weights as one packed
sequence, and attention runs over each row's own keys, kept without holes in room reserved
ahead (rows that finished are dropped from it). The model's own modules (embedding, norms,
projections, MLP, rotary embedding, output layer) do the math, so int8 layers work unchanged;
only the glue between them is ours. ``PaddedRows`` is the transformers path, for the models
this glue does not know.
"""

from __future__ import annotations

import inspect


def packs(model) -> bool:
    """Whether ``PackedRows`` can run this model: a plain Llama (no sliding window, no
    per-head norms); other architectures take transformers' own forward."""
    inner = getattr(model, "model", None)
    if getattr(model.config, "model_type", None) != "llama" or inner is None:
        return False
    if not all(hasattr(inner, name) for name in ("embed_tokens", "layers", "norm", "rotary_emb")):
        return False
    attention = inner.layers[0].self_attn
    return all(hasattr(attention, name) for name in ("q_proj", "k_proj", "v_proj", "o_proj", "scaling"))


def _rotate(states, cos, sin):
    half = states.shape[-1] // 2
    import torch

    return states * cos + torch.cat((-states[..., half:], states[..., :half]), dim=-1) * sin


class PackedRows:
    """Every row's KV cache (one tensor per layer: rows, key/value heads, room, head size) and
    one forward pass for the tokens the rows feed in a step."""

    def __init__(self, model, rows: int):
        config = model.config
        self.model, self.inner, self.rows = model, model.model, rows
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.keys: list = [None] * len(self.inner.layers)
        self.values: list = [None] * len(self.inner.layers)
        self.slots = list(range(rows))  # the row each cache slot holds
        self.lengths = [0] * rows

    def prefill(self, tokens: list[int]) -> None:
        """Compute the prefix every row shares once, then give each row its copy."""
        self.lengths = [0]
        self._forward([tokens], logits=False)
        for layer in range(len(self.keys)):
            self.keys[layer] = self.keys[layer].repeat(self.rows, 1, 1, 1)
            self.values[layer] = self.values[layer].repeat(self.rows, 1, 1, 1)
        self.slots, self.lengths = list(range(self.rows)), self.lengths * self.rows

    def step(self, pending: list[list[int]]) -> list:
        """Feed each row its pending tokens; the next-token logits at each row's last one
        (None for rows with nothing pending: they have finished and leave the cache)."""
        kept = [i for i, row in enumerate(self.slots) if pending[row]]
        if len(kept) < len(self.slots) and self.keys[0] is not None:
            import torch

            index = torch.tensor(kept, device=self.keys[0].device)
            self.keys = [k.index_select(0, index) for k in self.keys]
            self.values = [v.index_select(0, index) for v in self.values]
        self.slots, self.lengths = [self.slots[i] for i in kept], [self.lengths[i] for i in kept]
        logits = self._forward([pending[row] for row in self.slots])
        answer = [None] * self.rows
        for slot, row in enumerate(self.slots):
            answer[row] = logits[slot]
        return answer

    def _forward(self, feeds: list[list[int]], logits: bool = True):
        import torch

        device = self.inner.embed_tokens.weight.device
        counts = torch.tensor([len(f) for f in feeds])
        before = torch.tensor(self.lengths)
        width, total = int(counts.max()), int(counts.sum())
        # Each packed token's row (cache slot), its place among its row's new tokens, and position.
        slot_of = torch.repeat_interleave(torch.arange(len(feeds)), counts)
        place = torch.arange(total) - torch.repeat_interleave(counts.cumsum(0) - counts, counts)
        positions = before[slot_of] + place
        after = before + counts
        length = int(after.max())
        groups = self.heads // self.kv_heads
        mask = None  # one row feeding one token sees all its keys
        if len(feeds) > 1 or width > 1:
            # Which keys each query sees: its row's own up to itself (a padding query repeats its
            # row's last real query, so no row of the mask is empty).
            limit = before[:, None] + torch.minimum(torch.arange(width)[None], counts[:, None] - 1)
            mask = (torch.arange(length)[None, None] <= limit[:, :, None])[:, None]
            mask = mask.repeat(1, 1, groups, 1).to(device)  # query rows are grouped head by head
        slot_of, place, positions = (t.to(device) for t in (slot_of, place, positions))

        hidden = self.inner.embed_tokens(torch.tensor([[t for f in feeds for t in f]], device=device))
        cos, sin = self.inner.rotary_emb(hidden, positions[None])
        cos, sin = cos[0, :, None], sin[0, :, None]  # per token, broadcast over heads
        for layer_index, layer in enumerate(self.inner.layers):
            attention = layer.self_attn
            residual = hidden
            normed = layer.input_layernorm(hidden)
            query = _rotate(attention.q_proj(normed).view(total, self.heads, self.head_dim), cos, sin)
            key = _rotate(attention.k_proj(normed).view(total, self.kv_heads, self.head_dim), cos, sin)
            value = attention.v_proj(normed).view(total, self.kv_heads, self.head_dim)
            keys, values = self._room(layer_index, key, length, len(feeds))
            keys[slot_of, :, positions] = key
            values[slot_of, :, positions] = value
            queries = query.new_zeros(len(feeds), self.heads, width, self.head_dim)
            queries[slot_of, :, place] = query
            output = torch.nn.functional.scaled_dot_product_attention(
                queries.view(len(feeds), self.kv_heads, groups * width, self.head_dim),
                keys[:, :, :length], values[:, :, :length], attn_mask=mask, scale=attention.scaling)
            output = output.view(len(feeds), self.heads, width, self.head_dim)[slot_of, :, place]
            hidden = residual + attention.o_proj(output.reshape(1, total, self.heads * self.head_dim))
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        self.lengths = after.tolist()
        if not logits:
            return None
        last = counts.cumsum(0).to(device) - 1
        # The vocabulary's logits at one position a row: the row's last token.
        return self.model.lm_head(self.inner.norm(hidden[0, last])[:, None])[:, 0]

    def _room(self, layer: int, like, length: int, slots: int):
        """The layer's key and value tensors with room for ``length`` positions (doubling when full)."""
        keys, values = self.keys[layer], self.values[layer]
        if keys is None or keys.shape[2] < length:
            capacity = max(2 * length, 256)
            grown = [like.new_zeros(slots, self.kv_heads, capacity, self.head_dim) for _ in range(2)]
            if keys is not None:
                grown[0][:, :, :keys.shape[2]] = keys
                grown[1][:, :, :values.shape[2]] = values
            keys, values = self.keys[layer], self.values[layer] = grown
        return keys, values


class PaddedRows:
    """The rows as a padded batch through transformers' own forward, on one ``DynamicCache``
    (appending into reserved room, ``growing_cache_layer``); padding goes in front of each
    row's tokens and is masked out of attention."""

    def __init__(self, model, rows: int, pad_id: int, cache_layer=None):
        import torch
        from transformers import DynamicCache

        self.model, self.rows, self.pad_id = model, rows, pad_id
        self.cache = DynamicCache()
        if cache_layer is not None and hasattr(self.cache, "layer_class_to_replicate"):
            self.cache.layer_class_to_replicate = cache_layer
        # transformers renamed past_key_values to cache (5.2x); older ones know only the first.
        self.cache_argument = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.visible = torch.ones((rows, 0), dtype=torch.long, device=model.device)
        self.positions = [0] * rows

    def prefill(self, tokens: list[int]) -> None:
        import torch

        device = self.model.device
        self.model(torch.tensor([tokens], device=device), use_cache=True, logits_to_keep=1,
                   **{self.cache_argument: self.cache})
        if self.rows > 1:
            self.cache.batch_repeat_interleave(self.rows)
        self.visible = torch.ones((self.rows, len(tokens)), dtype=torch.long, device=device)
        self.positions = [len(tokens)] * self.rows

    def step(self, pending: list[list[int]]) -> list:
        import torch

        device = self.model.device
        # Rows end at the pass's last column (padding goes in front, masked out), so the
        # vocabulary's logits are computed for one position a row, not for every fed token.
        width = max(len(p) for p in pending)
        ids = torch.full((self.rows, width), self.pad_id, dtype=torch.long)
        real = torch.zeros((self.rows, width), dtype=torch.long)
        position_ids = torch.zeros((self.rows, width), dtype=torch.long)
        for row, tokens in enumerate(pending):
            pad = width - len(tokens)
            if tokens:
                ids[row, pad:] = torch.tensor(tokens)
                real[row, pad:] = 1
            position_ids[row, pad:] = torch.arange(self.positions[row], self.positions[row] + len(tokens))
            self.positions[row] += len(tokens)
        self.visible = torch.cat([self.visible, real.to(device)], dim=1)
        logits = self.model(ids.to(device), attention_mask=self.visible, position_ids=position_ids.to(device),
                            use_cache=True, logits_to_keep=1, **{self.cache_argument: self.cache}).logits[:, -1]
        return [logits[row] if tokens else None for row, tokens in enumerate(pending)]


__all__ = ["PackedRows", "PaddedRows", "packs"]
