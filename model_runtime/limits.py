"""Every size and rate limit of the runtime, in one place, with the checks that enforce them.

Each entry point (command line flags, files read, the server's bodies, scene tags) checks its
numbers here before anything is allocated, so an absurd value gets a message that names the
limit instead of a hang, a multi-gigabyte array or a traceback.
"""

from __future__ import annotations

import math

from .errors import InputError

# One performance (a line, a scene, a track file, an imported capture) lasts at most an hour.
MAX_DURATION_SECONDS = 3600.0
# Frame rates of tracks, exports and scenes.
MIN_FPS, MAX_FPS = 1.0, 240.0
# Frames sampled from one performance (an export, a capture resampled): an hour at 60 fps,
# about 100 MB of samples.
MAX_FRAMES = int(MAX_DURATION_SECONDS * 60) + 1
# Blender's own largest frame number.
MAX_FRAME_NUMBER = 1_048_574
# JSON documents nest at most this deep (tracks nest 5 levels; a depth bomb crashes parsers).
MAX_JSON_DEPTH = 64
# Text files read whole (scenes, track JSON, KeyframeFace JSON, mapping JSON).
MAX_TEXT_FILE_BYTES = 64 * 1024 * 1024
# A remote answer is read up to this many bytes.
MAX_ANSWER_BYTES = 8 * 1024 * 1024
# The server: request bodies, requests a minute per client.
MAX_BODY_BYTES = 256 * 1024
MAX_BODY_LIMIT = 64 * 1024 * 1024
MAX_RATE_PER_MINUTE = 1_000_000.0
# The face leads its recording by at most this many frames (an animator's nudge, not a resync).
MAX_LEAD_FRAMES = 10
# Waiting for a server that asks to be retried later (Retry-After), at most.
MAX_RETRY_AFTER_SECONDS = 60.0


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"


def number(value, name: str, low: float, high: float, unit: str = "") -> float:
    """``value`` as a finite float inside ``[low, high]``, or ``InputError`` naming the limit."""
    suffix = f" {unit}" if unit else ""
    if isinstance(value, bool):
        raise InputError(f"{name} must be a number, not {value!r}")
    try:
        value = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name} must be a number, not {str(value)[:40]!r}") from None
    if not math.isfinite(value):
        raise InputError(f"{name} is {value}; it must be a finite number between {low:g} and {high:g}{suffix}")
    if not low <= value <= high:
        raise InputError(f"{name} = {value:g}{suffix} is outside the limits {low:g} to {high:g}{suffix}")
    return value


def check_fps(value, name: str = "fps") -> float:
    return number(value, name, MIN_FPS, MAX_FPS, "fps")


def check_duration(seconds, name: str = "duration") -> float:
    seconds = number(seconds, name, 0.0, math.inf, "s")
    if seconds > MAX_DURATION_SECONDS:
        raise InputError(f"{name} is {_hours(seconds)}; a performance lasts at most "
                         f"{_hours(MAX_DURATION_SECONDS)} ({MAX_DURATION_SECONDS:g} s)")
    return seconds


def check_lead(value, name: str = "lead") -> float:
    """Frames the face leads its recording (0 to ``MAX_LEAD_FRAMES``)."""
    return number(value, name, 0.0, MAX_LEAD_FRAMES, "frames")


def check_frames(duration: float, fps: float, what: str = "the performance") -> int:
    """The number of frames sampling ``duration`` seconds at ``fps`` takes, refused above
    ``MAX_FRAMES`` before anything is allocated."""
    frames = int(round(duration * fps)) + 1 if math.isfinite(duration * fps) else MAX_FRAMES + 1
    if frames > MAX_FRAMES:
        raise InputError(f"{what} would take {frames:,} frames ({duration:g} s at {fps:g} fps); "
                         f"the limit is {MAX_FRAMES:,} frames (an hour at 60 fps)")
    return frames


def check_frame_number(value, name: str = "frame") -> int:
    """A scene frame number: a whole number within Blender's frame range."""
    try:
        frame = int(str(value).strip())
    except ValueError:
        raise InputError(f"{name} '{str(value)[:40]}' is not a whole number") from None
    if abs(frame) > MAX_FRAME_NUMBER:
        raise InputError(f"{name} {str(value)[:40]} is outside Blender's frames "
                         f"(-{MAX_FRAME_NUMBER:,} to {MAX_FRAME_NUMBER:,})")
    return frame


def argument(check):
    """An ``argparse`` type from a check: bad values become the usual one-line usage error."""
    import argparse

    def parse(text: str):
        try:
            return check(text)
        except InputError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = getattr(check, "__name__", "value")
    return parse


def port(value) -> int:
    try:
        number_ = int(str(value))
    except ValueError:
        raise InputError(f"port '{value}' is not a whole number") from None
    if not 1 <= number_ <= 65535:
        raise InputError(f"port {number_} is outside 1 to 65535")
    return number_


def rate_per_minute(value) -> float:
    return number(value, "rate", 1e-3, MAX_RATE_PER_MINUTE, "requests a minute")


def body_limit(value) -> int:
    return int(number(value, "max-body", 1024, MAX_BODY_LIMIT, "bytes"))


def positive_count(name: str, high: int):
    def check(value) -> int:
        try:
            count = int(str(value))
        except ValueError:
            raise InputError(f"{name} '{value}' is not a whole number") from None
        if not 1 <= count <= high:
            raise InputError(f"{name} {count} is outside 1 to {high}")
        return count

    check.__name__ = name
    return check
