"""The built-in backend: embedded, offline, deterministic, numpy only."""

from __future__ import annotations

from ...errors import BackendError
from ..base import Backend, GenerateRequest, Plan, SolvedKeyframe
from .planner import BuiltinPlanner
from .solver import BuiltinSolver


class BuiltinBackend(Backend):
    name = "builtin"

    def __init__(self, **options):
        if options:
            raise BackendError(f"The built-in backend takes no options (got {', '.join(options)})")
        self._planner = BuiltinPlanner()
        self._solver = BuiltinSolver()

    def plan(self, request: GenerateRequest) -> Plan:
        return self._planner.plan(request)

    def solve(self, descriptions, index, background, emotion) -> SolvedKeyframe:
        return self._solver.solve(descriptions, index, background, emotion)
