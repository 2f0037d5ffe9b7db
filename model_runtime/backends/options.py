"""What a backend can be told, declared once per option beside its registry entry.

Each ``BackendOption`` names a keyword argument of the backend's constructor and says how the
outside world sets it: the add-on preference (property, label, kind), the command-line flag,
whether it is a secret (never a flag, never sent by a server client, a password field in the
preferences) and whether a client of our server may set it per request. The add-on
preferences, the command line and the server's per-request allowlist are generated from these
declarations, so adding a backend touches only the registry (``backends/__init__.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError

# Kinds of value: what the preference looks like and how the command line reads it.
KINDS = ("text", "url", "folder", "choice", "float", "int", "bool")
# Kinds a server client may never set: they could point the server at other machines or files.
LOCAL_ONLY_KINDS = ("url", "folder")


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class BackendOption:
    """One option of one backend. ``preference`` is the AddonPreferences property (backends
    may share one, e.g. ``timeout``); ``flag`` the command-line flag (backends may share one,
    each mapping it to its own option); either may be None when the option is not set there."""

    name: str
    kind: str
    label: str
    description: str
    default: object = None
    preference: str | None = None
    flag: str | None = None
    secret: bool = False
    per_request: bool = False
    required: bool = False
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"option {self.name}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.secret and (self.flag or self.per_request or self.kind != "text"):
            # A secret on a command line lands in shell history and process lists; a client
            # must not hand the server credentials to use on its behalf.
            raise ValueError(f"option {self.name}: a secret is text set in the preferences only "
                             "(take it from an environment variable named by another option)")
        if self.per_request and self.kind in LOCAL_ONLY_KINDS:
            raise ValueError(f"option {self.name}: a {self.kind} is never set by a server client")
        if self.kind == "choice" and self.default not in {choice.value for choice in self.choices}:
            raise ValueError(f"option {self.name}: the default {self.default!r} is not one of its choices")
        if self.flag is not None and not self.flag.startswith("--"):
            raise ValueError(f"option {self.name}: flag {self.flag!r} must start with --")

    @property
    def flag_dest(self) -> str | None:
        """The attribute argparse stores the flag's value under."""
        return self.flag[2:].replace("-", "_") if self.flag else None

    def check(self, value):
        """``value`` as this option's type, or ``InputError`` naming the option."""
        kinds = {"float": (int, float), "int": (int,), "bool": (bool,)}.get(self.kind, (str,))
        if not isinstance(value, kinds) or (self.kind in ("float", "int") and isinstance(value, bool)):
            raise InputError(f"{self.name} must be {_KIND_WORDS[self.kind]}")
        if self.kind == "choice" and value not in {choice.value for choice in self.choices}:
            raise InputError(f"{self.name} must be one of {', '.join(c.value for c in self.choices)}, not {value!r}")
        if self.minimum is not None and value < self.minimum or self.maximum is not None and value > self.maximum:
            raise InputError(f"{self.name} = {value} is outside [{self.minimum}, {self.maximum}]")
        return float(value) if self.kind == "float" else value


_KIND_WORDS = {"text": "text", "url": "a URL", "folder": "a folder path", "choice": "text", "float": "a number",
               "int": "a whole number", "bool": "true or false"}


def checked_request_options(options: tuple[BackendOption, ...], given: dict) -> dict:
    """A server client's per-request options, checked against the served backend's
    declarations; ``InputError`` names the refused ones and what is allowed."""
    allowed = {option.name: option for option in options if option.per_request}
    refused = sorted(set(given) - set(allowed))
    if refused:
        raise InputError(f"backend option(s) not allowed per request: {', '.join(refused)}; "
                         f"allowed: {', '.join(sorted(allowed)) or 'none'}")
    return {name: allowed[name].check(value) for name, value in given.items()}


def options_from_flags(backend: str, options: tuple[BackendOption, ...], values: dict) -> dict:
    """The chosen backend's keyword arguments from parsed command-line flags (``values``:
    flag destination -> value, None when not given). A declared default fills a flag not
    given; a flag the backend does not take is refused with a message naming it."""
    mine = {option.flag_dest: option for option in options if option.flag}
    foreign = sorted(f"--{dest.replace('_', '-')}" for dest, value in values.items()
                     if value is not None and dest not in mine)
    if foreign:
        raise InputError(f"the {backend} backend does not take {', '.join(foreign)}")
    chosen = {}
    for dest, option in mine.items():
        value = values.get(dest)
        if value is None:
            value = option.default
        if value is not None:
            chosen[option.name] = option.check(value)
    return chosen
