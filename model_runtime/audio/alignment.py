"""Forced alignment of a script to its recording: word and phone timings, offline.

``pocketsphinx`` (its wheel ships a US-English acoustic model and the CMU dictionary) aligns
the script's words; words its dictionary lacks are spelled by our letter-to-sound rules. A
match score (0..1) says whether the recording says the script: the aligner's mean acoustic
score per frame, discounted for phones stretched beyond what speech does (a script shorter
than the take). Below ``MIN_MATCH`` the alignment is refused with a note and the caller keeps
the text timing: never a silent wrong sync.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..errors import KeyframeFaceError
from ..lipsync import phonemes_for
from ..script_timing import Phone
from .recording import Recording
from .signal import ALIGN_RATE, HOP_SECONDS

# Mean acoustic score per 10 ms frame (pocketsphinx's scaled log-likelihood) of a clean
# matching take and of a take saying something else, measured on the dev lines.
GOOD_FRAME_SCORE = -9.0
BAD_FRAME_SCORE = -40.0
MIN_MATCH = 0.4
# No speech sound lasts this long; a stretched phone means words the script lacks.
LONGEST_PHONE = 0.45


class AlignmentError(KeyframeFaceError):
    """The recording could not be aligned to the script; the message says why."""


@dataclass
class AlignedWord:
    text: str
    start: float
    end: float
    phones: list[Phone] = field(default_factory=list)
    # How much the word stood out (loudness and pitch peaks), and whether its pitch peak is
    # an accent; set by ``timing.annotate`` from the recording.
    prominence: float = 0.0
    accent: bool = False


@dataclass
class Alignment:
    """Word and phone timings of a recording (seconds from its start)."""

    words: list[AlignedWord]
    duration: float
    match: float
    source: str
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "duration": round(self.duration, 4),
            "match": round(self.match, 3),
            "words": [{"text": w.text, "start": round(w.start, 4), "end": round(w.end, 4),
                       "prominence": round(w.prominence, 3), "accent": w.accent,
                       "phones": [[p.phone, round(p.start, 4), round(p.end, 4), round(p.gain, 3)] for p in w.phones]}
                      for w in self.words],
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Alignment":
        """Read back what ``to_dict`` wrote; raises ``AlignmentError`` with what is wrong."""
        try:
            words = [AlignedWord(str(w["text"]), float(w["start"]), float(w["end"]),
                                 [Phone(str(p[0]), float(p[1]), float(p[2]), float(p[3])) for p in w["phones"]],
                                 float(w.get("prominence", 0.0)), bool(w.get("accent", False)))
                     for w in data["words"]]
            alignment = cls(words, float(data["duration"]), float(data["match"]), str(data["source"]))
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise AlignmentError(f"the audio alignment is malformed ({error})") from None
        for word in words:
            if not 0 <= word.start <= word.end <= alignment.duration + 1e-3:
                raise AlignmentError(f"the audio alignment times the word {word.text!r} outside the recording")
        return alignment

    def shifted(self, seconds: float) -> "Alignment":
        """The same alignment with every time moved by ``seconds`` (a lead puts the mouth ahead)."""
        def move(t: float) -> float:
            return min(max(t + seconds, 0.0), self.duration)

        words = [AlignedWord(w.text, move(w.start), move(w.end),
                             [Phone(p.phone, move(p.start), move(p.end), p.gain) for p in w.phones],
                             w.prominence, w.accent)
                 for w in self.words]
        return Alignment(words, self.duration, self.match, self.source, self.seconds)


_TOKEN = re.compile(r"[^a-z']")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _decoder():
    try:
        from pocketsphinx import Decoder
    except ImportError:
        raise AlignmentError("Aligning to audio needs the pocketsphinx package; install it with: "
                             f'"{sys.executable}" -m pip install pocketsphinx==5.1.1 .') from None
    return Decoder(samprate=ALIGN_RATE, lm=None, bestpath=False, loglevel="FATAL")


def align(recording: Recording, words: list[str]) -> Alignment:
    """Align the script's ``words`` (in order) to ``recording``; raises ``AlignmentError``."""
    tokens = [_TOKEN.sub("", w.lower().replace("’", "'")).strip("'") for w in words]
    if not tokens or any(not t for t in tokens):
        bad = next((w for w, t in zip(words, tokens) if not t), "")
        raise AlignmentError(f"The word {bad!r} cannot be aligned (only English words in Latin letters can); "
                             "spell numbers out." if bad else "The script has no words to align.")
    started = time.perf_counter()
    pcm = (np.clip(recording.resampled(ALIGN_RATE), -1, 1) * 32767).astype("<i2").tobytes()
    with _lock:
        decoder = _decoder()
        for token in set(tokens):
            if decoder.lookup_word(token) is None:
                phones = phonemes_for(token)
                if not phones:
                    raise AlignmentError(f"No pronunciation for {token!r}: it cannot be aligned.")
                decoder.add_word(token, " ".join(phones), True)
        try:
            decoder.set_align_text(" ".join(tokens))
            _decode(decoder, pcm)
            decoder.set_alignment()
            _decode(decoder, pcm)
            aligned = decoder.get_alignment()
        except RuntimeError:
            raise AlignmentError("The recording does not match the script (the aligner found no path "
                                 "through the words): is it the right take?") from None
        entries = [(entry.name, entry.start, entry.duration,
                    [(p.name, p.start, p.duration, p.score) for p in entry]) for entry in aligned]
    return _read(entries, words, recording.duration, time.perf_counter() - started)


def _decode(decoder, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def _read(entries, words: list[str], duration: float, seconds: float) -> Alignment:
    result: list[AlignedWord] = []
    scores, frames, stretched, spoken = 0.0, 0, 0, 0
    for name, start, length, phones in entries:
        for _, _, phone_length, score in phones:
            scores += score
            frames += phone_length
        if name in ("<sil>", "<s>", "</s>") or name.startswith("+"):
            continue
        word_phones = [Phone(p, s * HOP_SECONDS, (s + n) * HOP_SECONDS) for p, s, n, _ in phones if p != "SIL"]
        spoken += len(word_phones)
        stretched += sum(p.end - p.start > LONGEST_PHONE for p in word_phones)
        result.append(AlignedWord(words[len(result)] if len(result) < len(words) else name,
                                  start * HOP_SECONDS, (start + length) * HOP_SECONDS, word_phones))
    if len(result) != len(words):
        raise AlignmentError(f"The aligner placed {len(result)} of the script's {len(words)} words.")
    quality = (scores / max(frames, 1) - BAD_FRAME_SCORE) / (GOOD_FRAME_SCORE - BAD_FRAME_SCORE)
    match = float(np.clip(quality, 0.0, 1.0)) * (1.0 - stretched / max(spoken, 1)) ** 2
    return Alignment(result, duration, match, "pocketsphinx", seconds)
