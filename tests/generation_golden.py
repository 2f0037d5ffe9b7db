"""Golden outputs of the built-in generation, so speed work can prove it changes nothing.

A fixed set of requests (the evaluation lines, the delivery set, the benchmark lines, under
several emotions, deliveries, intensities and seeds; the paraphrased descriptions solved alone)
is generated; every track, its composed keys for Blender (whole performance, base, fitted
layers) and every solved description is written as exact JSON (floats round-trip by repr) and
kept as a SHA-256 per part (the outputs themselves are megabytes).

Regenerate only from code whose outputs are right (main before an optimisation, or after a
landing that changes the performance on purpose):

    .venv/bin/python -m tests.generation_golden
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from devtools.bench_worker import LINES as BENCH_LINES
from model_runtime._data import load_json
from model_runtime.fitting import FittedCurve

GOLDEN_FILE = Path(__file__).resolve().parent / "golden" / "generation.json"

# Emotion fields tried on every benchmark line besides its own: deliveries, one-sided mouths,
# masks, negation, an unknown word, and the empty field (the situation read).
EXTRA_EMOTIONS = ["", "whispering", "shouting", "sarcastic amusement", "quiet grief, sobbing",
                  "through clenched teeth", "not happy", "gobsmacked"]
INTENSITIES = [0.4, 1.6]


def requests() -> list[dict]:
    """Every request as keyword arguments of ``GenerateRequest``."""
    cases = []
    for i, line in enumerate(load_json("eval/lines.json")["lines"]):
        cases.append(dict(script=line["script"], context=line["context"], emotion=line["emotion"], seed=i))
    for i, line in enumerate(load_json("eval/delivery.json")["lines"]):
        for variant in line["variants"].values():
            fields = dict(script=line["script"], context=line["context"], emotion=line["emotion"], seed=i)
            fields.update(variant)
            cases.append(fields)
    for i, (script, context, emotion) in enumerate(BENCH_LINES):
        cases.append(dict(script=script, context=context, emotion=emotion, seed=i))
        for extra in EXTRA_EMOTIONS[i % 2::2]:  # each extra on half the lines
            cases.append(dict(script=script, context=context, emotion=extra, seed=i + 100))
        cases.append(dict(script=script, context=context, emotion=emotion, seed=i, intensity=INTENSITIES[i % 2]))
        if i % 4 == 0:
            cases.append(dict(script=script, context="", emotion=emotion, seed=i, fps=24.0))
    return cases


def descriptions() -> list[str]:
    return [item["text"] for item in load_json("eval/descriptions_paraphrased.json")["descriptions"]]


def _keys(keys: dict) -> dict:
    """Auto Clamped keys as [frames, values], the channels a layer moves as their fitted curve."""
    return {name: _curve(entry) if isinstance(entry, FittedCurve) else [entry[0].tolist(), entry[1].tolist()]
            for name, entry in keys.items()}


def _curve(curve: FittedCurve) -> dict:
    fields = ("indices", "x", "y", "left_x", "left_y", "right_x", "right_y", "aligned")
    return {field: getattr(curve, field).tolist() for field in fields} | {"max_error": curve.max_error}


def _fitted(curves: dict) -> dict:
    return {name: _curve(curve) for name, curve in curves.items()}


def generation_output(backend, fields: dict) -> dict:
    """One request's track and what Blender writes from it, as plain JSON values."""
    from model_runtime.backends import GenerateRequest
    from model_runtime.playback import composed_keys, layer_names

    track = backend.generate(GenerateRequest(**fields))
    fps = fields.get("fps", 30.0)
    return {
        "request": fields,
        "track": track.to_dict(),
        "all": _keys(composed_keys(track, fps)),
        "base": _keys(composed_keys(track, fps, layers="base")),
        "layers": {name: _fitted(composed_keys(track, fps, layers=name, fitted=True))
                   for name in layer_names(track, "add")},
    }


def solved_output(backend, text: str) -> dict:
    solved = backend.solve([text], 0, "", "")
    return {"text": text, "solved": json.loads(json.dumps(solved, default=lambda o: o.__dict__))}


def digest(value) -> str:
    """SHA-256 of ``value`` as exact, canonical JSON."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def platform_fingerprint() -> dict:
    """What the exact float results depend on besides our code: numpy's version and the CPU
    features its kernels dispatch on, and the BLAS build (the sentence encoder's products)."""
    import platform

    import numpy as np

    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:
        from numpy.core._multiarray_umath import __cpu_features__
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return {"numpy": np.__version__, "machine": platform.machine(),
            "cpu_features": sorted(name for name, on in __cpu_features__.items() if on),
            "blas": f"{blas.get('name')} {blas.get('version')} {blas.get('openblas configuration', '')}".strip()}


def digests() -> dict:
    """Per request its fields and a digest per part; per description one digest."""
    from model_runtime.backends import get_backend

    backend = get_backend("builtin")
    generation = []
    for fields in requests():
        output = generation_output(backend, fields)
        generation.append({part: value if part == "request" else digest(value) for part, value in output.items()})
    solved = [{"text": text, "solved": digest(solved_output(backend, text))} for text in descriptions()]
    return {"platform": platform_fingerprint(), "generation": generation, "descriptions": solved}


def write(path: Path = GOLDEN_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(digests(), indent=1) + "\n", encoding="utf-8")


def read(path: Path = GOLDEN_FILE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


if __name__ == "__main__":
    write()
    print(f"wrote {GOLDEN_FILE}")
