"""Real HTTP servers on loopback for the tests: our server as a subprocess, and a small
misbehaving OpenAI-compatible server for fault tests (real sockets, no mocked HTTP layer)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def our_server(*arguments: str):
    """``python -m model_runtime serve`` on a free loopback port; yields its base URL."""
    with our_server_process(*arguments) as (process, url):
        yield url


@contextmanager
def our_server_process(*arguments: str):
    """Like ``our_server``, yielding the server's process too."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "model_runtime", "serve", "--port", str(port), *arguments],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        # Loading a model on a busy machine can take minutes.
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1).read()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()  # a live server never closes its output: reading it would hang
                    raise RuntimeError(f"the server did not start: {process.stdout.read()}")
                time.sleep(0.1)
        yield process, url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


class FaultServer:
    """An OpenAI-compatible endpoint that answers every chat request with ``reply(handler)``;
    counts requests."""

    def __init__(self, reply):
        self.reply = reply
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                server.requests += 1
                length = int(self.headers.get("Content-Length", 0))
                self.body = json.loads(self.rfile.read(length) or b"{}")
                try:
                    server.reply(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def send(handler, status: int, body: bytes, content_type: str = "application/json") -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def chat_answer(content: str) -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}).encode()


class HostileServer:
    """A raw-socket HTTP server that answers each request with whatever bytes ``answer(request)``
    returns (or yields, for a server that drips): broken status lines, too many headers,
    redirects, depth bombs, slow drips. ``requests`` records each request's head and body,
    ``url`` is its base URL. Use as a context manager."""

    def __init__(self, answer):
        self.answer = answer
        self.requests: list[dict] = []
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.closed = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.closed:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection):
        with connection:
            connection.settimeout(10)
            try:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
                length = int(headers.get("content-length", 0))
                while len(body) < length:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                request = {"line": lines[0], "headers": headers, "body": body}
                self.requests.append(request)
                answer = self.answer(request)
                for piece in ([answer] if isinstance(answer, bytes) else answer):
                    connection.sendall(piece)
            except OSError:
                pass

    def close(self):
        self.closed = True
        self.listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_answer(status: str, body: bytes = b"", headers: dict | None = None) -> bytes:
    """An HTTP/1.1 answer as bytes: ``raw_answer("429 Too Many Requests", b"{}", {"Retry-After": "2"})``."""
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


@contextmanager
def app_server(app):
    """An ASGI app served by uvicorn in a thread of this process on a free loopback port;
    yields its base URL (faster than ``our_server`` where a test builds the app itself)."""
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None, chunked: bool = False,
         timeout: float = 30):
    """``(status, headers, parsed JSON or raw bytes)`` of one request, with no client-side
    opinions (no redirects followed, chunked bodies on request)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        if chunked:
            connection.request(method, parts.path or "/", body=iter([body[i:i + 8192] for i in range(0, len(body), 8192)]),
                               headers={"Content-Type": "application/json", **(headers or {})}, encode_chunked=True)
        else:
            connection.request(method, parts.path or "/", body=body,
                               headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        raw = response.read()
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = raw
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
    finally:
        connection.close()


def child_processes(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is ``pid``, from /proc (Linux)."""
    from pathlib import Path

    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found
