"""A line and its recording: the one call every front end makes (command line, batch,
dialogue scenes, server, Blender). Bad audio raises ``AudioError`` (nothing is generated);
a recording that cannot be aligned or does not say the script leaves the line timed from its
text, with a note that says why: never a silent wrong sync."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..backends.base import GenerateRequest
from ..script_timing import time_script
from .alignment import MIN_MATCH, Alignment, AlignmentError, align
from .recording import Recording, read_recording
from .signal import measure
from .timing import annotate


def with_recording(request: GenerateRequest, source: str | Path | bytes | Recording, name: str = "",
                   lead_frames: float = 0.0) -> GenerateRequest:
    """``request`` timed by the recording at ``source``; ``lead_frames`` puts the face that many
    frames ahead of the sound."""
    recording = source if isinstance(source, Recording) else read_recording(source, name)
    audio = recording.describe()
    label = Path(recording.name).name
    try:
        alignment = align(recording, [word.text for word in time_script(request.script).words])
        if alignment.match < MIN_MATCH:
            raise AlignmentError(f"The recording {label} does not seem to say the script "
                                 f"(match {alignment.match:.2f}, needs {MIN_MATCH:.2f}): is it the right take?")
        annotate(alignment, measure(recording.samples, recording.rate))
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
    lead = float(audio.get("lead_frames", 0.0)) / request.fps
    return replace(request, alignment=alignment.shifted(-lead) if lead else alignment, audio=dict(audio))
