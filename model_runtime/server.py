"""Our inference server: ``python -m model_runtime serve``.

FastAPI + uvicorn (OpenAPI docs at ``/docs``). Routes:

- ``GET /health``: status, backend, version.
- ``POST /v1/generate``: generate fields -> a track JSON (the foundation's format); with
  ``audio`` (the line's recording, base64, at most ``MAX_AUDIO_BYTES``) the line is aligned to
  it, and bad audio gets a 422 that says why.
- ``POST /v1/solve``: a description (or a sequence and an index), background, emotion ->
  KeyframeFace JSON.
- ``POST /v1/chat/completions`` and ``GET /v1/models``: OpenAI-compatible, answering the
  paper's solve prompt and our plan prompt with the served backend, so any OpenAI client
  (and our own OpenAI-compatible backend) can use this server.

Safe defaults: loopback only unless told otherwise, and then a token is required; with a
token every route but ``/health`` needs ``Authorization: Bearer <token>``; request bodies are
limited in size; each client is rate limited; a bad request gets a 4xx with a message and
never takes the server down. Model work runs on a bounded queue (``jobs.WorkQueue``): a full
queue answers 503 with Retry-After, a request sent again with the same ``Idempotency-Key``
joins the generation already running, and shutdown stops waiting for work after a deadline.
Per-request backend options never load another copy of a model.
"""


import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import math
import threading
import time
import uuid
from concurrent.futures import CancelledError

from . import __version__, limits
from .audio.sync import with_recording
from .backends import GenerateRequest, available_backends, get_backend
from .backends.llm import is_plan_request, parse_paper_request, plan_answer, plan_request_fields
from .backends.options import checked_request_options
from .backends.remote import IDEMPOTENCY_HEADER
from .errors import BackendError, KeyframeFaceError
from .formats.keyframeface_json import to_keyframeface
from .http_client import is_loopback_host
from .jobs import Busy, KeyReused, WorkQueue

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
MAX_BODY_BYTES = limits.MAX_BODY_BYTES
# A line's recording travels base64 in /v1/generate (4 bytes per 3), within its own larger limit.
MAX_AUDIO_BYTES = 16 * 1024 * 1024
AUDIO_ROUTE = "/v1/generate"
AUDIO_BODY_BYTES = MAX_BODY_BYTES + MAX_AUDIO_BYTES * 4 // 3 + 4096
RATE_PER_MINUTE = 1200
RATE_BURST = 200
QUEUE_LIMIT = 32
SHUTDOWN_SECONDS = 10.0

log = logging.getLogger("keyframeface.server")


class _BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes gets 413, whether it declares its length or
    arrives chunked; the route then reads the body from memory."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = max(self.limit, AUDIO_BODY_BYTES) if scope.get("path") == AUDIO_ROUTE else self.limit
        too_large = {"error": f"request body over {limit:,} bytes (the server's --max-body"
                              f"{', plus room for a recording' if limit != self.limit else ''})"}
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _json_response(send, 413, too_large)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return await _json_response(send, 413, too_large)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class _Auth:
    """ASGI middleware: with a token, every route but ``/health`` (the docs and the OpenAPI
    schema included, and unknown paths) needs ``Authorization: Bearer <token>``. Only a digest
    of the token is kept, so worker processes never hold the token itself."""

    OPEN = frozenset({"/health"})

    def __init__(self, app, digest: str | None):
        self.app, self.digest = app, digest

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and self.digest and scope.get("path") not in self.OPEN:
            header = dict(scope.get("headers") or []).get(b"authorization", b"")
            presented = header[7:] if header[:7].lower() == b"bearer " else b""
            if not hmac.compare_digest(token_digest(presented), self.digest):
                return await _json_response(send, 401, {"error": "missing or wrong token: send "
                                                                  "'Authorization: Bearer <token>'"},
                                            [(b"www-authenticate", b"Bearer")])
        return await self.app(scope, receive, send)


def token_digest(token) -> str:
    if isinstance(token, str):
        token = token.encode("utf-8", "surrogateescape")
    return hashlib.sha256(b"keyframeface-token:" + token).hexdigest()


async def _json_response(send, status: int, body: dict, headers: list | None = None) -> None:
    import json

    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": payload})


class RateLimiter:
    """A token bucket per client address."""

    def __init__(self, per_minute: float, burst: int):
        self.rate, self.burst = per_minute / 60.0, burst
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, client: str) -> float:
        """0 when allowed, else the seconds to wait."""
        now = time.monotonic()
        with self.lock:
            tokens, stamp = self.buckets.get(client, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - stamp) * self.rate)
            if tokens >= 1:
                self.buckets[client] = (tokens - 1, now)
                return 0.0
            self.buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate


def create_app(backend: str = "builtin", token: str | None = None, backend_options: dict | None = None,
               max_body: int = MAX_BODY_BYTES, rate_per_minute: float = RATE_PER_MINUTE, burst: int = RATE_BURST,
               queue_limit: int = QUEUE_LIMIT, shutdown_seconds: float = SHUTDOWN_SECONDS,
               token_digest_: str | None = None):
    """The FastAPI app. ``token`` (or only its ``token_digest_``, for worker processes) turns
    authentication on."""
    from fastapi import Depends, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from pydantic import BaseModel, Field

    max_body = limits.body_limit(max_body)
    rate_per_minute = limits.rate_per_minute(rate_per_minute)
    digest = token_digest_ or (token_digest(token) if token else None)
    served = get_backend(backend, **(backend_options or {}))
    declared_options = {info.name: info.options for info in available_backends()}.get(served.name, ())
    variants: dict[tuple, object] = {}
    variants_lock = threading.Lock()

    def backend_for(options: dict):
        """The served backend, or a variant with per-request options: only those its backend
        declares ``per_request`` (never URLs, paths or keys from a client)."""
        if not options:
            return served
        checked = checked_request_options(declared_options, options)
        if hasattr(served, "with_options"):  # shares what it loaded (a model is never loaded twice)
            return served.with_options(**checked)
        merged = {**(backend_options or {}), **checked}
        key = tuple(sorted((k, repr(v)) for k, v in merged.items()))
        with variants_lock:
            if key not in variants:
                if len(variants) >= 16:
                    variants.clear()
                try:
                    variants[key] = get_backend(backend, **merged)
                except (KeyframeFaceError, TypeError, ValueError) as error:
                    raise _HTTPError(422, f"backend_options: {error}") from None
            return variants[key]

    limiter = RateLimiter(rate_per_minute, burst)
    work = WorkQueue(workers=min(8, max(1, queue_limit)), limit=queue_limit)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        running = await asyncio.to_thread(work.close, shutdown_seconds)
        if running:
            log.warning("shutting down with %d generation(s) still running (deadline %g s)", running, shutdown_seconds)

    def run(function, request: Request, what: str):
        """``function()`` on the work queue; the same Idempotency-Key joins the same job."""
        try:
            future = work.submit(function, request.headers.get(IDEMPOTENCY_HEADER),
                                 hashlib.sha256(what.encode()).hexdigest())
        except Busy as busy:
            raise _HTTPError(503, f"{busy}; retry in {busy.retry_after:.0f} s",
                             {"Retry-After": str(math.ceil(busy.retry_after))}) from None
        except KeyReused as error:
            raise _HTTPError(422, str(error)) from None
        try:
            return future.result()
        except CancelledError:
            raise _HTTPError(503, "the server shut down before this request ran", {"Retry-After": "5"}) from None

    app = FastAPI(title="KeyframeFace", version=__version__, lifespan=lifespan,
                  description="Text, context and emotion -> sparse, labelled ARKit facial keyframes.")

    def guard(request: Request):
        # The token is checked by the _Auth middleware, for every route but /health.
        wait = limiter.allow(request.client.host if request.client else "?")
        if wait:
            raise _HTTPError(429, f"too many requests; retry in {wait:.1f} s", {"Retry-After": str(max(1, round(wait)))})

    @app.exception_handler(_HTTPError)
    async def _http_error(request, error: _HTTPError):
        return JSONResponse({"error": error.message}, status_code=error.status, headers=error.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _framework_error(request, error: StarletteHTTPException):
        # FastAPI's own refusals (a body it cannot parse, an unknown route): our {"error"} shape.
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(KeyframeFaceError)
    async def _input_error(request, error: KeyframeFaceError):
        status = 502 if isinstance(error, BackendError) else 422
        return JSONResponse({"error": str(error)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, error: RequestValidationError):
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return JSONResponse({"error": f"{where or 'body'}: {first.get('msg', 'invalid request')}"}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request, error: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse({"error": f"internal error ({type(error).__name__}); see the server log"}, status_code=500)

    class GenerateBody(BaseModel):
        script: str = Field(max_length=20000)
        context: str = Field("", max_length=4000)
        emotion: str = Field("", max_length=4000)
        seed: int = 0
        fps: float = 30.0
        intensity: float = 1.0
        backend_options: dict = Field(default_factory=dict)
        audio: str | None = Field(None, max_length=MAX_AUDIO_BYTES * 4 // 3 + 4, description="the line's recording, base64")
        audio_name: str = Field("audio.wav", max_length=200)
        lead_frames: float = Field(0.0, ge=0.0, le=limits.MAX_LEAD_FRAMES)

    class SolveBody(BaseModel):
        description: str | None = Field(None, max_length=4000)
        descriptions: list[str] | None = Field(None, max_length=64)
        index: int = 0
        background: str = Field("", max_length=4000)
        emotion: str = Field("", max_length=4000)

    class ChatMessage(BaseModel):
        role: str
        content: str = Field(max_length=64000)

    class ChatBody(BaseModel):
        model: str = ""
        messages: list[ChatMessage] = Field(max_length=32)
        temperature: float | None = None
        max_tokens: int | None = None
        response_format: dict | None = None
        seed: int | None = None

    @app.get("/health")
    def health():
        return {"status": "ok", "backend": served.name, "version": __version__, "auth": bool(digest),
                "generations_started": work.started, "generation_seconds": round(work.typical_seconds(), 3),
                "queue_limit": work.limit}

    @app.post("/v1/generate", dependencies=[Depends(guard)])
    def generate(body: GenerateBody, request: Request):
        asked = GenerateRequest(script=body.script, context=body.context, emotion=body.emotion,
                                seed=body.seed, fps=body.fps, intensity=body.intensity).validated()
        if body.audio:
            try:
                recording = base64.b64decode(body.audio, validate=True)
            except binascii.Error:
                raise _HTTPError(422, "audio must be the recording's bytes in base64") from None
            asked = with_recording(asked, recording, name=body.audio_name, lead_frames=body.lead_frames)
        backend_used = backend_for(body.backend_options)
        return run(lambda: backend_used.generate(asked).to_dict(), request, "generate " + body.model_dump_json())

    @app.post("/v1/solve", dependencies=[Depends(guard)])
    def solve(body: SolveBody, request: Request):
        descriptions = body.descriptions or ([body.description] if body.description else None)
        if not descriptions:
            raise _HTTPError(422, "give a description, or descriptions and an index")
        if not 0 <= body.index < len(descriptions):
            raise _HTTPError(422, f"index {body.index} is outside the {len(descriptions)} descriptions")
        result = run(lambda: served.solve(descriptions, body.index, body.background, body.emotion), request,
                     "solve " + body.model_dump_json())
        return to_keyframeface(result.weights, result.pose, body.index)

    @app.get("/v1/models", dependencies=[Depends(guard)])
    def models():
        return {"object": "list", "data": [{"id": f"keyframeface-{served.name}", "object": "model", "owned_by": "keyframeface"}]}

    @app.post("/v1/chat/completions", dependencies=[Depends(guard)])
    def chat(body: ChatBody, request: Request):
        import json

        messages = [m.model_dump() for m in body.messages]
        what = "chat " + body.model_dump_json()
        if is_plan_request(messages):
            asked = plan_request_fields(messages)
            asked.seed = body.seed or 0
            content = plan_answer(run(lambda: served.plan(asked.validated()), request, what).keyframes)
        else:
            descriptions, index, background, emotion = parse_paper_request(messages)
            result = run(lambda: served.solve(descriptions, index, background, emotion), request, what)
            content = json.dumps(to_keyframeface(result.weights, result.pose, index))
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": body.model or f"keyframeface-{served.name}",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        }

    app.add_middleware(_BodyLimit, limit=max_body)
    app.add_middleware(_Auth, digest=digest)  # added last: runs first
    return app


class _HTTPError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


CONFIG_VARIABLE = "KEYFRAMEFACE_SERVER_CONFIG"


def app_from_environment():
    """The app for uvicorn's worker processes (``--workers N``): configuration travels in an
    environment variable, since each worker imports the app afresh."""
    import json
    import os

    return create_app(**json.loads(os.environ[CONFIG_VARIABLE]))


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, backend: str = "builtin", token: str | None = None,
          backend_options: dict | None = None, max_body: int = MAX_BODY_BYTES,
          rate_per_minute: float = RATE_PER_MINUTE, workers: int = 1, queue_limit: int = QUEUE_LIMIT,
          shutdown_seconds: float = SHUTDOWN_SECONDS) -> None:
    try:
        import uvicorn
    except ImportError:
        raise BackendError("The server needs FastAPI and uvicorn: pip install fastapi uvicorn") from None
    port = limits.port(port)
    if not is_loopback_host(host) and not token:
        raise KeyframeFaceError(f"Serving on {host} (reachable from other machines) needs --token; "
                                "without one, keep the default 127.0.0.1.")
    if workers > 1:
        # One process per worker: the built-in model is CPU-bound Python, threads share one core.
        import json
        import os

        # Workers get the configuration through their environment: only a digest of the token
        # goes there (and the variable the token may have come from is dropped).
        os.environ.pop("KEYFRAMEFACE_TOKEN", None)
        os.environ[CONFIG_VARIABLE] = json.dumps({
            "backend": backend, "token_digest_": token_digest(token) if token else None,
            "backend_options": backend_options or {}, "max_body": max_body, "rate_per_minute": rate_per_minute,
            "queue_limit": queue_limit, "shutdown_seconds": shutdown_seconds})
        uvicorn.run("model_runtime.server:app_from_environment", factory=True, workers=workers, host=host, port=port,
                    log_level="info", access_log=False, timeout_graceful_shutdown=shutdown_seconds)
        return
    app = create_app(backend, token, backend_options, max_body, rate_per_minute, queue_limit=queue_limit,
                     shutdown_seconds=shutdown_seconds)
    # Open requests get the deadline, then the app's shutdown gives running work the same.
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, timeout_graceful_shutdown=shutdown_seconds)
