"""The parser's fallback for clauses its grammar does not understand: the nearest action
phrase of a bank (``data/action_bank.json``) by meaning.

"His face lights up" has no (region, action) pair the grammar knows; the bank's "her face
lights up" stands in for it with its description in the grammar's own words. Similarity is
pluggable (``use_encoder``): a sentence encoder when one is available (it embeds the bank
once), word overlap weighted by rarity otherwise, which needs nothing but Python and works in
Blender. A clause near no phrase is left out, and the solve notes say so; an encoder that fails
is dropped for word overlap, never a crash.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..._data import load_json

_BANK = load_json("action_bank.json")
PHRASES: dict[str, str] = _BANK["phrases"]
THRESHOLD_LEXICAL = _BANK["threshold_lexical"]
THRESHOLD_ENCODER = _BANK["threshold_encoder"]
# A clause this close to a bank phrase is read as that idiom even when the grammar understood
# some of its words.
STRONG_MATCH = _BANK["strong_match"]

# Words that carry no action: who acts, articles, linking words.
_STOP = {
    "a", "an", "the", "his", "her", "hers", "their", "its", "my", "your", "he", "she", "they", "it", "him", "them",
    "i", "you", "we", "us", "our", "of", "to", "in", "on", "at", "with", "and", "or", "is", "are", "was", "be",
    "as", "like", "into", "for", "from", "that", "this", "who", "which", "while", "so", "very", "just", "little",
    "own", "one", "some", "s",
}
_WORD = re.compile(r"[a-z]+")

# An encoder: texts -> unit vectors (rows), e.g. all-MiniLM-L6-v2.
Encoder = Callable[[list[str]], "object"]
_encoder: Encoder | None = None


def use_encoder(encoder: Encoder | None) -> None:
    """Match by a sentence encoder from now on (None: back to word overlap)."""
    global _encoder
    _encoder = encoder
    _encoded.clear()


def _stem(word: str) -> str:
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("ly", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + keep
            break
    # "widen" and "wide", "tighten" and "tight" are one idea.
    if word.endswith("en") and len(word) > 4:
        word = word[:-2]
    return word


def words(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower().replace("'s", "")) if w not in _STOP]


def _document_frequency() -> dict[str, int]:
    counts: dict[str, int] = {}
    for phrase in PHRASES:
        for word in set(words(phrase)):
            counts[word] = counts.get(word, 0) + 1
    return counts


_DF = _document_frequency()
_PHRASE_WORDS = {phrase: set(words(phrase)) for phrase in PHRASES}


def _weight(word: str) -> float:
    # Rare words say more ("crumple" more than "face"); unseen words count fully.
    return math.log(1.0 + len(PHRASES) / (1 + _DF.get(word, 0)))


def lexical_similarity(clause: str, phrase: str) -> float:
    """Rarity-weighted overlap of stemmed content words (cosine of weighted word sets)."""
    a, b = set(words(clause)), _PHRASE_WORDS.get(phrase) or set(words(phrase))
    if not a or not b:
        return 0.0
    shared = sum(_weight(w) ** 2 for w in a & b)
    return shared / math.sqrt(sum(_weight(w) ** 2 for w in a) * sum(_weight(w) ** 2 for w in b))


_encoded: dict[str, object] = {}


def _encoder_scores(clause: str) -> dict[str, float] | None:
    global _encoder
    if _encoder is None:
        return None
    try:
        if "bank" not in _encoded:
            _encoded["bank"] = np.asarray(_encoder(list(PHRASES)), dtype=np.float32)
        query = np.asarray(_encoder([clause]), dtype=np.float32)[0]
        scores = _encoded["bank"] @ query
        return dict(zip(PHRASES, (float(s) for s in scores)))
    except Exception:  # an optional encoder that fails must not take the solver down
        _encoder = None
        _encoded.clear()
        return None


@dataclass
class Guess:
    clause: str
    phrase: str
    description: str
    similarity: float
    by: str  # "encoder" or "words"


def nearest(clause: str) -> Guess | None:
    """The bank phrase nearest to ``clause`` by meaning, if near enough."""
    scores = _encoder_scores(clause)
    by, threshold = "encoder", THRESHOLD_ENCODER
    if scores is None:
        scores = {phrase: lexical_similarity(clause, phrase) for phrase in PHRASES}
        by, threshold = "words", THRESHOLD_LEXICAL
    phrase = max(scores, key=scores.get)
    if scores[phrase] < threshold:
        return None
    return Guess(clause, phrase, PHRASES[phrase], scores[phrase], by)
