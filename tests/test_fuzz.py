"""Property-based fuzzing (hypothesis) of every reader and of the server's routes: whatever the
input, the answer is a result or one of our errors (``KeyframeFaceError``; a 4xx with a message
over HTTP), within a time and a memory bound: never another exception, a 5xx, a hang or a huge
allocation.

The budget is fixed and the runs are reproducible: ``derandomize=True`` (the same inputs on
every machine, no example database) and ``max_examples`` per property. ``test_zz_figures``
prints how many inputs each reader was given (``pytest -s tests/test_fuzz.py``).
"""

from __future__ import annotations

import io
import json
import time
import tracemalloc
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_runtime.arkit import LIVE_LINK_FACE_COLUMNS, POSE, pascal
from model_runtime.backends import GenerateRequest, get_backend
from model_runtime.dialogue import iter_csv_lines, parse_dialogue
from model_runtime.errors import KeyframeFaceError
from model_runtime.files import decode_text, loads_json
from model_runtime.formats.keyframeface_json import parse_keyframe_answer, read_keyframeface_json
from model_runtime.formats.llf_csv import read_llf_csv
from model_runtime.formats.mapping_json import mapping_from_dict, read_mapping_json
from model_runtime.limits import MAX_DURATION_SECONDS
from model_runtime.track import Track

# Per input: generous against a loaded CI machine; a hang or a runaway loop blows through it.
TIME_BOUND_SECONDS = 10.0
MEMORY_BOUND_BYTES = 256 * 2**20
INPUTS: Counter = Counter()


def fuzz_settings(examples: int):
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])


def bounded(reader: str, call):
    """``call()``'s result or our error, checked against the time and memory bounds; any other
    exception fails the property (and hypothesis shrinks the input that raised it)."""
    INPUTS[reader] += 1
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = call()
    except KeyframeFaceError as error:
        assert str(error), "an error must carry a message"
        result = error
    finally:
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < TIME_BOUND_SECONDS, f"{reader} took {elapsed:.1f} s"
    assert peak < MEMORY_BOUND_BYTES, f"{reader} allocated {peak / 2**20:.0f} MB"
    return result


# ------------------------------------------------------------------------------------ strategies

SCALARS = (st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.text(max_size=12)
           | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0, 1, -1, 0.5, 1e308, -0.0, 86400]))
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=20)
DEPTH_BOMBS = st.integers(1, 20000).flatmap(lambda n: st.sampled_from(["[" * n + "]" * n, '{"a":' * n + "1" + "}" * n,
                                                                        "[" * n]))


def json_text(values=JSON_VALUES):
    return (values.map(lambda value: json.dumps(value, allow_nan=True)) | DEPTH_BOMBS
            | st.text(max_size=60) | st.binary(max_size=60).map(lambda raw: raw.decode("latin-1")))


@pytest.fixture(scope="module")
def good_track() -> dict:
    return get_backend().generate(GenerateRequest(script="No. Not again!", emotion="angry", seed=1)).to_dict()


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, prefix + (key,))
    elif isinstance(value, list):
        for index, inner in enumerate(value[:3]):
            yield from _paths(inner, prefix + (index,))


def _mutated(document, path, replacement, delete: bool):
    document = json.loads(json.dumps(document))
    if not path:
        return replacement
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if delete and isinstance(parent, dict):
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = replacement
    return document


# ------------------------------------------------------------------------------------ track JSON

@fuzz_settings(100)
@given(text=json_text())
def test_track_json_any_text(text):
    bounded("track JSON", lambda: Track.from_json(text))


@fuzz_settings(100)
@given(data=st.data(), replacement=JSON_VALUES, delete=st.booleans())
def test_track_json_mutated_tracks(good_track, data, replacement, delete):
    path = data.draw(st.sampled_from(list(_paths(good_track))))
    result = bounded("track JSON", lambda: Track.from_dict(_mutated(good_track, path, replacement, delete)))
    if isinstance(result, Track):  # what loads can be played and exported within the limits
        assert result.duration <= MAX_DURATION_SECONDS and 1 <= result.fps <= 240


# ------------------------------------------------------------------------------------ KeyframeFace JSON

KEYFRAME_NAMES = st.sampled_from([pascal(n) for n in LIVE_LINK_FACE_COLUMNS + POSE] + ["smile", "", "Keyframe_one"])
KEYFRAMES = st.dictionaries(KEYFRAME_NAMES, SCALARS, max_size=70).map(lambda inner: {"Keyframe_one": inner})


@fuzz_settings(80)
@given(text=json_text(KEYFRAMES | st.lists(KEYFRAMES, max_size=3) | JSON_VALUES))
def test_keyframeface_json(text):
    bounded("KeyframeFace JSON", lambda: read_keyframeface_json(text))
    bounded("KeyframeFace JSON", lambda: parse_keyframe_answer("Sure! ```json\n" + text + "\n``` <think>"))


# ------------------------------------------------------------------------------------ Live Link Face CSV

HEADER_NAMES = st.lists(st.sampled_from([pascal(n) for n in LIVE_LINK_FACE_COLUMNS + POSE] + ["Foo", "", "timecode"]),
                        min_size=1, max_size=8)
TIMECODES = (st.from_regex(r"\d{1,5}:\d{1,2}:\d{1,2}[:;.]\d{1,3}(\.\d{1,4})?", fullmatch=True)
             | st.sampled_from(["23:59:59:00.000", "00:00:00:00.000", "9999:00:00:00.000", "00:00:01:59.999", ""])
             | st.text(max_size=12))
CELLS = (st.floats(allow_nan=True, allow_infinity=True).map(repr)
         | st.sampled_from(["0.1", "nan", "", "1e308", "-inf", "x", '"0.5"', '"', "0,5"]) | st.text(max_size=5))


@st.composite
def llf_csv(draw):
    names = draw(HEADER_NAMES)
    header = ",".join(["Timecode", "BlendshapeCount", *names] if draw(st.booleans()) else ["Timecode", *names])
    rows = draw(st.lists(st.tuples(TIMECODES, st.lists(CELLS, max_size=len(names) + 3)), max_size=25))
    lines = [header] + [",".join([timecode, str(len(names)), *cells]) for timecode, cells in rows]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", ",,,\n", '"']))


@fuzz_settings(120)
@given(text=llf_csv() | st.text(max_size=200))
def test_live_link_face_csv(text):
    result = bounded("Live Link Face CSV", lambda: read_llf_csv(io.StringIO(text)))
    if not isinstance(result, KeyframeFaceError):
        assert result.duration <= MAX_DURATION_SECONDS and len(result.times) == len(result.values)


# ------------------------------------------------------------------------------------ scene text

SCENE_PIECES = st.sampled_from([
    "ANNA", "BEN", ":", ": ", " ", "(sad)", "(", ")", "[at 10]", "[at ", "]", "[pause 2]", "[pause -1]", "[id x]",
    "[id ..]", "[duration 1e9]", "[duration 2]", "[context hi]", "[at 99999999999999999999]", "[at -5]", "[bogus]",
    "#", "\ufeff", ",", ";", "\t", "script", "id", "speaker", "Hello there.", "Hi!", '"', "\n", "\r\n", "é", "\udcff",
])


@fuzz_settings(120)
@given(text=st.lists(SCENE_PIECES | st.text(max_size=8), max_size=30).map("".join))
def test_scene_text(text):
    result = bounded("scene text", lambda: parse_dialogue(text))
    if isinstance(result, list):
        for line in result:
            assert line.script.strip()
            assert line.start_frame is None or abs(line.start_frame) <= 1_048_574


# ------------------------------------------------------------------------------------ batch CSV

CSV_PIECES = st.sampled_from([
    "id", "script", "speaker", "duration", "start", "emotion", ",", ";", "\t", "\n", '"', '""', "..", ".env", "a",
    "Hello.", "1e400", "nan", "-1", "0", "2.5", "99999999999999999999", " ", "\ufeff", "\udcff", "x" * 300,
])


@fuzz_settings(120)
@given(text=st.lists(CSV_PIECES | st.text(max_size=6), max_size=40).map("".join))
def test_batch_csv(text):
    def read():
        rows = list(iter_csv_lines(io.StringIO(text, newline="")))
        for _, line, error, line_id in rows:
            assert (line is None) != (error is None)
            assert not line_id.startswith(".")
        return rows

    bounded("batch CSV", read)


@fuzz_settings(100)
@given(raw=st.binary(max_size=80) | st.sampled_from([b"\xff\xfe", b"\xfe\xff\x00", b"\xef\xbb\xbf\xff", b"\x00\x00\xfe\xff"]))
def test_text_decoding(raw):
    bounded("text decoding", lambda: decode_text(raw, "file.txt"))


# ------------------------------------------------------------------------------------ mapping JSON

MAPPINGS = st.fixed_dictionaries({
    "format": st.sampled_from(["keyframeface.mapping", "other"]) | SCALARS,
    "version": st.sampled_from([1, 2]) | SCALARS,
    "meshes": st.dictionaries(st.text(max_size=6), st.dictionaries(st.sampled_from(["jawOpen", "smile", ""]), SCALARS,
                                                                   max_size=3) | SCALARS, max_size=3) | SCALARS,
    "pose": st.dictionaries(st.sampled_from(["armature", "head", "left_eye", "bogus"]), SCALARS, max_size=3) | SCALARS,
})


@fuzz_settings(100)
@given(text=json_text(MAPPINGS | JSON_VALUES))
def test_mapping_json(text):
    def read():
        try:
            document = loads_json(text, "mapping")
        except KeyframeFaceError:
            raise
        return mapping_from_dict(document)

    bounded("mapping JSON", read)


@fuzz_settings(20)
@given(raw=st.binary(max_size=200) | json_text(MAPPINGS).map(lambda text: text.encode("utf-8", "surrogatepass")))
def test_mapping_json_files(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("mapping") / "mapping.json"
    path.write_bytes(raw)
    bounded("mapping JSON", lambda: read_mapping_json(path))


# ------------------------------------------------------------------------------------ HTTP routes

@pytest.fixture(scope="module")
def server_url():
    pytest.importorskip("fastapi")
    from model_runtime.server import create_app
    from tests.servers import app_server

    with app_server(create_app(max_body=16384, rate_per_minute=10**6, burst=10**6)) as url:
        yield url


def _fields(names):
    return st.dictionaries(st.sampled_from(names), JSON_VALUES, max_size=len(names))


ROUTE_BODIES = {
    "/v1/generate": _fields(["script", "context", "emotion", "seed", "fps", "intensity", "backend_options"]),
    "/v1/solve": _fields(["description", "descriptions", "index", "background", "emotion"]),
    "/v1/chat/completions": _fields(["model", "messages", "temperature", "max_tokens", "response_format", "seed"])
    | st.fixed_dictionaries({"messages": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "system"]),
                                                                          "content": st.text(max_size=80)}),
                                                   max_size=3)}),
}


@fuzz_settings(45)
@given(route=st.sampled_from(sorted(ROUTE_BODIES)), data=st.data())
def test_http_routes(server_url, route, data):
    from tests.servers import http

    body = data.draw(ROUTE_BODIES[route].map(lambda value: json.dumps(value, allow_nan=True).encode())
                     | json_text().map(lambda text: text.encode("utf-8", "surrogatepass"))
                     | st.binary(max_size=64), label="body")
    chunked = data.draw(st.booleans(), label="chunked")
    status, _, answer = bounded("HTTP routes", lambda: http("POST", server_url + route, body, chunked=chunked))
    assert status in (200, 400, 404, 405, 413, 422), (status, answer)
    if status != 200:
        assert isinstance(answer, dict) and answer.get("error"), answer


@fuzz_settings(20)
@given(path=st.text(alphabet="/abcdv1?.%{}", max_size=20), method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
def test_http_paths(server_url, path, method):
    from tests.servers import http

    status, _, _ = bounded("HTTP routes", lambda: http(method, server_url + "/" + path.lstrip("/"), b"{}"))
    assert status < 500


def test_zz_figures():
    """The figures the fuzz suite stands for: inputs given to each reader in this run."""
    print("\nfuzz inputs tried: " + ", ".join(f"{reader} {count}" for reader, count in sorted(INPUTS.items()))
          + f"; total {sum(INPUTS.values())}")
    if INPUTS:  # the whole module ran
        assert all(count >= 20 for count in INPUTS.values()), INPUTS
