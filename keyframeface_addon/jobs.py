"""Work off Blender's main thread: a slow server or a local model must never freeze the UI.

``BackgroundJob`` runs a function on a worker thread. It must not touch bpy: everything it
needs is read on the main thread first, and its result is written to the scene on the main
thread (by the modal operator in ``operators/background.py``) only after it validated.
Cancelling discards the result; an HTTP request in flight ends at its timeout.
"""

from __future__ import annotations

import threading
import time

# The jobs running now, for the panel to show.
RUNNING: list["BackgroundJob"] = []


class BackgroundJob:
    def __init__(self, work, label: str):
        self.label = label
        self.started = time.monotonic()
        self.result = None
        self.error: BaseException | None = None
        self.cancelled = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(work,), name=f"KeyframeFace: {label}", daemon=True)
        RUNNING.append(self)
        self._thread.start()

    def _run(self, work) -> None:
        try:
            self.result = work()
        except BaseException as error:  # reported on the main thread
            self.error = error
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def cancel(self) -> None:
        self.cancelled = True
        self.forget()

    def forget(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
