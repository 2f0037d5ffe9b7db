"""Our server when its model is slow: a client that times out and asks again joins the
generation in progress, a full queue answers 503 with Retry-After, and shutdown stops waiting
after its deadline. The slow model is a real OpenAI-compatible server on loopback that takes
its time; our server serves it with the openai backend."""

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")

from model_runtime.arkit import BLENDSHAPES, POSE  # noqa: E402
from model_runtime.backends import GenerateRequest, get_backend  # noqa: E402
from model_runtime.formats.keyframeface_json import to_keyframeface  # noqa: E402
from tests.servers import FaultServer, chat_answer, our_server, our_server_process, send  # noqa: E402

KEYFRAME = json.dumps(to_keyframeface({n: 0.0 if n.startswith("eyeBlink") else 0.3 for n in BLENDSHAPES},
                                      {n: 0.0 for n in POSE}, 0))
LINE = {"script": "Good morning.", "emotion": "calm"}


def _slow_model(seconds: float) -> FaultServer:
    def reply(handler):
        time.sleep(seconds)
        send(handler, 200, chat_answer(KEYFRAME))

    return FaultServer(reply)


def _serving(model: FaultServer, *arguments: str) -> tuple:
    return ("--backend", "openai", "--base-url", model.url, "--model", "slow", "--plan", "builtin", *arguments)


def _health(url: str) -> dict:
    return json.loads(urllib.request.urlopen(f"{url}/health", timeout=5).read())


def _post(url: str, body: dict, timeout: float = 60.0) -> tuple:
    request = urllib.request.Request(f"{url}/v1/generate", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.headers, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def _post_and_forget(url: str, body: dict) -> None:
    try:
        _post(url, body, 90.0)
    except (OSError, ValueError):  # the server went away mid-request: what the test wants
        pass


def _wait_until(condition, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def test_clients_that_time_out_and_retry_start_one_generation_each():
    model = _slow_model(2.5)
    try:
        with our_server(*_serving(model)) as url:
            # A 1 s timeout against 2.5 s generations, and time for the line to finish.
            clients = [get_backend("server", url=url, timeout=1.0, retries=10, line_timeout=60.0) for _ in range(4)]
            with ThreadPoolExecutor(4) as pool:
                tracks = list(pool.map(lambda client: client.generate(GenerateRequest(**LINE)), clients))
            health = _health(url)
    finally:
        model.close()
    assert all(track.keyframes for track in tracks)
    # Each client timed out and asked again, yet the server started 4 generations, not 4 x tries.
    assert health["generations_started"] == 4
    assert model.requests == 4 * len(tracks[0].keyframes)
    assert health["generation_seconds"] >= 2.5


def test_a_full_queue_answers_503_with_retry_after_and_keeps_the_work_it_took():
    model = _slow_model(2.0)
    try:
        with our_server(*_serving(model, "--queue", "1")) as url:
            with ThreadPoolExecutor(1) as pool:
                first = pool.submit(_post, url, LINE)
                _wait_until(lambda: _health(url)["generations_started"] == 1)
                status, headers, answer = _post(url, {**LINE, "seed": 1})
                assert status == 503 and int(headers["Retry-After"]) >= 1 and "busy" in answer["error"]
                assert first.result()[0] == 200
            assert _post(url, {**LINE, "seed": 2})[0] == 200  # room again once the first finished
    finally:
        model.close()


def test_shutdown_stops_waiting_for_a_generation_after_its_deadline():
    model = _slow_model(60.0)
    try:
        with our_server_process(*_serving(model, "--shutdown-timeout", "1")) as (process, url):
            threading.Thread(target=_post_and_forget, args=(url, LINE), daemon=True).start()
            _wait_until(lambda: model.requests > 0)
            stopping = time.monotonic()
            process.terminate()
            process.wait(30)
            waited = time.monotonic() - stopping
    finally:
        model.close()
    assert waited < 20  # not the minute the model would have taken


def test_a_degenerate_answer_from_a_model_server_is_replaced_and_said():
    constant = json.dumps(to_keyframeface({n: 0.2 for n in BLENDSHAPES}, {n: 0.2 for n in POSE}, 0))
    model = FaultServer(lambda handler: send(handler, 200, chat_answer(constant)))
    try:
        backend = get_backend("openai", base_url=model.url, model="m", plan="builtin")
        track = backend.generate(GenerateRequest(script="We did it!", emotion="joy"))
        with pytest.raises(Exception, match="Keyframe 1 from m was degenerate: all 52 shapes are 0.2"):
            get_backend("openai", base_url=model.url, model="m", plan="builtin", on_degenerate="fail").generate(
                GenerateRequest(script="We did it!", emotion="joy"))
    finally:
        model.close()
    assert any("was degenerate: all 52 shapes are 0.2; solved with the built-in solver instead" in n for n in track.notes)
    assert len({round(v, 3) for v in track.keyframes[1].weights.values()}) > 1
