"""Speed work changes nothing: the built-in generation, the keys composed for Blender and the
solved descriptions are bit for bit those recorded in ``tests/golden/generation.json`` (see
``tests/generation_golden.py`` for the cases and how to regenerate after an intended change)."""

from __future__ import annotations

import pytest

from model_runtime.backends import get_backend
from model_runtime.meaning import situation
from tests import generation_golden as golden


@pytest.fixture(scope="module")
def recorded():
    data = golden.read()
    if data["platform"] != golden.platform_fingerprint():
        pytest.skip("tests/golden/generation.json was recorded with another numpy, CPU feature set or BLAS: "
                    "exact floats differ between those; regenerate it there from main to compare")
    if not situation.available():
        pytest.skip("the MiniLM weights are not extracted (./kff does it): the empty-emotion lines need them")
    return data


def test_the_recorded_cases_are_the_current_case_set(recorded):
    assert [case["request"] for case in recorded["generation"]] == golden.requests(), (
        "the evaluation sets changed: regenerate the golden file from main (python -m tests.generation_golden)")
    assert [case["text"] for case in recorded["descriptions"]] == golden.descriptions()


def test_generation_and_composed_keys_are_bit_identical(recorded):
    backend = get_backend("builtin")
    changed = []
    for case in recorded["generation"]:
        output = golden.generation_output(backend, case["request"])
        parts = [part for part in ("track", "all", "base", "layers") if golden.digest(output[part]) != case[part]]
        if parts:
            changed.append(f"{case['request']}: {', '.join(parts)}")
    assert not changed, f"{len(changed)} of {len(recorded['generation'])} requests changed:\n" + "\n".join(changed)


def test_solved_descriptions_are_bit_identical(recorded):
    backend = get_backend("builtin")
    changed = [case["text"] for case in recorded["descriptions"]
               if golden.digest(golden.solved_output(backend, case["text"])) != case["solved"]]
    assert not changed, "descriptions solved differently:\n" + "\n".join(changed)
