"""The backend interface: plan -> solve -> compose.

A backend plans a line into timed keyframe descriptions and solves each description into
ARKit weights and pose. Composition (lip sync, blinks, key reduction) is shared by every
backend (``compose.compose_track``), so an LLM that only plans and solves still gets lip sync
and blinks. Backends register by name in ``backends.registry``.
"""

from __future__ import annotations

from ..compose import compose_track
from ..stages import GenerateRequest, Plan, PlannedKeyframe, SolvedKeyframe
from ..track import Track

__all__ = ["Backend", "GenerateRequest", "Plan", "PlannedKeyframe", "SolvedKeyframe"]


class Backend:
    """Base class: subclasses implement ``plan`` and ``solve``."""

    name = "base"
    # A remote backend waits on the network: callers send several lines to it at once.
    remote = False

    def plan(self, request: GenerateRequest) -> Plan:
        raise NotImplementedError

    def solve(self, descriptions: list[str], index: int, background: str, emotion: str) -> SolvedKeyframe:
        """Solve keyframe ``index`` of the description sequence (the paper's protocol: the
        whole sequence gives context, one keyframe is asked for)."""
        raise NotImplementedError

    def solve_all(self, descriptions: list[str], background: str, emotion: str) -> list[SolvedKeyframe]:
        return [self.solve(descriptions, i, background, emotion) for i in range(len(descriptions))]

    def generate(self, request: GenerateRequest) -> Track:
        request = request.validated()
        plan = self.plan(request)
        descriptions = [k.description for k in plan.keyframes]
        solved = self.solve_all(descriptions, request.context, request.emotion)
        return compose_track(request, plan, solved, backend=self.name)
