"""The command line: ``python -m model_runtime <command>``.

  generate  script, context and emotion (and the line's recording) -> track JSON
  solve     one keyframe description -> KeyframeFace JSON
  export    track JSON -> Live Link Face CSV (all layers combined, sampled per frame) or
            KeyframeFace JSON (one object per keyframe)
  scene     a dialogue scene (one line per row) -> one continuous track JSON
  batch     a CSV of dialogue lines -> a track JSON and a Live Link Face CSV per line
  serve     the HTTP server (FastAPI): /health, /v1/generate, /v1/solve, /v1/chat/completions
  eval      emotion read-back, description agreement, plausibility, sparsity, latency

Errors are printed as one line on stderr with exit status 2; no traceback for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import limits
from .audio.sync import with_recording, with_speech
from .backends import GenerateRequest, available_backends, backend_info, get_backend
from .backends.options import options_from_flags
from .batch import ERRORS_FILE, BatchSettings, run_batch
from .dialogue import parse_dialogue, perform_scene
from .errors import InputError, KeyframeFaceError
from .evaluation import main as evaluation_main
from .formats.keyframeface_json import to_keyframeface
from .formats.llf_csv import write_track_llf_csv
from .server import serve
from .track import Track
from .files import atomic_write, read_text
from .limits import argument, positive_count

# Numeric flags are checked where they are parsed: a bad value is a usage error naming the limit.
FPS = argument(limits.check_fps)
INTENSITY = argument(lambda value: limits.number(value, "intensity", 0.0, 2.0))
LEAD = argument(limits.check_lead)
GAP = argument(lambda value: limits.number(value, "gap", 0.0, 10.0, "s"))


def _generate(args) -> int:
    backend = get_backend(args.backend, **backend_options(args))
    request = GenerateRequest(
        script=args.script, context=args.context, emotion=args.emotion,
        seed=args.seed, fps=args.fps, intensity=args.intensity,
    ).validated()
    if args.audio and args.speak:
        raise InputError("Give either --audio (a recording) or --speak (the scratch voice), not both.")
    if args.audio:
        request = with_recording(request, args.audio, lead_frames=args.lead)
    elif args.speak:
        request = with_speech(request, args.speak, lead_frames=args.lead)
    track = backend.generate(request)
    if args.out:
        track.save(args.out)
        print(f"wrote {args.out}: {len(track.keyframes)} keyframes, {track.duration:.2f} s", file=sys.stderr)
    else:
        print(track.to_json())
    for note in track.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _solve(args) -> int:
    backend = get_backend(args.backend, **backend_options(args))
    result = backend.solve([args.description], 0, args.background, args.emotion)
    print(json.dumps(to_keyframeface(result.weights, result.pose, 0), indent=1))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _export(args) -> int:
    track = Track.load(args.track)
    if args.format == "llf-csv":
        write_track_llf_csv(args.out, track, args.fps)
    else:
        documents = [to_keyframeface(k.weights, k.pose, i) for i, k in enumerate(track.keyframes)]
        merged = {key: value for document in documents for key, value in document.items()}
        atomic_write(args.out, json.dumps(merged, indent=1))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _declared_flags() -> dict[str, list]:
    """``{flag: [(backend name, option), ...]}`` over every registered backend's options."""
    flags: dict[str, list] = {}
    for info in available_backends():
        for option in info.options:
            if option.flag:
                flags.setdefault(option.flag, []).append((info.name, option))
    return flags


def _yes_no(text: str) -> bool:
    answer = {"yes": True, "true": True, "on": True, "1": True, "no": False, "false": False, "off": False, "0": False}
    if text.lower() not in answer:
        raise argparse.ArgumentTypeError(f"expected yes or no, not {text!r}")
    return answer[text.lower()]


def _backend_flags(parser) -> None:
    """The backends' flags, generated from their declared options (``backends/__init__.py``):
    a flag several backends share reads as each one's own option."""
    for flag, users in _declared_flags().items():
        kinds = {{"float": float, "int": int, "bool": _yes_no}.get(option.kind, str) for _, option in users}
        if len(kinds) > 1:
            raise ValueError(f"{flag} is declared with different types by {', '.join(name for name, _ in users)}")
        choices = None
        if all(option.kind == "choice" for _, option in users):
            choices = list(dict.fromkeys(choice.value for _, option in users for choice in option.choices))
        readings: dict[str, list[str]] = {}
        for name, option in users:
            reading = option.description + ("" if option.default is None else f" (default {option.default})")
            readings.setdefault(reading, []).append(name)
        help_text = "; ".join(f"{', '.join(names)}: {reading}" for reading, names in readings.items())
        parser.add_argument(flag, type=kinds.pop(), choices=choices, default=None, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model_runtime", description="KeyframeFace model runtime")
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="script, context, emotion -> track JSON")
    generate.add_argument("--script", required=True)
    generate.add_argument("--context", default="")
    generate.add_argument("--emotion", default="")
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--fps", type=FPS, default=30.0)
    generate.add_argument("--intensity", type=INTENSITY, default=1.0)
    generate.add_argument("--audio", help="the line's recording (WAV; FLAC, OGG, MP3 with soundfile): "
                                          "the performance is timed by it")
    generate.add_argument("--speak", metavar="WAV", help="speak the line with the offline scratch voice into "
                                                          "this WAV file and time the performance by it")
    generate.add_argument("--lead", type=LEAD, default=0.0,
                          help=f"frames the face leads the recording, 0 to {limits.MAX_LEAD_FRAMES} (default 0)")
    generate.add_argument("--backend", default="builtin", help="builtin, local, server, openai")
    _backend_flags(generate)
    generate.add_argument("--out", help="track JSON to write (default: print to stdout)")
    generate.set_defaults(run=_generate)

    solve = commands.add_parser("solve", help="description -> KeyframeFace JSON")
    solve.add_argument("--description", required=True)
    solve.add_argument("--background", default="")
    solve.add_argument("--emotion", default="")
    solve.add_argument("--backend", default="builtin", help="builtin, local, server, openai")
    _backend_flags(solve)
    solve.set_defaults(run=_solve)

    export = commands.add_parser("export", help="track JSON -> Live Link Face CSV or KeyframeFace JSON")
    export.add_argument("track")
    export.add_argument("--format", choices=("llf-csv", "keyframeface-json"), default="llf-csv")
    export.add_argument("--fps", type=FPS, default=60.0)
    export.add_argument("--out", required=True)
    export.set_defaults(run=_export)
    scene = commands.add_parser("scene", help="a dialogue scene (one line per row) -> one track JSON")
    scene.add_argument("dialogue", help="text file: 'SPEAKER (emotion): line' rows, [pause S], [at FRAME], [id NAME]; or the batch CSV")
    scene.add_argument("--speaker", default="", help="perform only this speaker's lines (default: every line)")
    scene.add_argument("--context", default="", help="context for lines that give none")
    scene.add_argument("--emotion", default="", help="emotion for lines that give none")
    scene.add_argument("--gap", type=GAP, default=0.3, help="seconds between lines")
    scene.add_argument("--seed", type=int, default=0)
    scene.add_argument("--fps", type=FPS, default=30.0)
    scene.add_argument("--intensity", type=INTENSITY, default=1.0)
    scene.add_argument("--backend", default="builtin", help="builtin, local, server, openai")
    _backend_flags(scene)
    scene.add_argument("--out", required=True, help="track JSON to write (its analysis.lines lists each line's timing)")
    scene.add_argument("--csv", help="also write the whole scene as a Live Link Face CSV at 60 fps")
    scene.set_defaults(run=_scene)

    batch = commands.add_parser("batch", help="a CSV of dialogue lines -> a track JSON and an LLF CSV per line")
    batch.add_argument("csv", help="columns: id, speaker, script, context, emotion, optional duration and audio "
                                           "(the line's recording, relative to the CSV)")
    batch.add_argument("--out", required=True, help="folder for <id>.track.json, <id>.csv and errors.csv")
    batch.add_argument("--backend", default="builtin", help="builtin, local, server, openai")
    _backend_flags(batch)
    batch.add_argument("--fps", type=FPS, default=30.0, help="frame rate of the track JSON")
    batch.add_argument("--csv-fps", type=FPS, default=60.0, help="frame rate of the Live Link Face CSV")
    batch.add_argument("--seed", type=int, default=0)
    batch.add_argument("--intensity", type=INTENSITY, default=1.0)
    batch.add_argument("--jobs", type=argument(positive_count("jobs", 256)), default=None, help="processes for local backends (default: every core)")
    batch.add_argument("--concurrency", type=argument(positive_count("concurrency", 256)), default=8, help="lines in flight at once for remote backends")
    batch.add_argument("--quiet", action="store_true", help="no progress line")
    batch.set_defaults(run=_batch)

    server = commands.add_parser("serve", help="serve generate/solve (and an OpenAI-compatible route) over HTTP")
    server.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine only)")
    server.add_argument("--port", type=argument(limits.port), default=8765)
    server.add_argument("--backend", default="builtin", help="builtin, local, openai")
    _backend_flags(server)
    server.add_argument("--token", help="require 'Authorization: Bearer TOKEN' (required off loopback); "
                                        "or set KEYFRAMEFACE_TOKEN")
    server.add_argument("--max-body", type=argument(limits.body_limit), default=limits.MAX_BODY_BYTES, help="largest request body in bytes")
    server.add_argument("--rate", type=argument(limits.rate_per_minute), default=1200, help="requests per minute per client (per worker)")
    server.add_argument("--workers", type=argument(positive_count("workers", 64)), default=1, help="server processes (the built-in model is CPU-bound)")
    server.add_argument("--queue", type=int, default=32,
                        help="generations queued or running at once; more get 503 with Retry-After")
    server.add_argument("--shutdown-timeout", type=float, default=10.0,
                        help="seconds to let running generations finish on shutdown")
    server.set_defaults(run=_serve)

    evaluate = commands.add_parser("eval", help="measure a backend on the benchmark set")
    evaluate.add_argument("--backend", default="builtin")
    evaluate.add_argument("--repeats", type=argument(positive_count("repeats", 1000)), default=5, help="timing repeats per line")
    evaluate.add_argument("--paraphrases", action="store_true",
                          help="also measure reading unknown emotion words by meaning (sentence embeddings)")
    evaluate.add_argument("--only", choices=["situations", "descriptions"],
                          help="measure only this part (situations: emotion from the situation, every set present; "
                               "descriptions: descriptions phrased unlike the grammar, dev and the fresh test set)")
    evaluate.add_argument("--out", help="write the report (Markdown) and the full results (JSON beside it)")
    evaluate.set_defaults(run=_evaluate)
    return parser


def backend_options(args) -> dict:
    """Options for the chosen backend from the command line flags (its declared defaults
    where a flag is not given)."""
    info = backend_info(args.backend)
    values = {option.flag_dest: getattr(args, option.flag_dest, None)
              for users in _declared_flags().values() for _, option in users}
    return options_from_flags(info.name, info.options, values)


def _serve(args) -> int:
    serve(args.host, args.port, args.backend, args.token or os.environ.get("KEYFRAMEFACE_TOKEN"),
          backend_options(args), args.max_body, args.rate, args.workers, queue_limit=args.queue,
          shutdown_seconds=args.shutdown_timeout)
    return 0


def _scene(args) -> int:
    backend = get_backend(args.backend, **backend_options(args))
    lines = parse_dialogue(read_text(args.dialogue, Path(args.dialogue).name))
    scene = perform_scene(lines, backend, args.fps, speaker=args.speaker, context=args.context, emotion=args.emotion,
                          seed=args.seed, intensity=args.intensity, gap=args.gap,
                          audio_folder=Path(args.dialogue).parent)
    scene.track.save(args.out)
    if args.csv:
        write_track_llf_csv(args.csv, scene.track)
    for placed in scene.lines:
        state = "performed" if placed.performed else "listening"
        print(f"{placed.line.id:>10}  {placed.start:7.2f}-{placed.end:7.2f} s  {state:9s}  "
              f"{placed.line.speaker + ': ' if placed.line.speaker else ''}{placed.line.script}", file=sys.stderr)
    for note in scene.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {args.out}: {len(scene.track.keyframes)} keyframes, {scene.track.duration:.2f} s", file=sys.stderr)
    return 0


def _batch(args) -> int:
    settings = BatchSettings(backend=args.backend, fps=args.fps, csv_fps=args.csv_fps, seed=args.seed,
                             intensity=args.intensity, backend_options=tuple(sorted(backend_options(args).items())))
    report = run_batch(args.csv, args.out, settings, jobs=args.jobs, concurrency=args.concurrency,
                       progress=None if args.quiet else sys.stderr)
    summary = {"lines": report.total, "written": report.written, "already_done": report.skipped,
               "errors": report.errors, "seconds": round(report.seconds, 2),
               "lines_per_second": round(report.lines_per_second, 1)}
    print(json.dumps(summary))
    if report.errors:
        print(f"{report.errors} rows failed: see {Path(args.out) / ERRORS_FILE}", file=sys.stderr)
        return 1
    return 0


def _evaluate(args) -> int:
    return evaluation_main(args)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyframeFaceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: {error.strerror or error}: {getattr(error, 'filename', '') or ''}".rstrip(": "), file=sys.stderr)
        return 2
