"""The backend the preferences choose, ready to use, and why it cannot run when it cannot.

Remote backends obey Blender's *Allow Online Access*: while it is off, only servers on this
machine (loopback: 127.0.0.1, localhost, ::1) are contacted; nothing leaves the computer.
"""

from __future__ import annotations

import threading

import bpy

from ..model_runtime.backends import Backend, backend_info, get_backend
from ..model_runtime.http_client import check_online_access
from ..model_runtime.errors import KeyframeFaceError

# Loading a local model takes seconds: keep the last one.
_CACHE: dict[tuple, Backend] = {}
_LOCK = threading.Lock()


def online_access() -> bool:
    # bpy.app.online_access exists since Blender 4.2; treat its absence as allowed.
    return bool(getattr(bpy.app, "online_access", True))


def backend_options(prefs) -> tuple[str, dict]:
    """``(backend name, options)`` from the preferences the chosen backend declares (no
    secrets in the options' repr: backends hide them)."""
    if prefs is None:
        return "builtin", {}
    options = {}
    for option in backend_info(prefs.backend).options:
        if option.preference:
            value = getattr(prefs, option.preference)
            options[option.name] = bpy.path.abspath(value) if option.kind == "folder" else value
    return prefs.backend, options


def backend_problem(prefs) -> str | None:
    """Why the chosen backend cannot be used now (for poll messages and the panel), or None."""
    if prefs is None:
        return None
    info = backend_info(prefs.backend)
    for option in info.options:
        if not option.preference:
            continue
        value = getattr(prefs, option.preference)
        if option.required and not str(value).strip():
            return f"Set {option.label} for the {info.label} backend in the add-on preferences"
        if option.kind == "url":
            try:
                check_online_access(value, online_access())
            except KeyframeFaceError as error:
                return str(error)
    return info.problem()


def chosen_backend(prefs) -> tuple[str, dict]:
    """``(name, options)`` for the preferences, checked on the main thread; raises
    ``KeyframeFaceError`` with the reason it cannot run. ``instantiate`` makes the backend (a
    local model loads for seconds, so that can happen on a worker thread)."""
    problem = backend_problem(prefs)
    if problem:
        raise KeyframeFaceError(problem)
    name, options = backend_options(prefs)
    if any(option.kind == "url" for option in backend_info(name).options):
        # The HTTP client checks the rule again for every host it contacts (redirects included).
        options["online_access"] = online_access()
    return name, options


def instantiate(name: str, options: dict) -> Backend:
    """The backend object (no bpy access: safe on a worker thread). The last one is kept: a
    local model loads for seconds, and one model in memory at a time is enough."""
    key = (name, tuple(sorted(options.items())))
    with _LOCK:
        if key not in _CACHE:
            _CACHE.clear()
            _CACHE[key] = get_backend(name, **options)
        return _CACHE[key]
