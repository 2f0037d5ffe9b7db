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
