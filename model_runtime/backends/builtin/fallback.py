"""The parser's fallback for clauses its grammar does not understand: the nearest action
phrase of a bank (``data/action_bank.json``) by meaning.

"His face lights up" has no (region, action) pair the grammar knows; the bank's "her face
lights up" stands in for it with its description in the grammar's own words. Similarity is
pluggable (``use_encoder``): by default the shipped all-MiniLM-L6-v2 in numpy
(``meaning/minilm.py``, works in Blender's Python) when its weights are present, with the bank's
vectors computed once and kept beside the weights; word overlap weighted by rarity otherwise,
which needs nothing but Python. The encoder is only asked about clauses the grammar could not
read at all, so a description the grammar parses never loads it. A clause near no phrase is
left out, and the solve notes say so; an encoder that fails is dropped for word overlap, never
a crash.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..._data import load_json
from ...embeddings import available as encoder_available
from ...meaning import minilm
from .emotion import emotion_paraphraser

_BANK = load_json("action_bank.json")
PHRASES: dict[str, str] = _BANK["phrases"]
# Every wording a phrase is known by ("laughs": "chuckles", "cackles", ...) -> the phrase.
WORDINGS: dict[str, str] = {**{phrase: phrase for phrase in PHRASES},
                            **{wording: phrase for phrase, others in _BANK["wordings"].items() for wording in others}}
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
    "own", "one", "some", "s", "let", "lets", "letting",
    # How fast, how long, how much: manner, not the action ("a quick, nervous lick of the lips").
    "quick", "quickly", "slow", "slowly", "brief", "briefly", "sudden", "suddenly", "tiny", "small", "slight",
    "slightly", "faint", "faintly", "gently", "softly", "again", "once",
}
_WORD = re.compile(r"[a-z]+")

# An encoder: texts -> unit vectors (rows), e.g. all-MiniLM-L6-v2.
Encoder = Callable[[list[str]], "object"]


def shipped_encoder(texts: list[str]):
    """The numpy all-MiniLM-L6-v2; the bank itself is read from the vectors cached beside the
    weights (computed once), anything else is encoded."""
    if texts == BANK_TEXTS:
        return minilm.encode_vocabulary(texts)
    return minilm.shared().encode(texts)


# Who acts, whose face and articles: "she pecks his cheek" and "she licks her lips" share a
# frame that a sentence encoder weighs as much as the verbs; only what is done is compared.
_FRAME = re.compile(r"\b(?:he|she|they|it|i|you|we|his|her|hers|their|its|my|your|him|them|the|a|an)\b")


def action_words(text: str) -> str:
    """``text`` without its actor, possessives and articles (the text itself when that is all)."""
    return " ".join(_FRAME.sub(" ", text.lower()).split()) or text


def _shipped_available() -> bool:
    # The weights are here and not switched off (KEYFRAMEFACE_PARAPHRASES=0).
    return encoder_available()


DEFAULT = "default"  # use_encoder(DEFAULT): the shipped encoder when its weights are present
_encoder: Encoder | str | None = DEFAULT


def use_encoder(encoder: Encoder | str | None) -> None:
    """Match by ``encoder`` from now on: a function, ``DEFAULT`` (the shipped MiniLM when its
    weights are present) or None (word overlap only)."""
    global _encoder
    _encoder = encoder
    _encoded.clear()


def _active_encoder() -> Encoder | None:
    global _encoder
    if _encoder == DEFAULT:
        _encoder = shipped_encoder if _shipped_available() else None
    return _encoder


def _stem(word: str) -> str:
    # One stem for "smile", "smiles", "smiled", "smiling" and for "kiss", "kisses".
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "shes", "ches", "xes", "zes")):
        word = word[:-2]
    else:
        for suffix in ("ing", "ed", "ly", "s"):
            if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    # "widen" and "wide", "tighten" and "tight" are one idea.
    if word.endswith("en") and len(word) > 4:
        word = word[:-2]
    return word


def words(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower().replace("'s", "")) if w not in _STOP]


def _document_frequency() -> dict[str, int]:
    counts: dict[str, int] = {}
    for wording in WORDINGS:
        for word in set(words(wording)):
            counts[word] = counts.get(word, 0) + 1
    return counts


_DF = _document_frequency()
_WORDING_WORDS = {wording: set(words(wording)) for wording in WORDINGS}
# What the encoder compares: each wording's action words, in WORDINGS' order.
BANK_TEXTS = [action_words(wording) for wording in WORDINGS]


def _weight(word: str) -> float:
    # Rare words say more ("crumple" more than "face"); unseen words count fully.
    return math.log(1.0 + len(WORDINGS) / (1 + _DF.get(word, 0)))


def lexical_similarity(clause: str, phrase: str) -> float:
    """Rarity-weighted overlap of stemmed content words (cosine of weighted word sets)."""
    a, b = set(words(clause)), _WORDING_WORDS.get(phrase) or set(words(phrase))
    if not a or not b:
        return 0.0
    shared = sum(_weight(w) ** 2 for w in a & b)
    return shared / math.sqrt(sum(_weight(w) ** 2 for w in a) * sum(_weight(w) ** 2 for w in b))


_encoded: dict[str, object] = {}


def _encoder_scores(clause: str) -> dict[str, float] | None:
    global _encoder
    encoder = _active_encoder()
    if encoder is None:
        return None
    try:
        if "bank" not in _encoded:
            _encoded["bank"] = np.asarray(encoder(BANK_TEXTS), dtype=np.float32)
        query = np.asarray(encoder([action_words(clause)]), dtype=np.float32)[0]
        scores = _encoded["bank"] @ query
        return dict(zip(WORDINGS, (float(s) for s in scores)))
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
    wording: str = ""  # the wording of ``phrase`` that was nearest, when not the phrase itself


# Words of opposite meaning: a phrase that says one where the clause says the other is no
# stand-in for it, however near ("his expression hardens" is not "her expression softens").
_OPPOSITES = [tuple(_stem(word) for word in pair) for pair in _BANK["opposites"]]


def opposed(clause: str, wording: str) -> bool:
    said, other = set(words(clause)), set(words(wording))
    return any((a in said and b in other) or (b in said and a in other) for a, b in _OPPOSITES)


def nearest(clause: str, by_meaning: bool = True, veto: Callable[[str, str], bool] | None = None) -> Guess | None:
    """The bank phrase nearest to ``clause`` by meaning, if near enough; ``by_meaning=False``
    compares words only (cheap: for clauses the grammar has already read). A wording that says
    the opposite, or that ``veto(clause, wording)`` rules out, is passed over for the next."""
    scores = _encoder_scores(clause) if by_meaning else None
    by, threshold = "encoder", THRESHOLD_ENCODER
    if scores is None:
        scores = {wording: lexical_similarity(clause, wording) for wording in WORDINGS}
        by, threshold = "words", THRESHOLD_LEXICAL
    for wording in sorted((w for w in scores if scores[w] >= threshold), key=scores.get, reverse=True):
        if opposed(clause, wording) or (veto is not None and veto(clause, wording)):
            continue
        phrase = WORDINGS[wording]
        return Guess(clause, phrase, PHRASES[phrase], scores[wording], by, "" if wording == phrase else wording)
    return None


# Who acts and how they appear ("he looks", "she seems utterly"): what is left is the feeling.
_APPEARANCE = re.compile(
    r"^(?:(?:he|she|they|i|we|you|it|his face|her face|their faces|the face)\s+)?"
    r"(?:(?:looks?|looking|seems?|appears?|is|was|are|goes|went|turns?|becomes?|grows?|gets?|sits?|stands?)\s+)?"
    r"(?:(?:quite|rather|utterly|completely|totally|very|so|a bit|somewhat|all|suddenly)\s+)?")
_MOST_WORDS = 3
_LOOK_OF = re.compile(r"^(?:(?:he|she|they)\s+(?:gives|shoots|flashes|wears|has)\s+(?:\w+\s+)?)?(?:an?|the|his|her|their)\s+"
                      r"([a-z-]+)\s+(?:look|expression|face|stare|gaze|glance|eyes)$")


def emotion_by_meaning(clause: str) -> Guess | None:
    """A clause that names a feeling the lexicon lacks ("he looks crestfallen"), read as the
    nearest emotion word of the lexicon by meaning (the emotion reader's paraphraser over the
    shipped encoder), or None. Only with the shipped encoder active."""
    if _active_encoder() is not shipped_encoder:
        return None
    framed = _LOOK_OF.match(clause.strip())
    if framed:  # "a pleading look", "an incredulous expression": the feeling is the adjective
        clause = framed.group(1)
    appearance = _APPEARANCE.match(clause.strip())
    feeling = clause.strip()[appearance.end():].strip()
    # A feeling is named after how someone appears ("he looks crestfallen") or on its own
    # ("crestfallen"); "crosses her arms" is something done, not a feeling.
    said_how = bool(re.search(r"\b(?:looks?|looking|seems?|appears?|is|was|are|goes|went|turns?|becomes?|grows?|gets?)\s*$",
                              appearance.group(0).strip()))
    if not feeling or len(feeling.split()) > (_MOST_WORDS if said_how else 1):
        return None
    try:
        paraphraser = emotion_paraphraser()
        match = paraphraser.match(feeling) if paraphraser else None
    except Exception:  # optional: never take the solver down
        return None
    if match is None:
        return None
    known, similarity = match
    return Guess(clause, known, known, similarity, "emotion")
