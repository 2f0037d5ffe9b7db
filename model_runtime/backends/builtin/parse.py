"""Reading a natural-language description of a face into a ``FaceState`` (the solve stage).

"The gaze is lowered, the inner brows lift slightly, and the lips press together with visible
tension." The description is cut into clauses; each clause is searched for face regions,
actions, degree words, sides, directions, negation, named expressions ("a smirk") and emotion
words ("the brows remain worried"); (region, action) pairs map to action units, gaze or head
movements through ``data/facial_language.json``. Every phrase the planner writes
(``describe.py``) reads back to the same action unit and level.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from ..._data import load_json
from .emotion import FAMILIES, LEXICON, emotion_face, restrict
from .facs import ACTION_UNITS, DEGREES, GAZE, HEAD, FaceState, au_regions, is_sided
from .fallback import STRONG_MATCH, Guess, emotion_by_meaning, nearest
from .fallback import words as fallback_words

_LANGUAGE = load_json("facial_language.json")


def _public(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if not k.startswith("_")}


REGIONS = _LANGUAGE["regions"]
ACTIONS = _LANGUAGE["actions"]
RULES = _public(_LANGUAGE["rules"])
EXPRESSIONS = _public(_LANGUAGE["expressions"])
DIRECTIONS = _public(_LANGUAGE["directions"])
SIDES = _LANGUAGE["sides"]
DEFAULT_REGIONS = _public(_LANGUAGE["default_regions"])
REGION_FALLBACKS = _public(_LANGUAGE["region_fallbacks"])
ANTAGONISTS = _public(_LANGUAGE["summary_antagonists"])
DEGREE_WORDS = DEGREES["read"]
DEFAULT_DEGREE = DEGREES["default"]

# On equal length, earlier categories win a contested span.
_CATEGORY_ORDER = ("expression", "region", "cancel", "action", "degree", "negation", "side", "emotion")


# Emotion adjectives (not nouns: "love" -> "lovely" is no manner) and the adverbs that only
# intensify ("terribly sorry").
_ADJECTIVE = re.compile(r"^[a-z-]*(?:ous|ful|ed|ent|ant|ive|ic|ish|ary|ile|id|y|al|ent|ing|less|ic|sad|mad|wry|glad|calm|warm|cold|fond|sly|shy|cross|stern|grim|bitter|tender|proud|smug|bored)$")
_NOT_MANNER = {"awfully", "terribly", "dreadfully", "horribly", "frightfully", "wonderfully", "greatly", "deadly", "lovely",
               "coolly", "really", "only", "early", "likely", "lively", "friendly", "silly", "jolly", "ugly", "holy",
               "seriously", "hopefully", "thankfully", "curiously", "ironically", "madly", "beautifully"}


def _adverb(word: str) -> str:
    """The adverb of an emotion adjective ("peers suspiciously", "smiles sadly", "angrily")."""
    if word.endswith("y") and not word.endswith("ey") and len(word) > 3:  # "angrily", but "wryly", "shyly"
        return word[:-1] + "ily"
    if word.endswith("le"):
        return word[:-1] + "y"
    if word.endswith("ic"):
        return word + "ally"
    return word + "ly"


def _index(groups: dict[str, list[str]]) -> dict[str, str]:
    phrase_to_key = {}
    for key, phrases in groups.items():
        for phrase in phrases:
            phrase_to_key.setdefault(phrase, key)
    return phrase_to_key


# Feeling words the lexicon lacks -> the lexicon word each stands for.
_FEELINGS = {word: meant for word, meant in _public(_LANGUAGE["feeling_words"]).items() if meant in LEXICON}
_FEELING_TERMS = {**{word: word for word in LEXICON}, **_FEELINGS}

_VOCABULARY = {
    "expression": {phrase: phrase for phrase in EXPRESSIONS},
    "region": _index(REGIONS),
    "action": _index(ACTIONS),
    "degree": {phrase: phrase for phrase in DEGREE_WORDS},
    "negation": {phrase: phrase for phrase in _LANGUAGE["negations"]},
    "cancel": {phrase: phrase for phrase in _LANGUAGE["cancels"]},
    "side": _index(SIDES),
    "emotion": {**{_adverb(word): meant for word, meant in _FEELING_TERMS.items()
                   if (_ADJECTIVE.search(word) or word in _FEELINGS) and " " not in word and _adverb(word) not in _NOT_MANNER},
                **_FEELING_TERMS},
}
_DIRECTION_INDEX = _index(DIRECTIONS)


def _pattern(phrases) -> re.Pattern:
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"(?<![\w'-])(?:" + "|".join(re.escape(p) for p in ordered) + r")(?![\w'-])")


_PATTERNS = {category: _pattern(vocabulary) for category, vocabulary in _VOCABULARY.items()}
_DIRECTION_PATTERN = _pattern(_DIRECTION_INDEX)
_CLAUSE_BREAK = re.compile("|".join(re.escape(b) for b in _LANGUAGE["clause_breaks"]))
# Words that open a new clause and stay in it ("without moving his head", "keeping her head
# still"): what they say reaches only their own clause.
_CLAUSE_START = re.compile(r"\s(?=(?:" + "|".join(re.escape(w) for w in _LANGUAGE["clause_starts"]) + r")\b)")
# Categories that make a clause say something on its own; a clause with none of them but a
# side or degree ("left side only", "slightly") qualifies the clause before it.
_SIDE_ONLY = re.compile(r"\b(?:only|side|half)\b")
_CONTENT = {"region", "action", "expression", "emotion"}
_QUALIFIERS = {"side", "degree"}
# A clause that denies something is not guessed at (better left out than read as its opposite).
_NEGATED = _pattern(_LANGUAGE["negations"])
# ("at the right corner of his mouth" names a side of the face, not a direction).
_SIDE_DIRECTION = re.compile(r"\b(?:(?:to|toward|towards|at)\s+(?:(?:the|her|his|their)\s+)?|(?:camera|screen|frame)\s+)(?:left|right)\b(?!\s+(?:%s)\b)|\b(?:left|right)ward\b"
                             % "|".join(re.escape(p) for phrases in [*REGIONS.values(), ["side", "half"]] for p in phrases if " " not in p))
# One of a pair: a side of the face, whichever ("one corner", "an eyebrow").
_ONE_OF = re.compile(r"\b(?:one|an)\s+(?:mouth\s+|lip\s+)?(?:corner|brow|eyebrow|eye|nostril|cheek)\b")
_REGION_WORDS = "|".join(sorted({re.escape(p) for phrases in REGIONS.values() for p in phrases if " " not in p}, key=len, reverse=True))
# "Upper left", "bottom right": both ways at once.
_CORNER_DIRECTION = re.compile(r"\b(upper|lower|top|bottom)[\s-](left|right)\b")
# A side word before a part of the face names the side, not a direction ("the right corner of
# his mouth" does not pull the mouth right); "to the left corner of the room" goes left.
_SIDE_OF_PART = re.compile(r"(?<!\bto the )(?<!\btoward the )(?<!\btowards the )\b(?:left|right)(?=\s+(?:side|half|%s)\b)" % _REGION_WORDS)
# "The right one", "the left stays wide", "with the other": the part the clause before named,
# on a side ("to the left", "on her right" are a direction and a side, not a part).
_OTHER_ONE = re.compile(r"(?:\b(?:the|her|his|their)\s+(left|right|other)\s+one\b|\bthe\s+(other)\b"
                        r"|^(?:and\s+)?(?:leave\s+|leaves\s+|keep\s+|keeps\s+)?(?:the|her|his|their)\s+(left|right)\b|\bwith\s+the\s+(left|right)\b)"
                        r"(?!\s+(?:side|half|%s)\b)" % _REGION_WORDS)
# "That corner of the mouth", "on the same side": the side of the clause before.
_SAME_SIDE = re.compile(r"\b(?:that|the same)\s+(?:side|corner|one|eye|brow|eyebrow|cheek|nostril)\b")
# A clause that goes on with a participle ("lip pulled up on his right, showing a canine").
_PARTICIPLE = re.compile(r"^(?:and\s+)?[a-z]+ing\b")
# A chunk that ends on an article and an adjective ("a tiny, prim little knot", "a sly,
# knowing look") goes on in the next one.
_OPEN_PHRASE = re.compile(r"(?:^|\s)(?:a|an|into a|in a|with a)\s+([a-z-]+)$")
_DESCRIBING = re.compile(r"^(?:tiny|little|small|quick|slow|brief|faint|slight|sly|wry|knowing|thin|tight|big|crooked|"
                         r"lopsided|[a-z-]+(?:ous|ful|ive|ic|ish|ing|less|ent|ant|y))$")
# The parts of a part an action can be placed on after it.
_FINER = {"brows": ("inner_brows", "outer_brows"), "lips": ("corners",), "mouth": ("corners",)}
# "Outer edges only": the other part of the brows (or lips) does nothing, whatever else says so.
_ONLY_PART = {"outer_brows": "inner_brows", "inner_brows": "outer_brows", "upper_lip": "lower_lip", "lower_lip": "upper_lip"}
_PURPOSE = _pattern(_LANGUAGE["purposes"])
_LOOKING = _pattern(_LANGUAGE["looking_expressions"])
_GAZE_OBJECT = _pattern([phrase for direction in ("up", "down") for phrase in DIRECTIONS[direction] if " " in phrase])
# "Eyes stay on him", "keeps his eyes on the road": the eyes hold where they look.
_HOLDS = re.compile(r"\b(?:stay|stays|stayed|remain|remains|keep|keeps|fixed|lock|locks|locked|glued)\b")
# A clause that only says when or how fast ("slowly, her mouth falls open", "for a beat"): the
# keyframe has no time of its own, so nothing is left out.
_WHEN_ONLY = re.compile(r"(?:(?:then|and|but|so|very|ever so|just|%s)\s*)+" % "|".join(
    re.escape(p) for p in sorted(_LANGUAGE["timing_words"], key=len, reverse=True)))
# "..., but her eyes don't", "her head stays put": nothing in that part.
_PART_DENIED = re.compile(r"^(?:(?:but|and|yet|while)\s+)?(?:(?:her|his|their|the)\s+)?(.+?)\s+(?:don't|doesn't|do not|does not|didn't|"
                          r"did not|won't|will not|aren't|isn't|are not|is not|never do|never does)$")
# What makes a side the viewer's ("camera left", "screen-right").
_VIEWERS = re.compile(r"\b(?:camera|screen|frame|viewer's|viewers'|audience's|house|our)\s+$")
# A clause that undoes the one before ("..., but stops himself", "..., gone again").
_TAKEN_BACK = re.compile(r"^(?:(?:he|she|they|and|then|but)\s+)*(?:%s)\b" % "|".join(
    re.escape(p) for p in sorted(_LANGUAGE["taken_back"], key=len, reverse=True)))
# "Stronger on the right", "mostly on the left": both sides, one more.
_MORE_ON = re.compile(r"\b(?:stronger|mostly|mainly|wider|higher|bigger|deeper|harder|heavier|further|more so)\b"
                      r"(?:\s+[a-z]+){0,2}?\s+(?:on|at|to)\s+(?:the|her|his|their)\s+(?:left|right)\b")
_LESS_ON_THE_OTHER = 0.6
# "Catches her watching": someone else looks.
_SOMEONE_ELSE = re.compile(r"\b(?:her|him|them|me|us|you)\s+$")
_TURNS = {"look", "look_at", "look_plain", "turn", "tilt", "nod", "shift", "roll_eyes"}
_UPPER_FACE = {"brows", "inner_brows", "outer_brows", "forehead", "eyes", "upper_lids", "lower_lids", "gaze"}
STATE_WORDS = _public(_LANGUAGE["state_words"])


def _held_gaze(head: dict[str, float]) -> tuple[float, float]:
    """The gaze (in units of a full look) that keeps the eyes where they were while the head
    turns by ``head`` (radians)."""
    per_yaw = GAZE["left"]["pose"]["yaw"]
    per_pitch = GAZE["up"]["pose"]["pitch"]
    yaw_left = head.get("headYaw", 0.0) * (1.0 if HEAD["left"]["pose"]["headYaw"] > 0 else -1.0)
    pitch_up = head.get("headPitch", 0.0) * (1.0 if HEAD["up"]["pose"]["headPitch"] > 0 else -1.0)
    return (max(-1.0, min(1.0, -yaw_left / per_yaw)), max(-1.0, min(1.0, -pitch_up / per_pitch)))


def _half(region: str | None) -> set[str]:
    """The half of the face a region is in."""
    if region is None:
        return set()
    return _UPPER_FACE if region in _UPPER_FACE else _LOWER_FACE | {"teeth", "tongue"}


# Clauses that only name an expression or an emotion ("..., a snarl", "..., worried") sum up;
# the parts of the face another clause describes in detail keep that detail.
_SUMMARY = {"expression", "emotion"}


@dataclass(frozen=True)
class _Match:
    category: str
    key: str
    start: int
    end: int
    text: str


@dataclass
class ParseResult:
    state: FaceState
    understood: list[str] = field(default_factory=list)
    ignored_clauses: list[str] = field(default_factory=list)
    # Clauses the grammar did not parse, read as the nearest phrase of the action bank.
    guessed: list[Guess] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.understood and not self.guessed

    def notes(self, prefix: str = "") -> list[str]:
        """What was guessed or left out, for the solve notes."""
        how = {"encoder": "nearest known action by meaning", "words": "nearest known action by its words",
               "emotion": "nearest emotion word by meaning"}
        notes = [f"{prefix}read '{g.clause}' as '{g.phrase}' ({how[g.by]}, similarity {g.similarity:.2f})." for g in self.guessed]
        if self.ignored_clauses and not self.empty:
            notes.append(f"{prefix}not understood, left out: " + "; ".join(f"'{c}'" for c in self.ignored_clauses) + ".")
        return notes


# The same clauses are searched again and again (cutting clauses, idioms, parsing; the planner's
# phrases recur from line to line): the matches of a text never change, so they are remembered.
@lru_cache(maxsize=4096)
def _find(clause: str) -> tuple[_Match, ...]:
    candidates = []
    for priority, category in enumerate(_CATEGORY_ORDER):
        for m in _PATTERNS[category].finditer(clause):
            key = _VOCABULARY[category][m.group(0)]
            candidates.append((-(m.end() - m.start()), priority, _Match(category, key, m.start(), m.end(), m.group(0))))
    candidates.sort(key=lambda c: (c[0], c[1], c[2].start))
    taken = []
    for _, _, match in candidates:
        if all(match.end <= t.start or match.start >= t.end for t in taken):
            taken.append(match)
    return tuple(sorted(taken, key=lambda m: m.start))


# Quotation marks around a word ("a little 'o'", 'a "meh" mouth') are no part of it; an
# apostrophe inside one ("don't", "that's") is.
_QUOTES = re.compile(r"[\"“”‘]|(?<![a-z])'|'(?![a-z])")
# A hyphenated compound the vocabulary does not know as one word ("a half-grimace") reads as
# its parts; the known ones ("half-lidded", "side-eye") stay whole.
_COMPOUND = re.compile(r"(?<![\w'-])[a-z]+(?:-[a-z]+)+(?![\w'-])")
_KNOWN_COMPOUNDS = {word for vocabulary in [*_VOCABULARY.values(), _DIRECTION_INDEX] for phrase in vocabulary
                    for word in phrase.split() if "-" in word}
# "Tries not to cry", "fighting hard not to laugh": what is held back still shows, a little.
_HOLDING_BACK = re.compile(r"\b(?:tr(?:y|ies|ied|ying)|fight(?:s|ing)?|struggl(?:e|es|ing)|battl(?:e|es|ing))\s+"
                           r"(?:(?:very|so|really)\s+)?(?:hard\s+)?not\s+to\b")


def _normalise(description: str) -> str:
    text = " ".join(description.lower().replace("’", "'").split())
    text = " ".join(_QUOTES.sub(" ", text).split())
    text = _COMPOUND.sub(lambda m: m.group(0) if m.group(0) in _KNOWN_COMPOUNDS else m.group(0).replace("-", " "), text)
    return _HOLDING_BACK.sub("slightly", text)


_PARTICLES = set(_LANGUAGE["particles"])
_SUBJECT = re.compile(r"^(?:(?:he|she|they|it|then|also|now)\s+)?")


def _starts_with_action(piece: str) -> bool:
    matches = _find(piece)
    start = _SUBJECT.match(piece).end()
    return (bool(matches) and matches[0].category == "action" and matches[0].start == start
            and matches[0].text not in _PARTICLES)


def _state_word(clause: str, region: str | None) -> tuple[str, int] | None:
    """The action a word saying what ``region`` is like stands for ("wide" eyes: widen), and
    where the word is."""
    visited = set()
    while region and region not in visited:
        visited.add(region)
        for word, action in STATE_WORDS.get(region, {}).items():
            found = re.search(r"(?<![\w'-])%s(?![\w'-])" % re.escape(word), clause)
            if found:
                return action, found.start()
        region = REGION_FALLBACKS.get(region)
    return None


def _face_sides(text: str, matches=None) -> list[_Match]:
    """The side words of ``text`` that name a side of the face: not those of a direction ("to
    the left"). ``matches``: ``_find(text)``, when known."""
    directional = [(m.start(), m.end()) for m in _SIDE_DIRECTION.finditer(text)]
    return [m for m in (_find(text) if matches is None else matches)
            if m.category == "side" and not any(a <= m.start < b for a, b in directional)]


def _named_sides(text: str) -> set[str]:
    """The sides of the face ``text`` names ("left", "right"; not "to the left")."""
    return {m.key for m in _face_sides(text) if m.key in ("left", "right")}


def _same_on_the_other_side(before: str, chunk: str) -> bool:
    """Whether ``chunk`` says only another side and a degree ("a faint one on the right") after
    a clause on one side."""
    found = {m.category for m in _find(chunk)}
    if not found <= {"side", "degree", "negation"} or "side" not in found or _acts_on_the_other_side(chunk):
        return False
    if "degree" not in found and not re.search(r"\bone\b", chunk):
        return False
    here, there = _named_sides(chunk), _named_sides(before)
    return len(here) == 1 and len(there) == 1 and here != there


def _opens_with_a_part(piece: str) -> bool:
    """Whether ``piece`` starts by naming a part of the face ("the lips stay sealed")."""
    first = next((m for m in _find(piece) if m.category not in ("side", "degree")), None)
    return first is not None and first.category == "region" and re.fullmatch(
        r"(?:(?:the|her|his|their|both|and)\s+)*(?:(?:left|right)\s+)?", piece[:first.start]) is not None


def _acts_on_the_other_side(chunk: str) -> bool:
    """"The left stays wide", "the right one way up": the part before, on another side, doing
    something of its own (not "- the right one", which says where the clause before happens)."""
    if not _OTHER_ONE.search(chunk):
        return False
    return any(m.category in ("action", "expression") for m in _find(chunk)) or any(
        _state_word(chunk, region) for region in STATE_WORDS)


def _clauses(text: str) -> list[str]:
    clauses: list[str] = []
    leading = ""  # a qualifier before anything it could qualify ("a wide, toothy grin")
    for chunk in (piece for part in _CLAUSE_BREAK.split(text) for piece in _CLAUSE_START.split(part)):
        if leading.endswith("\0"):  # "a tiny," + "prim little knot": one phrase
            chunk, leading = f"{leading[:-1]} {chunk.strip()}", ""
        opening = _OPEN_PHRASE.search(chunk.strip())
        if opening and _DESCRIBING.match(opening.group(1)) and not {m.category for m in _find(opening.group(1))} & {
                "region", "expression", "action", "side"}:
            leading = f"{chunk.strip()}\0"
            continue
        found = {m.category for m in _find(chunk)}
        # "right eye only", "left side of the face": a side (with the part it is on) says where
        # the clause before happens; "eyes to her left only" says where they look, and "the
        # left stays wide" what the other one does.
        names_side = bool(_face_sides(chunk)) and (_SIDE_ONLY.search(chunk) is not None
                                                   or _SIDE_OF_PART.search(chunk) is not None)
        if clauses and _same_on_the_other_side(clauses[-1], chunk):
            # "A big smile on the left, a faint one on the right", "right eye squeezed hard, the
            # left only slightly": the clause before again, on this side, to this degree.
            said = [(m.start, m.end) for m in _find(clauses[-1]) if m.category in ("side", "degree")]
            again = "".join(c for i, c in enumerate(clauses[-1]) if not any(a <= i < b for a, b in said))
            clauses.append(" ".join(f"{again} {chunk.strip()}".split()))
            continue
        if found & _QUALIFIERS and not _acts_on_the_other_side(chunk) and (
                not found & _CONTENT or (names_side and not found & (_CONTENT - {"region"}))):
            if clauses:
                clauses[-1] = f"{clauses[-1]} {chunk.strip()}"
            else:
                leading = f"{leading} {chunk.strip()}".strip()
            continue
        if leading and chunk.strip():
            chunk, leading = f"{leading} {chunk.strip()}", ""
        pieces = [p.strip() for p in chunk.split(" and ")]
        merged: list[str] = []
        for piece in pieces:
            if not piece:
                continue
            found = {m.category for m in _find(piece)}
            previous = {m.category for m in _find(merged[-1])} if merged else set()
            # A denial ends at "and" when what follows acts on its own ("she stops smiling and
            # presses her lips": the lips do press).
            denial_ends = "negation" in previous and bool(found & {"action", "expression"})
            # So does a complete clause when a new verb follows ("she lifts her chin and looks
            # down at him": the look is not the chin's).
            new_predicate = {"region", "action"} <= previous and _starts_with_action(piece)
            # And the other side ("the left brow down and the right one way up").
            other_side = bool(merged) and _acts_on_the_other_side(piece) and "side" in previous
            # And another part that does something ("jaw left and lips stay sealed", "a
            # half-smile at the left corner and brows drawn together").
            another_part = bool(merged) and _opens_with_a_part(piece) and bool(found & {"action", "side"}) and (
                "expression" in previous or ("region" in previous and bool(previous & {"action", "side", "degree"})))
            if (merged and not ("region" in found and {"region", "action"} <= previous) and not denial_ends
                    and not new_predicate and not other_side and not another_part):
                merged[-1] = f"{merged[-1]} and {piece}"
            else:
                merged.append(piece)
        clauses.extend(c for c in merged if c)
    if leading.rstrip("\0"):
        clauses.append(leading.rstrip("\0"))
    return clauses


# Parts of the face that one phrase can stand in for another on.
_PART_FAMILIES = ({"brows", "inner_brows", "outer_brows", "forehead"}, {"eyes", "gaze", "upper_lids", "lower_lids"},
                  {"cheeks"}, {"nose"}, {"lips", "mouth", "upper_lip", "lower_lip", "corners", "teeth", "tongue"},
                  {"jaw", "chin"}, {"head"})


def _parts(text: str) -> set[int]:
    named = {_VOCABULARY["region"][m.group(0)] for m in _PATTERNS["region"].finditer(text)}
    return {i for i, family in enumerate(_PART_FAMILIES) if family & named}


def _elsewhere(clause: str, wording: str) -> bool:
    """A bank wording about another part of the face than the clause ("smacks her forehead" is
    not "smacks his lips")."""
    said, other = _parts(clause), _parts(wording.lower())
    return bool(said and other and not said & other)


def _rule(region: str, action: str):
    visited = set()
    while region and region not in visited:
        visited.add(region)
        effects = RULES.get(region, {}).get(action)
        if effects:
            return effects
        region = REGION_FALLBACKS.get(region)
    return None


def _idiom(clause: str) -> Guess | None:
    """The bank phrase a clause closely matches when the grammar leaves some of its words
    unexplained (a partial reading would miss the point), else None."""
    if _NEGATED.search(clause):
        return None
    spans = [(m.start, m.end) for m in _find(clause)]
    leftover = [w for w in re.finditer(r"[a-z][a-z'-]*", clause)
                if not any(start <= w.start() < end for start, end in spans)]
    if not any(fallback_words(w.group(0)) for w in leftover):
        return None
    # Words only: a clause the grammar reads must not pay for the sentence encoder.
    found = nearest(clause, by_meaning=False, veto=_elsewhere)
    if found is None or found.similarity < STRONG_MATCH:
        return None
    # A one-word wording ("mopes") names a whole clause, never a word beside what the grammar
    # read ("a soft smile" is not "she softens").
    said = {m.category for m in _find(clause)} & _CONTENT
    return found if not said or len(fallback_words(found.wording or found.phrase)) > 1 else None


def _merge_summary(state: FaceState, summary: FaceState, relaxed: set[str]) -> None:
    """Add what summing-up clauses and guesses say to ``state``, except what the detailed
    clauses already decided: the same action unit, its antagonists, a region they relaxed
    ("his brows pinch together, worried": the inner brows lift, the outer brows stay down)."""
    blocked = {other for au in state.aus for other in (au, *ANTAGONISTS.get(au, ()))}
    summary_side = _one_side(summary)
    mirror = _one_side(state) not in (None, summary_side)
    detail_side = _one_side(state, _LOWER_FACE)
    for au, sides in summary.aus.items():
        if au in blocked or (set(au_regions(au)) | {"face"}) & relaxed:
            continue
        if detail_side and is_sided(au) and set(au_regions(au)) & _LOWER_FACE:
            # "The upper lip rises on the left, a snarl": the snarl's nose and lip are on the left.
            state.raise_to(au, max(sides.values()), detail_side)
            continue
        for side, value in sides.items():
            # "He sneers, lip curling on the right": the sneer is on the right too.
            state.raise_to(au, value, ({"Left": "Right", "Right": "Left"}[side]) if mirror else side)
    if state.gaze == (0.0, 0.0):
        state.gaze = summary.gaze
    state.cross = state.cross or summary.cross
    for axis, value in summary.head.items():
        state.head.setdefault(axis, value)


# Regions of sided action units a one-sided detail takes to its side when a summing-up clause
# names the whole expression (the brows and eyes of a snarl stay as they are).
_LOWER_FACE = {"nose", "cheeks", "mouth", "lips", "upper_lip", "lower_lip", "corners", "jaw", "chin"}

# The regions an expression's own words name ("eyes wide", "clenched jaw"): it describes them in
# detail. Denials ("doesn't reach her eyes") name a region to say what does not happen there.
_EXPRESSION_REGIONS = {key: {_VOCABULARY["region"][m.group(0)] for m in _PATTERNS["region"].finditer(key)} - {"face"}
                       for key in EXPRESSIONS if not _NEGATED.search(key)}
# Region words that are not action-unit regions themselves.
_AU_REGION = {"teeth": {"mouth"}, "gaze": {"eyes"}}
# "A frown on the corner of his mouth", "smiles with her mouth only": the expression happens
# there and nowhere else.
_LOCATED = re.compile(r"^\s+(?:[a-z]+s\s+)?(?:on|in|at|around|across|along|to)\s+(?:\S+\s+){0,3}?$")
_ONLY_AFTER = re.compile(r"^\s+(?:only|alone)\b")
_ONLY_BEFORE = re.compile(r"\b(?:only|just|solely)\s+(?:(?:with|in|on)\s+)?(?:(?:the|her|his|their)\s+)?$")
# Feeling words that deny warmth ("cold contempt", "unimpressed, mouth flat"): the feelings a
# description names bring no smile and no cheek raise (a smile the text names stays).
_UNSMILING = _pattern(_LANGUAGE["unsmiling_words"])
_WARMTH = ("AU12", "AU13", "AU6")
_SMILE = ("AU12", "AU13")
_ANGRY = 0.4


def _scope(region_keys: set[str]) -> set[str]:
    """The action-unit regions of the language's region keys ("teeth" -> the mouth)."""
    return {name for key in region_keys for name in _AU_REGION.get(key, {key})}


def _effect_name(effect) -> str:
    """An effect's name ("AU12:one", "-AU12", "=gaze", "head:down"), whichever form the effect
    comes in: the name alone, [name, factor] from a rule, (au, left, right) from an emotion word."""
    return effect[0] if isinstance(effect, (list, tuple)) else effect


def _effect_regions(effect) -> set[str]:
    """Where an expression's effect acts: its action unit's regions, the eyes for a gaze, the
    head, or the region it relaxes."""
    name = _effect_name(effect).lstrip("-=")
    if name.startswith("gaze"):
        return {"eyes"}
    if name.startswith("head"):
        return {"head"}
    unit = name.partition(":")[0]
    return set(au_regions(unit)) if unit in ACTION_UNITS else {name}


def _emotion_units(word: str, scale: float, side: str | None, region_names: set[str], warm: bool = True):
    """(au, left, right) of an emotion word's face, only in ``region_names`` when given; with
    ``warm=False`` without a smile or a cheek raise."""
    entry = LEXICON[word]
    face = emotion_face(entry["mix"], min(1.0, entry["intensity"] * scale), 0, side if side in ("Left", "Right") else "Left")
    if region_names:
        face = restrict(face, region_names)
    if not warm:
        face.clear_aus(_WARMTH)
    elif entry["mix"].get("anger", 0.0) >= _ANGRY or entry["mix"].get("disgust", 0.0) > entry["mix"].get("contempt", 0.0):
        # An angry or disgusted feeling's contempt is no smirk ("hostile", "indignant", "in distaste").
        face.clear_aus(_SMILE)
    return face.active(0.02)


def _effect_unit(effect) -> str | None:
    """The action unit an effect sets ("AU12:one", ["AU6", 0.6], ("AU4", l, r)), None for gaze,
    head and relaxing effects."""
    name = _effect_name(effect).partition(":")[0]
    return name if name in ACTION_UNITS else None


def _one_side(state: FaceState, regions: set[str] | None = None) -> str | None:
    """'Left' or 'Right' when every one-sided action unit of ``state`` (in ``regions``, when
    given) is on that side."""
    sides = {("Left" if entry["Left"] > entry["Right"] else "Right") for au, entry in state.aus.items()
             if entry["Left"] != entry["Right"] and (regions is None or set(au_regions(au)) & regions)}
    return sides.pop() if len(sides) == 1 else None


class DescriptionParser:
    """Parses descriptions; stateless and safe to share."""

    def parse(self, description: str, guess: bool = True, by_meaning: bool = True) -> ParseResult:
        """``guess``: read clauses the grammar does not parse as the nearest action phrase of
        the bank (``fallback.py``); ``by_meaning``: with the sentence encoder when it is there
        (else by words only)."""
        text = _normalise(description)
        state = FaceState()
        result = ParseResult(state)
        suppressed: set[str] = set()
        locked: set[str] = set()
        carried_region: str | None = None
        # What summing-up clauses and guesses say, merged after the detailed clauses.
        summary = FaceState()
        if _UNSMILING.search(text):
            locked.add("unsmiling")
        previous_side: str | None = None  # the last side a clause named
        before: tuple[dict, dict] | None = None  # the action units as they were before the last clause
        # Which clauses raised (in detail) or denied each action unit: a denial takes away what
        # no other clause describes ("she's not crying, but her chin trembles": the chin does;
        # "eyes closed, no squeeze": they stay closed).
        stated: dict[str, set[int]] = {}
        denied: dict[str, set[int]] = {}
        for number, clause in enumerate(_clauses(text)):
            part_denied = _PART_DENIED.match(clause)
            if part_denied and _VOCABULARY["region"].get(part_denied.group(1)):
                # "Her mouth smiles but her eyes don't": nothing there, whatever came before.
                scope = _scope({_VOCABULARY["region"][part_denied.group(1)]})
                for face in (state, summary):
                    face.clear_aus([au for au in list(face.aus) if set(au_regions(au)) & scope])
                result.understood.append(clause)
                continue
            suppressed_before = set(suppressed)
            levels_before = {au: max(entry.values()) for au, entry in state.aus.items()}
            if _TAKEN_BACK.match(clause) and before is not None:
                # "He starts to smile but stops himself", "a ghost of a smile, gone as fast as
                # it came": what the clause before did is undone.
                state.aus, summary.aus = before
                result.understood.append(clause)
                before = None
                continue
            before = ({au: dict(e) for au, e in state.aus.items()}, {au: dict(e) for au, e in summary.aus.items()})
            if _PURPOSE.match(clause):
                # "... to make the baby laugh": why, not what the face does.
                result.ignored_clauses.append(clause)
                continue
            idiom = _idiom(clause) if guess else None
            if idiom is not None:
                # An idiom the bank knows well ("tears well up in her eyes") beats a partial
                # reading of its words ("eyes ... up"); detailed clauses still beat the idiom.
                self._stand_in(idiom, summary, result, suppressed, locked)
                continue
            matches = _find(clause)
            categories = {m.category for m in matches}
            # A named expression is a summing-up clause, unless it says on which side ("a smirk
            # on the right": that detail stands against a summing-up "contempt") or names a part
            # of the face ("eyes wide", "the mouth in a silent scream"; the whole face, "puts on
            # a brave face", still sums up).
            detailed = (any(m.category == "region" and m.key != "face" for m in matches)
                        or any(_EXPRESSION_REGIONS.get(m.key) for m in matches if m.category == "expression"))
            target = summary if categories & _SUMMARY and not (detailed or categories & {"action", "side"}) else state
            # "He frowns slightly, not quite angry": a feeling denied adds nothing, and takes away
            # nothing another clause describes (a denied expression, "not smiling", does).
            denied_feeling = categories & _SUMMARY == {"emotion"} and "negation" in categories and target is summary
            # "He glances right": where he looks, not a side of the face.
            looks = any(m.category == "action" and m.key in _TURNS for m in matches)
            own_side = None if looks else self._side(clause, matches)
            carried_side = None
            if own_side == "one" and previous_side in ("Left", "Right"):
                carried_side = previous_side
            elif own_side is None and previous_side in ("Left", "Right"):
                other = _OTHER_ONE.search(clause)
                if other and "other" in other.groups():
                    carried_side = {"Left": "Right", "Right": "Left"}[previous_side]
                elif _SAME_SIDE.search(clause) or _PARTICIPLE.match(clause):
                    carried_side = previous_side
            carried_region = self._parse_clause(clause, target, result, set() if denied_feeling else suppressed,
                                                carried_region, locked, summary, carried_side)
            previous_side = own_side if own_side in ("Left", "Right") else carried_side
            for au in suppressed - suppressed_before:
                denied.setdefault(au, set()).add(number)
            for au, entry in state.aus.items():
                if max(entry.values()) > levels_before.get(au, 0.0):
                    stated.setdefault(au, set()).add(number)
        if guess:
            for clause in list(result.ignored_clauses):
                if _NEGATED.search(clause) or _PURPOSE.match(clause):
                    continue
                found = nearest(clause, by_meaning, veto=_elsewhere) or (emotion_by_meaning(clause) if by_meaning else None)
                if found is not None:
                    result.ignored_clauses.remove(clause)
                    self._stand_in(found, summary, result, suppressed, locked)
        _merge_summary(state, summary, {name[len("relaxed:"):] for name in locked if name.startswith("relaxed:")})
        state.clear_aus([au for au in suppressed if not stated.get(au, set()) - denied.get(au, set())])
        for name in locked:
            if name.startswith("only:"):
                part = name[len("only:"):]
                state.clear_aus([au for au in list(state.aus) if _ONLY_PART[part] in au_regions(au) and part not in au_regions(au)])
        # "keeping her head still", "without moving his head": whatever else moved it.
        if "head" in locked:
            state.head.clear()
        if "gaze" in locked:
            # "She turns her head to her right, but her eyes stay on the camera": the eyes turn
            # back by as much as the head turned.
            state.gaze, state.cross = _held_gaze(state.head), 0.0
        return result

    def _stand_in(self, found: Guess, state, result, suppressed, locked) -> None:
        """Apply a bank phrase's description (in the grammar's own words: it always parses)."""
        stand_in = ParseResult(state)
        for part in _clauses(found.description.lower()):
            self._parse_clause(part, state, stand_in, suppressed, None, locked)
        result.guessed.append(found)

    def _parse_clause(self, clause, state, result, suppressed, carried_region, locked, summary=None, carried_side=None):
        """Apply one clause to ``state``; ``carried_side``: the side of the clause before, for a
        clause that goes on about that side ("..., showing a canine", "the other one ...")."""
        matches = _find(clause)
        # A part named in where the eyes go ("up through his lashes", "from under her brows",
        # "down her nose") is not a part that moves.
        places = [(m.start(), m.end()) for m in _DIRECTION_PATTERN.finditer(clause) if " " in m.group(0)]
        regions = [m for m in matches if m.category == "region" and not any(a <= m.start < b for a, b in places)]
        actions = [m for m in matches if m.category == "action"]
        expressions = [m for m in matches if m.category == "expression"]
        emotions = [m for m in matches if m.category == "emotion"]
        degrees = [m for m in matches if m.category == "degree"]
        degree = DEGREE_WORDS[max(degrees, key=lambda m: len(m.text)).key] if degrees else None
        side = self._side(clause, matches)
        if side == "one" and carried_side:
            side = carried_side  # "a dimple on the right, a lopsided smile": on the right
        direction = self._direction(clause)

        # Negation reaches what follows it in the clause: "a smile that doesn't reach the eyes"
        # keeps the smile, "she does not smile" removes it.
        negation_at = min((m.start for m in matches if m.category == "negation"), default=None)

        # "Her smile fades": a cancelling word undoes what came before it.
        cancel_at = max((m.start for m in matches if m.category == "cancel"), default=None)

        def is_negated(position: int) -> bool:
            return (negation_at is not None and position > negation_at) or (cancel_at is not None and position < cancel_at)

        effects: list[tuple[object, float, bool]] = []  # (effect, strength, negated)
        # "Catches her watching": her look, not this face's.
        actions = [a for a in actions if not (a.key in ("look", "look_at", "look_plain") and _SOMEONE_ELSE.search(clause[:a.start]))]
        pairs = self._pairs(regions, actions, carried_region)
        if direction in (None, "direct") and any(a.key == "look_at" and _HOLDS.search(a.text) for a in actions):
            locked.add("gaze")  # "her eyes stay on the camera": wherever the head goes
        for region in regions:
            if region.key in _ONLY_PART and (_ONLY_AFTER.match(clause[region.end:]) or _ONLY_BEFORE.search(clause[:region.start])):
                locked.add("only:" + region.key)
        named = regions[-1].key if regions else (carried_region if _OTHER_ONE.search(clause) else None)
        if named and not expressions and not any(
                region == named and action != "hold_still" and _rule(region, action) for region, action, _ in pairs):
            # "Eyes huge", "the left stays wide", "brows level", "the eyes stay flat": what the
            # part is like (the word is no action of another part: "flat" lips press).
            stated = _state_word(clause, named)
            if stated:
                pairs = [(named, stated[0], stated[1])] + [p for p in pairs if p[1] != "hold_still" and p[2] != stated[1]]
        gaze_regions = [m for m in regions if m.key in ("eyes", "gaze")]
        if gaze_regions and direction and not any(region in ("eyes", "gaze") for region, _, _ in pairs):
            # "Eyes to the left", "a quick look right": the eyes go where the clause points.
            pairs.append((gaze_regions[0].key, "look", gaze_regions[0].start))
        if direction and not any(region in ("eyes", "gaze", "head") or action in _TURNS for region, action, _ in pairs):
            # "He knits his brow over the map", "she frowns down at her phone": the eyes go there
            # (not when the lower face is what moves: "jaw on the floor").
            named = {m.key for m in regions} | {r for m in expressions for r in _EXPRESSION_REGIONS.get(m.key, ())}
            # (a side named is no direction to look in: "a frown, stronger on the right")
            looking = (_LOOKING.search(clause) and not any(action for _, action, _ in pairs)
                       and (direction not in ("left", "right") or _SIDE_DIRECTION.search(clause)))
            if (_GAZE_OBJECT.search(clause) or looking) and not named & (_LOWER_FACE | {"teeth", "tongue"}):
                pairs.append(("gaze", "look", 0))
        sideways = [m for m in regions if m.key in ("jaw", "mouth")]
        if (sideways and (side is None or not actions) and direction in ("left", "right")
                and all(a.key == "stretch" or _rule(sideways[0].key, a.key) is None for a in actions)):
            # "Jaw left", "mouth pulled tight to her right": it shifts that way.
            pairs.append((sideways[0].key, "shift", sideways[0].start))
        brow_actions = {action for region, action, _ in pairs if region in ("brows", "inner_brows")}
        if not regions and "AU1" in state.aus and "AU2" in state.aus and carried_region == "brows":
            brow_actions.add("raise")  # "the brows rise and pinch": the rise is the clause before
        if {"raise", "knit"} <= brow_actions and "lower" not in brow_actions:
            # "Brows rise and pinch": drawn together upward, the inner brows lift (no frown).
            pairs = [(r, "slant_up" if a == "knit" and r in ("brows", "inner_brows") else a, p) for r, a, p in pairs]
        for region, action, position in pairs:
            rule = _rule(region, action)
            if rule:
                level = degree if degree is not None else DEFAULT_DEGREE
                effects.extend((effect, level, is_negated(position)) for effect in rule
                               if direction or "<>" not in str(effect))
        scale = (degree / DEFAULT_DEGREE) if degree is not None else 1.0
        # "A look of horror": the whole face, not a region of it.
        region_names = {m.key for m in regions} - {"face"}
        aside: list[tuple[object, float]] = []  # what the clause's expressions add elsewhere: summing up
        # The parts of the face the clause names without saying what they do ("a frown on
        # his mouth"): an expression there happens in them ("his lip juts out in a sulk": the
        # lip does its own thing, the sulk is the whole face's).
        hosts = region_names - {region for region, _, _ in pairs}
        for match in expressions:
            negated = is_negated(match.start)
            scope = _scope(hosts | _EXPRESSION_REGIONS.get(match.key, set()))
            if not scope or negated or summary is None or state is summary:
                effects.extend((effect, min(1.0, strength * scale), negated) for effect, strength in EXPRESSIONS[match.key])
                continue
            # "The mouth open in a silent scream": the scream's mouth is the detail, its eyes and
            # brows sum up (a clause that details them wins); "a frown on the corner of his
            # mouth", "smiles with her mouth only": nothing happens elsewhere, and what happens
            # there is what the clause says, at its degree.
            located = any(r.key in hosts and ((r.start >= match.end and _LOCATED.match(clause[match.end:r.start]))
                                              or _ONLY_AFTER.match(clause[r.end:]) or _ONLY_BEFORE.search(clause[:r.start]))
                          for r in regions)
            inside = [(effect, strength) for effect, strength in EXPRESSIONS[match.key] if _effect_regions(effect) & scope]
            peak = max((strength for _, strength in inside), default=0.0)
            lift = max(1.0, (degree if degree is not None else DEFAULT_DEGREE) / (peak * scale)) if located and peak else 1.0
            effects.extend((effect, min(1.0, strength * scale * lift), False) for effect, strength in inside)
            if not located:
                aside.extend((effect, min(1.0, strength * scale)) for effect, strength in EXPRESSIONS[match.key]
                             if (effect, strength) not in inside)
        warm = "unsmiling" not in locked
        if effects and emotions and summary is not None:
            # "Her brows draw together in worry": the worry colours the face as a summing-up
            # clause would (one-sided parts only in the regions the clause names), never against
            # the clause's own action ("she squints suspiciously": no wide eyes).
            own = {_effect_unit(effect) for effect, _, _ in effects} - {None}
            blocked = own | {other for au in own for other in ANTAGONISTS.get(au, ())}
            for match in emotions:
                if is_negated(match.start):
                    continue
                named = {au for au, _, _ in _emotion_units(match.key, scale, side, region_names, warm)}
                for au, left, right in _emotion_units(match.key, scale, side, set(), warm):
                    # The feeling reaches the whole face ("nostrils flare with anger": the
                    # brows lower too), its one-sided parts only where the clause points.
                    if au in blocked or (au not in named and left != right):
                        continue
                    summary.raise_to(au, left, "Left")
                    summary.raise_to(au, right, "Right")
        if not effects and emotions:
            for match in emotions:
                for au, left, right in _emotion_units(match.key, scale, side, region_names, warm):
                    effects.append(((au, left, right), 1.0, is_negated(match.start)))
                if not region_names and not is_negated(match.start):
                    self._emotion_tendencies(LEXICON[match.key]["mix"], state, scale)

        if effects or aside:
            result.understood.append(clause)
        elif clause.strip() and not _WHEN_ONLY.fullmatch(clause.strip()):
            result.ignored_clauses.append(clause)
        for effect, strength in aside:
            self._apply(effect, strength, side, direction, summary, None)
        # "..., showing a canine": the side of the clause before, when all the clause does is in
        # that half of the face ("winks with his left eye, grinning": the grin is whole).
        half = _half(carried_region)
        inherit = carried_side if carried_side and effects and all(_effect_regions(e) & half for e, _, _ in effects) else None
        for effect, strength, negated in effects:
            name = _effect_name(effect)
            if name.startswith("-") and not negated:
                locked.add("relaxed:" + name[1:])  # a later summing-up clause leaves it relaxed
            if name.startswith("=") or (negated and name.startswith("head:")):
                # Held still, or a head movement denied: the head (or gaze) stays put.
                locked.add(name[1:] if name.startswith("=") else "head")
                continue
            self._apply(effect, strength, side or inherit, direction, state, suppressed if negated else None)
        if side in ("Left", "Right") and _MORE_ON.search(clause):
            # "A frown, stronger on the right", "the smile is wider on her left side": both
            # sides, the one named more.
            other = "Right" if side == "Left" else "Left"
            for effect, _, negated in effects:
                unit = _effect_unit(effect)
                if unit and not negated and is_sided(unit) and unit in state.aus and not _effect_name(effect).endswith(":one"):
                    state.raise_to(unit, state.aus[unit][side] * _LESS_ON_THE_OTHER, other)
        if regions:
            return regions[-1].key
        return carried_region

    @staticmethod
    def _pairs(regions, actions, carried_region):
        """(region, action, position) triples: each action goes with the nearest region before
        it (or, for "raised brows", after it); a region without an action takes the next one."""
        pairs = []
        used_regions = set()
        for action in actions:
            before = [r for r in regions if r.end <= action.start]
            after = [r for r in regions if r.start >= action.end]
            default = DEFAULT_REGIONS.get(action.key)
            region = before[-1] if before else (after[0] if after else None)
            finer = [r for r in after if r.key in _FINER.get(region.key if region is not None else "", ())]
            if region is not None and finer and not [a for a in actions if finer[0].end <= a.start]:
                # "The brows raise on the outer edges": the outer brows do; "lips curling up at
                # both corners": the corners do (and the lips do nothing else).
                used_regions.add(id(region))
                region = finer[0]
            if region is not None and default and _rule(region.key, action.key) is None:
                # "looks up from under his brows": the brows do not look; the eyes do.
                region = None
            if region is not None:
                pairs.append((region.key, action.key, action.start))
                used_regions.add(id(region))
            elif default:
                pairs.append((default, action.key, action.start))
            elif carried_region:
                pairs.append((carried_region, action.key, action.start))
        for region in regions:
            if id(region) in used_regions:
                continue
            following = [a for a in actions if a.start >= region.end]
            if following:
                pairs.append((region.key, following[0].key, following[0].start))
        return pairs

    @staticmethod
    def _side(clause: str, matches) -> str | None:
        if not any(m.category == "side" for m in matches):
            # "one corner up", "raises an eyebrow": the region word stays a region.
            return "one" if _ONE_OF.search(clause) else None
        # A named side ("a lopsided grin, left side only") is more precise than "one side"; "to
        # the left" is a direction, not a side of the face.
        for match in sorted(_face_sides(clause, matches), key=lambda m: m.key == "one"):
            if match.key in ("left", "right"):
                # "The camera-right side of his face", "screen-left brow": the viewer's side,
                # the other side of the face.
                viewers = _VIEWERS.search(clause[:match.start]) is not None
                return "Left" if (match.key == "left") != viewers else "Right"
            if match.key == "one":
                return "one"
        return None

    @staticmethod
    def _direction(clause: str) -> str | None:
        corner = _CORNER_DIRECTION.search(clause)
        if corner:
            return ("up" if corner.group(1) in ("upper", "top") else "down") + "+" + corner.group(2)
        sides_of_parts = {m.start() for m in _SIDE_OF_PART.finditer(clause)}
        found = [_DIRECTION_INDEX[m.group(0)] for m in _DIRECTION_PATTERN.finditer(clause) if m.start() not in sides_of_parts]
        if "cross" in found:
            return "cross"
        # "down and to the left": both ways at once.
        vertical = next((d for d in found if d in ("up", "down")), None)
        horizontal = next((d for d in found if d in ("left", "right")), None)
        if vertical and horizontal:
            return f"{vertical}+{horizontal}"
        # The most specific wins: "eyes fixed on the ground" look down, not straight ahead.
        for preferred in ("left", "right", "up", "down", "away"):
            if preferred in found:
                return preferred
        return found[0] if found else None

    @staticmethod
    def _emotion_tendencies(mix, state: FaceState, scale: float) -> None:
        for family, weight in mix.items():
            spec = FAMILIES[family]
            if "gaze" in spec and spec["gaze"][0] == "down" and state.gaze == (0.0, 0.0):
                state.gaze = (0.0, -spec["gaze"][1] * weight * scale)

    def _apply(self, effect, strength, side, direction, state: FaceState, suppressed: set | None) -> None:
        if isinstance(effect, list):  # [effect, factor] from a rule
            effect, factor = effect
            strength *= factor
        if isinstance(effect, tuple):  # (au, left, right) from an emotion word
            au, left, right = effect
            if suppressed is not None:
                suppressed.add(au)
                return
            state.raise_to(au, left, "Left")
            state.raise_to(au, right, "Right")
            return
        if effect.startswith("-"):
            if suppressed is None:
                self._relax(effect[1:], state, side if side in ("Left", "Right") else None)
            return
        if effect.startswith("gaze:"):
            if suppressed is None:
                self._gaze(effect[5:], strength, direction, state)
            return
        if effect.startswith("head:"):
            if suppressed is None:
                self._head(effect[5:], strength, direction, state)
            return
        au, _, qualifier = effect.partition(":")
        if suppressed is not None:
            suppressed.add(au)
            return
        if qualifier == "one" or side == "one":
            target_side = side if side in ("Left", "Right") else "Left"
        else:
            target_side = side if side in ("Left", "Right") else None
        if ACTION_UNITS[au].get("exclusive_sides") and target_side is None:
            target_side = "Right" if "right" in (direction or "") else "Left"
        state.raise_to(au, strength, target_side)

    @staticmethod
    def _resolve(template: str, direction: str | None) -> str:
        match = re.search(r"<(\w*)>", template)
        if not match:
            return template
        chosen = direction or match.group(1)
        if chosen == "away":
            chosen = "right"
        return template[: match.start()] + chosen + template[match.end():]

    def _gaze(self, template: str, strength: float, direction: str | None, state: FaceState) -> None:
        if direction in (None, "away") and "<away>" in template and state.gaze[0] != 0.0:
            return  # "looks to his left, avoiding her eyes": already looking aside
        target = self._resolve(template, direction)
        if "+" in target:
            for part in target.split("+"):
                self._gaze(part, strength, None, state)
            return
        yaw, pitch = state.gaze
        if target == "cross":
            state.cross = strength
        elif target == "direct":
            state.gaze = (0.0, 0.0)
        elif target == "down":
            state.gaze = (yaw, -strength)
        elif target == "up":
            state.gaze = (yaw, strength)
        elif target == "left":
            state.gaze = (strength, pitch)
        elif target == "right":
            state.gaze = (-strength, pitch)

    def _head(self, template: str, strength: float, direction: str | None, state: FaceState) -> None:
        target = self._resolve(template, direction)
        if "+" in target:
            prefix = target[: target.index("_") + 1] if target.startswith("tilt_") else ""
            for part in target[len(prefix):].split("+"):
                self._head(prefix + part, strength, None, state)
            return
        if target == "tilt_direct" or target not in HEAD:
            target = {"tilt_down": "down", "tilt_up": "up", "tilt_away": "tilt_right"}.get(target, target)
        if target not in HEAD:
            return
        (axis, unit), = HEAD[target]["pose"].items()
        state.head[axis] = unit * strength

    @staticmethod
    def _relax(region: str, state: FaceState, side: str | None = None) -> None:
        if region == "face":
            # "Eyes closed, face relaxed": what other clauses say stays; the rest is at rest
            # (summing-up clauses are kept out, see _merge_summary).
            state.gaze, state.cross = (0.0, 0.0), 0.0
            state.head.clear()
            return
        if region == "head":
            state.head.clear()
            return
        relaxed = [au for au in list(state.aus) if region in au_regions(au)]
        if side and all(is_sided(au) for au in relaxed):
            # "right brow down hard, left one neutral": only that side rests.
            for au in relaxed:
                state.aus[au][side] = 0.0
            return
        state.clear_aus(relaxed)
