"""The server's work queue: model work runs on a few worker threads behind a bounded queue.

- **Bounded.** At most ``limit`` jobs wait or run; one more is refused with ``Busy`` and a
  Retry-After estimated from recent job times, instead of piling up work nobody will wait for.
- **Idempotent.** A job submitted with a key that is still running (or finished a moment ago)
  is the same job: a client that timed out and asks again joins the generation in progress
  instead of starting another. Reusing a key for a different request is refused.
- **Shutdown with a deadline.** ``close(deadline)`` refuses new work, cancels what has not
  started and waits at most ``deadline`` seconds for what runs; workers are daemon threads, so
  a model still thinking then does not hold the process open.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import Future

from .errors import KeyframeFaceError

KEEP_FINISHED = 256  # finished jobs remembered by key, for a client's late retry
KEEP_SECONDS = 600.0


class Busy(KeyframeFaceError):
    """The queue is full (or closing); ``retry_after`` says when to ask again."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class KeyReused(KeyframeFaceError):
    """An idempotency key sent again with a different request."""


class WorkQueue:
    def __init__(self, workers: int = 4, limit: int = 32):
        self.limit = max(1, int(limit))
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._waiting: deque = deque()
        self._keys: OrderedDict[str, tuple[str, Future, float]] = OrderedDict()
        self._active = 0  # waiting + running
        self._running = 0
        self._closing = False
        self._durations: deque = deque(maxlen=50)
        self.started = 0  # jobs that began running (a rejoined job counts once)
        self._threads = [threading.Thread(target=self._work, name=f"keyframeface-worker-{i}", daemon=True)
                         for i in range(max(1, int(workers)))]
        for thread in self._threads:
            thread.start()

    def typical_seconds(self) -> float:
        """The median time of recent jobs (0 before the first one)."""
        with self._lock:
            return statistics.median(self._durations) if self._durations else 0.0

    def submit(self, function, key: str | None = None, fingerprint: str = "") -> Future:
        """A future for ``function()``: the running or recent job under ``key`` when there is
        one, else a new job. ``Busy`` when the queue is full or closing; ``KeyReused`` when the
        key came with another request."""
        with self._lock:
            self._forget_old()
            if key and key in self._keys:
                known_fingerprint, future, _ = self._keys[key]
                if known_fingerprint != fingerprint:
                    raise KeyReused("this Idempotency-Key was sent with a different request; use a new key")
                return future
            if self._closing:
                raise Busy("the server is shutting down", 5.0)
            if self._active >= self.limit:
                raise Busy(f"the server is busy ({self._active} generations queued or running)", self._retry_after())
            future: Future = Future()
            self._active += 1
            self._waiting.append((function, future))
            if key:
                self._keys[key] = (fingerprint, future, time.monotonic())
            self._ready.notify()
            return future

    def _retry_after(self) -> float:
        typical = statistics.median(self._durations) if self._durations else 1.0
        return max(1.0, typical * self._active / len(self._threads))

    def _forget_old(self) -> None:
        now = time.monotonic()
        for key in list(self._keys):
            _, future, stamp = self._keys[key]
            if future.done() and (len(self._keys) > KEEP_FINISHED or now - stamp > KEEP_SECONDS):
                del self._keys[key]

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._waiting:
                    self._ready.wait()
                function, future = self._waiting.popleft()
                if not future.set_running_or_notify_cancel():
                    self._active -= 1
                    continue
                self._running += 1
                self.started += 1
            began = time.monotonic()
            try:
                future.set_result(function())
            except BaseException as error:  # handed to whoever waits on the future
                future.set_exception(error)
            finally:
                with self._lock:
                    self._durations.append(time.monotonic() - began)
                    self._active -= 1
                    self._running -= 1
                    self._ready.notify_all()

    def close(self, deadline: float) -> int:
        """Refuse new work, cancel what has not started, wait up to ``deadline`` seconds for
        what runs; returns how many jobs were still running when it gave up."""
        end = time.monotonic() + max(0.0, deadline)
        with self._lock:
            self._closing = True
            while self._waiting:
                _, future = self._waiting.popleft()
                future.cancel()
                self._active -= 1
            while self._running and time.monotonic() < end:
                self._ready.wait(end - time.monotonic())
            return self._running
