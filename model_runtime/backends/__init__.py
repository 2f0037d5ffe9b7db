"""Backend registry. ``get_backend("builtin")`` returns a ready backend; others register
themselves here with a factory that imports their heavy dependencies only when called."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import BackendError
from .base import Backend, GenerateRequest, Plan, PlannedKeyframe, SolvedKeyframe


@dataclass(frozen=True)
class BackendInfo:
    name: str
    label: str
    description: str
    factory: Callable[..., Backend]


_REGISTRY: dict[str, BackendInfo] = {}


def register(name: str, label: str, description: str, factory: Callable[..., Backend]) -> None:
    _REGISTRY[name] = BackendInfo(name, label, description, factory)


def available_backends() -> list[BackendInfo]:
    return list(_REGISTRY.values())


def get_backend(name: "str | Backend" = "builtin", **options) -> Backend:
    """A ready backend by registry name (a backend object passes through unchanged)."""
    if isinstance(name, Backend):
        return name
    info = _REGISTRY.get(name)
    if info is None:
        known = ", ".join(sorted(_REGISTRY))
        raise BackendError(f"Unknown backend '{name}'. Known backends: {known}.")
    return info.factory(**options)


def _lazy(module: str, class_name: str) -> Callable[..., Backend]:
    """A factory that imports the backend's module (and its heavy dependencies) only when used."""

    def factory(**options) -> Backend:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{module}"), class_name)(**options)

    return factory


register(
    "builtin",
    "Built-in",
    "Embedded facial-behaviour model: FACS action units, emotion knowledge and script timing. "
    "Offline, deterministic for a seed, milliseconds per line, numpy only.",
    _lazy("builtin", "BuiltinBackend"),
)
register(
    "openai",
    "OpenAI-compatible",
    "Any /v1/chat/completions endpoint (vLLM serving the paper's model, llama.cpp, Ollama, LM Studio, "
    "hosted APIs): the paper's one-request-per-keyframe protocol, answers read strictly.",
    _lazy("remote", "OpenAICompatibleBackend"),
)
register(
    "server",
    "Our server",
    "A KeyframeFace server (python -m model_runtime serve) on this or another machine.",
    _lazy("remote", "ServerBackend"),
)
register(
    "local",
    "Local model",
    "A causal language model directory on disk run with torch + transformers, decoding constrained "
    "to the KeyframeFace JSON schema.",
    _lazy("local_llm", "LocalModelBackend"),
)

__all__ = [
    "Backend", "BackendInfo", "GenerateRequest", "Plan", "PlannedKeyframe", "SolvedKeyframe",
    "available_backends", "get_backend", "register",
]
