"""The emotion a situation calls for, read from the script and context by meaning.

"The doctor just called. The tumour is gone." holds no emotion word, yet every actor reads it
as joy. The line and its context are encoded with MiniLM (``minilm.py``) and a small softmax
head, trained on the labelled situations of ``data/situations.json`` (``train.py``) and
calibrated by temperature scaling, names one of the seven basic emotion families or neutral.
Below ``threshold`` confidence the reading says it is unsure and the caller stays neutral.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .._data import DATA_DIR, load_json
from . import minilm

HEAD_FILE = DATA_DIR / "situation_head.npz"
CORPUS = "situations.json"
# The read-out's family names -> the generator's (data/emotions.json).
GENERATOR_FAMILY = {"happiness": "joy", "sadness": "sadness", "anger": "anger", "fear": "fear",
                    "surprise": "surprise", "disgust": "disgust", "contempt": "contempt", "neutral": "neutral"}
CACHE_SIZE = 512


def situation_texts(script: str, context: str) -> list[str]:
    """What is encoded: the context with the line as said, the line alone, the context alone
    (the three together read about ten points better than the first alone on the held-out split)."""
    script, context = " ".join(script.split()), " ".join(context.split())
    return [f'{context} "{script}"' if context else f'"{script}"', script, context]


# Which of MiniLM's layers the head reads, each mean-pooled over a text's tokens, from the one
# pass that encodes it: the last (the sentence vector) and the embeddings the pass starts from
# (layer 0: the words themselves). The last layer is tuned for paraphrase and washes out
# word-level cues; with the words beside it the head reads a writer it never saw 3 points better
# (leave-one-hand-out mean over seven writers 80.4 vs 77.5 %, every outside writer gained), for
# one more mean. Layers 1-5 in place of 0 measured the same within noise (79.8-80.7 %).
READ_LAYERS = (minilm.LAYERS, 0)


def lay_out(encodings: np.ndarray) -> np.ndarray:
    """The head's input rows from encodings shaped situation x text x layer x width: one block
    per layer, the three texts side by side in it (what the head file's weights expect)."""
    return encodings.transpose(0, 2, 1, 3).reshape(len(encodings), -1)


def features(encoder, script: str, context: str, layers=READ_LAYERS) -> np.ndarray:
    """The head's input for one situation."""
    return lay_out(encoder.encode(situation_texts(script, context), layers=layers)[None])[0]


def split_of(situation: dict) -> str:
    """'train' or 'heldout' (one in five): a fixed split by a hash of the script, so adding
    situations never moves old ones between splits."""
    bucket = int(hashlib.sha1(situation["script"].encode("utf-8")).hexdigest(), 16) % 5
    return "heldout" if bucket == 0 else "train"


OWN_HAND = "own"


def corpus() -> list[dict]:
    """Every labelled situation: ``{"script", "context", "family", "split", "hand"}``; the hand
    is who wrote it ("own": the project's engineers; "a", "b": corpus writers who never saw the
    rest), so training can measure how a head reads a hand it was not trained on."""
    families = load_json(CORPUS)["families"]
    return [dict(item, family=family, split=split_of(item), hand=item.get("hand", OWN_HAND))
            for family, items in families.items() for item in items]


@dataclass
class SituationReading:
    best: str            # the most likely family (read-out names: "happiness", ...)
    confidence: float    # its calibrated probability
    probabilities: dict  # family -> calibrated probability
    sure: bool           # the confidence reached the head's threshold

    @property
    def family(self) -> str:
        """The family to show: the most likely one, neutral when unsure."""
        return self.best if self.sure else "neutral"

    @property
    def generator_family(self) -> str:
        return GENERATOR_FAMILY[self.family]

    def runner_up(self) -> tuple[str, float]:
        ranked = sorted(self.probabilities.items(), key=lambda kv: -kv[1])
        return ranked[1] if len(ranked) > 1 else ("neutral", 0.0)


class SituationReader:
    """The trained head over the shared encoder; probabilities are remembered per text (a
    dialogue or a batch asks about the same lines again)."""

    def __init__(self, head_path=HEAD_FILE):
        with np.load(head_path) as head:
            self.families = [str(name) for name in head["families"]]
            self.weights = head["weights"].astype(np.float32)
            self.bias = head["bias"].astype(np.float32)
            self.temperature = float(head["temperature"])
            self.threshold = float(head["threshold"])
            # Heads written before stop 18 read the last layer only.
            self.layers = tuple(int(n) for n in head["layers"]) if "layers" in head.files else (minilm.LAYERS,)
        self.encoder = minilm.shared()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = (vectors @ self.weights.T + self.bias) / self.temperature
        logits -= logits.max(-1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(-1, keepdims=True)

    def _row(self, script: str, context: str) -> np.ndarray:
        key = "\n".join(situation_texts(script, context))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        row = self.probabilities(features(self.encoder, script, context, self.layers)[None])[0]
        with self._lock:
            self._cache[key] = row
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return row

    def read(self, script: str, context: str = "", excluded=frozenset()) -> SituationReading:
        """The reading of a line in its context; ``excluded``: generator families ruled out
        (negated in the emotion field), their probability shared among the rest."""
        row = self._row(script, context)
        kept = np.array([GENERATOR_FAMILY[f] not in excluded or f == "neutral" for f in self.families])
        row = np.where(kept, row, 0.0)
        row = row / row.sum()
        best = int(row.argmax())
        return SituationReading(self.families[best], float(row[best]),
                                {f: float(p) for f, p in zip(self.families, row)}, float(row[best]) >= self.threshold)


_LOCK = threading.Lock()
_SHARED: list[SituationReader] = []


def available() -> bool:
    return HEAD_FILE.is_file() and minilm.available()


def shared_reader() -> SituationReader | None:
    """The process's situation reader, loaded on first use; None where the encoder's weights
    or the head are missing."""
    if not available():
        return None
    with _LOCK:
        if not _SHARED:
            _SHARED.append(SituationReader())
        return _SHARED[0]
