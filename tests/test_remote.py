"""Our server started for real on loopback, the OpenAI-compatible backend against it, and
fault servers: every failure is a clear BackendError, retried a bounded number of times."""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")

from model_runtime.backends import GenerateRequest, get_backend  # noqa: E402
from model_runtime.errors import BackendError  # noqa: E402
from model_runtime.formats.keyframeface_json import to_keyframeface  # noqa: E402
from model_runtime.arkit import BLENDSHAPES, POSE  # noqa: E402
from tests.conftest import ROOT  # noqa: E402
from tests.servers import FaultServer, chat_answer, free_port, our_server, send  # noqa: E402

TOKEN = "s3cret-test-token"
REQUEST = GenerateRequest(script="I can't believe you did this to me.", context="She read my diary.",
                          emotion="hurt, turning into anger", seed=3)


@pytest.fixture(scope="module")
def server():
    with our_server("--token", TOKEN, "--max-body", "65536") as url:
        yield url


def _post(url, body, token=TOKEN, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_health_generate_and_solve(server):
    with urllib.request.urlopen(f"{server}/health", timeout=5) as response:
        assert json.loads(response.read())["status"] == "ok"
    via_server = get_backend("server", url=server, token=TOKEN).generate(REQUEST)
    local = get_backend("builtin").generate(REQUEST)
    assert via_server.to_dict() == local.to_dict()
    status, answer = _post(f"{server}/v1/solve", {"description": "The lips press thin and the brows pull down."})
    assert status == 200 and answer["Keyframe_one"]["MouthPressLeft"] > 0.2 and len(answer["Keyframe_one"]) == 61


def test_token_size_and_bad_requests_get_clear_4xx_and_server_stays_up(server):
    status, answer = _post(f"{server}/v1/generate", {"script": "Hi."}, token=None)
    assert status == 401 and "token" in answer["error"]
    status, _ = _post(f"{server}/v1/generate", {"script": "Hi."}, token="wrong")
    assert status == 401
    status, answer = _post(f"{server}/v1/solve", None, raw=b'{"description": "' + b"a" * 200_000 + b'"}')
    assert status == 413 and "65,536 bytes" in answer["error"]
    # /v1/generate takes a line's recording, so its body may be larger: the script's own limit holds.
    status, answer = _post(f"{server}/v1/generate", None, raw=b'{"script": "' + b"a" * 200_000 + b'"}')
    assert status == 422 and "script" in answer["error"]
    status, answer = _post(f"{server}/v1/generate", None, raw=b'{"script": "Hi", ')
    assert status == 422
    status, answer = _post(f"{server}/v1/generate", {"script": "   "})
    assert status == 422 and "script is empty" in answer["error"]
    status, answer = _post(f"{server}/v1/generate", {"script": "Hi.", "fps": 1e9})
    assert status == 422 and "fps" in answer["error"]
    status, answer = _post(f"{server}/v1/chat/completions", {"messages": [{"role": "user", "content": "tell me a joke"}]})
    assert status == 422 and "not a KeyframeFace request" in answer["error"]
    with pytest.raises(BackendError, match="401"):
        get_backend("server", url=server, token="wrong", retries=1).generate(REQUEST)
    assert _post(f"{server}/v1/generate", {"script": "Still here?"})[0] == 200


def test_sixteen_concurrent_clients(server):
    backend = get_backend("server", url=server, token=TOKEN)
    requests = [GenerateRequest(script=f"Line number {i}, spoken fast!", emotion="excited", seed=i) for i in range(32)]
    with ThreadPoolExecutor(16) as pool:
        tracks = list(pool.map(backend.generate, requests))
    assert [t.seed for t in tracks] == list(range(32)) and all(t.keyframes for t in tracks)


@pytest.mark.parametrize("plan", ["model", "builtin"])
def test_openai_backend_against_our_servers_openai_route(server, plan):
    backend = get_backend("openai", base_url=server, model="keyframeface-builtin", api_key=TOKEN, plan=plan)
    track = backend.generate(REQUEST)
    local = get_backend("builtin").generate(REQUEST)
    # The server's built-in planner and solver answer through the paper's protocol: same performance.
    assert [k.description for k in track.keyframes] == [k.description for k in local.keyframes]
    for ours, theirs in zip(track.keyframes, local.keyframes):
        assert max(abs(ours.weights[n] - theirs.weights[n]) for n in BLENDSHAPES) < 1e-3
    assert (plan == "model") == any("Planned by" in note for note in track.notes)


def test_serving_off_loopback_needs_a_token():
    done = subprocess.run([sys.executable, "-m", "model_runtime", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "needs --token" in done.stderr


# ------------------------------------------------------------------------------------ faults

# Not one value for every shape: that answer would be degenerate (test_llm.py).
GOOD = json.dumps(to_keyframeface({n: 0.0 if n.startswith("eyeBlink") else 0.3 for n in BLENDSHAPES},
                                  {n: 0.0 for n in POSE}, 0))


def _openai(url, **options):
    options.setdefault("retries", 3)
    return get_backend("openai", base_url=url, model="paper-lora", plan="builtin", **options)


def _fault(reply):
    server = FaultServer(reply)
    return server


@pytest.mark.parametrize("name, reply, message", [
    ("500", lambda h: send(h, 500, b'{"error": "CUDA out of memory"}'), "500 Internal Server Error: CUDA out of memory"),
    ("truncated", lambda h: send(h, 200, chat_answer(GOOD[:200])), "no JSON object"),
    ("wrong names", lambda h: send(h, 200, chat_answer('{"Keyframe_one": {"smile": 1, "frown": 0}}')), "no ARKit parameter names"),
    ("NaN", lambda h: send(h, 200, chat_answer(GOOD.replace("0.3", "NaN", 1))), "finite"),
    ("not JSON", lambda h: send(h, 200, b"<html>gateway</html>", "text/html"), "not valid JSON"),
    ("no choices", lambda h: send(h, 200, b'{"object": "error"}'), "no choices"),
    ("enormous", lambda h: send(h, 200, b" " * (9 * 2**20)), "more than 8 MB"),
])
def test_faults_fail_clearly_after_bounded_retries(name, reply, message):
    server = _fault(reply)
    try:
        with pytest.raises(BackendError, match=message) as caught:
            _openai(server.url).generate(REQUEST)
        assert "after 3 tries" in str(caught.value)
        assert server.requests >= 3 and server.requests % 3 == 0  # each keyframe asked at most 3 times
    finally:
        server.close()


def test_slow_server_times_out():
    server = _fault(lambda h: (time.sleep(3), send(h, 200, chat_answer(GOOD))))
    try:
        started = time.monotonic()
        with pytest.raises(BackendError, match="did not answer within 0.5 s"):
            _openai(server.url, timeout=0.5, retries=2).generate(REQUEST)
        assert time.monotonic() - started < 3.0
    finally:
        server.close()


def test_server_down_is_a_clear_message():
    with pytest.raises(BackendError, match="connection refused"):
        _openai(f"http://127.0.0.1:{free_port()}", retries=1).generate(REQUEST)


def test_flaky_server_recovers_and_paper_protocol_is_sent():
    seen = []

    def reply(handler):
        first_time = handler.body not in seen
        seen.append(handler.body)
        if first_time:  # every request fails once, then succeeds
            send(handler, 503, b'{"error": "busy"}')
        else:
            send(handler, 200, chat_answer("<think>ok</think>" + GOOD))

    server = _fault(reply)
    try:
        track = _openai(server.url, api_key="key-123").generate(REQUEST)
        assert all(k.weights["jawOpen"] == pytest.approx(0.3) for k in track.keyframes)
        body = seen[-1]
        assert body["model"] == "paper-lora" and body["messages"][0]["content"].startswith("You are a professional facial animator.")
        assert "Keyframe Description Sequence:" in body["messages"][1]["content"]
    finally:
        server.close()


def test_openai_backend_needs_url_and_model():
    with pytest.raises(BackendError, match="not an http"):
        get_backend("openai", base_url="ftp://x", model="m")
    with pytest.raises(BackendError, match="Name the model"):
        get_backend("openai", base_url="http://127.0.0.1:1")


def test_per_request_backend_options_are_allowlisted(server):
    status, answer = _post(f"{server}/v1/generate", {"script": "Hi.", "backend_options": {"base_url": "http://evil"}})
    assert status == 422 and "not allowed per request: base_url" in answer["error"]
    status, answer = _post(f"{server}/v1/generate", {"script": "Hi.", "emotion": "stoked",
                                                     "backend_options": {"paraphrases": False}})
    assert status == 200 and not any("by meaning" in note for note in answer["notes"])
    status, answer = _post(f"{server}/v1/generate", {"script": "Hi.", "backend_options": {"paraphrases": "maybe", "x": 1}})
    assert status == 422 and "x" in answer["error"]
