"""Metric definitions: create (names unique per organization, case-insensitively), get, list."""

from __future__ import annotations

from telemetry.clock import iso_from_ms, now_ms
from telemetry.errors import NotFound
from telemetry.ids import new_id
from telemetry.models.auth import Principal
from telemetry.models.base import Page
from telemetry.models.metrics import MetricCreate, MetricDefinition
from telemetry.repositories.definitions import DefinitionsRepository
from telemetry.services.auth import require


class MetricService:
    def __init__(self, repo: DefinitionsRepository) -> None:
        self.repo = repo

    def create(self, principal: Principal, body: MetricCreate) -> MetricDefinition:
        require(principal, "metrics:write")
        metric = MetricDefinition(id=new_id("mdef"), createdAt=iso_from_ms(now_ms()), **body.model_dump())
        self.repo.create_metric(principal.org_id, metric)
        return metric

    def get(self, principal: Principal, metric_id: str) -> MetricDefinition:
        require(principal, "metrics:read")
        metric = self.repo.get_metric(principal.org_id, metric_id)
        if metric is None:
            raise NotFound(f"metric {metric_id} not found")
        return metric

    def list(self, principal: Principal, limit: int, cursor: str | None) -> Page[MetricDefinition]:
        require(principal, "metrics:read")
        items, next_cursor = self.repo.list_metrics(principal.org_id, limit, cursor)
        return Page[MetricDefinition](items=items, continuationToken=next_cursor)
