"""Templates as a product (docs/templates.md): one facade over three rooms.

- :mod:`template_catalog`: the stored resource (CRUD, revisions, soft delete);
- :mod:`template_apply`: the dry run and the apply onto a thing;
- :mod:`template_transactions`: the Transactions target.

The engine (:mod:`telemetry.services.templates`) maps payloads; these add storage, scopes,
tenancy and the write path. Composed by :mod:`telemetry.bootstrap` (``container().templates``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telemetry.models.base import Page
from telemetry.models.templates import Template
from telemetry.ports.readings import ReadingQueue, ReadingStore
from telemetry.repositories.definitions import DefinitionsRepository
from telemetry.repositories.templates import TemplatesRepository
from telemetry.services.template_apply import TemplateApply
from telemetry.services.template_catalog import (
    TemplateCatalog,
    TemplateDeleted,
    TemplateDeletedConflict,
)
from telemetry.services.template_transactions import TemplateTransactions
from telemetry.services.thing_context import ThingContextResolver

__all__ = ["TemplateDeleted", "TemplateDeletedConflict", "TemplateService"]


class TemplateService:
    """What the template handlers call; each method is its room's (annotated, so that the OpenAPI
    generator follows a handler's call to the model it answers)."""

    create: Callable[..., Template]
    get: Callable[..., Template]
    list_templates: Callable[..., Page[Template]]
    update: Callable[..., Template]
    delete: Callable[..., Template]
    test: Callable[..., dict[str, Any]]
    apply: Callable[..., dict[str, Any]]
    apply_transactions: Callable[..., dict[str, Any]]
    list_transactions: Callable[..., dict[str, Any]]

    def __init__(
        self,
        repo: DefinitionsRepository,
        templates: TemplatesRepository,
        contexts: ThingContextResolver,
        queue: Callable[[], ReadingQueue],
        readings: Callable[[], ReadingStore],
    ) -> None:
        self.catalog = TemplateCatalog(repo, templates)
        self.runner = TemplateApply(self.catalog, contexts, queue)
        self.transactions = TemplateTransactions(self.catalog, repo, queue, readings)
        self.create = self.catalog.create
        self.get = self.catalog.get
        self.list_templates = self.catalog.list_templates
        self.update = self.catalog.update
        self.delete = self.catalog.delete
        self.test = self.runner.test
        self.apply = self.runner.apply
        self.apply_transactions = self.transactions.apply_transactions
        self.list_transactions = self.transactions.list_transactions

    @property
    def templates(self) -> TemplatesRepository:
        """The template repository (tests swap it for one that races)."""
        return self.catalog.templates

    @templates.setter
    def templates(self, repo: TemplatesRepository) -> None:
        self.catalog.templates = repo
