"""What the README's server section promises, one test each: loopback by default and a token
off it; with a token, every route but /health needs it (the docs and the OpenAPI schema
too); the token never sits in the workers' environment; bodies over --max-body get 413
however they arrive; --rate gives 429 with Retry-After; options a backend does not use are
ignored, not a 5xx; bad numbers are refused where they are given."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")

from model_runtime.cli import main  # noqa: E402
from model_runtime.errors import InputError, KeyframeFaceError  # noqa: E402
from model_runtime.server import create_app, serve  # noqa: E402
from tests.conftest import ROOT  # noqa: E402
from tests.servers import app_server, child_processes, free_port, http  # noqa: E402

TOKEN = "promise-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def guarded():
    with app_server(create_app(token=TOKEN, max_body=4096)) as url:
        yield url


def test_every_route_but_health_needs_the_token(guarded):
    app = create_app(token=TOKEN)
    paths = {route.path for route in app.routes} | {"/no/such/route"}
    assert {"/docs", "/openapi.json", "/v1/generate", "/v1/solve", "/v1/chat/completions", "/v1/models"} <= paths
    for path in sorted(paths - {"/health"}):
        for method in ("GET", "POST"):
            status, headers, answer = http(method, guarded + path.replace("{", "").replace("}", ""), b"{}")
            assert status == 401, (method, path, status)
            assert headers.get("www-authenticate") == "Bearer" and "token" in answer["error"]
    assert http("GET", guarded + "/health")[0] == 200
    assert http("GET", guarded + "/openapi.json", headers=AUTH)[0] == 200
    assert http("GET", guarded + "/docs", headers=AUTH)[0] == 200


def test_bodies_over_max_body_get_413_declared_or_chunked(guarded):
    big = json.dumps({"description": "a" * 10_000}).encode()
    for route in ("/v1/solve", "/v1/chat/completions"):
        for chunked in (False, True):
            status, _, answer = http("POST", guarded + route, big, AUTH, chunked=chunked)
            assert status == 413 and "4,096 bytes" in answer["error"], (route, chunked)
    status, _, answer = http("POST", guarded + "/v1/generate", json.dumps({"script": "Hi."}).encode(), AUTH, chunked=True)
    assert status == 200 and answer["format"] == "keyframeface.track"


def test_options_the_backend_does_not_use_are_a_4xx_with_a_message(guarded):
    body = json.dumps({"script": "Hi.", "backend_options": {"plan": "model", "temperature": 0.7}}).encode()
    status, _, answer = http("POST", guarded + "/v1/generate", body, AUTH)
    assert status == 422 and "not allowed per request: plan, temperature" in answer["error"]
    body = json.dumps({"script": "Hi.", "backend_options": {"paraphrases": "maybe"}}).encode()
    status, _, answer = http("POST", guarded + "/v1/generate", body, AUTH)
    assert status in (200, 422) and status < 500


def test_rate_limit_answers_429_with_retry_after():
    with app_server(create_app(rate_per_minute=60, burst=2)) as url:
        statuses = [http("GET", url + "/v1/models") for _ in range(3)]
        assert [s for s, _, _ in statuses] == [200, 200, 429]
        assert int(statuses[2][1]["retry-after"]) >= 1
        assert "retry in" in statuses[2][2]["error"]


@pytest.mark.parametrize("arguments, message", [
    (["--rate", "0"], "rate = 0"), (["--rate", "-5"], "rate = -5"), (["--port", "70000"], "port 70000"),
    (["--port", "-1"], "port -1"), (["--max-body", "10"], "max-body = 10"), (["--workers", "0"], "workers 0"),
])
def test_bad_server_numbers_are_usage_errors(capsys, arguments, message):
    with pytest.raises(SystemExit) as stopped:
        main(["serve", *arguments])
    assert stopped.value.code == 2 and message in capsys.readouterr().err


def test_bad_numbers_are_refused_by_the_functions_too():
    with pytest.raises(InputError, match="rate"):
        create_app(rate_per_minute=0)
    with pytest.raises(InputError, match="port"):
        serve(port=70000)
    with pytest.raises(KeyframeFaceError, match="needs --token"):
        serve(host="0.0.0.0")


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc to read a process's environment")
def test_the_token_is_not_in_the_workers_environment():
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "KEYFRAMEFACE_TOKEN"}
    environment["KEYFRAMEFACE_TOKEN"] = TOKEN
    process = subprocess.Popen([sys.executable, "-m", "model_runtime", "serve", "--port", str(port), "--workers", "2"],
                               cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if http("GET", f"http://127.0.0.1:{port}/v1/models", headers=AUTH, timeout=2)[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        workers = [pid for child in child_processes(process.pid) for pid in [child, *child_processes(child)]]
        assert len(workers) >= 2
        for pid in workers:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
            assert TOKEN.encode() not in environ
            assert TOKEN.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert http("GET", f"http://127.0.0.1:{port}/v1/models", timeout=5)[0] == 401
    finally:
        process.terminate()
        process.wait(20)
