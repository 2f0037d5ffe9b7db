"""The built-in backend: embedded, offline, deterministic, numpy only."""

from __future__ import annotations

from ...errors import BackendError
from ..base import Backend, GenerateRequest, Plan, SolvedKeyframe
from .planner import BuiltinPlanner
from .solver import BuiltinSolver


class BuiltinBackend(Backend):
    name = "builtin"

    def __init__(self, paraphrases: bool | None = None, **options):
        """``paraphrases``: read emotion words the lexicon lacks by meaning with sentence
        embeddings (``model_runtime.embeddings``); None uses them when installed."""
        if options:
            raise BackendError(f"The built-in backend takes no options except paraphrases (got {', '.join(options)})")
        self._planner = BuiltinPlanner(paraphrases)
        self._solver = BuiltinSolver(paraphrases)

    def plan(self, request: GenerateRequest) -> Plan:
        return self._planner.plan(request)

    def solve(self, descriptions, index, background, emotion) -> SolvedKeyframe:
        return self._solver.solve(descriptions, index, background, emotion)
