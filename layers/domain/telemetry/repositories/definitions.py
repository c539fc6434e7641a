"""The definitions repository: every item layout of the definitions table, in one place.

Layout (``pk`` / ``sk``; ``gsi1pk`` / ``gsi1sk`` where listed):

================================  =====================================  ==========================
item                              pk / sk                                gsi1
================================  =====================================  ==========================
organization                      ORG#<org> / ORG
organization name (unique)        ORGNAME#<casefold name> / ORGNAME
API key by hash (auth lookup)     APIKEY#<sha256> / APIKEY
API key listing                   ORG#<org> / KEY#<keyId>
metric definition                 ORG#<org> / METRIC#<mdef>
metric name (unique)              ORG#<org> / METRICNAME#<casefold name>
thing type (head)                 ORG#<org> / TTYPE#<tdefi>
thing type version                ORG#<org> / TTYPEVER#<tdef>            ORG#<org>#TTYPE#<tdefi> / V#<000001>
place                             ORG#<org> / PLACE#<site_…|fleet_…>
thing                             ORG#<org> / THING#<id>                 ORG#<org>#PLACE#<place> / THING#<id>
================================  =====================================  ==========================

Later features add their own rows with the same rule: the partition starts with the organization.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel

from telemetry.models.auth import ApiKeyRecord, Organization
from telemetry.models.metrics import MetricDefinition
from telemetry.models.places import Place, PlaceKind
from telemetry.models.thing_types import ThingType, ThingTypeVersion
from telemetry.models.things import Thing
from telemetry.ports.definitions import Expect, Item, ItemStore
from telemetry.repositories.api_keys import KEY_HASH_SK, key_hash_pk

M = TypeVar("M", bound=BaseModel)


def org_pk(org_id: str) -> str:
    return f"ORG#{org_id}"


def _doc(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


class DefinitionsRepository:
    def __init__(self, store: ItemStore) -> None:
        self.store = store

    # ------------------------------------------------------------ generic helpers
    def _get(self, model: type[M], pk: str, sk: str) -> M | None:
        found = self.store.get(pk, sk)
        return model.model_validate(found.doc) if found else None

    def _page(
        self, model: type[M], pk: str, prefix: str, limit: int, cursor: str | None, index: str | None = None
    ) -> tuple[list[M], str | None]:
        rows, next_cursor = self.store.query(pk, prefix, limit=limit, cursor=cursor, index=index)
        return [model.model_validate(r.doc) for r in rows], next_cursor

    # ------------------------------------------------------------ organizations and keys
    def create_org(self, org: Organization) -> None:
        self.store.write(
            [
                Item(
                    f"ORGNAME#{org.name.casefold()}",
                    "ORGNAME",
                    {"orgId": org.id},
                    expect=Expect.NEW,
                    label=f"organization name '{org.name}'",
                ),
                Item(org_pk(org.id), "ORG", _doc(org), expect=Expect.NEW),
            ]
        )

    def org_by_name(self, name: str) -> Organization | None:
        found = self.store.get(f"ORGNAME#{name.casefold()}", "ORGNAME")
        return self.get_org(found.doc["orgId"]) if found else None

    def get_org(self, org_id: str) -> Organization | None:
        return self._get(Organization, org_pk(org_id), "ORG")

    def put_key(self, key: ApiKeyRecord) -> None:
        self.store.write(
            [
                Item(key_hash_pk(key.keyHash), KEY_HASH_SK, _doc(key), expect=Expect.NEW),
                Item(org_pk(key.orgId), f"KEY#{key.id}", _doc(key), expect=Expect.NEW),
            ]
        )

    def get_key(self, org_id: str, key_id: str) -> ApiKeyRecord | None:
        return self._get(ApiKeyRecord, org_pk(org_id), f"KEY#{key_id}")

    def list_keys(self, org_id: str, limit: int, cursor: str | None) -> tuple[list[ApiKeyRecord], str | None]:
        return self._page(ApiKeyRecord, org_pk(org_id), "KEY#", limit, cursor)

    def update_key(self, key: ApiKeyRecord) -> None:
        """Rewrite both copies of a key (the auth lookup and the listing) in one transaction."""
        self.store.write(
            [
                Item(key_hash_pk(key.keyHash), KEY_HASH_SK, _doc(key), expect=Expect.EXISTS, label=f"API key {key.id}"),
                Item(org_pk(key.orgId), f"KEY#{key.id}", _doc(key), expect=Expect.EXISTS, label=f"API key {key.id}"),
            ]
        )

    # ------------------------------------------------------------ metrics
    def create_metric(self, org_id: str, metric: MetricDefinition) -> None:
        self.store.write(
            [
                Item(
                    org_pk(org_id),
                    f"METRICNAME#{metric.name.casefold()}",
                    {"metricId": metric.id},
                    expect=Expect.NEW,
                    label=f"a metric named '{metric.name}'",
                ),
                Item(org_pk(org_id), f"METRIC#{metric.id}", _doc(metric), expect=Expect.NEW),
            ]
        )

    def get_metric(self, org_id: str, metric_id: str) -> MetricDefinition | None:
        return self._get(MetricDefinition, org_pk(org_id), f"METRIC#{metric_id}")

    def get_metrics(self, org_id: str, metric_ids: Iterable[str]) -> dict[str, MetricDefinition]:
        rows = self.store.batch_get([(org_pk(org_id), f"METRIC#{m}") for m in metric_ids])
        return {r.doc["id"]: MetricDefinition.model_validate(r.doc) for r in rows}

    def list_metrics(self, org_id: str, limit: int, cursor: str | None) -> tuple[list[MetricDefinition], str | None]:
        return self._page(MetricDefinition, org_pk(org_id), "METRIC#", limit, cursor)

    # ------------------------------------------------------------ thing types
    def create_thing_type(self, org_id: str, thing_type: ThingType, version: ThingTypeVersion) -> None:
        self.store.write(
            [
                Item(
                    org_pk(org_id),
                    f"TTYPE#{thing_type.id}",
                    _doc(thing_type),
                    expect=Expect.VERSION,
                    expected_ver=0,
                ),
                self._version_item(org_id, version),
            ]
        )

    def add_thing_type_version(
        self, org_id: str, thing_type: ThingType, version: ThingTypeVersion, expected_ver: int
    ) -> None:
        """Optimistic: fails with Conflict if another version was added meanwhile."""
        self.store.write(
            [
                Item(
                    org_pk(org_id),
                    f"TTYPE#{thing_type.id}",
                    _doc(thing_type),
                    expect=Expect.VERSION,
                    expected_ver=expected_ver,
                    label=f"thing type {thing_type.id}",
                ),
                self._version_item(org_id, version),
            ]
        )

    @staticmethod
    def _version_item(org_id: str, version: ThingTypeVersion) -> Item:
        return Item(
            org_pk(org_id),
            f"TTYPEVER#{version.id}",
            _doc(version),
            gsi1pk=f"{org_pk(org_id)}#TTYPE#{version.thingTypeId}",
            gsi1sk=f"V#{version.version:06d}",
            expect=Expect.NEW,
        )

    def get_thing_type(self, org_id: str, thing_type_id: str) -> tuple[ThingType, int] | None:
        found = self.store.get(org_pk(org_id), f"TTYPE#{thing_type_id}")
        return (ThingType.model_validate(found.doc), found.ver) if found else None

    def get_thing_type_version(self, org_id: str, version_id: str) -> ThingTypeVersion | None:
        return self._get(ThingTypeVersion, org_pk(org_id), f"TTYPEVER#{version_id}")

    def list_thing_type_versions(self, org_id: str, thing_type_id: str) -> list[ThingTypeVersion]:
        versions: list[ThingTypeVersion] = []
        cursor: str | None = None
        while True:
            page, cursor = self._page(
                ThingTypeVersion, f"{org_pk(org_id)}#TTYPE#{thing_type_id}", "V#", 100, cursor, index="gsi1"
            )
            versions.extend(page)
            if not cursor:
                return versions

    def list_thing_types(self, org_id: str, limit: int, cursor: str | None) -> tuple[list[ThingType], str | None]:
        return self._page(ThingType, org_pk(org_id), "TTYPE#", limit, cursor)

    # ------------------------------------------------------------ places
    def create_place(self, org_id: str, place: Place) -> None:
        self.store.write([Item(org_pk(org_id), f"PLACE#{place.id}", _doc(place), expect=Expect.NEW)])

    def get_place(self, org_id: str, place_id: str) -> Place | None:
        return self._get(Place, org_pk(org_id), f"PLACE#{place_id}")

    def list_places(
        self, org_id: str, kind: PlaceKind, limit: int, cursor: str | None
    ) -> tuple[list[Place], str | None]:
        return self._page(Place, org_pk(org_id), f"PLACE#{kind.id_prefix}_", limit, cursor)

    # ------------------------------------------------------------ things
    def create_things(self, org_id: str, things: Sequence[Thing]) -> None:
        self.store.write([self._thing_item(org_id, t) for t in things])

    @staticmethod
    def _thing_item(org_id: str, thing: Thing) -> Item:
        return Item(
            org_pk(org_id),
            f"THING#{thing.id}",
            _doc(thing),
            gsi1pk=f"{org_pk(org_id)}#PLACE#{thing.placeId}",
            gsi1sk=f"THING#{thing.id}",
            expect=Expect.NEW,
        )

    def get_thing(self, org_id: str, thing_id: str) -> Thing | None:
        return self._get(Thing, org_pk(org_id), f"THING#{thing_id}")

    def get_things(self, org_id: str, thing_ids: Iterable[str]) -> dict[str, Thing]:
        """The org's things of these ids (unknown ids are absent), in one batch read."""
        rows = self.store.batch_get([(org_pk(org_id), f"THING#{t}") for t in thing_ids])
        return {r.doc["id"]: Thing.model_validate(r.doc) for r in rows}

    def list_things_in_place(
        self, org_id: str, place_id: str, limit: int, cursor: str | None
    ) -> tuple[list[Thing], str | None]:
        return self._page(Thing, f"{org_pk(org_id)}#PLACE#{place_id}", "THING#", limit, cursor, index="gsi1")
