"""The built-in planner: (script, context, emotion) -> timed, described keyframes.

1. Read the emotion (parts in time order; felt vs displayed when masked).
2. Time the script at a rate the emotion sets, or take the timing of its recording (the
   actor's words, pauses and stress); each phrase is a beat whose apex falls just
   before its most stressed word (the face leads the voice).
3. Give every beat a face: the prototype of its emotion part, with emphasis (a brow flash or a
   brow lowering on stressed words), a question's brow raise, gaze and head tendencies.
4. Frame the line with an onset (a hint of the emotion before speaking) and a release after
   the last word, and hold long gaps so the face never freezes.
5. Describe each face in words: the descriptions are what the solver turns into weights.

Seeds vary the prototype variant, intensities, timing and sides, never the validity.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ...audio.timing import aligned_timing
from ...script_timing import ScriptTiming, time_script
from ..base import GenerateRequest, Plan, PlannedKeyframe
from .delivery import mouth_style, read_delivery
from .describe import describe
from .emotion import FAMILIES, EmotionReading, context_gaze, part_face, read_emotion
from .facs import HEAD, FaceState

# Shortest time between two keyframes, and the gap after an apex that earns a hold keyframe.
MIN_SPACING = 0.3
HOLD_GAP = 1.1
# A strong beat is anticipated this long before its apex (a small counter-movement).
ANTICIPATION = 0.3
# A phrase longer than this is split into several beats.
MAX_BEAT_SPAN = 1.6
# The apex comes this long before the stressed word starts.
APEX_LEAD = 0.1
ONSET_LEVEL = 0.3
RELEASE_LEVEL = 0.45


# Which keyframe survives when two crowd each other.
_RANK = {"anticipation": 0, "hold": 0, "apex": 1, "emphasis": 2, "question": 2, "shift": 2}


@dataclass
class _Beat:
    time: float
    stressed: int
    phrase: int
    emphasized: bool
    question: bool
    exclamation: bool
    part: int = 0


class BuiltinPlanner:
    def __init__(self, paraphrases: bool | None = None):
        self.paraphrases = paraphrases

    def plan(self, request: GenerateRequest) -> Plan:
        rng = random.Random(f"plan:{request.seed}")
        delivery, emotion_text = read_delivery(request.emotion, request.context, request.script)
        reading = read_emotion(emotion_text, request.script, request.context, self.paraphrases)
        rate = reading.speech_rate * delivery.rate * rng.uniform(0.96, 1.04)
        if request.alignment is not None:
            timing = aligned_timing(request.script, request.alignment)
        else:
            timing = time_script(request.script, rate, delivery.pause)
        beats = self._beats(timing, len(reading.parts))
        style = _Style(rng, reading)
        families = reading.families()
        mouth = mouth_style(delivery, families, max(p.intensity() for p in reading.parts), request.intensity,
                            style.one_side)
        expression = request.intensity * delivery.expression

        keyframes: list[tuple[float, str, FaceState]] = []
        first_part = reading.parts[0]
        onset = style.face(first_part, expression * ONSET_LEVEL, tendencies=0.3)
        keyframes.append((0.0, "onset", onset))

        previous_part = 0
        cue = context_gaze(request.script, request.context)
        for i, beat in enumerate(beats):
            part = reading.parts[beat.part]
            strong = beat.emphasized or beat.exclamation
            level = expression * (rng.uniform(1.0, 1.1) if strong else rng.uniform(0.9, 1.0))
            face = style.face(part, level)
            label = "shift" if beat.part != previous_part else "apex"
            if strong:
                style.emphasize(face, part)
                label = "emphasis"
            if beat.question:
                style.question(face, part)
                label = "question"
            if cue and i % 2 == 0:
                style.look(face, *cue)
            previous_part = beat.part
            time = max(MIN_SPACING, beat.time + rng.uniform(-0.04, 0.04))
            if strong and request.intensity > 0:
                keyframes.append((time - ANTICIPATION, "anticipation", style.anticipate(keyframes[-1][2], face)))
            keyframes.append((time, label, face))

        release = style.face(reading.parts[-1], expression * RELEASE_LEVEL, tendencies=0.3)
        keyframes.append((timing.duration, "release", release))
        for _, label, face in keyframes:
            style.in_character(face, label, mouth, delivery.head)

        keyframes = self._space(keyframes, timing.duration)
        keyframes = self._holds(keyframes)
        planned = [PlannedKeyframe(round(t, 4), label, describe(face)) for t, label, face in keyframes]

        notes = ([delivery.note()] if delivery.note() else []) + list(reading.notes) + list(timing.notes)
        if timing.words and timing.latin_fraction < 0.5:
            notes.append("Lip sync is approximate for non-Latin text: the mouth opens and closes per syllable.")
        analysis = {
            "emotion": reading.to_dict(),
            "words": len(timing.words),
            "syllables": sum(word.syllables for word in timing.words),
            "syllables_per_second": round(timing.syllables_per_second, 2),
            "beats": len(beats),
            "delivery": delivery.to_dict(),
        }
        return Plan(
            keyframes=planned,
            timing=timing,
            duration=timing.duration,
            blink_rate=reading.blink_rate * delivery.blink,
            blink_speed=reading.blink_speed,
            speech_energy=1.0 + 0.25 * reading.arousal,
            mouth=mouth,
            notes=notes,
            analysis=analysis,
        )

    @staticmethod
    def _beats(timing: ScriptTiming, parts: int) -> list[_Beat]:
        words = timing.words
        spans: list[tuple[int, list[int]]] = []
        for phrase in timing.phrases:
            span = words[phrase.words[-1]].end - words[phrase.words[0]].start
            pieces = max(1, round(span / MAX_BEAT_SPAN))
            size = -(-len(phrase.words) // pieces)
            for start in range(0, len(phrase.words), size):
                spans.append((phrase.index, phrase.words[start:start + size]))
        # A transition needs at least one beat per emotion part: split the longest spans.
        while len(spans) < parts and any(len(s[1]) > 1 for s in spans):
            i = max(range(len(spans)), key=lambda k: len(spans[k][1]))
            phrase_index, indices = spans[i]
            half = len(indices) // 2
            spans[i:i + 1] = [(phrase_index, indices[:half]), (phrase_index, indices[half:])]

        beats = []
        for phrase_index, indices in spans:
            phrase = timing.phrases[phrase_index]
            stressed = phrase.stressed_word if phrase.stressed_word in indices else _stress_in(indices, words)
            last_of_phrase = indices[-1] == phrase.words[-1]
            beats.append(_Beat(
                time=max(0.05, words[stressed].start - APEX_LEAD),
                stressed=stressed,
                phrase=phrase_index,
                emphasized=words[stressed].emphasized,
                question=phrase.is_question and last_of_phrase,
                exclamation=phrase.is_exclamation and last_of_phrase,
            ))
        for i, beat in enumerate(beats):
            beat.part = min(parts - 1, int(parts * (i + 0.5) / len(beats))) if beats else 0
        return beats

    @staticmethod
    def _space(keyframes, duration):
        """Keep keyframes in order and at least MIN_SPACING apart: of two crowded keyframes
        the more important one stays (the first and last always do)."""
        keyframes = sorted(keyframes, key=lambda k: k[0])
        kept = [keyframes[0]]
        for item in keyframes[1:-1]:
            if item[0] - kept[-1][0] >= MIN_SPACING and duration - item[0] >= MIN_SPACING:
                kept.append(item)
            elif len(kept) > 1 and _RANK.get(item[1], 1) > _RANK.get(kept[-1][1], 1) and duration - item[0] >= MIN_SPACING:
                kept[-1] = item
        kept.append(keyframes[-1])
        return kept

    @staticmethod
    def _holds(keyframes):
        """An apex followed by a long gap gets a hold: the same face, slightly eased, so the
        expression sustains and then travels on instead of drifting (onset-apex-hold-release)."""
        result = [keyframes[0]]
        for item in keyframes[1:]:
            previous = result[-1]
            gap = item[0] - previous[0]
            if gap > HOLD_GAP and previous[1] not in ("onset", "anticipation", "hold"):
                held = previous[2].copy()
                for entry in held.aus.values():
                    for side in entry:
                        entry[side] *= 0.85
                result.append((previous[0] + min(gap * 0.6, 0.9), "hold", held))
            result.append(item)
        return result


def _stress_in(indices: list[int], words) -> int:
    emphasized = [i for i in indices if words[i].emphasized]
    if emphasized:
        return emphasized[0]
    return max(indices, key=lambda i: words[i].syllables)


class _Style:
    """Seeded choices that stay fixed for one performance: prototype variant, which side a
    one-sided expression uses, where the gaze goes when it looks away."""

    def __init__(self, rng: random.Random, reading: EmotionReading):
        self.rng = rng
        self.reading = reading
        self.variant = rng.randrange(3)
        self.one_side = rng.choice(("Left", "Right"))
        self.away = rng.choice(("left", "right"))

    def face(self, part, intensity: float, tendencies: float = 1.0) -> FaceState:
        state = part_face(part, intensity, self.variant, self.one_side)
        for au, entry in state.aus.items():
            jitter = self.rng.uniform(0.9, 1.1)
            for side in entry:
                entry[side] = min(1.0, entry[side] * jitter)
        self._tendencies(state, part, intensity * tendencies)
        return state

    def _tendencies(self, state: FaceState, part, amount: float) -> None:
        yaw, pitch = 0.0, 0.0
        head: dict[str, float] = {}
        for family, weight in part.mix("felt").items():
            spec = FAMILIES[family]
            if "gaze" in spec:
                direction, strength = spec["gaze"]
                value = strength * weight * amount
                if direction == "down":
                    pitch -= value
                elif direction == "away":
                    yaw += value if self.away == "left" else -value
            for direction, strength in spec.get("head", []):
                if direction == "away":
                    direction = self.away
                if direction.startswith("tilt_") and self.one_side == "Right":
                    direction = "tilt_right" if direction == "tilt_left" else "tilt_left"
                (axis, unit), = HEAD[direction]["pose"].items()
                head[axis] = head.get(axis, 0.0) + unit * strength * weight * amount
        state.gaze = (max(-1.0, min(1.0, yaw)), max(-1.0, min(1.0, pitch)))
        state.head = head

    def in_character(self, state: FaceState, label: str, mouth, head_energy: float) -> None:
        """The emotion's mouth and the delivery's head energy on a planned face: contempt and
        sarcasm are one-sided (one corner up with a dimple, the head tilted), not a symmetric
        smile; a loud delivery moves the head more on its beats, a deadpan one hardly."""
        if mouth.one_sided >= 0.15:
            other = "Right" if self.one_side == "Left" else "Left"
            smile = state.get("AU12")
            if smile > 0.05:
                state.set("AU12", smile * 0.3, other)
                state.set("AU12", smile, self.one_side)
            state.raise_to("AU12", min(1.0, 0.5 * mouth.one_sided), self.one_side)
            state.raise_to("AU14", min(1.0, 0.9 * mouth.one_sided), self.one_side)
            tilt = 0.1 * mouth.one_sided / 0.4
            state.head["headRoll"] = state.head.get("headRoll", 0.0) + (tilt if self.one_side == "Left" else -tilt)
        if head_energy > 1.0 and label in ("apex", "emphasis", "shift", "question"):
            state.head["headPitch"] = state.head.get("headPitch", 0.0) - 0.05 * (head_energy - 1.0)
        for axis in state.head:
            state.head[axis] *= head_energy

    def emphasize(self, state: FaceState, part) -> None:
        """Brows mark a stressed word: a flash up, a lowering in negative, forceful emotions,
        or the inner brows alone in sadness (an outer lift would flatten its oblique brow); the
        head nods into it."""
        style = self._emphasis_style(part)
        if style == "lower":
            state.raise_to("AU4", state.get("AU4") + 0.2)
        elif style == "one_brow":
            state.raise_to("AU2", state.get("AU2", self.one_side) + 0.3, self.one_side)
        else:  # a flash up ("inner": the inner brows alone)
            state.raise_to("AU1", state.get("AU1") + 0.2)
            if style != "inner":
                state.raise_to("AU2", state.get("AU2", "Left") + 0.2)
        state.head["headPitch"] = state.head.get("headPitch", 0.0) - 0.06

    @staticmethod
    def _emphasis_style(part) -> str:
        weights: dict[str, float] = {}
        for family, weight in part.mix("felt").items():
            style = FAMILIES[family]["emphasis"]
            weights[style] = weights.get(style, 0.0) + weight
        return max(weights, key=weights.get)

    def anticipate(self, before: FaceState, apex: FaceState) -> FaceState:
        """The beat before a strong apex: the preceding face with a small counter-movement
        (brows and head dip against the coming raise, or lift against a coming frown)."""
        state = before.copy()
        raising = apex.get("AU1") + apex.get("AU2", "Left") > apex.get("AU4")
        if raising:
            state.raise_to("AU4", state.get("AU4") + 0.1)
            state.raise_to("AU7", state.get("AU7") + 0.1)
        else:
            state.raise_to("AU1", state.get("AU1") + 0.1)
        state.head["headPitch"] = state.head.get("headPitch", 0.0) + 0.05
        return state

    def look(self, state: FaceState, direction: str, amount: float) -> None:
        """Gaze the script or context implies (thinking looks up, shame looks down)."""
        yaw, pitch = state.gaze
        if direction == "direct":
            state.gaze = (0.0, 0.0)
        elif direction == "down":
            state.gaze = (yaw, min(pitch, -amount))
        elif direction == "up":
            state.gaze = (yaw, max(pitch, amount))
        else:
            state.gaze = (amount if self.away == "left" else -amount, pitch)

    def question(self, state: FaceState, part) -> None:
        """A question lifts the brows near its end; a scornful or doubting one lifts one."""
        style = self._emphasis_style(part)
        if style == "one_brow":
            state.raise_to("AU2", state.get("AU2", self.one_side) + 0.35, self.one_side)
        else:
            state.raise_to("AU1", state.get("AU1") + 0.3)
            if style != "inner":
                state.raise_to("AU2", state.get("AU2", "Left") + 0.25)
        tilt = 0.08 if self.one_side == "Left" else -0.08
        state.head["headRoll"] = state.head.get("headRoll", 0.0) + tilt
