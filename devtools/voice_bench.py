"""./kff bench --only voice: lip sync timed by a recording, against text-only timing and the
peer OpenFaceFX fed the same alignment, on speech with known phone times.

Ground truth without a studio: each line is spoken by the scratch voice (Piper reports every
phone's time) at one of several speaking rates, after a stretch of silence, under background
noise. Every performance is read the way an animator's tools read it: our Live Link Face CSV
export at 60 fps (OpenFaceFX: its own Live Link CSV export, retargeted to ARKit).
Figures come from the 'test' lines of ``voice_lines.json`` (never tuned on). Piper's speech
differs each time it is synthesized, so the set is spoken ``runs`` times (``--voice-runs``):
each run's figures are printed beside all runs pooled.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from devtools.lip_measures import CLOSED, OPEN, closure_around, lip_aperture
from model_runtime.audio.recording import read_recording, write_wav
from model_runtime.audio.sync import with_recording
from model_runtime.backends import GenerateRequest, get_backend
from model_runtime.formats.llf_csv import read_llf_csv, write_track_llf_csv

LINES = Path(__file__).with_name("voice_lines.json")
RATES = (0.8, 1.0, 1.25)
LEADS = (0.3, 0.7, 1.2)
NOISE_RMS = 0.004  # about -48 dBFS of white noise under speech peaking at 0 dBFS
FPS = 60.0
WINDOW = 0.035
MIN_PAUSE = 0.3
BILABIALS = "pbm"
OPEN_VOWELS = ("a", "ɑ", "ɒ", "æ", "ʌ")


def _truth(speech, lead: float) -> dict:
    """Phone times shifted by the leading silence: bilabials, open vowels, and pauses."""
    phones = [(p, s + lead, e + lead) for p, s, e in speech.phones]
    spoken = [(p, s, e) for p, s, e in phones if p.isalpha() or p in "ɑɒæʌɪʊəɛɔɜɚɐᵻŋθðʃʒɹɾʔ"]
    pauses = [(0.0, spoken[0][1])] if spoken else []
    for (_, _, end), (_, start, _) in zip(spoken, spoken[1:]):
        if start - end > MIN_PAUSE:
            pauses.append((end, start))
    return {
        "bilabials": [(s, e) for p, s, e in spoken if p in BILABIALS],
        "open": [(s, e) for p, s, e in spoken if p in OPEN_VOWELS and e - s >= 0.05],
        "pauses": [(s, e) for s, e in pauses if e - s > MIN_PAUSE],
    }


def _csv_aperture(path: Path) -> tuple[np.ndarray, np.ndarray]:
    capture = read_llf_csv(path)
    return capture.times, lip_aperture(np.nan_to_num(capture.values))


def _score(times: np.ndarray, aperture: np.ndarray, truth: dict) -> dict:
    def window(start, end):
        chosen = aperture[(times >= start) & (times <= end)]
        # Past the end of a short track the face rests where it ended.
        return chosen if len(chosen) else aperture[-1:]

    closed, errors = [], []
    for start, end in truth["bilabials"]:
        closed.append(window(start - WINDOW, end + WINDOW).min() < CLOSED)
        # The closure is the run of closed frames nearest the phone.
        run = closure_around(times, aperture, (start + end) / 2)
        if run is not None:
            first, last = run
            # Offset of the closure against the phone at its onset or its release (a closure
            # that runs on into a pause has no onset of its own to compare).
            errors.append(min(abs(times[first] - start), abs(times[last] - end)) * 1000.0)
    pauses = [window(s + 0.1, e - 0.1).max() < CLOSED for s, e in truth["pauses"]]
    opened = [window(s, e).max() >= OPEN for s, e in truth["open"]]
    return {"closed": closed, "errors": errors, "pauses": pauses, "opened": opened}


def _openfacefx_csv(alignment, path: Path) -> None:
    """The peer: OpenFaceFX's viseme curves from the same phone alignment, retargeted to ARKit
    and written by its own Live Link Face exporter."""
    from openfacefx import PhonemeSegment, generate_from_alignment, write_livelink_csv
    from openfacefx.retarget import PRESETS, retarget

    segments, last = [], 0.0
    for word in alignment.words:
        for phone in word.phones:
            if phone.start > last + 0.01:
                segments.append(PhonemeSegment("SIL", last, phone.start))
            segments.append(PhonemeSegment(phone.phone, phone.start, phone.end))
            last = phone.end
    segments.append(PhonemeSegment("SIL", last, alignment.duration))
    write_livelink_csv(retarget(generate_from_alignment(segments, fps=FPS), PRESETS["arkit"]), str(path), fps=FPS)


def _speak_and_score(lines, run_index: int, folder: Path, results: dict, timing: dict) -> None:
    """Every line spoken once more (Piper's speech differs each time), aligned and scored."""
    from model_runtime.audio.voice import speak

    backend = get_backend("builtin")
    for i, (script, emotion) in enumerate(lines):
        rate, lead = RATES[i % len(RATES)], LEADS[i % len(LEADS)]
        speech = speak(script, rate)
        noise = np.random.default_rng(i + 1000 * run_index).normal(
            0.0, NOISE_RMS, int(lead * speech.rate) + len(speech.samples))
        samples = np.concatenate([np.zeros(int(lead * speech.rate)), speech.samples]) + noise
        wav = folder / f"line{i}.wav"
        write_wav(wav, samples, speech.rate)
        truth = _truth(speech, lead)
        request = GenerateRequest(script=script, emotion=emotion, seed=i, fps=FPS).validated()
        recording = read_recording(wav)
        started, started_cpu = time.perf_counter(), time.process_time()
        timed = with_recording(request, recording)
        timing["align"] += time.perf_counter() - started
        timing["align_cpu"] += time.process_time() - started_cpu
        timing["audio"] += recording.duration
        timing["fallbacks"] += timed.alignment is None
        for name, track_request in (("ours", timed), ("text", request)):
            csv = folder / f"{name}{i}.csv"
            write_track_llf_csv(csv, backend.generate(track_request), FPS)
            for key, values in _score(*_csv_aperture(csv), truth).items():
                results[name][key].extend(values)
        if timed.alignment is not None:
            csv = folder / f"peer{i}.csv"
            _openfacefx_csv(timed.alignment, csv)
            for key, values in _score(*_csv_aperture(csv), truth).items():
                results["openfacefx"][key].extend(values)


def _figures(found: dict) -> dict:
    return {
        "bilabials": len(found["closed"]),
        "closed_share": float(np.mean(found["closed"])) if found["closed"] else 0.0,
        "median_error_ms": statistics.median(found["errors"]) if found["errors"] else None,
        "p95_error_ms": float(np.percentile(found["errors"], 95)) if found["errors"] else None,
        "pauses": len(found["pauses"]),
        "pause_closed_share": float(np.mean(found["pauses"])) if found["pauses"] else 0.0,
        "open_vowels": len(found["opened"]),
        "opened_share": float(np.mean(found["opened"])) if found["opened"] else 0.0,
    }


NAMES = ("ours", "text", "openfacefx")


def run(split: str = "test", runs: int = 1) -> dict:
    """The set spoken and scored ``runs`` times: each run's figures and all runs pooled."""
    lines = json.loads(LINES.read_text(encoding="utf-8"))[split]
    pooled = {name: {"closed": [], "errors": [], "pauses": [], "opened": []} for name in NAMES}
    timing = {"align": 0.0, "align_cpu": 0.0, "audio": 0.0, "fallbacks": 0}
    per_run = []
    with tempfile.TemporaryDirectory() as folder:
        for run_index in range(runs):
            results = {name: {"closed": [], "errors": [], "pauses": [], "opened": []} for name in NAMES}
            _speak_and_score(lines, run_index, Path(folder), results, timing)
            per_run.append({name: _figures(results[name]) for name in NAMES})
            for name in NAMES:
                for key, values in results[name].items():
                    pooled[name][key].extend(values)
    audio = timing["audio"]
    summary = {"lines": len(lines), "split": split, "runs": runs, "fallbacks": timing["fallbacks"],
               "real_time_factor": timing["align"] / audio if audio else None,
               # CPU seconds (every thread of this process) per second of audio: what the
               # alignment costs, whatever else the machine is running.
               "cpu_real_time_factor": timing["align_cpu"] / audio if audio else None,
               "per_run": per_run}
    summary.update({name: _figures(pooled[name]) for name in NAMES})
    return summary


def _ms(value) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _timing(figures: dict) -> str:
    return f"{_ms(figures['median_error_ms'])} / {_ms(figures['p95_error_ms'])}"


def rows(summary: dict) -> list[tuple[str, str, str, str]]:
    ours, text, peer = summary["ours"], summary["text"], summary["openfacefx"]
    runs = summary.get("runs", 1)
    where = f"{summary['lines']} {summary['split']} lines" + (f" x {runs} runs pooled" if runs > 1 else "")
    table = [
        (f"voice: bilabials closed within 35 ms ({ours['bilabials']}, {where})", f"{ours['closed_share']:.1%}",
         f"text-only {text['closed_share']:.1%}; openfacefx {peer['closed_share']:.1%}", "goal >= 97%"),
        ("voice: closure timing error, median / p95", _timing(ours),
         f"text-only {_timing(text)}; openfacefx {_timing(peer)}", "goal <= 12 / 35 ms"),
        (f"voice: mouth closed in pauses > 0.3 s ({ours['pauses']})", f"{ours['pause_closed_share']:.1%}",
         f"text-only {text['pause_closed_share']:.1%}; openfacefx {peer['pause_closed_share']:.1%}", "goal >= 90%"),
        (f"voice: open vowels opened ({ours['open_vowels']})", f"{ours['opened_share']:.1%}",
         f"text-only {text['opened_share']:.1%}; openfacefx {peer['opened_share']:.1%}", "goal >= 95%"),
        ("voice: alignment real-time factor, wall / CPU (2 cores)",
         f"{summary['real_time_factor']:.3f} / {summary['cpu_real_time_factor']:.3f}",
         f"{summary['fallbacks']} lines fell back to text timing", "goal <= 0.5"),
    ]
    if runs > 1:
        # Piper's speech differs run to run: each run on its own shows how steady the figures are.
        for n, figures in enumerate(summary["per_run"], 1):
            ours, text, peer = figures["ours"], figures["text"], figures["openfacefx"]
            table.append((f"voice run {n}: closed / error median / p95 / pauses / open vowels",
                          f"{ours['closed_share']:.1%} / {_timing(ours)} / {ours['pause_closed_share']:.1%}"
                          f" / {ours['opened_share']:.1%}",
                          f"text-only {text['closed_share']:.1%} / {_timing(text)}; openfacefx "
                          f"{peer['closed_share']:.1%} / {_timing(peer)} / {peer['pause_closed_share']:.1%}",
                          "goal 97% / 12 / 35 ms / 90% / 95%"))
    return table


def bench_voice(split: str = "test", runs: int = 3) -> list[tuple[str, str, str, str]]:
    started = time.perf_counter()
    summary = run(split, runs)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    Path("out").mkdir(exist_ok=True)
    Path("out/voice_bench.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return rows(summary)
