"""Templates on the definitions ItemStore.

Layout: one item per template, ``ORG#<org>`` / ``TEMPLATE#<tmpl_…>``, the whole :class:`Template`
as its document. Updates are optimistic: the caller passes the item version it read
(:attr:`StoredTemplate.ver`) and the write fails with ``Conflict`` if another writer got there
first, so two concurrent ``PUT`` s can never both produce the same ``revision``.

Listing filters (target, format, status) are applied while paging through the organization's
templates; the continuation token remembers the store page it stopped in and how far into it, so
a filtered page never skips or repeats a template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telemetry.cursor import decode_cursor, encode_cursor
from telemetry.errors import ValidationFailed
from telemetry.models.templates import Template
from telemetry.ports.definitions import Expect, Item, ItemStore
from telemetry.repositories.definitions import org_pk

SK_PREFIX = "TEMPLATE#"
#: templates read from the store per query while filling one page
_STORE_PAGE = 100
#: store queries one list request may make; beyond, a short page with a token is returned
_MAX_STORE_PAGES = 20


@dataclass(frozen=True, slots=True)
class StoredTemplate:
    template: Template
    ver: int


def _sk(template_id: str) -> str:
    return f"{SK_PREFIX}{template_id}"


def _doc(template: Template) -> dict[str, Any]:
    doc = template.model_dump(mode="json")
    if doc.get("description") is None:
        doc.pop("description", None)
    return doc


class TemplatesRepository:
    def __init__(self, store: ItemStore) -> None:
        self.store = store

    def create(self, org_id: str, template: Template) -> None:
        self.store.write(
            [Item(org_pk(org_id), _sk(template.id), _doc(template), expect=Expect.NEW, label=f"template {template.id}")]
        )

    def get(self, org_id: str, template_id: str) -> StoredTemplate | None:
        found = self.store.get(org_pk(org_id), _sk(template_id))
        return StoredTemplate(Template.model_validate(found.doc), found.ver) if found else None

    def replace(self, org_id: str, template: Template, expected_ver: int) -> None:
        """Write ``template`` only if the stored item is still at ``expected_ver`` (else Conflict)."""
        self.store.write(
            [
                Item(
                    org_pk(org_id),
                    _sk(template.id),
                    _doc(template),
                    expect=Expect.VERSION,
                    expected_ver=expected_ver,
                    label=f"template {template.id}",
                )
            ]
        )

    def page(
        self, org_id: str, keep: Callable[[Template], bool], limit: int, token: str | None
    ) -> tuple[list[Template], str | None]:
        """Up to ``limit`` templates for which ``keep`` is true, in id order, and a token for more."""
        store_cursor, skip = _position(token)
        out: list[Template] = []
        for _ in range(_MAX_STORE_PAGES):
            rows, next_cursor = self.store.query(org_pk(org_id), SK_PREFIX, limit=_STORE_PAGE, cursor=store_cursor)
            for index in range(skip, len(rows)):
                template = Template.model_validate(rows[index].doc)
                if not keep(template):
                    continue
                out.append(template)
                if len(out) == limit:
                    if index + 1 < len(rows):
                        return out, _token(store_cursor, index + 1)
                    return out, _token(next_cursor, 0) if next_cursor else None
            if not next_cursor:
                return out, None
            store_cursor, skip = next_cursor, 0
        return out, _token(store_cursor, skip)


def _token(store_cursor: str | None, skip: int) -> str:
    return encode_cursor({"c": store_cursor, "k": skip})


def _position(token: str | None) -> tuple[str | None, int]:
    if not token:
        return None, 0
    data = decode_cursor(token)
    cursor, skip = data.get("c"), data.get("k")
    if not (cursor is None or isinstance(cursor, str)) or type(skip) is not int or not 0 <= skip <= _STORE_PAGE:
        raise ValidationFailed.single(["continuationToken"], "is not a valid continuation token")
    return cursor, skip
