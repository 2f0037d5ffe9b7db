"""Each backend's options are declared once (``model_runtime/backends/__init__.py``); the
command-line flags, the server's per-request allowlist and the add-on preferences come from
the declarations. A fake backend registered here appears in the command line and the server
without any other change (its preferences: tests/blender/test_bl_backends.py)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest

from model_runtime import backends
from model_runtime.backends import Backend, BackendOption, Choice, available_backends, register
from model_runtime.backends.builtin import BuiltinBackend
from model_runtime.cli import backend_options, build_parser
from model_runtime.errors import InputError
from tests.servers import free_port

FAKE_OPTIONS = (
    BackendOption("endpoint", "url", "Fake Endpoint", "where the fake model lives", default="http://127.0.0.1:9",
                  preference="fake_endpoint", flag="--fake-endpoint", required=True),
    BackendOption("depth", "int", "Depth", "how hard the fake thinks", default=2, preference="fake_depth",
                  flag="--fake-depth", minimum=1, maximum=5),
    BackendOption("secret_word", "text", "Secret Word", "never on a command line", preference="fake_secret",
                  secret=True),
    BackendOption("verbose", "bool", "Verbose", "say more", flag="--fake-verbose"),
    BackendOption("style", "choice", "Style", "per-request style", default="calm", flag="--fake-style", per_request=True,
                  choices=(Choice("calm", "Calm"), Choice("bold", "Bold"))),
)


class FakeBackend(Backend):
    """The built-in model under another name; its notes show the options it was made with."""

    name = "fake"

    def __init__(self, **options):
        self.options = options
        self._builtin = BuiltinBackend()

    def plan(self, request):
        plan = self._builtin.plan(request)
        plan.notes.append("fake options: " + json.dumps(self.options, sort_keys=True))
        return plan

    def solve(self, descriptions, index, background, emotion):
        return self._builtin.solve(descriptions, index, background, emotion)


@pytest.fixture
def fake_backend():
    register("fake", "Fake", "A fake backend for the tests.", FakeBackend, options=FAKE_OPTIONS)
    try:
        yield
    finally:
        del backends._REGISTRY["fake"]


def test_a_new_backend_gets_its_command_line_flags(fake_backend):
    args = build_parser().parse_args(["generate", "--script", "Hi.", "--backend", "fake", "--fake-depth", "4"])
    assert backend_options(args) == {"endpoint": "http://127.0.0.1:9", "depth": 4, "style": "calm"}
    args = build_parser().parse_args(["solve", "--description", "A smile.", "--backend", "fake", "--fake-style", "bold",
                                      "--fake-verbose", "no"])
    assert backend_options(args)["style"] == "bold" and backend_options(args)["verbose"] is False
    with pytest.raises(SystemExit):  # a choice outside the declared ones
        build_parser().parse_args(["generate", "--script", "Hi.", "--backend", "fake", "--fake-style", "loud"])
    args = build_parser().parse_args(["generate", "--script", "Hi.", "--backend", "fake", "--fake-depth", "9"])
    with pytest.raises(InputError, match=r"depth = 9 is outside \[1, 5\]"):
        backend_options(args)
    with pytest.raises(SystemExit):  # no flag carries the secret
        build_parser().parse_args(["generate", "--script", "Hi.", "--backend", "fake", "--secret-word", "x"])


def test_a_flag_of_another_backend_is_refused_by_name(fake_backend):
    args = build_parser().parse_args(["generate", "--script", "Hi.", "--fake-depth", "3"])
    with pytest.raises(InputError, match="the builtin backend does not take --fake-depth"):
        backend_options(args)


def test_shared_flags_map_to_each_backends_own_option():
    parse = build_parser().parse_args
    assert backend_options(parse(["generate", "--script", "x", "--backend", "local", "--model", "/m"]))["model_path"] == "/m"
    openai = backend_options(parse(["generate", "--script", "x", "--backend", "openai", "--model", "m", "--base-url", "http://h/v1"]))
    assert openai["model"] == "m" and openai["base_url"] == "http://h/v1" and openai["api_key_env"] == "OPENAI_API_KEY"
    assert backend_options(parse(["generate", "--script", "x", "--backend", "server", "--base-url", "http://s"]))["url"] == "http://s"


def test_declarations_keep_secrets_off_the_command_line_and_away_from_clients():
    for info in available_backends():
        for option in info.options:
            if option.secret:
                assert option.flag is None and not option.per_request, (info.name, option.name)
            if option.kind in ("url", "folder"):
                assert not option.per_request, (info.name, option.name)
    with pytest.raises(ValueError, match="secret"):
        BackendOption("key", "text", "Key", "a key", flag="--key", secret=True)
    with pytest.raises(ValueError, match="never set by a server client"):
        BackendOption("url", "url", "URL", "where", per_request=True)


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_new_backend_gets_its_per_request_allowlist_on_our_server(fake_backend):
    uvicorn = pytest.importorskip("uvicorn", reason="our server needs uvicorn")
    from model_runtime.server import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app("fake", backend_options={"depth": 3}), host="127.0.0.1",
                                           port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/v1/generate"
        status, track = _post(url, {"script": "Hi.", "backend_options": {"style": "bold"}})
        assert status == 200
        assert 'fake options: {"depth": 3, "style": "bold"}' in track["notes"]
        for refused in ({"depth": 5}, {"endpoint": "http://elsewhere"}, {"secret_word": "x"}, {"paraphrases": False}):
            status, answer = _post(url, {"script": "Hi.", "backend_options": refused})
            assert status == 422, refused
            assert f"not allowed per request: {next(iter(refused))}; allowed: style" in answer["error"]
        status, answer = _post(url, {"script": "Hi.", "backend_options": {"style": "loud"}})
        assert status == 422 and "style must be one of calm, bold" in answer["error"]
    finally:
        server.should_exit = True
        thread.join(10)
