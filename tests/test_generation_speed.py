"""What keeps generation interactive (figures: ``./kff bench --only generation,situation``;
never timing assertions here)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from devtools.bench import bench_against
from devtools.bench_worker import Body
from model_runtime.backends import get_backend
from model_runtime.meaning import minilm


def test_lines_with_named_emotions_and_readable_descriptions_never_run_the_encoder(monkeypatch):
    # The sentence encoder costs tens of milliseconds per text: a description the grammar
    # reads, and an emotion the lexicon knows, must not pay for it.
    encoded = []

    def counting(self, texts, *args, **kwargs):
        encoded.extend(texts)
        raise AssertionError(f"the encoder was asked for {texts!r}")

    monkeypatch.setattr(minilm.MiniLM, "encode", counting)
    body = Body()  # the benchmark's lines, generated and composed once
    body.generation()
    backend = get_backend("builtin")
    for track in body.tracks:
        for keyframe in track.keyframes:
            backend.solve([keyframe.description], 0, track.context, track.emotion)
    assert encoded == []


def test_the_bench_measures_a_reference_commit_in_the_same_run_and_cleans_up():
    before = set(Path(tempfile.gettempdir()).glob("kff-bench-baseline-*"))
    rows = bench_against("HEAD", ["generation"], repeats=1)
    assert [row[0] for row in rows] == ["generate one line (built-in, median of 8 lines)",
                                        "compose keys for Blender (whole performance)"]
    for _, figure, baseline, ratio in rows:
        assert " ms (CPU " in figure and baseline.split(":")[0].isalnum() and ratio.endswith("x)")
    assert set(Path(tempfile.gettempdir()).glob("kff-bench-baseline-*")) == before
