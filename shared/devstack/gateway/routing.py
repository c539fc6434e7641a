"""Routing: literal segments beat ``{param}`` beats ``{proxy+}``; a resource's method, else ANY."""

from __future__ import annotations

from dataclasses import dataclass

from ..template import Route


@dataclass(frozen=True)
class CompiledRoute:
    route: Route
    segments: tuple[str, ...]

    @classmethod
    def of(cls, route: Route) -> CompiledRoute:
        return cls(route, tuple(s for s in route.path.split("/") if s))

    @property
    def rank(self) -> tuple[int, ...]:
        """Lower is more specific: literal 0, {param} 1, {proxy+} 2, per segment."""
        return tuple(2 if s.endswith("+}") else 1 if s.startswith("{") else 0 for s in self.segments)

    def match(self, parts: list[str]) -> dict[str, str] | None:
        params: dict[str, str] = {}
        for i, seg in enumerate(self.segments):
            if seg.startswith("{") and seg.endswith("+}"):
                rest = parts[i:]
                if not rest:
                    return None
                params[seg[1:-2]] = "/".join(rest)
                return params
            if i >= len(parts):
                return None
            if seg.startswith("{") and seg.endswith("}"):
                params[seg[1:-1]] = parts[i]
            elif seg != parts[i]:
                return None
        return params if len(parts) == len(self.segments) else None


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = [CompiledRoute.of(r) for r in routes]

    def resolve(self, path: str, method: str) -> tuple[Route, dict[str, str]] | None:
        """Pick the most specific resource for ``path``, then its method (or ANY)."""
        parts = [p for p in path.split("/") if p]
        matches = [(c, p) for c in self.routes if (p := c.match(parts)) is not None]
        if not matches:
            return None
        best_rank = min(c.rank for c, _ in matches)
        on_resource = [(c, p) for c, p in matches if c.rank == best_rank]
        for wanted in (method, "ANY"):
            for c, p in on_resource:
                if c.route.method == wanted:
                    return c.route, p
        return None

    def has_path(self, path: str) -> bool:
        parts = [p for p in path.split("/") if p]
        return any(c.match(parts) is not None for c in self.routes)
