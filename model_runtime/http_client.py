"""The one HTTP client of the runtime (the OpenAI-compatible and server backends use it).

Standard library only (``http.client``), so it runs inside Blender's Python. What it promises,
whatever the server does:

- **No credentials to another host.** Redirects are followed only to the same origin (or the
  same host upgraded from http to https), at most ``MAX_REDIRECTS`` times; a redirect anywhere
  else is refused with a message, never followed with the ``Authorization`` header.
- **Online access per host contacted.** The *Allow Online Access* rule is checked for every
  URL actually connected to, redirects included.
- **A total deadline.** ``timeout`` bounds the whole exchange (connect, headers, body), not each
  read: a server dripping a byte a second is cut off when the time is up. A line of dialogue
  can set a deadline of its own (``line_deadline``) that every request and retry inside it
  shares.
- **Bounded reads.** At most ``MAX_ANSWER_BYTES`` of body, 100 headers, 64 KB a header line,
  JSON nested at most ``MAX_JSON_DEPTH``. Anything unreadable (bad status line, too many
  headers, a depth bomb, not JSON) is an ``AnswerError``, which callers retry.
- ``Retry-After`` on 429/503 is honoured by ``retrying`` when it fits the time left.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import socket
import ssl
import threading
import time
from contextlib import contextmanager
from urllib.parse import urljoin, urlsplit

from .errors import AnswerError, BackendError, FormatError, KeyframeFaceError
from .files import loads_json
from .limits import MAX_ANSWER_BYTES, MAX_RETRY_AFTER_SECONDS

MAX_REDIRECTS = 3
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
RETRIED_STATUSES = (429, 500, 502, 503, 504)
_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024


class HTTPStatusError(BackendError):
    def __init__(self, message: str, status: int, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RedirectRefused(BackendError):
    """A redirect to another host: never followed, never retried."""


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` is this machine (127.x, localhost, ::1)."""
    host = (host or "").lower()
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def is_loopback(url: str) -> bool:
    return is_loopback_host(urlsplit(url).hostname or "")


def check_online_access(url: str, online_access: bool) -> None:
    """Blender's rule: no request to the network while Allow Online Access is off. Loopback
    servers (this machine) stay allowed: nothing leaves the computer."""
    if not online_access and not is_loopback(url):
        raise KeyframeFaceError(
            f"Blender's 'Allow Online Access' is off, so KeyframeFace will not contact {urlsplit(url).hostname}. "
            "Turn it on in Preferences > System > Network, or run the server on this machine (127.0.0.1)."
        )


class Deadline:
    """A point in time; ``remaining()`` seconds are left until it."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.end = time.monotonic() + self.seconds

    def remaining(self) -> float:
        return self.end - time.monotonic()


_LINE = threading.local()


@contextmanager
def line_deadline(seconds: float | None):
    """Every request and retry inside shares one deadline (a line of dialogue). Nested uses
    keep the outer, earlier one."""
    outer = getattr(_LINE, "deadline", None)
    if seconds is None or (outer is not None and outer.remaining() <= seconds):
        yield outer
        return
    _LINE.deadline = Deadline(seconds)
    try:
        yield _LINE.deadline
    finally:
        _LINE.deadline = outer


def current_line_deadline() -> Deadline | None:
    return getattr(_LINE, "deadline", None)


def with_line_deadline(deadline: Deadline | None, function):
    """``function`` wrapped to run under ``deadline`` on another thread (a thread pool)."""

    def run(*args):
        outer = getattr(_LINE, "deadline", None)
        _LINE.deadline = deadline
        try:
            return function(*args)
        finally:
            _LINE.deadline = outer

    return run


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def _same_origin(source: str, target: str) -> bool:
    (scheme, host, port), (new_scheme, new_host, new_port) = _origin(source), _origin(target)
    if new_host != host:
        return False
    if new_scheme == scheme:
        return new_port == port
    return (scheme, new_scheme, new_port) == ("http", "https", 443)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if seconds == seconds else None


def request_json(method: str, url: str, body=None, headers: dict | None = None, timeout: float = 60.0,
                 online_access: bool = True, max_bytes: int = MAX_ANSWER_BYTES):
    """Send ``body`` (JSON-encoded when not None) and return the JSON answer.

    Raises ``HTTPStatusError`` (4xx/5xx), ``AnswerError`` (unreadable answers), ``RedirectRefused``,
    ``KeyframeFaceError`` (online access off) or ``BackendError`` (connection, deadline)."""
    deadline = Deadline(timeout)
    line = current_line_deadline()
    if line is not None and line.end < deadline.end:
        deadline = line
    data = None if body is None else json.dumps(body).encode("utf-8")
    headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if data is not None else {}),
               **(headers or {})}
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        check_online_access(current, online_access)
        status, reason, answer_headers, raw = _exchange(method, current, data, headers, deadline, max_bytes)
        if status in _REDIRECTS:
            location = answer_headers.get("location")
            if not location:
                raise AnswerError(f"{current} answered {status} without a Location")
            target = urljoin(current, location.strip())
            if urlsplit(target).scheme not in ("http", "https") or not _same_origin(current, target):
                scheme, host, port = _origin(target)
                raise RedirectRefused(
                    f"{current} redirected to {scheme}://{host}:{port}, another host; KeyframeFace does not follow "
                    "redirects to other hosts (the API key or token would go there). If you trust it, use that "
                    "address as the URL.")
            current = target
            continue
        if status >= 400:
            raise HTTPStatusError(f"{current} answered {status} {reason}{_error_detail(raw)}", status,
                                  _retry_after(answer_headers.get("retry-after")))
        if status >= 300 or status < 200:
            raise AnswerError(f"{current} answered {status} {reason}, not a JSON answer")
        try:
            return loads_json(raw, f"the answer from {current}")
        except FormatError as error:
            raise AnswerError(str(error)) from None
    raise AnswerError(f"{url} redirected more than {MAX_REDIRECTS} times")


def _exchange(method: str, url: str, data, headers: dict, deadline: Deadline, max_bytes: int):
    parts = urlsplit(url)
    remaining = deadline.remaining()
    total = f"{deadline.seconds:g} s"
    if remaining <= 0:
        raise BackendError(f"{url} was not asked: the {total} allowed ran out")
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    try:
        connection = connection_class(parts.hostname, parts.port, timeout=remaining)
    except (ValueError, http.client.HTTPException) as error:
        raise BackendError(f"Cannot reach {url}: {error}") from None
    expired = threading.Event()

    def cut_off():
        # A deadline for the whole exchange: shutting the socket wakes a blocked read.
        expired.set()
        sock = connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(remaining, cut_off)
    timer.daemon = True
    timer.start()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        declared = response.getheader("content-length")
        if declared and declared.strip().isdigit() and int(declared) > max_bytes:
            raise AnswerError(f"{url} sends {int(declared) / 2**20:.1f} MB, more than {_megabytes(max_bytes)}; "
                              "refusing the answer")
        chunks, size = [], 0
        while True:
            chunk = response.read(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise AnswerError(f"{url} sent more than {_megabytes(max_bytes)}; refusing the answer")
            chunks.append(chunk)
            if expired.is_set():
                break
        if expired.is_set():
            raise socket.timeout()
        return response.status, response.reason, {k.lower(): v for k, v in response.getheaders()}, b"".join(chunks)
    except AnswerError:
        raise
    except (socket.timeout, TimeoutError):
        raise BackendError(f"{url} did not answer within {total}") from None
    except http.client.HTTPException as error:
        if expired.is_set():
            raise BackendError(f"{url} did not answer within {total}") from None
        detail = type(error).__name__ if not str(error) else f"{type(error).__name__}: {str(error)[:120]}"
        raise AnswerError(f"{url} sent an unreadable answer ({detail})") from None
    except ConnectionRefusedError:
        raise BackendError(f"Cannot reach {url}: connection refused (is the server running?)") from None
    except ssl.SSLError as error:
        raise BackendError(f"The secure connection to {url} failed: {error.reason or error}") from None
    except OSError as error:
        if expired.is_set():
            raise BackendError(f"{url} did not answer within {total}") from None
        if isinstance(error, socket.gaierror):
            raise BackendError(f"Cannot reach {url}: unknown host {parts.hostname}") from None
        raise BackendError(f"The connection to {url} failed: {error.strerror or error}") from None
    finally:
        timer.cancel()
        connection.close()


def _megabytes(size: int) -> str:
    return f"{size / 2**20:g} MB" if size >= 2**20 else f"{size:,} bytes"


def _error_detail(raw: bytes) -> str:
    text = raw[:2000].decode("utf-8", "replace")
    try:
        data = loads_json(text)
    except FormatError:
        data = None
    message = text
    if isinstance(data, dict):
        message = data.get("error") or data.get("detail") or text
        if isinstance(message, dict):
            message = message.get("message") or json.dumps(message)[:300]
    message = " ".join(str(message).split())[:300]
    return f": {message}" if message else ""


def retrying(function, attempts: int, what: str, backoff: float = 0.25):
    """Call ``function`` up to ``attempts`` times while it fails in a way worth retrying
    (connection problems, timeouts, 5xx, 429, unreadable answers), within the line deadline.
    A ``Retry-After`` is waited for when it fits the time left (and ``MAX_RETRY_AFTER_SECONDS``);
    otherwise the retries stop there, with the server's wish in the message."""
    attempts = max(1, int(attempts))
    deadline = current_line_deadline()
    last = None
    for attempt in range(attempts):
        try:
            return function()
        except HTTPStatusError as error:
            if error.status not in RETRIED_STATUSES:
                raise
            last = error
        except RedirectRefused:
            raise
        except BackendError as error:
            last = error
        if attempt + 1 >= attempts:
            break
        wait = backoff * (2 ** attempt)
        asked = getattr(last, "retry_after", None)
        if asked is not None:
            left = deadline.remaining() if deadline is not None else MAX_RETRY_AFTER_SECONDS
            if asked > min(left, MAX_RETRY_AFTER_SECONDS):
                raise BackendError(f"{what} failed: {last}; the server asks to retry in {asked:g} s, "
                                   f"longer than KeyframeFace waits ({min(left, MAX_RETRY_AFTER_SECONDS):.0f} s)")
            wait = max(wait, asked)
        if deadline is not None and deadline.remaining() <= wait:
            raise BackendError(f"{what} failed: {last}; no time left to retry "
                               f"(a line is allowed {deadline.seconds:g} s)")
        time.sleep(wait)
    tries = f" after {attempts} tries" if attempts > 1 else ""
    raise BackendError(f"{what} failed{tries}: {last}")
