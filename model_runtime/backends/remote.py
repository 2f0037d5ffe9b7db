"""Remote backends: any OpenAI-compatible chat endpoint, and our own server.

Both speak HTTP through ``http_client`` (standard library only, so they run inside Blender's
Python with nothing installed): a total deadline per request and per line, redirects only to
the same origin, the online-access rule for every host contacted, bounded reads. Connection
failures, 5xx answers, 429s and unreadable answers are retried a bounded number of times
(``Retry-After`` honoured); what reaches the caller is a ``BackendError`` whose message says
what happened and where, never an API key.
"""

from __future__ import annotations

import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from ..errors import AnswerError, BackendError, TrackError
from ..http_client import (HTTPStatusError, check_online_access, current_line_deadline, is_loopback,
                           is_loopback_host, line_deadline, request_json, retrying, with_line_deadline)
from ..limits import MAX_ANSWER_BYTES, number
from ..track import Track
from .base import Backend, GenerateRequest, Plan, SolvedKeyframe
from .builtin import BuiltinBackend
from .llm import (PLAN_SCHEMA, build_messages, check_on_degenerate, degenerate_plan, degenerate_solve,
                  parse_plan_answer, plan_messages, read_solve_answer)

__all__ = ["HTTPStatusError", "IDEMPOTENCY_HEADER", "MAX_ANSWER_BYTES", "OpenAICompatibleBackend", "ServerBackend",
           "check_online_access", "check_url", "is_loopback", "is_loopback_host", "post_json", "retrying"]
# One line (its plan, every keyframe's solve and their retries) gets this many request timeouts.
LINE_TIMEOUTS = 4
IDEMPOTENCY_HEADER = "Idempotency-Key"


def check_url(url: str, what: str) -> str:
    url = (url or "").strip().rstrip("/")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise BackendError(f"The {what} URL '{url}' is not an http(s) URL (for example http://127.0.0.1:8765).")
    return url


def post_json(url: str, body: dict, headers: dict | None = None, timeout: float = 60.0,
              online_access: bool = True) -> dict:
    """POST ``body`` as JSON and return the JSON answer; ``BackendError`` on any failure."""
    return request_json("POST", url, body, headers, timeout, online_access)


class _RemoteBackend(Backend):
    remote = True

    def _limits(self, timeout: float, retries: int, line_timeout: float | None, online_access: bool) -> None:
        self.timeout = number(timeout, "timeout", 0.1, 3600, "s")
        self.retries = int(number(retries, "retries", 1, 20))
        self.line_timeout = (number(line_timeout, "line timeout", 0.1, 4 * 3600, "s") if line_timeout
                             else self.timeout * LINE_TIMEOUTS)
        self.online_access = bool(online_access)

    def generate(self, request: GenerateRequest):
        with line_deadline(self.line_timeout):
            return super().generate(request)

    def _post(self, url: str, body: dict) -> dict:
        return post_json(url, body, self._headers(), self.timeout, self.online_access)

    def _headers(self) -> dict:
        return {}


class OpenAICompatibleBackend(_RemoteBackend):
    """Any ``/v1/chat/completions`` endpoint: vLLM (the paper's model), llama.cpp server, Ollama,
    LM Studio, hosted APIs. ``plan="builtin"`` keeps the built-in planner (models trained only to
    solve, such as the paper's); ``plan="model"`` asks the model for the plan too."""

    name = "openai"

    def __init__(self, base_url: str = "", model: str = "", api_key: str = "", api_key_env: str = "",
                 timeout: float = 60.0, retries: int = 3, concurrency: int = 8, plan: str = "model",
                 temperature: float = 0.0, max_tokens: int = 2048, on_degenerate: str = "builtin",
                 line_timeout: float | None = None, online_access: bool = True):
        self.base_url = check_url(base_url, "OpenAI-compatible")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        if not model:
            raise BackendError("Name the model the endpoint serves (for example the LoRA name given to vLLM).")
        if plan not in ("model", "builtin"):
            raise BackendError(f"plan must be 'model' or 'builtin', not {plan!r}")
        self.model = model
        self._api_key = api_key or (os.environ.get(api_key_env, "") if api_key_env else "")
        self._limits(timeout, retries, line_timeout, online_access)
        self.concurrency = max(1, int(concurrency))
        self.plan_source, self.temperature, self.max_tokens = plan, float(temperature), int(max_tokens)
        self.on_degenerate = check_on_degenerate(on_degenerate)
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
            answer = self._post(f"{self.base_url}/chat/completions", body)
        except HTTPStatusError as error:
            if error.status == 400 and "response_format" in body:
                # Servers without structured output reject the field: ask again without it.
                self._schema_supported = False
                body.pop("response_format")
                answer = self._post(f"{self.base_url}/chat/completions", body)
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
        planned = retrying(lambda: parse_plan_answer(self._chat(messages, schema, request.seed), plan.duration),
                           self.retries, f"Planning with {self.model} at {self.base_url}")
        plan.keyframes, notes = degenerate_plan(planned, plan.keyframes, self.model, self.on_degenerate)
        plan.notes += notes
        return plan

    def solve(self, descriptions, index, background, emotion) -> SolvedKeyframe:
        messages = build_messages(descriptions, background, emotion, index)

        reading = self._builtin.solve(descriptions, index, background, emotion)

        def ask():
            return read_solve_answer(self._chat(messages), index, lambda: reading)

        solved = retrying(ask, self.retries, f"Keyframe {index + 1} from {self.model} at {self.base_url}")
        return degenerate_solve(solved, reading, index, self.model, self.on_degenerate)

    def solve_all(self, descriptions, background, emotion) -> list[SolvedKeyframe]:
        # The paper's protocol is one request per keyframe; send a line's requests together.
        solve = with_line_deadline(current_line_deadline(), lambda i: self.solve(descriptions, i, background, emotion))
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(descriptions))) as pool:
            return list(pool.map(solve, range(len(descriptions))))


class ServerBackend(_RemoteBackend):
    """Our own server (``python -m model_runtime serve``) on this or another machine."""

    name = "server"

    def __init__(self, url: str = "http://127.0.0.1:8765", token: str = "", token_env: str = "",
                 timeout: float = 60.0, retries: int = 3, backend_options: dict | None = None,
                 line_timeout: float | None = None, online_access: bool = True):
        self.url = check_url(url, "server")
        self._token = token or (os.environ.get(token_env, "") if token_env else "")
        self._limits(timeout, retries, line_timeout, online_access)
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
        # One key for every try: a try after a timeout joins the generation the server is
        # still working on instead of queueing another.
        headers = {**self._headers(), IDEMPOTENCY_HEADER: uuid.uuid4().hex}

        def ask():
            answer = post_json(f"{self.url}/v1/generate", body, headers, self.timeout, self.online_access)
            try:
                return Track.from_dict(answer)
            except TrackError as error:
                raise AnswerError(f"the server's track is not valid: {error}") from None

        with line_deadline(self.line_timeout):
            return retrying(ask, self.retries, f"Generating on {self.url}")

    def solve(self, descriptions, index, background, emotion) -> SolvedKeyframe:
        body = {"descriptions": descriptions, "index": index, "background": background, "emotion": emotion}

        def ask():
            answer = self._post(f"{self.url}/v1/solve", body)
            return read_solve_answer(json.dumps(answer), index,
                                     lambda: BuiltinBackend().solve(descriptions, index, background, emotion))

        return retrying(ask, self.retries, f"Solving on {self.url}")

