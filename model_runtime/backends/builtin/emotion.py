"""Reading a free-text emotion: which emotions, how strong, in what order, felt or shown.

"Hurt, turning into anger" is a transition of two parts; "anxiety concealed by a restrained
smile" is one part whose felt emotion (anxiety) differs from the displayed one (a smile);
"joy mixed with disbelief" is a blend; "not happy, not sad" negates both. Words come from
``data/emotions.json``. When the emotion field is empty or holds nothing we know, the emotion
is read from the script and context by meaning (``meaning/situation.py``; by their emotion
words where the encoder is missing), and the reading says what it fell back to.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache

from ..._data import load_json
from ...embeddings import Paraphraser
from ...embeddings import available as paraphrases_available
from ...meaning import situation
from .facs import FaceState, au_regions

_EMOTIONS = load_json("emotions.json")
FAMILIES: dict = _EMOTIONS["families"]
LEXICON: dict = _EMOTIONS["lexicon"]
INTENSIFIERS: dict = {k: v for k, v in _EMOTIONS["intensifiers"].items() if not k.startswith("_")}
CONNECTORS: dict = {k: v for k, v in _EMOTIONS["connectors"].items() if not k.startswith("_")}
NEGATORS: dict = {k: v for k, v in _EMOTIONS["negators"].items() if not k.startswith("_")}
DISPLAYED_ONLY = set(_EMOTIONS["displayed_only"]["words"])
CONTEXT_CUES: dict = {k: v for k, v in _EMOTIONS["context_cues"].items() if not k.startswith("_")}
# A blend of emotions this far apart in valence is shown split across the face (a bittersweet
# smile: sad brows over a smiling mouth) rather than summed into a mush.
OPPOSITE_VALENCE = 0.25
OPPOSITE_WEIGHT = 0.2
# Emotions weighing at least this much in a blend each take a region of the face.
BLEND_WEIGHT = 0.3
BLEND_LEAK = 0.3
# On the ARKit heads browDown pulls a lifted inner brow back down (measured: browDown at half
# of browInnerUp renders the sad, oblique brow nearly flat; at a quarter it stays oblique). Each
# family's prototypes are written with that in mind (sadness lowers its brows only a little); in
# a blend whose face lifts the inner brows more than it lowers them, without lifting the outer
# ones (not fear or surprise), the lowering the other emotion brings is held to this share of
# the lift ("grief" is sadness with some pain, whose brows lower).
INNER_LIFT_KEEPS = 0.25
OUTER_LIFT_SHARE = 0.3

# Regions that carry the felt emotion when it is masked (brows, lids, and the cheek raise
# that distinguishes a felt smile); the rest of the face shows the displayed emotion.
FELT_REGIONS = {"brows", "inner_brows", "outer_brows", "eyes", "upper_lids", "lower_lids", "cheeks"}

_STOP_WORDS = {
    "a", "an", "the", "of", "very", "is", "at", "in", "on", "some", "bit", "her", "his", "their",
    "my", "feeling", "feels", "feel", "slowly", "quickly", "suddenly", "gradually", "finally",
    "from", "sense", "state", "mood", "tone", "expression", "face", "look", "looking", "kind",
    "sort", "almost", "quite", "rather", "being", "still", "more", "less", "growing", "rising",
    "initial", "initially", "at first", "first", "later", "eventually", "which", "that", "who",
    "it", "they", "she", "he", "something", "trying", "tries", "try", "same", "time", "at", "once",
    "all", "both", "together", "while", "also", "mostly", "mainly", "bit",
}


def _phrase_pattern(phrases) -> re.Pattern:
    ordered = sorted(set(phrases), key=len, reverse=True)
    escaped = [re.escape(p) for p in ordered]
    return re.compile(r"(?<![\w'])(?:" + "|".join(escaped) + r")(?![\w'])")


_LEXICON_PATTERN = _phrase_pattern(LEXICON)
_INTENSIFIER_PATTERN = _phrase_pattern(INTENSIFIERS)
_NEGATOR_PATTERN = _phrase_pattern(NEGATORS)
_NEGATOR_WORDS = {word for phrase in NEGATORS for word in phrase.split()}
# A situation read by meaning: the runner-up family joins as a blend when it is at least this
# share of the winner's probability; the winner's intensity grows with the confidence.
SITUATION_BLEND = 0.5
SITUATION_INTENSITY = (0.4, 0.5)
_CONNECTOR_KIND = {}
for _kind in ("mask", "mask_reversed", "transition", "blend"):
    for _phrase in CONNECTORS[_kind]:
        _CONNECTOR_KIND.setdefault(_phrase, _kind)
_CONNECTOR_PATTERN = re.compile(
    r"(?:(?<=\s)|^)(?:" + "|".join(re.escape(p) for p in sorted(_CONNECTOR_KIND, key=len, reverse=True)) + r")(?=\s|$)"
)
_FROM_TO = re.compile(r"^\s*from\s+(.+?)\s+to\s+(.+)$")


@dataclass
class EmotionTerm:
    word: str
    mix: dict[str, float]
    intensity: float
    displayed_only: bool = False


@dataclass
class EmotionPart:
    """One stretch of the performance: the felt emotion, and the displayed one when masked."""

    felt: list[EmotionTerm]
    displayed: list[EmotionTerm] = field(default_factory=list)

    @property
    def masked(self) -> bool:
        return bool(self.displayed)

    def mix(self, which: str = "felt") -> dict[str, float]:
        return _combine(self.felt if which == "felt" else (self.displayed or self.felt))

    def intensity(self, which: str = "felt") -> float:
        terms = self.felt if which == "felt" else (self.displayed or self.felt)
        return max((t.intensity for t in terms), default=0.0)

    def words(self) -> list[str]:
        return [t.word for t in self.felt + self.displayed]


@dataclass
class EmotionReading:
    parts: list[EmotionPart]
    source: str  # "emotion", "situation" (script and context by meaning), "script" (their emotion words), or "default"
    unknown_words: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def families(self) -> dict[str, float]:
        """Overall family weights across parts (felt and displayed)."""
        total: dict[str, float] = {}
        for part in self.parts:
            for which in ("felt", "displayed"):
                if which == "displayed" and not part.masked:
                    continue
                for family, weight in part.mix(which).items():
                    total[family] = total.get(family, 0.0) + weight * max(part.intensity(which), 0.2)
        norm = sum(total.values()) or 1.0
        return {family: weight / norm for family, weight in total.items()}

    def _average(self, key: str, default: float | None = None) -> float:
        return sum((FAMILIES[f][key] if default is None else FAMILIES[f].get(key, default)) * w
                   for f, w in self.families().items())

    @property
    def valence(self) -> float:
        return self._average("valence")

    @property
    def arousal(self) -> float:
        return self._average("arousal")

    @property
    def speech_rate(self) -> float:
        return self._average("speech_rate")

    @property
    def blink_rate(self) -> float:
        return self._average("blink_rate")

    @property
    def blink_speed(self) -> float:
        return self._average("blink_speed", 1.0)

    def summary(self) -> str:
        pieces = []
        for part in self.parts:
            felt = "+".join(t.word for t in part.felt) or "neutral"
            if part.masked:
                pieces.append(f"{felt} (shown as {'+'.join(t.word for t in part.displayed)})")
            else:
                pieces.append(felt)
        return " -> ".join(pieces)

    def to_dict(self) -> dict:
        return {
            "reading": self.summary(),
            "source": self.source,
            "families": {k: round(v, 3) for k, v in sorted(self.families().items(), key=lambda kv: -kv[1])},
            "valence": round(self.valence, 3),
            "arousal": round(self.arousal, 3),
            "unknown_words": self.unknown_words,
        }


def _combine(terms: list[EmotionTerm]) -> dict[str, float]:
    total: dict[str, float] = {}
    for term in terms:
        for family, weight in term.mix.items():
            total[family] = total.get(family, 0.0) + weight * max(term.intensity, 0.05)
    norm = sum(total.values())
    if not norm:
        return {"neutral": 1.0}
    return {family: weight / norm for family, weight in total.items()}


def _stem_candidates(word: str):
    yield word
    for suffix, replacement in (("ness", ""), ("ly", ""), ("ful", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"), ("s", ""), ("ity", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            yield word[: -len(suffix)] + replacement


def _negation(before: str) -> float | None:
    """The scale a negator earlier in the clause leaves an emotion word (0: not shown), or None."""
    clause = re.split(r"[,;.!?]|\bbut\b", before)[-1]
    found = list(_NEGATOR_PATTERN.finditer(clause))
    return NEGATORS[found[-1].group(0)] if found else None


def _terms_in(chunk: str, negated: list[str] | None = None) -> tuple[list[EmotionTerm], list[str]]:
    """Emotion terms in a chunk of text, with their intensifiers, and the words not understood.
    Emotion words a negator takes away entirely are left out and added to ``negated``."""
    terms: list[EmotionTerm] = []
    consumed = []
    for match in _LEXICON_PATTERN.finditer(chunk):
        entry = LEXICON[match.group(0)]
        before = chunk[: match.start()]
        consumed.append((match.start(), match.end()))
        scale = 1.0
        for intensifier in _INTENSIFIER_PATTERN.finditer(before[-30:]):
            scale = INTENSIFIERS[intensifier.group(0)]
        negation = _negation(before)
        if negation is not None:
            if negation <= 0.0:
                if negated is not None:
                    negated.append(match.group(0))
                continue
            scale = negation
        displayed_only = any(w in DISPLAYED_ONLY for w in re.findall(r"[\w'-]+", before[-20:]))
        terms.append(EmotionTerm(match.group(0), dict(entry["mix"]), min(1.0, entry["intensity"] * scale), displayed_only))
    leftover = chunk
    for start, end in reversed(consumed):
        leftover = leftover[:start] + " " + leftover[end:]
    unknown = []
    for found in re.finditer(r"[^\W\d_][\w'-]*", leftover):
        word = found.group(0)
        if (word in _STOP_WORDS or word in INTENSIFIERS or word in DISPLAYED_ONLY or word in _CONNECTOR_KIND
                or word in _NEGATOR_WORDS):
            continue
        stemmed = next((LEXICON[c] for c in _stem_candidates(word) if c in LEXICON), None)
        if stemmed:
            negation = _negation(leftover[: found.start()])
            if negation is not None and negation <= 0.0:
                if negated is not None:
                    negated.append(word)
                continue
            scale = 1.0 if negation is None else negation
            terms.append(EmotionTerm(word, dict(stemmed["mix"]), stemmed["intensity"] * scale))
        else:
            unknown.append(word)
    return terms, unknown


def _split_connectors(text: str) -> list[tuple[str, str]]:
    """Split into ``[(connector_kind, chunk), ...]``; the first chunk has kind ''."""
    pieces = []
    last = 0
    kind = ""
    for match in _CONNECTOR_PATTERN.finditer(text):
        pieces.append((kind, text[last:match.start()]))
        kind = _CONNECTOR_KIND[match.group(0)]
        last = match.end()
    pieces.append((kind, text[last:]))
    return [(k, c.strip(" ,.;")) for k, c in pieces]


_PARAPHRASER_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _emotion_paraphraser() -> Paraphraser:
    families = {word: max(entry["mix"], key=entry["mix"].get) for word, entry in sorted(LEXICON.items())}
    return Paraphraser({word: family for word, family in families.items() if family != "neutral"})


def emotion_paraphraser() -> Paraphraser | None:
    """The shared paraphraser over the emotion lexicon, loaded on first use; None when the
    encoder is not installed."""
    if not paraphrases_available():
        return None
    with _PARAPHRASER_LOCK:
        return _emotion_paraphraser()


def _by_meaning(phrase: str, paraphrase: bool | None) -> tuple[EmotionTerm, str] | None:
    """An unknown emotion phrase read by meaning (sentence embeddings, when installed): the
    term and a note saying so, or None."""
    if paraphrase is False:
        return None
    paraphraser = emotion_paraphraser()
    match = paraphraser.match(phrase) if paraphraser else None
    if match is None:
        return None
    known, similarity = match
    entry = LEXICON[known]
    return (EmotionTerm(phrase, dict(entry["mix"]), entry["intensity"]),
            f"Read '{phrase}' as '{known}' by meaning (similarity {similarity:.2f}).")


def read_emotion(emotion: str, script: str = "", context: str = "", paraphrase: bool | None = None) -> EmotionReading:
    """Read the emotion field (falling back to the script and context). ``paraphrase``: read
    unknown words by meaning with sentence embeddings (None: when installed)."""
    text = " ".join(emotion.lower().replace("’", "'").split())
    parts: list[EmotionPart] = []
    unknown: list[str] = []
    negated: list[str] = []
    paraphrased: list[str] = []
    if text:
        from_to = _FROM_TO.match(text)
        if from_to:
            text = f"{from_to.group(1)} turning into {from_to.group(2)}"
        part = EmotionPart(felt=[])
        mask_target: str | None = None
        for kind, chunk in _split_connectors(text):
            terms, missing = _terms_in(chunk, negated)
            if missing and not terms:
                # Only where nothing was understood; an idiom ("over the moon") is read whole.
                meant = _by_meaning(chunk.strip(), paraphrase)
                if meant:
                    term, note = meant
                    terms, missing = [term], []
                    paraphrased.append(note)
            unknown.extend(missing)
            if kind == "transition":
                if part.felt or part.displayed:
                    parts.append(part)
                part = EmotionPart(felt=[])
                mask_target = None
            if kind == "mask":
                mask_target = "displayed"
            elif kind == "mask_reversed":
                # "a smile hiding fear": what came before is displayed, what follows is felt.
                part.displayed.extend(part.felt)
                part.felt = []
                mask_target = "felt"
            shown = [t for t in terms if t.displayed_only]
            felt = [t for t in terms if not t.displayed_only]
            part.displayed.extend(shown)
            if mask_target == "displayed":
                part.displayed.extend(felt)
            else:
                part.felt.extend(felt)
        if part.felt or part.displayed:
            parts.append(part)
        for part in parts:
            if not part.felt and part.displayed:
                # Only a displayed emotion ("a forced smile"): what is felt underneath is
                # unknown; a neutral upper face shows it is not genuine.
                part.felt = [EmotionTerm("neutral", {"neutral": 1.0}, 0.2)]

    notes = list(paraphrased)
    if negated:
        notes.append(f"Negated in the emotion field, not shown: {', '.join(dict.fromkeys(negated))}.")
    if parts:
        reading = EmotionReading(parts, "emotion", unknown)
        for part in parts:
            opposed = None if part.masked or len(part.felt) < 2 else opposite_families(part.mix("felt"))
            if opposed:
                notes.append(
                    f"Opposite emotions blended ({'+'.join(t.word for t in part.felt)}): the brows and eyes show "
                    f"{', '.join(opposed[0])}, the mouth {', '.join(opposed[1])}."
                )
        if unknown:
            notes.append(f"Emotion words not recognised and ignored: {', '.join(dict.fromkeys(unknown))}.")
        reading.notes = notes
        return reading

    if text:
        notes.append(
            f"No known emotion in '{emotion.strip()}'"
            + (f" (not recognised: {', '.join(dict.fromkeys(unknown))})" if unknown else "")
            + "; read the emotion from the script and context instead."
        )
    # What the emotion field negated stays off the face, whatever the situation suggests.
    excluded = {max(LEXICON[w]["mix"], key=LEXICON[w]["mix"].get) for w in negated if w in LEXICON}
    by_meaning = None if paraphrase is False else _by_situation(script, context, excluded)
    if by_meaning is not None:
        felt, note = by_meaning
        notes.append(note)
        return EmotionReading([EmotionPart(felt=felt)], "situation", unknown, notes)
    inferred, _ = _terms_in(" ".join(f"{script} {context}".lower().replace("’", "'").split()), [])
    inferred = [term for term in inferred if not set(term.mix) & excluded]
    if inferred:
        return EmotionReading([EmotionPart(felt=inferred)], "script", unknown, notes)
    notes.append("No emotion found in the script or context: neutral, attentive delivery.")
    return EmotionReading([EmotionPart(felt=[_neutral_term()])], "default", unknown, notes)


def _neutral_term() -> EmotionTerm:
    return EmotionTerm("neutral", {"neutral": 0.7, "interest": 0.3}, 0.35)


def _by_situation(script: str, context: str, excluded: set[str]) -> tuple[list[EmotionTerm], str] | None:
    """The emotion the situation calls for, read by meaning (``meaning/situation.py``): the
    terms to show and a note saying how sure the reading is; None where the encoder is missing.
    A confident reading grows more intense; a close runner-up joins as a blend."""
    reader = situation.shared_reader()
    if reader is None or not (script.strip() or context.strip()):
        return None
    reading = reader.read(script, context, excluded)
    if not reading.sure:
        return [_neutral_term()], (
            f"Read the script and context by meaning: unsure (most like {reading.best} at {reading.confidence:.0%}, "
            f"below the {reader.threshold:.0%} needed): neutral, attentive delivery.")
    if reading.family == "neutral":
        return [_neutral_term()], f"Read the script and context by meaning: neutral ({reading.confidence:.0%})."
    low, span = SITUATION_INTENSITY
    level = low + span * reading.confidence
    terms = [EmotionTerm(reading.generator_family, {reading.generator_family: 1.0}, level)]
    runner_up, probability = reading.runner_up()
    blended = runner_up != "neutral" and probability >= SITUATION_BLEND * reading.confidence
    if blended:
        family = situation.GENERATOR_FAMILY[runner_up]
        terms.append(EmotionTerm(family, {family: 1.0}, level * probability / reading.confidence))
    return terms, (f"Read the script and context by meaning: {reading.family} ({reading.confidence:.0%})"
                   + (f" with {runner_up} ({probability:.0%})" if blended else "") + ".")


def emotion_face(mix: dict[str, float], intensity: float, variant: int = 0, one_side: str = "Left") -> FaceState:
    """The facial prototype of a family mix at ``intensity``; ``variant`` picks among each
    family's prototype variants (seeded variation)."""
    state = FaceState()
    for family, weight in mix.items():
        prototypes = FAMILIES[family]["aus"]
        prototype = prototypes[variant % len(prototypes)]
        # Square-root weights: each emotion of a blend stays visible instead of being halved.
        share = weight ** 0.5
        for key, value in prototype.items():
            au, _, qualifier = key.partition(":")
            side = one_side if qualifier == "one" else None
            amount = value * share * intensity
            state.set(au, state.get(au, side) + amount, side)
    if sum(1 for weight in mix.values() if weight > 0) > 1:
        _keep_inner_lift(state)
    return state


def _keep_inner_lift(state: FaceState) -> None:
    """Hold a blend's brow lowerer under an oblique inner-brow lift (see ``INNER_LIFT_KEEPS``)."""
    inner = state.get("AU1")
    for side in ("Left", "Right"):
        lowered = state.get("AU4", side)
        if inner > lowered > INNER_LIFT_KEEPS * inner and state.get("AU2", side) < OUTER_LIFT_SHARE * inner:
            state.set("AU4", INNER_LIFT_KEEPS * inner, side)


def _upper_share(family: str) -> float:
    """How much of a family's prototype acts around the eyes and brows (0..1)."""
    prototype = FAMILIES[family]["aus"][0]
    total = sum(prototype.values()) or 1.0
    upper = sum(v for k, v in prototype.items() if set(au_regions(k.partition(":")[0])) & FELT_REGIONS)
    return upper / total


def blend_split(mix: dict[str, float], terms: int = 2):
    """(upper-face mix, lower-face mix) for a blend of distinct emotions, or None.

    Blends are usually shown by region (Ekman & Friesen 1975): opposite emotions put the
    negative one around the eyes and the positive one on the mouth (a bittersweet smile);
    otherwise, for blends of several emotion words, the emotion whose signature is more in the
    brows and eyes takes the upper face.
    """
    opposed = opposite_families(mix)
    if opposed:
        return opposed
    if terms < 2:
        # One word ("irritated" = anger + frustration) is one emotion, not a blend of two.
        return None
    main = [(f, w) for f, w in sorted(mix.items(), key=lambda kv: -kv[1]) if w >= BLEND_WEIGHT and f != "neutral"]
    if len(main) < 2:
        return None
    # Each emotion shows fully in its own region rather than diluted across the face.
    first, second = main[0][0], main[1][0]
    if _upper_share(first) >= _upper_share(second):
        return {first: 1.0}, {second: 1.0}
    return {second: 1.0}, {first: 1.0}


def opposite_families(mix: dict[str, float]):
    """(negative mix, positive mix) when a blend holds emotions of opposite valence, else None."""
    negative = {f: w for f, w in mix.items() if FAMILIES[f]["valence"] < -OPPOSITE_VALENCE}
    positive = {f: w for f, w in mix.items() if FAMILIES[f]["valence"] > OPPOSITE_VALENCE}
    if sum(negative.values()) >= OPPOSITE_WEIGHT and sum(positive.values()) >= OPPOSITE_WEIGHT:
        return _normalised(negative), _normalised(positive)
    return None


def _normalised(mix: dict[str, float]) -> dict[str, float]:
    total = sum(mix.values())
    return {family: weight / total for family, weight in mix.items()}


def context_gaze(script: str, context: str):
    """(direction, amount) the script or context implies for the eyes, or None."""
    text = f" {script} {context} ".lower()
    for cue, (direction, amount) in CONTEXT_CUES.items():
        if f" {cue} " in text or f" {cue}." in text or f" {cue}," in text:
            return direction, amount
    return None


def restrict(state: FaceState, regions: set[str], keep: bool = True) -> FaceState:
    """Only the action units acting in ``regions`` (or, with ``keep=False``, all others)."""
    result = FaceState(gaze=state.gaze, head=dict(state.head))
    for au, entry in state.aus.items():
        inside = bool(set(au_regions(au)) & regions)
        if inside == keep:
            result.aus[au] = dict(entry)
    return result


def part_face(part: EmotionPart, intensity: float, variant: int = 0, one_side: str = "Left") -> FaceState:
    """The face of one emotion part; a masked part shows its felt emotion around the eyes and
    brows and its displayed emotion on the mouth (Ekman & Friesen 1982)."""
    split = None if part.masked else blend_split(part.mix("felt"), len(part.felt))
    if split:
        level = part.intensity("felt") * intensity
        upper_mix, lower_mix = split
        upper_face = emotion_face(upper_mix, level, variant, one_side)
        lower_face = emotion_face(lower_mix, level, variant, one_side)
        face = restrict(upper_face, FELT_REGIONS)
        face.aus.update(restrict(lower_face, FELT_REGIONS, keep=False).aus)
        # Each emotion leaks faintly into the other half, as blends do.
        for other, regions_kept in ((upper_face, False), (lower_face, True)):
            for au, entry in restrict(other, FELT_REGIONS, keep=regions_kept).aus.items():
                for side, value in entry.items():
                    face.raise_to(au, value * BLEND_LEAK, side)
        return face
    felt = emotion_face(part.mix("felt"), part.intensity("felt") * intensity, variant, one_side)
    if not part.masked:
        return felt
    shown = emotion_face(part.mix("displayed"), part.intensity("displayed") * intensity * 0.85, variant, one_side)
    upper = restrict(felt, FELT_REGIONS, keep=True)
    # A controlled mouth: the felt emotion leaks only faintly below the eyes.
    lower_leak = restrict(felt, FELT_REGIONS, keep=False)
    lower = restrict(shown, FELT_REGIONS, keep=False)
    for au, entry in lower_leak.aus.items():
        for side, value in entry.items():
            lower.raise_to(au, value * 0.25, side)
    upper.aus.update(lower.aus)
    return upper
