"""IntegrationRepository on the in-memory ItemStore (same semantics as the DynamoDB adapter)."""

from __future__ import annotations

import threading

import pytest
from telemetry.errors import Conflict, NotFound
from telemetry.ids import new_sortable_id
from telemetry.models.integrations import Integration, IntegrationRun, IntegrationState
from telemetry.repositories.integrations import IntegrationRepository

from tests.fakes.items import InMemoryItemStore


@pytest.fixture
def repo() -> IntegrationRepository:
    return IntegrationRepository(InMemoryItemStore())


def integration(integration_id: str = "intg_a", **kw: object) -> Integration:
    body: dict[str, object] = {
        "id": integration_id,
        "name": "fleet",
        "provider": "geotab",
        "connection": {"server": "my.geotab.com", "database": "acme", "feeds": ["StatusData"]},
        "credentialsSet": True,
        "scheduleMinutes": 15,
        "resources": [{"externalId": "b1", "thingId": "thing_1"}],
        "templateId": "tmpl_1",
        "enabled": True,
        "createdAt": "2026-12-02T18:00:00Z",
        "updatedAt": "2026-12-02T18:00:00Z",
        **kw,
    }
    return Integration.model_validate(body)


def run(run_id: str, integration_id: str = "intg_a", queued_ms: int = 1) -> IntegrationRun:
    return IntegrationRun(run_id=run_id, integration_id=integration_id, reason="manual", queued_ms=queued_ms)


# ------------------------------------------------------------------ configuration


def test_create_then_get_returns_the_integration_its_version_and_secret_arn(repo: IntegrationRepository) -> None:
    repo.create("org_1", integration(), secret_arn="arn:secret")

    stored = repo.get("org_1", "intg_a")

    assert stored.integration == integration()
    assert stored.ver == 1
    assert stored.secret_arn == "arn:secret"


def test_get_of_another_org_or_unknown_id_is_not_found(repo: IntegrationRepository) -> None:
    repo.create("org_1", integration())

    with pytest.raises(NotFound):
        repo.get("org_2", "intg_a")
    with pytest.raises(NotFound):
        repo.get("org_1", "intg_b")
    assert repo.find("org_2", "intg_a") is None


def test_create_twice_is_a_conflict(repo: IntegrationRepository) -> None:
    repo.create("org_1", integration())
    with pytest.raises(Conflict):
        repo.create("org_1", integration())


def test_status_is_not_stored_with_the_configuration(repo: IntegrationRepository) -> None:
    with_status = integration().model_copy(update={"status": IntegrationState().as_status()})
    repo.create("org_1", with_status)

    assert repo.get("org_1", "intg_a").integration.status is None


def test_replace_at_the_read_version_wins_and_a_stale_version_loses(repo: IntegrationRepository) -> None:
    repo.create("org_1", integration(), secret_arn="arn:1")
    read = repo.get("org_1", "intg_a")

    repo.replace("org_1", integration(name="renamed"), read.ver, secret_arn="arn:1")
    with pytest.raises(Conflict):
        repo.replace("org_1", integration(name="lost update"), read.ver, secret_arn="arn:1")

    now = repo.get("org_1", "intg_a")
    assert now.integration.name == "renamed"
    assert now.ver == read.ver + 1


def test_list_pages_in_id_order_and_stays_in_the_org(repo: IntegrationRepository) -> None:
    for i in range(5):
        repo.create("org_1", integration(f"intg_{i}"))
    repo.create("org_2", integration("intg_other"))
    repo.save_state("org_1", "intg_0", IntegrationState(health="ok"), 0)
    repo.put_run("org_1", run("run_1", "intg_0"))

    first, token = repo.list("org_1", 2, None)
    second, token2 = repo.list("org_1", 2, token)
    third, token3 = repo.list("org_1", 2, token2)

    ids = [s.integration.id for s in first + second + third]
    assert ids == ["intg_0", "intg_1", "intg_2", "intg_3", "intg_4"]
    assert token and token2 and token3 is None


def test_delete_removes_configuration_state_lease_and_runs(repo: IntegrationRepository) -> None:
    store = repo.store
    assert isinstance(store, InMemoryItemStore)
    repo.create("org_1", integration("intg_a"))
    repo.create("org_1", integration("intg_ab"))  # its runs share no prefix with intg_a's
    repo.save_state("org_1", "intg_a", IntegrationState(health="ok"), 0)
    repo.take_lease("org_1", "intg_a", "step-1", now_ms=0, ttl_ms=60_000)
    for i in range(150):
        repo.put_run("org_1", run(f"run_{i:04d}", "intg_a"))
    repo.put_run("org_1", run("run_keep", "intg_ab"))

    repo.delete("org_1", "intg_a")

    assert repo.find("org_1", "intg_a") is None
    assert repo.state("org_1", "intg_a") == IntegrationState()
    assert repo.runs("org_1", "intg_a") == []
    assert repo.take_lease("org_1", "intg_a", "step-2", now_ms=1, ttl_ms=60_000)
    assert [r.run_id for r in repo.runs("org_1", "intg_ab")] == ["run_keep"]
    assert repo.find("org_1", "intg_ab") is not None


# ------------------------------------------------------------------ state


def test_state_of_a_never_run_integration_is_fresh(repo: IntegrationRepository) -> None:
    state = repo.state("org_1", "intg_a")

    assert state.cursor_rev == 0 and state.cursor is None and state.health == "never_run"
    assert state.totals == {"runs": 0, "records": 0, "readings": 0, "skipped": 0, "calls": 0}


def test_save_state_round_trips_and_advances_the_revision(repo: IntegrationRepository) -> None:
    state = IntegrationState(
        cursor={"feeds": {"StatusData": "0000000000abc"}},
        health="backing_off",
        backoff_until_ms=5_000,
        last_run_ms=1_000,
        last_success_ms=900,
        last_error={"type": "throttled", "message": "OverLimitException"},
        consecutive_failures=2,
        totals={"runs": 3, "records": 10, "readings": 8, "skipped": 2, "calls": 4},
    )

    assert repo.save_state("org_1", "intg_a", state, expected_rev=0)

    read = repo.state("org_1", "intg_a")
    assert read.cursor_rev == 1 and state.cursor_rev == 1
    assert read == state


def test_save_state_with_a_stale_revision_loses_and_writes_nothing(repo: IntegrationRepository) -> None:
    read = repo.state("org_1", "intg_a")
    assert repo.save_state("org_1", "intg_a", IntegrationState(cursor={"c": "winner"}), read.cursor_rev)

    assert not repo.save_state("org_1", "intg_a", IntegrationState(cursor={"c": "loser"}), read.cursor_rev)

    now = repo.state("org_1", "intg_a")
    assert now.cursor == {"c": "winner"} and now.cursor_rev == 1


def test_two_concurrent_saves_from_the_same_revision_one_wins(repo: IntegrationRepository) -> None:
    repo.save_state("org_1", "intg_a", IntegrationState(), 0)
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def save(label: str) -> None:
        barrier.wait()
        results.append(repo.save_state("org_1", "intg_a", IntegrationState(cursor={"c": label}), 1))

    threads = [threading.Thread(target=save, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == [False, True]
    assert repo.state("org_1", "intg_a").cursor_rev == 2


def test_taking_the_lease_does_not_change_the_state_revision(repo: IntegrationRepository) -> None:
    repo.save_state("org_1", "intg_a", IntegrationState(), 0)
    assert repo.take_lease("org_1", "intg_a", "step-1", now_ms=0, ttl_ms=1000)

    assert repo.save_state("org_1", "intg_a", IntegrationState(cursor={"c": 1}), 1)


# ------------------------------------------------------------------ lease


def test_of_two_takers_one_wins(repo: IntegrationRepository) -> None:
    barrier = threading.Barrier(2)
    results: dict[str, bool] = {}

    def take(owner: str) -> None:
        barrier.wait()
        results[owner] = repo.take_lease("org_1", "intg_a", owner, now_ms=1_000, ttl_ms=60_000)

    threads = [threading.Thread(target=take, args=(o,)) for o in ("step-a", "step-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results.values()) == [False, True]


def test_a_held_lease_is_refused_and_an_expired_one_can_be_taken(repo: IntegrationRepository) -> None:
    assert repo.take_lease("org_1", "intg_a", "step-a", now_ms=1_000, ttl_ms=60_000)

    assert not repo.take_lease("org_1", "intg_a", "step-b", now_ms=60_999, ttl_ms=60_000)
    assert repo.take_lease("org_1", "intg_a", "step-b", now_ms=61_000, ttl_ms=60_000)


def test_the_lease_is_per_integration_and_per_org(repo: IntegrationRepository) -> None:
    assert repo.take_lease("org_1", "intg_a", "s", now_ms=0, ttl_ms=60_000)
    assert repo.take_lease("org_1", "intg_b", "s", now_ms=0, ttl_ms=60_000)
    assert repo.take_lease("org_2", "intg_a", "s", now_ms=0, ttl_ms=60_000)


def test_release_frees_the_lease_for_its_owner_only(repo: IntegrationRepository) -> None:
    repo.take_lease("org_1", "intg_a", "step-a", now_ms=0, ttl_ms=60_000)

    repo.release_lease("org_1", "intg_a", "step-b")
    assert not repo.take_lease("org_1", "intg_a", "step-c", now_ms=1, ttl_ms=60_000)

    repo.release_lease("org_1", "intg_a", "step-a")
    assert repo.take_lease("org_1", "intg_a", "step-c", now_ms=2, ttl_ms=60_000)


def test_a_late_release_does_not_free_a_lease_another_step_took_after_expiry(repo: IntegrationRepository) -> None:
    repo.take_lease("org_1", "intg_a", "slow", now_ms=0, ttl_ms=1_000)
    assert repo.take_lease("org_1", "intg_a", "next", now_ms=1_000, ttl_ms=60_000)

    repo.release_lease("org_1", "intg_a", "slow")

    assert not repo.take_lease("org_1", "intg_a", "third", now_ms=2_000, ttl_ms=60_000)


# ------------------------------------------------------------------ runs


def test_runs_are_listed_newest_first_and_limited(repo: IntegrationRepository) -> None:
    ids = [new_sortable_id("run", ms) for ms in (1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000)]
    for i, run_id in enumerate(ids):
        repo.put_run("org_1", run(run_id, queued_ms=i))
    repo.put_run("org_1", run(new_sortable_id("run", 1_900_000_000_000), "intg_b"))

    assert [r.run_id for r in repo.runs("org_1", "intg_a")] == list(reversed(ids))
    assert [r.run_id for r in repo.runs("org_1", "intg_a", limit=2)] == [ids[2], ids[1]]
    assert repo.runs("org_2", "intg_a") == []


def test_put_run_overwrites_and_get_run_reads_it_back(repo: IntegrationRepository) -> None:
    queued = run("run_1")
    repo.put_run("org_1", queued)
    done = IntegrationRun(
        run_id="run_1",
        integration_id="intg_a",
        reason="manual",
        state="succeeded",
        queued_ms=1,
        started_ms=2,
        finished_ms=3,
        report={"recordsParsed": 2, "readingsWritten": 2},
        pages=1,
    )
    repo.put_run("org_1", done)

    assert repo.get_run("org_1", "intg_a", "run_1") == done
    assert repo.get_run("org_1", "intg_a", "run_2") is None
    assert repo.get_run("org_2", "intg_a", "run_1") is None


def test_sortable_ids_sort_by_time() -> None:
    earlier, later = new_sortable_id("run", 999), new_sortable_id("run", 1000)
    assert earlier.startswith("run_") and earlier < later
    assert len(new_sortable_id("run", 4_102_444_800_000)) == len(earlier)


def test_sortable_ids_of_the_same_millisecond_sort_in_creation_order() -> None:
    made = [new_sortable_id("run", 1_764_698_400_000) for _ in range(200)]

    assert made == sorted(made) and len(set(made)) == 200
