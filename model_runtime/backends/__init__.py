"""Backend registry. ``get_backend("builtin")`` returns a ready backend. Each backend is one
``register`` call here: a factory that imports its module (and heavy dependencies) only when
called, and the options it takes, from which the add-on preferences, the command-line flags and
the server's per-request allowlist are generated. Adding a backend: its module in this folder
and its ``register`` entry below; nothing else changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Callable

from ..errors import BackendError
from .base import Backend, GenerateRequest, Plan, PlannedKeyframe, SolvedKeyframe
from .options import BackendOption, Choice


@dataclass(frozen=True)
class BackendInfo:
    """A registered backend: its name, the label and description users see, a factory, the
    options it takes (``options.BackendOption``: the preferences, command-line flags and the
    server's per-request allowlist are generated from them) and ``problem``, which says why it
    cannot run in this Python (None when it can)."""

    name: str
    label: str
    description: str
    factory: Callable[..., Backend]
    options: tuple[BackendOption, ...] = ()
    problem: Callable[[], "str | None"] = field(default=lambda: None)


_REGISTRY: dict[str, BackendInfo] = {}


def register(name: str, label: str, description: str, factory: Callable[..., Backend],
             options: tuple[BackendOption, ...] = (), problem: Callable[[], "str | None"] | None = None) -> None:
    names = [option.name for option in options]
    if len(set(names)) != len(names):
        raise ValueError(f"backend {name}: an option is declared twice")
    _REGISTRY[name] = BackendInfo(name, label, description, factory, tuple(options), problem or (lambda: None))


def available_backends() -> list[BackendInfo]:
    return list(_REGISTRY.values())


def backend_info(name: str) -> BackendInfo:
    info = _REGISTRY.get(name)
    if info is None:
        known = ", ".join(sorted(_REGISTRY))
        raise BackendError(f"Unknown backend '{name}'. Known backends: {known}.")
    return info


def get_backend(name: "str | Backend" = "builtin", **options) -> Backend:
    """A ready backend by registry name (a backend object passes through unchanged)."""
    if isinstance(name, Backend):
        return name
    return backend_info(name).factory(**options)


def _lazy(module: str, attribute: str) -> Callable:
    """A callable that imports the backend's module (and its heavy dependencies) only when called."""

    def call(*args, **options):
        return getattr(import_module(f"{__name__}.{module}"), attribute)(*args, **options)

    return call


PLAN = BackendOption(
    "plan", "choice", "Plan With", "Who plans the timed keyframe descriptions", default="model",
    preference="plan_source", flag="--plan", per_request=True,
    choices=(Choice("model", "Model", "The model plans the keyframes too (our plan prompt, JSON schema)"),
             Choice("builtin", "Built-in", "The built-in planner times the keyframes; the model solves them "
                                           "(for models trained only to solve, such as the KeyframeFace paper's)")))
TEMPERATURE = BackendOption("temperature", "float", "Temperature", "Sampling temperature (0: deterministic)",
                            flag="--temperature", per_request=True, minimum=0.0, maximum=2.0)
ON_DEGENERATE = BackendOption(
    "on_degenerate", "choice", "Degenerate Answers",
    "What to do when the model's plan or keyframe says nothing (times that do not increase, placeholder text, "
    "all values equal, none of the described shapes moving)", default="builtin", preference="on_degenerate",
    flag="--on-degenerate", per_request=True,
    choices=(Choice("builtin", "Use Built-in", "The built-in planner or solver takes that part; the notes say so"),
             Choice("fail", "Fail", "Stop with a message saying what was wrong")))
TIMEOUT = BackendOption("timeout", "float", "Timeout", "Seconds to wait for one answer", default=60.0,
                        preference="timeout", flag="--timeout", minimum=1.0, maximum=3600.0)
RETRIES = BackendOption("retries", "int", "Tries", "Times to ask before giving up", default=3,
                        preference="retries", flag="--retries", minimum=1, maximum=10)

register(
    "builtin",
    "Built-in",
    "Embedded facial-behaviour model: FACS action units, emotion knowledge and script timing. "
    "Offline, deterministic for a seed, milliseconds per line, numpy only.",
    _lazy("builtin", "BuiltinBackend"),
    options=(
        BackendOption("paraphrases", "bool", "Paraphrases",
                      "Read emotion words the lexicon lacks by meaning (sentence embeddings, when installed)",
                      per_request=True),
    ),
)
register(
    "openai",
    "OpenAI-compatible",
    "Any /v1/chat/completions endpoint (vLLM serving the paper's model, llama.cpp, Ollama, LM Studio, "
    "hosted APIs): the paper's one-request-per-keyframe protocol, answers read strictly.",
    _lazy("remote", "OpenAICompatibleBackend"),
    options=(
        BackendOption("base_url", "url", "Endpoint",
                      "An OpenAI-compatible endpoint: vLLM, llama.cpp server, Ollama, LM Studio, hosted APIs",
                      default="http://127.0.0.1:8000/v1", preference="openai_base_url", flag="--base-url", required=True),
        BackendOption("model", "text", "Model",
                      "The model name the endpoint serves (for vLLM with LoRA: the adapter's name)",
                      preference="openai_model", flag="--model", required=True),
        BackendOption("api_key", "text", "API Key",
                      "Kept in preferences, never in the .blend; leave empty to use the variable below",
                      preference="api_key", secret=True),
        BackendOption("api_key_env", "text", "Key Variable",
                      "Read the API key from this environment variable when no key is given",
                      default="OPENAI_API_KEY", preference="api_key_env", flag="--api-key-env"),
        PLAN, TEMPERATURE, ON_DEGENERATE, TIMEOUT, RETRIES,
    ),
)
register(
    "server",
    "Our server",
    "A KeyframeFace server (python -m model_runtime serve) on this or another machine.",
    _lazy("remote", "ServerBackend"),
    options=(
        BackendOption("url", "url", "Server URL", "A KeyframeFace server (python -m model_runtime serve)",
                      default="http://127.0.0.1:8765", preference="server_url", flag="--base-url", required=True),
        BackendOption("token", "text", "Token", "The server's token (kept in preferences, never in the .blend)",
                      preference="server_token", secret=True),
        BackendOption("token_env", "text", "Token Variable",
                      "Read the token from this environment variable when no token is given",
                      default="KEYFRAMEFACE_TOKEN", preference="server_token_env", flag="--token-env"),
        TIMEOUT, RETRIES,
    ),
)
register(
    "local",
    "Local model",
    "A causal language model directory on disk run with torch + transformers, decoding constrained "
    "to the KeyframeFace JSON schema.",
    _lazy("local_llm", "LocalModelBackend"),
    options=(
        BackendOption("model_path", "folder", "Model Folder",
                      "A transformers causal-LM folder on disk (nothing is downloaded)",
                      preference="local_model_path", flag="--model", required=True),
        BackendOption("device", "choice", "Device", "Where the model runs", default="auto", preference="local_device",
                      flag="--device",
                      choices=(Choice("auto", "Auto", "CUDA when available, else the CPU"),
                               Choice("cpu", "CPU"), Choice("cuda", "CUDA (half precision)"))),
        BackendOption("batch", "int", "Batch", "Keyframes of a line decoded together in one forward pass",
                      default=8, flag="--batch", minimum=1, maximum=64),
        BackendOption("precision", "choice", "CPU Precision", "Weights of the model's linear layers on the CPU",
                      default="int8", flag="--precision",
                      choices=(Choice("int8", "Int8", "A quarter of the bytes to read at each step: about twice as fast"),
                               Choice("float32", "Float32", "The weights as saved; a line's rows decode exactly as one by one"))),
        BackendOption("threads", "int", "CPU Threads", "Torch threads on the CPU (0: the cores idle when the model loads)",
                      default=0, flag="--threads", minimum=0, maximum=256),
        PLAN, TEMPERATURE, ON_DEGENERATE,
    ),
    problem=_lazy("local_llm", "dependencies_problem"),
)

__all__ = [
    "Backend", "BackendInfo", "BackendOption", "Choice", "GenerateRequest", "Plan", "PlannedKeyframe",
    "SolvedKeyframe", "available_backends", "backend_info", "get_backend", "register",
]
