"""The recording as the clock: a script timing (words, phones, phrases, stress) read from an
alignment, in the same form as the text timing, so the planner, lip sync and blinks follow the
actor's delivery unchanged. ``annotate`` reads what the timing needs from the recording
(loudness per phone, prominence and pitch accents per word) into the alignment, so a track
that keeps its alignment re-solves in sync without the audio."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..script_timing import Phone, Phrase, ScriptTiming, load_speech, time_script
from .alignment import Alignment, AlignmentError
from .signal import Measures

# A silence this long inside a phrase is a pause the actor took: the phrase splits there.
PAUSE_SPLIT = 0.3
# Articulation gain: a vowel peaking at REFERENCE_DB (dBFS) opens as written; louder opens
# wider, quieter less (a shouted take against a whispered one), within GAIN_RANGE.
REFERENCE_DB = -14.0
DB_PER_GAIN = 30.0
GAIN_RANGE = (0.5, 1.4)
# The face needs this long after the last word to settle, even if the recording ends sooner.
SETTLE = 0.3
# A word whose pitch peaks this many semitones over the speaker's median is a pitch accent.
ACCENT_SEMITONES = 4.0


def annotate(alignment: Alignment, measures: Measures) -> Alignment:
    """Phone gains from the loudness envelope; word prominence and pitch accents."""
    voiced = measures.pitch[measures.pitch > 0]
    median_pitch = float(np.median(voiced)) if len(voiced) else 0.0
    level = measures.speech_level()
    for word in alignment.words:
        for phone in word.phones:
            peak = measures.at(measures.loudness, phone.start, phone.end)
            peak_db = float(peak.max()) if len(peak) else REFERENCE_DB
            phone.gain = round(float(np.clip(1.0 + (peak_db - REFERENCE_DB) / DB_PER_GAIN, *GAIN_RANGE)), 3)
        loud = measures.at(measures.loudness, word.start, word.end)
        pitch = measures.at(measures.pitch, word.start, word.end)
        pitch = pitch[pitch > 0]
        # The 80th percentile, not the maximum: one octave error must not make an accent.
        peak_pitch = float(np.percentile(pitch, 80)) if len(pitch) >= 3 else 0.0
        semitones = float(12 * np.log2(peak_pitch / median_pitch)) if peak_pitch and median_pitch else 0.0
        word.prominence = round((float(loud.max()) - level if len(loud) else 0.0) / 6.0 + semitones / 3.0, 3)
        word.accent = semitones >= ACCENT_SEMITONES
    return alignment


def aligned_timing(script: str, alignment: Alignment) -> ScriptTiming:
    """The script's timing as spoken in the recording the alignment came from."""
    text = time_script(script)
    if len(text.words) != len(alignment.words):
        raise AlignmentError(f"The alignment has {len(alignment.words)} words, the script {len(text.words)}: "
                             "it belongs to another script.")
    words = [replace(word, start=spoken.start, end=spoken.end, phones=[replace(p) for p in spoken.phones])
             for word, spoken in zip(text.words, alignment.words)]
    phrases = _phrases(text.phrases, words)
    _spoken_stress(phrases, words, alignment, set(load_speech()["function_words"]))
    syllables = sum(word.syllables for word in words)
    speaking = sum(word.end - word.start for word in words)
    duration = max(alignment.duration, words[-1].end + SETTLE)
    return ScriptTiming(words, phrases, words[0].start, words[-1].end, duration,
                        syllables / max(speaking, 1e-3), list(text.notes))


def _phrases(text_phrases: list[Phrase], words) -> list[Phrase]:
    """The text's phrases, each split where the actor paused inside it."""
    phrases: list[Phrase] = []
    for phrase in text_phrases:
        groups = [[phrase.words[0]]]
        for previous, index in zip(phrase.words, phrase.words[1:]):
            if words[index].start - words[previous].end > PAUSE_SPLIT:
                groups.append([])
            groups[-1].append(index)
        for n, group in enumerate(groups):
            ending = phrase.ending if n == len(groups) - 1 else ","
            for i in group:
                words[i].phrase = len(phrases)
            phrases.append(Phrase(len(phrases), group, words[group[0]].start, words[group[-1]].end, ending,
                                  phrase.stressed_word if phrase.stressed_word in group else group[-1]))
    return phrases


def _spoken_stress(phrases: list[Phrase], words, alignment: Alignment, function_words: set[str]) -> None:
    """Stress as spoken: in a phrase the text does not stress explicitly, the most prominent
    content word carries the beat; a pitch accent counts as emphasis (a brow raise)."""
    spoken = alignment.words
    for phrase in phrases:
        if any(words[i].emphasized for i in phrase.words):
            continue
        content = [i for i in phrase.words if words[i].text.lower() not in function_words] or phrase.words
        if not any(spoken[i].prominence for i in content):
            continue
        phrase.stressed_word = max(content, key=lambda i: spoken[i].prominence)
        if spoken[phrase.stressed_word].accent:
            words[phrase.stressed_word].emphasized = True
