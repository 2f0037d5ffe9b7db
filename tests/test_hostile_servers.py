"""The remote backends against hostile servers on loopback (tests/servers.HostileServer):
redirects to another host, drips, broken answers, depth bombs, Retry-After. Each ends in a
clear BackendError within its bounds (or a result), never a traceback, a hang or a leaked key."""

import json
import time

import pytest

from model_runtime.arkit import BLENDSHAPES, POSE
from model_runtime.backends import GenerateRequest, get_backend
from model_runtime.errors import BackendError, KeyframeFaceError
from model_runtime.formats.keyframeface_json import to_keyframeface
from tests.servers import HostileServer, chat_answer, raw_answer

REQUEST = GenerateRequest(script="Get out.", emotion="cold", seed=1)
KEY = "sk-secret-key-123"
TRACK = get_backend("builtin").generate(REQUEST).to_json().encode()
GOOD_KEYFRAME = json.dumps(to_keyframeface({n: 0.2 for n in BLENDSHAPES}, {n: 0.0 for n in POSE}, 0))


def _server(url, **options):
    return get_backend("server", url=url, token=KEY, **{"retries": 3, **options})


def _openai(url, **options):
    return get_backend("openai", base_url=url + "/v1", model="m", api_key=KEY, plan="builtin",
                       **{"retries": 3, **options})


def test_redirect_to_another_host_is_refused_and_the_key_never_leaves():
    with HostileServer(lambda r: raw_answer("200 OK", TRACK)) as other, \
         HostileServer(lambda r: raw_answer("302 Found", b"", {"Location": f"{other.url}/v1/generate"})) as first:
        for backend in (_server(first.url), _openai(first.url)):
            with pytest.raises(BackendError, match="another host") as caught:
                backend.generate(REQUEST)
            assert KEY not in str(caught.value)
            if backend.name == "server":
                assert len(first.requests) == 1  # refused at once, not retried
        assert other.requests == []


def test_same_origin_redirect_is_followed_with_its_credentials():
    def answer(request):
        if request["line"].startswith("POST /old/"):
            return raw_answer("308 Permanent Redirect", b"", {"Location": "/v1/generate"})
        return raw_answer("200 OK", TRACK)

    with HostileServer(answer) as server:
        track = _server(server.url + "/old").generate(REQUEST)
        assert track.script == "Get out."
        assert [r["headers"]["authorization"] for r in server.requests] == [f"Bearer {KEY}"] * 2


def test_online_access_off_contacts_no_other_host():
    backend = get_backend("server", url="http://192.0.2.1:8765", online_access=False, retries=1)
    with pytest.raises(KeyframeFaceError, match="Allow Online Access"):
        backend.generate(REQUEST)


def test_a_dripping_server_is_cut_off_at_the_total_deadline():
    def drip(request):
        yield b"HTTP/1.1 200 OK\r\n"
        for _ in range(40):
            time.sleep(0.25)
            yield b"X-Drip: 1\r\n"

    with HostileServer(drip) as server:
        started = time.monotonic()
        with pytest.raises(BackendError, match="did not answer within 1 s"):
            _server(server.url, timeout=1, retries=2).generate(REQUEST)
        assert time.monotonic() - started < 3.5  # two tries of 1 s and a backoff, not 2 x 10 s


def test_a_line_has_a_total_deadline_across_retries():
    def slow(request):
        time.sleep(0.8)
        return raw_answer("503 Service Unavailable", b"{}")

    with HostileServer(slow) as server:
        started = time.monotonic()
        with pytest.raises(BackendError, match="no time left|did not answer|ran out"):
            _server(server.url, timeout=5, retries=10, line_timeout=2).generate(REQUEST)
        assert time.monotonic() - started < 3.5


DEPTH_BOMB = b"[" * 200_000 + b"]" * 200_000


@pytest.mark.parametrize("answer, message", [
    (raw_answer("200 OK", DEPTH_BOMB), "nests"),
    (b"HTTP/1.1 two hundred OK\r\n\r\n", "unreadable"),
    (b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(120)) + b"\r\n{}", "unreadable"),
    (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n{}", "unreadable"),
    (b"garbage\r\n\r\n", "unreadable"),
    (b"", "unreadable"),
])
def test_unreadable_answers_are_retried_then_one_clear_error(answer, message):
    with HostileServer(lambda r: answer) as server:
        with pytest.raises(BackendError, match=message) as caught:
            _server(server.url, timeout=5).generate(REQUEST)
        assert "after 3 tries" in str(caught.value)
        assert len(server.requests) == 3


def test_a_depth_bomb_as_message_content_is_an_unreadable_answer():
    bomb = '{"a":' * 50_000 + "1" + "}" * 50_000
    with HostileServer(lambda r: raw_answer("200 OK", chat_answer(bomb))) as server:
        with pytest.raises(BackendError, match="nests") as caught:
            _openai(server.url).generate(REQUEST)
        assert "after 3 tries" in str(caught.value)


def test_retry_after_beyond_the_bound_stops_at_once():
    with HostileServer(lambda r: raw_answer("429 Too Many Requests", b'{"error": "slow down"}',
                                            {"Retry-After": "30"})) as server:
        started = time.monotonic()
        with pytest.raises(BackendError, match="asks to retry in 30 s"):
            _server(server.url, timeout=5).generate(REQUEST)
        assert len(server.requests) == 1 and time.monotonic() - started < 2


def test_retry_after_within_the_bound_is_waited_for():
    stamps = []

    def answer(request):
        stamps.append(time.monotonic())
        if len(stamps) == 1:
            return raw_answer("429 Too Many Requests", b"{}", {"Retry-After": "1"})
        return raw_answer("200 OK", TRACK)

    with HostileServer(answer) as server:
        assert _server(server.url, timeout=5).generate(REQUEST).script == "Get out."
        assert stamps[1] - stamps[0] >= 0.95
