"""The pull step (services/integrations/pull.py) on the in-memory ports, with a scripted connector
and the test mapper standing in for the real connectors and template mapping (tests/fakes/integrations.py)."""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import replace
from typing import Any

import orjson
import pytest
from telemetry.models.integrations import Integration, IntegrationRun
from telemetry.models.metrics import MetricCreate
from telemetry.models.places import PlaceCreate, PlaceKind
from telemetry.models.readings import SeriesKind
from telemetry.models.thing_types import ThingTypeCreate
from telemetry.models.things import ThingCreate
from telemetry.ports.integrations import (
    EgressRefused,
    ProviderAuthFailed,
    ProviderThrottled,
    ProviderUnavailable,
    PullStep,
)
from telemetry.repositories.integrations import IntegrationRepository
from telemetry.services.integrations.pull import IntegrationPull, PullSettings, merge_reports, scrub
from telemetry.services.writer import parse_message, write_batch
from telemetry.validation import parse

from tests.fakes import in_memory_container
from tests.fakes.integrations import InMemoryPullQueue, InMemorySecretStore, ScriptedConnector, simple_mapper
from tests.fakes.readings import InMemoryReadingQueue, InMemoryReadingStore

NOW = 1_780_000_000_000
PASSWORD = "hunter2-correct-horse"
ORG = "acme"


class World:
    """One organization, a typed thing mapped from external id ``dev1``, a template, an integration."""

    def __init__(self, records: list[dict[str, Any]] | None = None, page_size: int = 2) -> None:
        self.c = in_memory_container()
        who = self.c.keys.authenticate(self.c.keys.issue(ORG).key)
        self.org = who.org_id
        self.soc = self.c.metrics.create(
            who, parse(MetricCreate, {"name": "soc", "dataType": "Double", "defaultAggregation": "Avg"})
        ).id
        type_id = self.c.thing_types.create(who, ThingTypeCreate(displayName="EV", metricIds=[self.soc])).id
        site = self.c.places.create(who, PlaceKind.site, PlaceCreate(name="HQ")).id
        self.thing = self.c.things.create(who, PlaceKind.site, site, ThingCreate(thingName="v", thingTypeId=type_id)).id
        spec: dict[str, Any] = {
            "timestamp": {"source": {"pointer": "/t"}, "format": "epoch_ms"},
            "mappings": [{"metricId": self.soc, "source": {"pointer": "/soc"}}],
        }
        body = {"name": "t", "target": "ThingData", "format": "JsonPointer", "spec": spec}
        self.template = self.c.templates.create(who, orjson.dumps(body)).id
        self.repo = IntegrationRepository(self.c.store)
        self.secrets = InMemorySecretStore()
        self.pulls = InMemoryPullQueue()
        self.connector = ScriptedConnector(records=records if records is not None else [], page_size=page_size)
        arn = self.secrets.put(f"integrations/{self.org}/intg_a", {"userName": "u", "password": PASSWORD})
        self.repo.create(self.org, self.integration(), arn)
        self.pull = IntegrationPull(
            self.repo,
            self.c.templates.catalog,
            self.c.contexts,
            self.secrets,
            lambda provider: self.connector,
            simple_mapper,
            lambda: self.c.queue,
            lambda: self.pulls,
            PullSettings(lease_ms=90_000, backoff_base_ms=30_000, backoff_max_ms=900_000),
            random.Random(7),
        )

    def integration(self, **changes: Any) -> Integration:
        doc: dict[str, Any] = {
            "id": "intg_a",
            "name": "fleet",
            "provider": "http",
            "connection": {"url": "https://feed.example/x", "recordType": "Reading"},
            "credentialsSet": True,
            "resources": [{"externalId": "dev1", "thingId": self.thing}],
            "templateId": self.template,
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z",
            **changes,
        }
        return Integration.model_validate(doc)

    @property
    def queue(self) -> InMemoryReadingQueue:
        return self.c.queue  # type: ignore[return-value]

    def step(self, reason: str = "schedule", at: int = NOW, attempt: int = 1, **kw: Any) -> Any:
        return self.pull.step(PullStep(self.org, "intg_a", reason=reason, **kw), at, attempt)

    def state(self) -> Any:
        return self.repo.state(self.org, "intg_a")

    def runs(self) -> list[IntegrationRun]:
        return self.repo.runs(self.org, "intg_a")

    def readings(self) -> list[tuple[int, Any]]:
        return [(r.time, r.measures[self.soc].value) for b in self.queue.batches for r in b.records]


def feed(w: World, n: int) -> list[dict[str, Any]]:
    return [{"device": "dev1", "t": NOW - 60_000 * (n - i), "values": {w.soc: float(i)}} for i in range(n)]


@pytest.fixture
def w() -> World:
    world = World()
    world.connector.records = feed(world, 5)
    return world


# --------------------------------------------------------------------------- paging and cursors


def test_a_run_pages_to_the_end_one_step_per_page_each_page_its_own_batch(w: World) -> None:
    # Given a feed of 5 records served 2 per page
    # When the scheduled step runs, then every step it sends on
    first = w.step()
    assert first.state == "running" and first.more and first.records == 2
    steps = 1
    while w.pulls.steps:
        nxt = w.pulls.steps.pop(0)
        assert nxt.reason == "continue" and nxt.run_id == first.run_id
        last = w.pull.step(nxt, NOW + steps)
        steps += 1
    # Then three steps ran, three batches were enqueued (one per page), every reading once
    assert steps == 3 and last.state == "succeeded" and not last.more
    assert len(w.queue.batches) == 3
    assert [v for _, v in w.readings()] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert {r.kind for b in w.queue.batches for r in b.records} == {SeriesKind.THING}
    # and the cursor is at the end, the run one run of 3 pages with the merged report
    state = w.state()
    assert state.cursor == {"offset": 5} and state.health == "ok" and state.last_success_ms == NOW + 2
    assert state.totals == {"runs": 1, "records": 5, "readings": 5, "skipped": 0, "calls": 3}
    (run,) = w.runs()
    assert run.state == "succeeded" and run.pages == 3 and run.report is not None
    assert run.report["recordsParsed"] == 5 and run.report["readingsWritten"] == 5


def test_the_cursor_persists_across_runs_and_the_next_run_starts_after_it(w: World) -> None:
    w.connector.page_size = 10
    assert w.step().state == "succeeded"
    # new data arrives at the provider
    w.connector.records += [{"device": "dev1", "t": NOW + 1000, "values": {w.soc: 99.0}}]
    out = w.step(at=NOW + 900_000)
    assert out.state == "succeeded" and out.records == 1
    assert w.connector.calls[-1].cursor == {"offset": 5}
    assert w.connector.calls[0].cursor is None and w.connector.calls[0].start_ms == NOW - 24 * 3600 * 1000
    assert w.readings()[-1] == (NOW + 1000, 99.0)
    assert w.state().totals["runs"] == 2 and len(w.runs()) == 2


def test_an_empty_page_succeeds_and_keeps_the_cursor(w: World) -> None:
    w.connector.records = []
    out = w.step()
    assert out.state == "succeeded" and out.records == 0
    assert w.queue.batches == [] and w.state().cursor == {"offset": 0}


def test_the_connector_is_asked_with_the_secret_and_the_mapped_external_ids(w: World) -> None:
    w.step()
    request = w.connector.calls[0]
    assert request.credentials == {"userName": "u", "password": PASSWORD}
    assert list(request.external_ids) == ["dev1"] and request.connection["recordType"] == "Reading"


def test_refreshed_credentials_are_written_back_to_the_secret(w: World) -> None:
    w.connector.credentials_back = {"sessionId": "s-2", "path": "my2.geotab.com"}
    w.step()
    (stored,) = w.secrets.secrets.values()
    assert stored == {"userName": "u", "password": PASSWORD, "sessionId": "s-2", "path": "my2.geotab.com"}


def test_a_record_that_fails_mapping_is_reported_and_the_rest_go_through(w: World) -> None:
    w.connector.page_size = 10
    w.connector.records = [
        {"device": "dev1", "t": NOW - 2000, "values": {w.soc: 1.0}},
        {"device": "dev1", "values": {w.soc: 2.0}},  # no timestamp
        {"device": "unknown", "t": NOW - 1000, "values": {w.soc: 3.0}},  # no resource maps it
        {"device": "dev1", "t": NOW - 500, "values": {w.soc: 4.0}},
    ]
    out = w.step()
    assert out.state == "succeeded" and out.readings == 2
    assert w.readings() == [(NOW - 2000, 1.0), (NOW - 500, 4.0)]
    (run,) = w.runs()
    assert run.report is not None
    assert run.report["recordsSkipped"] == [
        {"index": 1, "reason": "missing_timestamp", "page": 1},
        {"index": 2, "reason": "unmapped_thing", "page": 1},
    ]
    assert w.state().totals["skipped"] == 2


def test_records_pushed_by_a_webhook_are_mapped_without_a_provider_call(w: World) -> None:
    out = w.step("webhook", pushed=[{"device": "dev1", "t": NOW - 1, "values": {w.soc: 42.0}}])
    assert out.state == "succeeded" and out.reason == "pushed" and w.connector.calls == []
    assert w.readings() == [(NOW - 1, 42.0)]
    assert w.state().cursor is None  # the pull cursor did not move


def test_pushed_records_go_through_a_throttle_back_off_and_leave_it_in_place(w: World) -> None:
    w.connector.faults = [ProviderThrottled("quota exceeded", 600)]
    w.step()
    out = w.step("webhook", at=NOW + 1000, pushed=[{"device": "dev1", "t": NOW - 1, "values": {w.soc: 7.0}}])
    assert out.reason == "pushed" and w.readings() == [(NOW - 1, 7.0)]
    state = w.state()
    assert state.health == "backing_off" and state.backoff_until_ms == NOW + 600_000
    assert len(w.connector.calls) == 1  # the throttled call only


def test_pushed_records_meeting_a_held_lease_are_retried_not_dropped(w: World) -> None:
    assert w.repo.take_lease(w.org, "intg_a", "someone-else", NOW, 90_000)
    out = w.step("webhook", pushed=[{"device": "dev1", "t": NOW - 1, "values": {w.soc: 7.0}}])
    assert out.reason == "leased" and out.redeliver and w.queue.batches == []


# --------------------------------------------------------------------------- skips


def test_a_deleted_or_disabled_integration_is_skipped_not_an_error(w: World) -> None:
    stored = w.repo.get(w.org, "intg_a")
    w.repo.replace(w.org, w.integration(enabled=False), stored.ver, stored.secret_arn)
    out = w.step()
    assert (out.state, out.reason, out.redeliver) == ("skipped", "disabled", False)
    w.repo.delete(w.org, "intg_a")
    out = w.step()
    assert (out.state, out.reason, out.redeliver) == ("skipped", "gone", False)
    assert w.connector.calls == []


def test_a_skipped_manual_run_says_why(w: World) -> None:
    w.repo.put_run(w.org, IntegrationRun(run_id="run_1", integration_id="intg_a", reason="manual", queued_ms=NOW))
    w.connector.faults = [ProviderThrottled("quota exceeded", 60)]
    w.step()
    out = w.step("manual", at=NOW + 1000, run_id="run_1")
    assert out.state == "skipped" and out.reason == "backing_off"
    run = w.repo.get_run(w.org, "intg_a", "run_1")
    assert run is not None and run.state == "skipped" and run.error is not None
    assert run.error["type"] == "backing_off"


def test_two_concurrent_steps_of_one_integration_one_skips(w: World) -> None:
    # Given two steps released at the same instant, the winner held inside its provider call
    barrier = threading.Barrier(2)
    loser_done = threading.Event()

    def hold() -> None:
        assert loser_done.wait(5), "the other step never finished"

    w.connector.gate = hold
    outcomes: list[Any] = []

    def run_step() -> None:
        barrier.wait()
        out = w.step()
        if out.reason == "leased":
            loser_done.set()
        outcomes.append(out)

    threads = [threading.Thread(target=run_step) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    # Then exactly one pulled and the other skipped on the lease; the provider was called once
    assert sorted(o.reason for o in outcomes) == ["leased", "pulled"]
    assert len(w.connector.calls) == 1 and len(w.queue.batches) == 1
    # and the lease is free again afterwards
    assert w.step(at=NOW + 1).reason == "pulled"


def test_a_step_that_lost_the_cursor_race_enqueues_no_more(w: World) -> None:
    # Given another step saves the state while ours is inside its provider call (our lease expired)
    def another_step_saves() -> None:
        state = w.repo.state(w.org, "intg_a")
        w.repo.save_state(w.org, "intg_a", replace(state, cursor={"offset": 4}), state.cursor_rev)

    w.connector.gate = another_step_saves
    out = w.step()
    # Then ours moves nothing and sends no next step, although the page said "more"
    assert out.state == "skipped" and out.reason == "cursor_race" and not out.more
    assert w.pulls.steps == [] and w.state().cursor == {"offset": 4}


# --------------------------------------------------------------------------- faults


def test_throttled_backs_off_until_retry_after_with_no_call_before_it(w: World) -> None:
    w.connector.faults = [ProviderThrottled("API calls quota exceeded", 58)]
    out = w.step()
    assert out.state == "failed" and not out.redeliver
    state = w.state()
    assert state.backoff_until_ms == NOW + 58_000 and state.health == "backing_off"
    assert state.last_error == {"type": "throttled", "message": "API calls quota exceeded"}
    assert state.cursor is None
    # a step before Retry-After is over calls no one
    assert w.step(at=NOW + 57_999).reason == "backing_off"
    assert len(w.connector.calls) == 1
    # after it, the provider is called again and the health recovers
    assert w.step(at=NOW + 58_000).reason == "pulled"
    assert len(w.connector.calls) == 2 and w.state().health == "ok" and w.state().backoff_until_ms is None


def test_throttled_without_retry_after_backs_off_exponentially_with_jitter(w: World) -> None:
    delays = []
    at = NOW
    for _ in range(3):
        w.connector.faults = [ProviderThrottled("429", None)]
        assert w.step(at=at).reason == "throttled"
        until = w.state().backoff_until_ms
        assert until is not None
        delays.append(until - at)
        at = until
    # base 30 s doubling, each at least half of its step and at most all of it
    for n, delay in enumerate(delays):
        full = 30_000 * 2**n
        assert full // 2 <= delay <= full
    assert w.state().consecutive_failures == 3


@pytest.mark.parametrize("fault", [ProviderAuthFailed("InvalidUserException"), EgressRefused("10.0.0.1 is private")])
def test_bad_credentials_or_refused_egress_need_attention_without_a_retry_storm(w: World, fault: Exception) -> None:
    w.connector.faults = [fault]
    out = w.step()
    # the message is consumed (no redelivery) and the integration needs a human
    assert out.state == "failed" and not out.redeliver
    state = w.state()
    assert state.health == "needs_attention" and state.last_error is not None
    assert state.last_error["type"] in ("auth_failed", "egress_refused") and state.backoff_until_ms is None
    # scheduled ticks and webhooks skip without calling the provider
    assert w.step(at=NOW + 900_000).reason == "needs_attention"
    assert w.step("webhook", at=NOW + 900_001).reason == "needs_attention"
    assert len(w.connector.calls) == 1
    # a manual run tries again
    assert w.step("manual", at=NOW + 900_002).reason == "pulled"


def test_needs_attention_ends_when_the_integration_is_replaced(w: World) -> None:
    w.connector.faults = [ProviderAuthFailed("bad password")]
    w.step()
    stored = w.repo.get(w.org, "intg_a")
    w.repo.replace(w.org, w.integration(updatedAt="2026-01-02T00:00:00Z"), stored.ver, stored.secret_arn)
    assert w.step(at=NOW + 1).reason == "needs_attention"  # replaced before the failure: still waits
    stored = w.repo.get(w.org, "intg_a")
    w.repo.replace(w.org, w.integration(updatedAt="2026-12-31T00:00:00Z"), stored.ver, stored.secret_arn)
    assert w.step(at=NOW + 2).reason == "pulled" and w.state().health == "ok"


def test_a_deleted_template_needs_attention_and_calls_no_provider(w: World) -> None:
    who = w.c.keys.authenticate(w.c.keys.issue(ORG).key)
    w.c.templates.delete(who, w.template)
    out = w.step()
    assert out.state == "failed" and out.reason == "configuration" and not out.redeliver
    assert w.state().health == "needs_attention" and w.connector.calls == []


@pytest.mark.parametrize(
    "fault", [ProviderUnavailable("503 from provider"), RuntimeError("socket exploded")], ids=["unavailable", "other"]
)
def test_an_unavailable_provider_leaves_the_cursor_and_redelivers_until_the_dlq(w: World, fault: Exception) -> None:
    assert w.step().state == "running"  # a first page moves the cursor to 2
    w.connector.faults = [fault]
    out = w.step(at=NOW + 1)
    # the message fails (SQS redelivers it; after maxReceiveCount it is in the DLQ)
    assert out.state == "failed" and out.redeliver
    state = w.state()
    assert state.cursor == {"offset": 2} and state.consecutive_failures == 1 and state.health == "failing"
    assert state.backoff_until_ms is not None and NOW + 1 + 15_000 <= state.backoff_until_ms <= NOW + 1 + 30_000
    assert state.last_error is not None and state.last_error["type"] in ("unavailable", "internal")
    # its redelivery inside the back-off fails again without calling the provider...
    calls = len(w.connector.calls)
    again = w.step(at=NOW + 2, attempt=2)
    assert again.redeliver and again.reason == "backing_off" and len(w.connector.calls) == calls
    # ...while a fresh scheduled tick in the same back-off is consumed
    tick = w.step(at=NOW + 3)
    assert tick.state == "skipped" and not tick.redeliver
    # after the back-off the same page is fetched again (cursor 2) and the run recovers
    assert w.step(at=state.backoff_until_ms, attempt=3).reason == "pulled"
    assert w.connector.calls[-1].cursor == {"offset": 2} and w.state().consecutive_failures == 0


def test_a_reading_queue_outage_moves_no_cursor_and_redelivers(w: World) -> None:
    w.queue.fail = True
    out = w.step()
    assert out.redeliver and out.reason == "service-unavailable"
    assert w.state().cursor is None and w.state().health == "failing"


def test_a_pull_queue_outage_after_a_page_redelivers_the_message(w: World) -> None:
    w.pulls.fail = True
    out = w.step()
    assert out.more and out.redeliver
    assert w.state().cursor == {"offset": 2}  # the page itself is done; the redelivery pulls the next


def test_a_crash_between_enqueue_and_cursor_write_stores_the_same_readings_once(w: World) -> None:
    # Given a step that crashes right after the queue acknowledged its page
    real_save = w.repo.save_state
    crashes = iter([True])

    def crash_once(*args: Any, **kwargs: Any) -> bool:
        if next(crashes, False):
            raise RuntimeError("Lambda timed out")
        return real_save(*args, **kwargs)

    w.repo.save_state = crash_once  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):  # the handler fails the message: SQS redelivers it
        w.step()
    # When the retried step re-sends the same page
    assert w.step(at=NOW + 60_000, attempt=2).reason == "pulled"
    assert len(w.queue.batches) == 2 and w.queue.batches[0].records[0].time == w.queue.batches[1].records[0].time
    # Then the writer stores both batches and the store holds each reading once
    store = InMemoryReadingStore()
    for message in w.queue.messages:
        assert write_batch(store, parse_message(message)).dead_lettered == []
    rows, _ = store.history(w.org, SeriesKind.THING, w.thing, 0, NOW + 1)
    assert [(r.time, r.measures[w.soc].value) for r in rows] == [(NOW - 300_000, 0.0), (NOW - 240_000, 1.0)]


def test_credentials_never_reach_the_state_the_run_or_the_logs(w: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    w.connector.faults = [ProviderUnavailable(f"login failed for u/{PASSWORD}"), RuntimeError(f"boom {PASSWORD}")]
    w.step()
    w.step(at=NOW + 3_600_000)
    w.connector.faults = [ProviderAuthFailed(f"password {PASSWORD} refused")]
    w.step(at=NOW + 7_200_000)
    state = w.state()
    assert state.last_error is not None and "***" in state.last_error["message"]
    texts = [orjson.dumps(state.to_doc()).decode(), caplog.text]
    texts += [orjson.dumps(r.to_doc()).decode() for r in w.runs()]
    assert all(PASSWORD not in t for t in texts)


def test_secrets_manager_down_is_a_retried_failure(w: World) -> None:
    w.secrets.fail = True
    out = w.step()
    assert out.redeliver and w.connector.calls == [] and w.state().cursor is None


# --------------------------------------------------------------------------- helpers


def test_scrub_replaces_every_secret_value_at_any_depth() -> None:
    secret = {"password": "p4ssw0rd", "headers": {"Authorization": "Bearer abcdef"}, "short": "abc"}
    assert scrub("x p4ssw0rd y Bearer abcdef abc", secret) == "x *** y *** abc"


def test_merge_reports_sums_counts_across_pages() -> None:
    page1 = {
        "previewOnly": False,
        "templateId": "tmpl_1",
        "templateRevision": 1,
        "recordsParsed": 3,
        "readingsWritten": 2,
        "metricValuesWritten": 2,
        "recordsSkipped": [{"index": 2, "reason": "missing_timestamp"}],
        "metricsSkippedNotOnTtd": ["m2"],
        "fieldsSkippedMissing": [{"metricId": "m1", "count": 1}],
        "fieldsInvalid": [{"metricId": "m1", "reason": "out_of_range", "count": 2}],
    }
    page2 = {**page1, "recordsParsed": 1, "fieldsInvalid": [{"metricId": "m1", "reason": "out_of_range", "count": 1}]}
    merged = merge_reports(merge_reports(None, page1, 1), page2, 2)
    assert merged["recordsParsed"] == 4 and merged["readingsWritten"] == 4
    assert merged["recordsSkipped"] == [
        {"index": 2, "reason": "missing_timestamp", "page": 1},
        {"index": 2, "reason": "missing_timestamp", "page": 2},
    ]
    assert merged["fieldsInvalid"] == [{"metricId": "m1", "reason": "out_of_range", "count": 3}]
    assert merged["fieldsSkippedMissing"] == [{"metricId": "m1", "count": 2}]
    assert merged["metricsSkippedNotOnTtd"] == ["m2"] and merged["previewOnly"] is False


# --------------------------------------------------------------------------- the webhook use case


def test_a_webhook_whose_step_the_queue_refuses_is_503_and_its_run_says_so(w: World) -> None:
    import base64
    import hashlib
    import hmac

    from telemetry.errors import Unavailable
    from telemetry.repositories.integration_hooks import WebhookDirectory
    from telemetry.services.integrations.webhooks import IntegrationWebhooks

    stored = w.repo.get(w.org, "intg_a")
    w.repo.replace(w.org, w.integration(provider="zubie", connection={}), stored.ver, stored.secret_arn)
    assert stored.secret_arn is not None
    w.secrets.put(f"integrations/{w.org}/intg_a", {"apiKey": "k", "webhookSecret": "whsec"})
    hooks = IntegrationWebhooks(WebhookDirectory(w.c.store), w.repo, w.secrets, lambda: w.pulls)
    body = b'{"event":"trip_end"}'
    signature = base64.b64encode(hmac.new(b"whsec", body, hashlib.sha256).digest()).decode()
    w.pulls.fail = True
    with pytest.raises(Unavailable):
        hooks.receive("intg_a", {"Zubie-Signature": signature}, body, at_ms=NOW)
    (run,) = w.runs()
    assert run.reason == "webhook" and run.state == "failed" and run.error is not None
    assert run.error["type"] == "unavailable"
