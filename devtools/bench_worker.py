"""The generation benchmark's body, run in its own process against one source tree.

``./kff bench --baseline REV`` starts one worker on this checkout and one on the reference
commit (extracted into a temporary folder) and asks them for rounds in turn, so the machine's
load falls on both alike. The body uses only interfaces the older commits have too
(``get_backend``, ``GenerateRequest``, ``composed_keys``, ``read_emotion``).

Protocol: one command per stdin line (``generation``, ``keys`` or ``situation N``), one JSON line
back: ``{"wall": [ms per item], "cpu": [ms per item]}``.

    python devtools/bench_worker.py ROOT
"""

from __future__ import annotations

import json
import sys
import time

# The benchmark's lines: script, context, emotion as typed.
LINES = [
    ("I can't believe you did this to me.", "Her best friend just admitted reading her diary.", "Hurt, turning into anger"),
    ("Well, that went better than expected!", "After a job interview.", "relieved"),
    ("Don't touch that. Please, just... don't.", "A child reaches for a fragile heirloom.", "anxiety concealed by a restrained smile"),
    ("We did it. We actually did it!", "The team wins the final.", "joy mixed with disbelief"),
    ("You think this is funny?", "A prank went too far.", "irritated"),
    ("I miss the way things used to be.", "Looking at an old photo.", "bittersweet"),
    ("Get out. Now.", "An intruder in the kitchen.", "furious"),
    ("Is anyone there?", "A dark corridor.", "fear"),
]


def timed(function) -> tuple[float, float]:
    """(wall ms, CPU ms of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return (time.perf_counter() - wall) * 1000.0, (time.process_time() - cpu) * 1000.0


class Body:
    """The measured work, warmed up as a running Blender session is (regexes, tables, caches)."""

    def __init__(self):
        from model_runtime.backends import GenerateRequest, get_backend
        from model_runtime.playback import composed_keys

        self.backend = get_backend("builtin")
        self.composed_keys = composed_keys
        self.requests = [GenerateRequest(script=s, context=c, emotion=e, seed=i) for i, (s, c, e) in enumerate(LINES)]
        self.tracks = [self.backend.generate(r) for r in self.requests]
        for track in self.tracks:
            composed_keys(track, 30)

    def generation(self) -> list[tuple[float, float]]:
        """One generation of each line."""
        return [timed(lambda r=r: self.backend.generate(r)) for r in self.requests]

    def keys(self) -> list[tuple[float, float]]:
        """The keys Blender writes (whole performance) for each line's track."""
        return [timed(lambda t=t: self.composed_keys(t, 30)) for t in self.tracks]

    def situation(self, round_number: int) -> list[tuple[float, float]]:
        """Each line read with the emotion field empty, as a situation never read before (the
        round number makes the text new to the process's caches)."""
        from model_runtime.backends.builtin.emotion import read_emotion

        return [timed(lambda s=s, c=c: read_emotion("", f"{s} ({round_number})", c)) for s, c, _ in LINES]


def main(argv=None) -> int:
    root = (argv or sys.argv[1:])[0]
    sys.path.insert(0, root)
    body = Body()
    print(json.dumps({"ready": True}), flush=True)
    for command in sys.stdin:
        name, *arguments = command.split()
        samples = getattr(body, name)(*map(int, arguments))
        print(json.dumps({"wall": [w for w, _ in samples], "cpu": [c for _, c in samples]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
