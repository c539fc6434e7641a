"""The Integrations API service on the in-memory container: secrets, schedules, validation,
tenancy and runs, with the real repository and fakes of the three ports."""

from __future__ import annotations

from typing import Any

import pytest
from telemetry.bootstrap import Container
from telemetry.errors import DomainError, Forbidden, NotFound, Unavailable, ValidationFailed
from telemetry.models.auth import Principal, ResourceFilters
from telemetry.models.integrations import IntegrationIn, IntegrationState, secret_name
from telemetry.models.places import PlaceCreate, PlaceKind
from telemetry.models.templates import Template, TemplateFormat, TemplateStatus, TemplateTarget
from telemetry.models.things import ThingCreate
from telemetry.ports.integrations import PullStep
from telemetry.repositories.templates import TemplatesRepository
from telemetry.validation import parse

from tests.fakes import in_memory_container
from tests.fakes.integrations import FakeSchedule, InMemoryPullQueue, InMemoryPullScheduler, InMemorySecretStore

CREDENTIALS = {"userName": "svc@acme.example", "password": "s3cr3t-Pa55"}


@pytest.fixture
def c() -> Container:
    return in_memory_container()


@pytest.fixture
def owner(c: Container) -> Principal:
    return c.keys.authenticate(c.keys.issue("acme").key)


def secrets(c: Container) -> InMemorySecretStore:
    store = c.integration_ports.secrets
    assert isinstance(store, InMemorySecretStore)
    return store


def scheduler(c: Container) -> InMemoryPullScheduler:
    s = c.integration_ports.scheduler
    assert isinstance(s, InMemoryPullScheduler)
    return s


def pull_queue(c: Container) -> InMemoryPullQueue:
    q = c.integration_ports.pull_queue
    assert isinstance(q, InMemoryPullQueue)
    return q


def template(c: Container, who: Principal, target: TemplateTarget = TemplateTarget.Integrations) -> str:
    """Stored directly: the Integrations target's validation is another branch's."""
    tid = f"tmpl_{target.value.lower()}"
    t = Template(
        id=tid,
        revision=1,
        status=TemplateStatus.active,
        createdAt="2026-12-02T18:00:00Z",
        updatedAt="2026-12-02T18:00:00Z",
        name=target.value,
        target=target,
        format=TemplateFormat.JsonPointer,
        spec={},
    )
    TemplatesRepository(c.store).create(who.org_id, t)
    return tid


def place_and_thing(c: Container, who: Principal, name: str = "van") -> tuple[str, str]:
    site = c.places.create(who, PlaceKind.site, parse(PlaceCreate, {"name": f"depot {name}"}))
    thing = c.things.create(who, PlaceKind.site, site.id, parse(ThingCreate, {"thingName": name}))
    return site.id, thing.id


def body(template_id: str, thing_id: str, **kw: Any) -> IntegrationIn:
    data: dict[str, Any] = {
        "name": "fleet",
        "provider": "geotab",
        "connection": {"server": "my.geotab.com", "database": "acme", "feeds": ["StatusData"]},
        "credentials": CREDENTIALS,
        "scheduleMinutes": 10,
        "resources": [{"externalId": "b1", "thingId": thing_id}],
        "templateId": template_id,
        **kw,
    }
    return parse(IntegrationIn, data)


@pytest.fixture
def setup(c: Container, owner: Principal) -> tuple[str, str]:
    return template(c, owner), place_and_thing(c, owner)[1]


def paths(err: DomainError) -> list[str]:
    if isinstance(err, ValidationFailed):
        return [e.as_dict()["path"] for e in err.errors]
    return [e["path"] for e in err.extra.get("errors", [])]


# ------------------------------------------------------------------ create / get


def test_create_stores_credentials_as_a_secret_and_schedules_the_integration(
    c: Container, owner: Principal, setup: tuple[str, str]
) -> None:
    tid, thing = setup

    created = c.integrations.create(owner, body(tid, thing))

    assert created.id.startswith("intg_") and created.credentialsSet
    assert created.connection["resultsLimit"] == 50_000  # the default filled in
    assert secrets(c).get(secrets(c).arn(secret_name(owner.org_id, created.id))) == CREDENTIALS
    assert scheduler(c).schedules[(owner.org_id, created.id)] == FakeSchedule(10, True)
    assert created.status is not None and created.status.health == "never_run"
    assert "s3cr3t" not in created.model_dump_json()


def test_get_returns_the_state_as_status(c: Container, owner: Principal, setup: tuple[str, str]) -> None:
    created = c.integrations.create(owner, body(*setup))
    state = IntegrationState(
        cursor={"feeds": {"StatusData": "00000000000001a2"}},
        health="backing_off",
        backoff_until_ms=2_000,
        last_run_ms=1_000,
        last_success_ms=500,
        last_error={"type": "throttled", "message": "OverLimitException"},
        consecutive_failures=1,
        totals={"runs": 2, "records": 7, "readings": 6, "skipped": 1, "calls": 3},
    )
    c.integration_ports.repo.save_state(owner.org_id, created.id, state, 0)

    status = c.integrations.get(owner, created.id).status

    assert status is not None
    assert status.model_dump() == {
        "health": "backing_off",
        "lastRunAt": 1_000,
        "lastSuccessAt": 500,
        "lastError": {"type": "throttled", "message": "OverLimitException"},
        "cursor": {"feeds": {"StatusData": "00000000000001a2"}},
        "backoffUntil": 2_000,
        "consecutiveFailures": 1,
        "totals": {"runs": 2, "records": 7, "readings": 6, "skipped": 1, "calls": 3},
    }


def test_another_orgs_integration_is_not_found(c: Container, owner: Principal, setup: tuple[str, str]) -> None:
    created = c.integrations.create(owner, body(*setup))
    other = c.keys.authenticate(c.keys.issue("globex").key)

    for call in (
        lambda: c.integrations.get(other, created.id),
        lambda: c.integrations.delete(other, created.id),
        lambda: c.integrations.start_run(other, created.id),
        lambda: c.integrations.runs(other, created.id),
    ):
        with pytest.raises(NotFound):
            call()
    assert (owner.org_id, created.id) in scheduler(c).schedules


def test_scopes_are_required(c: Container, setup: tuple[str, str]) -> None:
    reader = c.keys.authenticate(c.keys.issue("acme", scopes=["integrations:read"]).key)
    writer = c.keys.authenticate(c.keys.issue("acme", scopes=["integrations:write"]).key)

    with pytest.raises(Forbidden, match="integrations:write"):
        c.integrations.create(reader, body(*setup))
    with pytest.raises(Forbidden, match="integrations:read"):
        c.integrations.list(writer, 10, None)


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"connection": {"server": "my.geotab.com", "feeds": ["StatusData"]}}, "connection/database"),
        ({"connection": {"server": "x", "database": "d", "feeds": []}}, "connection/feeds"),
        ({"connection": {"server": "x", "database": "d", "feeds": ["LogRecord"], "bogus": 1}}, "connection/bogus"),
        ({"provider": "http", "connection": {"url": "https://feed.example/x"}}, "connection/cursorParam"),
        (
            {"provider": "zubie", "connection": {"baseUrl": "ftp://nope"}, "credentials": {"apiKey": "k"}},
            "connection/baseUrl",
        ),
        ({"credentials": {"userName": "u"}}, "credentials/password"),
        ({"credentials": None}, "credentials"),
        ({"provider": "utilityapi", "connection": {}, "credentials": {"apiToken": 5}}, "credentials/apiToken"),
        ({"templateId": "tmpl_missing"}, "templateId"),
    ],
)
def test_invalid_bodies_name_the_field(
    c: Container, owner: Principal, setup: tuple[str, str], change: dict[str, Any], path: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        c.integrations.create(owner, body(*setup, **change))

    assert path in paths(caught.value)
    assert "s3cr3t" not in str(caught.value.errors)
    assert scheduler(c).schedules == {} and secrets(c).secrets == {}


def test_a_template_of_another_target_is_refused(c: Container, owner: Principal, setup: tuple[str, str]) -> None:
    wrong = template(c, owner, TemplateTarget.ThingData)

    with pytest.raises(ValidationFailed) as caught:
        c.integrations.create(owner, body(wrong, setup[1]))

    assert caught.value.errors[0].path == ("templateId",)
    assert "ThingData" in caught.value.errors[0].message


def test_a_repeated_external_id_is_refused(c: Container, owner: Principal, setup: tuple[str, str]) -> None:
    tid, thing = setup
    resources = [{"externalId": "b1", "thingId": thing}, {"externalId": "b1", "thingId": thing}]

    with pytest.raises(ValidationFailed) as caught:
        c.integrations.create(owner, body(tid, thing, resources=resources))

    assert paths(caught.value) == ["resources/1/externalId"]


def test_a_thing_of_another_org_is_not_found_naming_the_resource(
    c: Container, owner: Principal, setup: tuple[str, str]
) -> None:
    other = c.keys.authenticate(c.keys.issue("globex").key)
    _, foreign = place_and_thing(c, other, "theirs")

    with pytest.raises(NotFound) as caught:
        c.integrations.create(owner, body(setup[0], foreign))

    assert paths(caught.value) == ["resources/0/thingId"]


# ------------------------------------------------------------------ filtered keys


def test_a_filtered_key_maps_and_sees_only_things_inside_its_filter(
    c: Container, owner: Principal, setup: tuple[str, str]
) -> None:
    tid, inside = setup
    _, outside = place_and_thing(c, owner, "elsewhere")
    narrow = c.keys.authenticate(c.keys.issue("acme", filters=ResourceFilters(things=[inside])).key)
    outside_integration = c.integrations.create(owner, body(tid, outside))

    with pytest.raises(NotFound) as caught:
        c.integrations.create(narrow, body(tid, outside))
    assert paths(caught.value) == ["resources/0/thingId"]
    mine = c.integrations.create(narrow, body(tid, inside))

    assert [i.id for i in c.integrations.list(narrow, 50, None).items] == [mine.id]
    with pytest.raises(NotFound):
        c.integrations.get(narrow, outside_integration.id)
    assert {i.id for i in c.integrations.list(owner, 50, None).items} == {mine.id, outside_integration.id}


# ------------------------------------------------------------------ replace / delete


def test_replace_keeps_credentials_when_left_out_and_moves_the_schedule(
    c: Container, owner: Principal, setup: tuple[str, str]
) -> None:
    created = c.integrations.create(owner, body(*setup))
    arn = secrets(c).arn(secret_name(owner.org_id, created.id))

    replaced = c.integrations.replace(
        owner, created.id, body(*setup, credentials=None, scheduleMinutes=60, enabled=False)
    )

    assert replaced.credentialsSet and secrets(c).get(arn) == CREDENTIALS
    assert replaced.createdAt == created.createdAt and replaced.scheduleMinutes == 60
    assert scheduler(c).schedules[(owner.org_id, created.id)] == FakeSchedule(60, False)

    c.integrations.replace(owner, created.id, body(*setup, credentials={"userName": "u2", "password": "p2"}))
    assert secrets(c).get(arn) == {"userName": "u2", "password": "p2"}


def test_changing_the_provider_needs_new_credentials(c: Container, owner: Principal, setup: tuple[str, str]) -> None:
    created = c.integrations.create(owner, body(*setup))

    with pytest.raises(ValidationFailed) as caught:
        c.integrations.replace(owner, created.id, body(*setup, provider="zubie", connection={}, credentials=None))

    assert paths(caught.value) == ["credentials"]


def test_delete_removes_schedule_secret_state_and_runs(c: Container, owner: Principal, setup: tuple[str, str]) -> None:
    created = c.integrations.create(owner, body(*setup))
    c.integrations.start_run(owner, created.id)

    c.integrations.delete(owner, created.id)

    assert scheduler(c).schedules == {} and secrets(c).secrets == {}
    assert c.integration_ports.repo.runs(owner.org_id, created.id) == []
    with pytest.raises(NotFound):
        c.integrations.get(owner, created.id)


def test_a_scheduler_failure_on_create_leaves_nothing_behind(
    c: Container, owner: Principal, setup: tuple[str, str]
) -> None:
    scheduler(c).fail = True

    with pytest.raises(Unavailable):
        c.integrations.create(owner, body(*setup))

    assert c.integrations.list(owner, 50, None).items == [] and secrets(c).secrets == {}


# ------------------------------------------------------------------ runs


def test_start_run_queues_a_manual_step_and_lists_it(c: Container, owner: Principal, setup: tuple[str, str]) -> None:
    created = c.integrations.create(owner, body(*setup))

    first = c.integrations.start_run(owner, created.id)
    second = c.integrations.start_run(owner, created.id)

    assert first.state == "queued" and first.reason == "manual" and first.runId.startswith("run_")
    assert pull_queue(c).steps == [
        PullStep(owner.org_id, created.id, first.runId, reason="manual"),
        PullStep(owner.org_id, created.id, second.runId, reason="manual"),
    ]
    assert [r.runId for r in c.integrations.runs(owner, created.id).items] == [second.runId, first.runId]


def test_a_refused_step_records_the_run_as_failed(c: Container, owner: Principal, setup: tuple[str, str]) -> None:
    created = c.integrations.create(owner, body(*setup))
    pull_queue(c).fail = True

    with pytest.raises(Unavailable):
        c.integrations.start_run(owner, created.id)

    (run,) = c.integrations.runs(owner, created.id).items
    assert run.state == "failed" and run.error == {"type": "unavailable", "message": "the pull queue refused the step"}
