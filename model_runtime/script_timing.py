"""Timing a line of script: words, syllables, phrases, emphasis, pauses.

The built-in planner places keyframes on this timing, and lip sync uses the same word times,
so the face and the mouth agree. Rates and pauses are data (``data/speech.json``); the
speaking rate is scaled by the emotion (excited speech is faster, sad speech slower).
Text in any script gets a timing: words in scripts without spaces between words (Chinese,
Japanese, Thai...) are timed per character.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from ._data import load_json

_SPEECH = load_json("speech.json")

_TOKEN = re.compile(
    r"(?P<word>[^\W_]+(?:['’\-][^\W_]+)*)"
    r"|(?P<ellipsis>\.\.\.+|…)"
    r"|(?P<dash>\s[-–—]+\s|--+|[–—])"
    r"|(?P<punct>[.,;:!?¡¿、。，！？；：])"
    r"|(?P<emph>[*_]+)",
    re.UNICODE,
)
_VOWEL_GROUP = re.compile(r"[aeiouy]+")
# Scripts written without spaces between words: each character is roughly one syllable.
_SYLLABIC_CHARACTER_RANGES = (
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0x0E00, 0x0E7F),  # Thai
)


@dataclass
class Phone:
    """One spoken phone (ARPAbet) with its times, when a recording or a voice gave them;
    ``gain`` scales the articulation by how loud it was spoken (1.0: a normal level)."""

    phone: str
    start: float
    end: float
    gain: float = 1.0


@dataclass
class Word:
    text: str
    start: float
    end: float
    syllables: int
    phrase: int
    emphasized: bool = False
    latin: bool = True
    # Empty when timed from the text; lip sync then spreads the word's phonemes evenly.
    phones: list[Phone] = field(default_factory=list)


@dataclass
class Phrase:
    index: int
    words: list[int]
    start: float
    end: float
    ending: str = ""
    stressed_word: int | None = None

    @property
    def is_question(self) -> bool:
        return "?" in self.ending

    @property
    def is_exclamation(self) -> bool:
        return "!" in self.ending


@dataclass
class ScriptTiming:
    words: list[Word]
    phrases: list[Phrase]
    speech_start: float
    speech_end: float
    duration: float
    syllables_per_second: float
    notes: list[str] = field(default_factory=list)

    @property
    def latin_fraction(self) -> float:
        if not self.words:
            return 1.0
        return sum(word.latin for word in self.words) / len(self.words)


def load_speech() -> dict:
    """The speech timing table (``data/speech.json``)."""
    return _SPEECH


def _is_syllabic_character(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _SYLLABIC_CHARACTER_RANGES)


def _is_latin(word: str) -> bool:
    for char in word:
        if char.isalpha():
            name = unicodedata.name(char, "")
            if not name.startswith("LATIN"):
                return False
    return True


def count_syllables(word: str) -> int:
    """Syllables of a word: English vowel groups for Latin script, a rough count otherwise."""
    if word.isdigit():
        return max(1, round(len(word) * 1.3))
    if not _is_latin(word):
        if all(_is_syllabic_character(c) for c in word if c.isalpha()):
            return max(1, sum(c.isalpha() for c in word))
        # Alphabetic non-Latin scripts (Cyrillic, Greek, Arabic, Devanagari...): about one
        # syllable per 2.5 letters.
        return max(1, round(sum(c.isalpha() for c in word) / 2.5))
    lower = word.lower().replace("'", "").replace("’", "")
    groups = len(_VOWEL_GROUP.findall(lower))
    if lower.endswith("e") and not lower.endswith(("le", "ee", "ye")) and groups > 1:
        groups -= 1
    if lower.endswith("ed") and groups > 1 and not lower.endswith(("ted", "ded")):
        groups -= 1
    return max(1, groups)


def _split_syllabic_runs(word: str) -> list[str]:
    """Chinese/Japanese/Thai runs have no spaces: treat each character as a word."""
    if all(_is_syllabic_character(c) for c in word):
        return list(word)
    return [word]


def time_script(script: str, rate_factor: float = 1.0, pause_factor: float = 1.0) -> ScriptTiming:
    """Time ``script`` at the base speaking rate times ``rate_factor``, with pauses at
    punctuation ``pause_factor`` times their usual length (a sobbing delivery pauses longer)."""
    rate = _SPEECH["syllables_per_second"] * rate_factor
    pauses = {mark: length * pause_factor for mark, length in _SPEECH["pauses"].items()}
    lead_in = _SPEECH["lead_in"]
    tail = _SPEECH["tail"]
    function_words = set(_SPEECH["function_words"])
    emphasis_words = set(_SPEECH["emphasis_words"])

    tokens: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(script):
        kind = match.lastgroup
        text = match.group(kind)
        if kind == "word":
            tokens.extend(("word", part) for part in _split_syllabic_runs(text))
        else:
            tokens.append((kind, text))

    words: list[Word] = []
    phrases: list[Phrase] = []
    current: list[int] = []
    t = lead_in
    in_emphasis = False
    notes: list[str] = []

    def close_phrase(ending: str, pause: float) -> None:
        nonlocal current, t
        if current:
            index = len(phrases)
            for i in current:
                words[i].phrase = index
            phrases.append(Phrase(index, current, words[current[0]].start, words[current[-1]].end, ending))
            current = []
        t += pause

    for kind, text in tokens:
        if kind == "word":
            syllables = count_syllables(text)
            is_caps = len(text) > 1 and text.isupper() and _is_latin(text)
            emphasized = in_emphasis or is_caps or text.lower() in emphasis_words
            duration = syllables / rate * (_SPEECH["emphasis_lengthening"] if emphasized else 1.0)
            duration += _SPEECH["word_overhead"]
            words.append(Word(text, t, t + duration, syllables, len(phrases), emphasized, _is_latin(text)))
            current.append(len(words) - 1)
            t += duration
        elif kind == "emph":
            in_emphasis = not in_emphasis
        elif kind == "ellipsis":
            close_phrase("…", pauses["ellipsis"])
        elif kind == "dash":
            close_phrase("—", pauses["dash"])
        else:
            mark = {"。": ".", "，": ",", "、": ",", "！": "!", "？": "?", "；": ";", "：": ":", "¡": "", "¿": ""}.get(text, text)
            if mark == "!" and current:
                words[current[-1]].emphasized = True
            if mark:
                close_phrase(mark, pauses.get(mark, pauses[","]))
    close_phrase(".", 0.0)

    # Remove the pause after the last phrase: the tail replaces it.
    speech_end = words[-1].end if words else lead_in
    if not words:
        notes.append("The script has no words: the performance is an expression without speech.")
    duration = speech_end + tail if words else max(lead_in + tail, _SPEECH["wordless_duration"])

    for phrase in phrases:
        phrase.stressed_word = _nuclear_stress(phrase, words, function_words)
    return ScriptTiming(words, phrases, lead_in, speech_end, duration, rate, notes)


def _nuclear_stress(phrase: Phrase, words: list[Word], function_words: set[str]) -> int:
    """The most prominent word: an emphasized one if any, else the last content word."""
    emphasized = [i for i in phrase.words if words[i].emphasized]
    if emphasized:
        return emphasized[0]
    content = [i for i in phrase.words if words[i].text.lower() not in function_words]
    if content:
        return content[-1]
    return phrase.words[-1]
