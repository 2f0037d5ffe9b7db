"""Remote backends: any OpenAI-compatible chat endpoint, and our own server.

Both speak HTTP with the standard library (``urllib``), so they run inside Blender's Python
with nothing installed. Every request has a timeout; connection failures, 5xx answers, 429s and
unreadable answers are retried a bounded number of times; what reaches the caller is a
``BackendError`` whose message says what happened and where, never an API key.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from ..errors import BackendError, KeyframeFaceError, TrackError
from ..track import Track
from .base import Backend, GenerateRequest, Plan, SolvedKeyframe
from .builtin import BuiltinBackend
from .llm import PLAN_SCHEMA, AnswerError, build_messages, plan_messages, read_plan_answer, read_solve_answer

MAX_ANSWER_BYTES = 8 * 1024 * 1024
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


class HTTPStatusError(BackendError):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is this machine (127.x, localhost, ::1)."""
    host = host.lower()
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def is_loopback(url: str) -> bool:
    return is_loopback_host(urlparse(url).hostname or "")


def check_url(url: str, what: str) -> str:
    url = (url or "").strip().rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise BackendError(f"The {what} URL '{url}' is not an http(s) URL (for example http://127.0.0.1:8765).")
    return url


def post_json(url: str, body: dict, headers: dict | None = None, timeout: float = 60.0) -> dict:
    """POST ``body`` as JSON and return the JSON answer; ``BackendError`` on any failure."""
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    return _send(request, timeout)


def _send(request: urllib.request.Request, timeout: float) -> dict:
    where = request.full_url
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as error:
        detail = _error_detail(error)
        raise HTTPStatusError(f"{where} answered {error.code} {error.reason}{detail}", error.code) from None
    except (socket.timeout, TimeoutError):
        raise BackendError(f"{where} did not answer within {timeout:g} s") from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise BackendError(f"{where} did not answer within {timeout:g} s") from None
        if isinstance(reason, ConnectionRefusedError):
            raise BackendError(f"Cannot reach {where}: connection refused (is the server running?)") from None
        raise BackendError(f"Cannot reach {where}: {reason}") from None
    except (ConnectionError, OSError) as error:
        raise BackendError(f"The connection to {where} failed: {error}") from None
    if len(raw) > MAX_ANSWER_BYTES:
        raise BackendError(f"{where} sent more than {MAX_ANSWER_BYTES // 2**20} MB; refusing the answer")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AnswerError(f"{where} sent an answer that is not JSON ({error})") from None


def _error_detail(error: urllib.error.HTTPError) -> str:
    try:
        body = error.read(2000).decode("utf-8", "replace")
        data = json.loads(body)
        message = data.get("error") or data.get("detail") or body
        if isinstance(message, dict):
            message = message.get("message") or json.dumps(message)
        return f": {str(message)[:300]}"
    except Exception:
        return ""


def retrying(function, attempts: int, what: str, backoff: float = 0.25):
    """Call ``function`` up to ``attempts`` times while it fails in a way worth retrying
    (connection problems, timeouts, 5xx, 429, unreadable answers)."""
    last = None
    for attempt in range(max(1, attempts)):
        try:
            return function()
        except HTTPStatusError as error:
            if error.status not in (429, 500, 502, 503, 504):
                raise
            last = error
        except BackendError as error:
            last = error
        if attempt + 1 < attempts:
            time.sleep(backoff * (2 ** attempt))
    tries = f" after {attempts} tries" if attempts > 1 else ""
    raise BackendError(f"{what} failed{tries}: {last}")


class OpenAICompatibleBackend(Backend):
    """Any ``/v1/chat/completions`` endpoint: vLLM (the paper's model), llama.cpp server, Ollama,
    LM Studio, hosted APIs. ``plan="builtin"`` keeps the built-in planner (models trained only to
    solve, such as the paper's); ``plan="model"`` asks the model for the plan too."""

    name = "openai"
    remote = True

    def __init__(self, base_url: str = "", model: str = "", api_key: str = "", api_key_env: str = "",
                 timeout: float = 60.0, retries: int = 3, concurrency: int = 8, plan: str = "model",
                 temperature: float = 0.0, max_tokens: int = 2048):
        self.base_url = check_url(base_url, "OpenAI-compatible")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        if not model:
            raise BackendError("Name the model the endpoint serves (for example the LoRA name given to vLLM).")
        if plan not in ("model", "builtin"):
            raise BackendError(f"plan must be 'model' or 'builtin', not {plan!r}")
        self.model = model
        self._api_key = api_key or (os.environ.get(api_key_env, "") if api_key_env else "")
        self.timeout, self.retries, self.concurrency = float(timeout), int(retries), max(1, int(concurrency))
        self.plan_source, self.temperature, self.max_tokens = plan, float(temperature), int(max_tokens)
        self._builtin = BuiltinBackend()
        self._schema_supported = True

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatibleBackend({self.base_url!r}, model={self.model!r})"

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _chat(self, messages: list[dict], response_format: dict | None = None, seed: int | None = None) -> str:
        body = {"model": self.model, "messages": messages, "temperature": self.temperature,
                "max_tokens": self.max_tokens}
        if seed is not None:
            body["seed"] = seed
        if response_format and self._schema_supported:
            body["response_format"] = response_format
        try:
            answer = post_json(f"{self.base_url}/chat/completions", body, self._headers(), self.timeout)
        except HTTPStatusError as error:
            if error.status == 400 and "response_format" in body:
                # Servers without structured output reject the field: ask again without it.
                self._schema_supported = False
                body.pop("response_format")
                answer = post_json(f"{self.base_url}/chat/completions", body, self._headers(), self.timeout)
            else:
                raise
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise AnswerError("the answer has no choices[0].message.content") from None
        if not isinstance(content, str):
            raise AnswerError("the answer's message content is not text")
        return content

    def plan(self, request: GenerateRequest) -> Plan:
        plan = self._builtin.plan(request)
        if self.plan_source == "builtin":
            return plan
        messages = plan_messages(request, plan)
        schema = {"type": "json_schema", "json_schema": {"name": "keyframe_plan", "schema": PLAN_SCHEMA, "strict": True}}
        keyframes = retrying(lambda: read_plan_answer(self._chat(messages, schema, request.seed), plan.duration),
                             self.retries, f"Planning with {self.model} at {self.base_url}")
        plan.keyframes = keyframes
        plan.notes.append(f"Planned by {self.model}.")
        return plan

    def solve(self, descriptions, index, background, emotion) -> SolvedKeyframe:
        messages = build_messages(descriptions, background, emotion, index)

        def ask():
            return read_solve_answer(self._chat(messages), index,
                                     lambda: self._builtin.solve(descriptions, index, background, emotion))

        return retrying(ask, self.retries, f"Keyframe {index + 1} from {self.model} at {self.base_url}")

    def solve_all(self, descriptions, background, emotion) -> list[SolvedKeyframe]:
        # The paper's protocol is one request per keyframe; send a line's requests together.
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(descriptions))) as pool:
            return list(pool.map(lambda i: self.solve(descriptions, i, background, emotion), range(len(descriptions))))


class ServerBackend(Backend):
    """Our own server (``python -m model_runtime serve``) on this or another machine."""

    name = "server"
    remote = True

    def __init__(self, url: str = "http://127.0.0.1:8765", token: str = "", token_env: str = "",
                 timeout: float = 60.0, retries: int = 3, backend_options: dict | None = None):
        self.url = check_url(url, "server")
        self._token = token or (os.environ.get(token_env, "") if token_env else "")
        self.timeout, self.retries = float(timeout), int(retries)
        self.backend_options = dict(backend_options or {})

    def __repr__(self) -> str:
        return f"ServerBackend({self.url!r})"

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def generate(self, request: GenerateRequest):
        request = request.validated()
        body = {"script": request.script, "context": request.context, "emotion": request.emotion,
                "seed": request.seed, "fps": request.fps, "intensity": request.intensity,
                "backend_options": self.backend_options}

        def ask():
            answer = post_json(f"{self.url}/v1/generate", body, self._headers(), self.timeout)
            try:
                return Track.from_dict(answer)
            except TrackError as error:
                raise AnswerError(f"the server's track is not valid: {error}") from None

        return retrying(ask, self.retries, f"Generating on {self.url}")

    def solve(self, descriptions, index, background, emotion) -> SolvedKeyframe:
        body = {"descriptions": descriptions, "index": index, "background": background, "emotion": emotion}

        def ask():
            answer = post_json(f"{self.url}/v1/solve", body, self._headers(), self.timeout)
            return read_solve_answer(json.dumps(answer), index,
                                     lambda: BuiltinBackend().solve(descriptions, index, background, emotion))

        return retrying(ask, self.retries, f"Solving on {self.url}")


def check_online_access(url: str, online_access: bool) -> None:
    """Blender's rule: no request to the network while Allow Online Access is off. Loopback
    servers (this machine) stay allowed: nothing leaves the computer."""
    if not online_access and not is_loopback(url):
        raise KeyframeFaceError(
            f"Blender's 'Allow Online Access' is off, so KeyframeFace will not contact {urlparse(url).hostname}. "
            "Turn it on in Preferences > System > Network, or run the server on this machine (127.0.0.1)."
        )
