"""A line and its recording: the one call every front end makes (command line, batch,
dialogue scenes, server, Blender). Bad audio raises ``AudioError`` (nothing is generated);
a recording that cannot be aligned or does not say the script leaves the line timed from its
text, with a note that says why: never a silent wrong sync. A line without a recording can
be spoken by the scratch voice (``with_speech``) and timed by its phones."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..backends.builtin.delivery import read_delivery
from ..backends.builtin.emotion import read_emotion
from ..limits import check_lead
from ..stages import GenerateRequest
from ..script_timing import time_script
from .alignment import MIN_MATCH, Alignment, AlignmentError, align
from .closures import refine_closures
from .recording import Recording, read_recording, write_wav
from .signal import ALIGN_RATE, measure
from .timing import annotate
from .voice import VOICE_NAME, speak, speech_alignment


def with_recording(request: GenerateRequest, source: str | Path | bytes | Recording, name: str = "",
                   lead_frames: float = 0.0) -> GenerateRequest:
    """``request`` timed by the recording at ``source``; ``lead_frames`` puts the face that many
    frames ahead of the sound."""
    lead_frames = check_lead(lead_frames)
    recording = source if isinstance(source, Recording) else read_recording(source, name)
    audio = recording.describe()
    label = Path(recording.name).name
    try:
        alignment = align(recording, [word.text for word in time_script(request.script).words])
        if alignment.match < MIN_MATCH:
            raise AlignmentError(f"The recording {label} does not seem to say the script "
                                 f"(match {alignment.match:.2f}, needs {MIN_MATCH:.2f}): is it the right take?")
        samples = recording.resampled(ALIGN_RATE)
        annotate(refine_closures(alignment, samples, ALIGN_RATE), measure(samples, ALIGN_RATE))
    except AlignmentError as error:
        audio["notes"] = [f"{error} The line was timed from its text instead."]
        return replace(request, alignment=None, audio=audio)
    audio["alignment"] = alignment.to_dict()
    audio["lead_frames"] = float(lead_frames)
    audio["notes"] = [f"Timed by the recording {label}: {len(alignment.words)} words aligned "
                      f"(match {alignment.match:.2f}, {alignment.seconds:.2f} s to align)."]
    return with_alignment(request, audio)


def with_alignment(request: GenerateRequest, audio: dict) -> GenerateRequest:
    """``request`` timed by an alignment a track recorded (a re-solve keeps the sync)."""
    if not audio or "alignment" not in audio:
        return replace(request, audio=dict(audio or {}))
    alignment = Alignment.from_dict(audio["alignment"])
    lead = check_lead(audio.get("lead_frames", 0.0), "the audio's lead_frames") / request.fps
    return replace(request, alignment=alignment.shifted(-lead) if lead else alignment, audio=dict(audio))


def speaking_rate(request: GenerateRequest) -> float:
    """The rate the emotion and the delivery set (excited speech is faster, sad speech slower)."""
    delivery, emotion_text = read_delivery(request.emotion, request.context, request.script)
    return read_emotion(emotion_text, request.script, request.context).speech_rate * delivery.rate


def with_speech(request: GenerateRequest, wav_path: str | Path, lead_frames: float = 0.0,
                rate: float | None = None, cache: Path | None = None) -> GenerateRequest:
    """Speak the line with the scratch voice into ``wav_path`` (a WAV file) and time the
    performance by the phones the voice spoke. Raises ``VoiceError`` when it cannot run."""
    lead_frames = check_lead(lead_frames)
    rate = speaking_rate(request) if rate is None else rate
    speech = speak(request.script, rate, cache)
    write_wav(wav_path, speech.samples, speech.rate)
    recording = read_recording(wav_path)
    alignment = speech_alignment(speech, [word.text for word in time_script(request.script).words])
    if alignment is None:  # the voice read the text differently (digits, abbreviations): listen to it
        return with_recording(request, recording, lead_frames=lead_frames)
    annotate(alignment, measure(recording.resampled(ALIGN_RATE), ALIGN_RATE))
    audio = recording.describe()
    audio.update(alignment=alignment.to_dict(), lead_frames=float(lead_frames),
                 notes=[f"Spoken by the scratch voice ({VOICE_NAME}) at {rate:.2f}x; timed by its phones."])
    return with_alignment(request, audio)
