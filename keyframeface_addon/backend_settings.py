"""The backend the preferences choose, ready to use, and why it cannot run when it cannot.

Remote backends obey Blender's *Allow Online Access*: while it is off, only servers on this
machine (loopback: 127.0.0.1, localhost, ::1) are contacted; nothing leaves the computer.
"""

from __future__ import annotations

import threading

import bpy

from ..model_runtime.backends import Backend, get_backend
from ..model_runtime.http_client import check_online_access
from ..model_runtime.errors import KeyframeFaceError

# Loading a local model takes seconds: keep the last one.
_CACHE: dict[tuple, Backend] = {}
_LOCK = threading.Lock()


def online_access() -> bool:
    # bpy.app.online_access exists since Blender 4.2; treat its absence as allowed.
    return bool(getattr(bpy.app, "online_access", True))


def backend_options(prefs) -> tuple[str, dict]:
    """``(backend name, options)`` from the preferences (no secrets in the options' repr)."""
    if prefs is None or prefs.backend == "builtin":
        return "builtin", {}
    # Checked again by the HTTP client for every host it contacts (redirects included).
    common = {"timeout": prefs.timeout, "retries": prefs.retries, "online_access": online_access()}
    if prefs.backend == "server":
        return "server", {"url": prefs.server_url, "token": prefs.server_token,
                          "token_env": prefs.server_token_env, **common}
    if prefs.backend == "openai":
        return "openai", {"base_url": prefs.openai_base_url, "model": prefs.openai_model, "api_key": prefs.api_key,
                          "api_key_env": prefs.api_key_env, "plan": prefs.plan_source, **common}
    if prefs.backend == "local":
        return "local", {"model_path": bpy.path.abspath(prefs.local_model_path), "plan": prefs.plan_source}
    return prefs.backend, {}


def remote_url(prefs) -> str | None:
    if prefs is None:
        return None
    return {"server": prefs.server_url, "openai": prefs.openai_base_url}.get(prefs.backend)


def backend_problem(prefs) -> str | None:
    """Why the chosen backend cannot be used now (for poll messages and the panel), or None."""
    if prefs is None or prefs.backend == "builtin":
        return None
    url = remote_url(prefs)
    if url:
        if not url.strip():
            return "Set the backend's URL in the add-on preferences"
        try:
            check_online_access(url, online_access())
        except KeyframeFaceError as error:
            return str(error)
    if prefs.backend == "openai" and not prefs.openai_model.strip():
        return "Name the model the OpenAI-compatible endpoint serves (add-on preferences)"
    if prefs.backend == "local":
        from ..model_runtime.backends.local_llm import dependencies_problem

        if not prefs.local_model_path.strip():
            return "Choose the local model's folder in the add-on preferences"
        return dependencies_problem()
    return None


def chosen_backend(prefs) -> tuple[str, dict]:
    """``(name, options)`` for the preferences, checked on the main thread; raises
    ``KeyframeFaceError`` with the reason it cannot run. ``instantiate`` makes the backend (a
    local model loads for seconds, so that can happen on a worker thread)."""
    problem = backend_problem(prefs)
    if problem:
        raise KeyframeFaceError(problem)
    return backend_options(prefs)


def instantiate(name: str, options: dict) -> Backend:
    """The backend object (no bpy access: safe on a worker thread)."""
    if name == "builtin":
        return get_backend("builtin")
    key = (name, tuple(sorted(options.items())))
    with _LOCK:
        if key not in _CACHE:
            if name == "local":
                _CACHE.clear()  # one model in memory at a time
            _CACHE[key] = get_backend(name, **options)
        return _CACHE[key]
