"""Ingest benchmarks (issue 3): run with `make bench`.

1. Handler throughput for one 1000-frame x 5-metric request through the real Lambda handler
   (authorizer context given) and the real ``SqsReadingQueue``, whose own SQS client answers
   SendMessage from a ``before-call`` hook (botocore serializes the request as it would for the
   wire, configured as deployed; only the HTTP round trip is skipped), interleaved with the floor
   orjson.loads of the body + orjson.dumps of its frames. Target: handler >= 0.5 of the floor's
   speed (issue 11 item 3).
2. Cold import time of the ingest function's module in a fresh interpreter, median of 7.
   Target <= 300 ms. (The first invocation on the built layout is the cold-start bench's.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # the bench helpers beside this script
from _harness import Bench, paired, rest_event, sampled

FRAMES, METRICS = 1000, 5
T0 = 1718884800000


def handler_throughput(bench: Bench) -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        DEFINITIONS_TABLE="bench-definitions",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
        POWERTOOLS_METRICS_NAMESPACE="bench",
        POWERTOOLS_SERVICE_NAME="bench",
    )
    from moto import mock_aws

    with mock_aws():
        import boto3
        from devstack.lambdas import handler_for
        from devstack.resources import create_resources
        from devstack.template import Template
        from telemetry.bootstrap import container
        from telemetry.models.metrics import MetricCreate
        from telemetry.models.places import PlaceCreate, PlaceKind
        from telemetry.models.thing_types import ThingTypeCreate
        from telemetry.models.things import ThingCreate

        template = Template.load(ROOT / "template.yaml")
        created = create_resources(template, boto3.session.Session(region_name="us-east-1"))
        os.environ["DEFINITIONS_TABLE"] = created["DefinitionsTable"].ref
        c = container()

        from botocore.awsrequest import AWSResponse
        from telemetry.adapters.queue_sqs import SqsReadingQueue

        sent = {"n": 0, "bytes": 0}

        def answer(params: dict, **_: object) -> tuple[AWSResponse, dict]:
            sent["n"] += 1
            sent["bytes"] += len(params["body"]) if isinstance(params.get("body"), (bytes, str)) else 0
            return AWSResponse("https://sqs.bench", 200, {}, None), {"MessageId": f"m{sent['n']}"}

        # the adapter's own client, configured as deployed (no client-side parameter validation)
        queue = SqsReadingQueue("https://sqs.us-east-1.amazonaws.com/123456789012/bench")
        queue.client.meta.events.register("before-call.sqs.SendMessage", answer)
        c.__dict__["queue"] = queue
        issued = c.keys.issue("bench")
        who = c.keys.authenticate(issued.key)
        mids = [
            c.metrics.create(who, MetricCreate(name=f"m{i}", dataType="Double", defaultAggregation="Avg")).id
            for i in range(METRICS)
        ]
        type_id = c.thing_types.create(who, ThingTypeCreate(displayName="T", metricIds=mids)).id
        site = c.places.create(who, PlaceKind.site, PlaceCreate(name="S"))
        thing = c.things.create(who, PlaceKind.site, site.id, ThingCreate(thingName="t", thingTypeId=type_id)).id

        frames = [
            {"timestamp": T0 + i * 1000, "metrics": {f"m{j}": 10.0 + i * 0.5 + j for j in range(METRICS)}}
            for i in range(FRAMES)
        ]
        body = orjson.dumps({"frames": frames}).decode()
        handler = handler_for(template, "ThingDataIngestFunction")
        event = rest_event(
            "POST",
            "/v2/thing/{thingId}/data",
            f"/v2/thing/{thing}/data",
            body,
            {"thingId": thing},
            {"orgId": who.org_id, "keyId": who.key_id, "scopes": "*", "filters": "{}", "principalId": who.key_id},
        )

        class Ctx:
            function_name = "bench"
            memory_limit_in_mb = 1024
            invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
            aws_request_id = "bench"

            @staticmethod
            def get_remaining_time_in_millis() -> int:
                return 30_000

        response = handler(event, Ctx())
        assert response["statusCode"] == 200, response
        calls = {"n": 0}
        c.repo.store.client.meta.events.register(
            "before-call.dynamodb.*", lambda **_: calls.__setitem__("n", calls["n"] + 1)
        )  # type: ignore[attr-defined]

        def floor() -> None:
            doc = orjson.loads(body)
            orjson.dumps(doc["frames"])

        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            for _ in range(20):
                handler(event, Ctx())
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(15)
        sent["n"] = 0
        pair = paired(floor, lambda: handler(event, Ctx()), runs=9, number=10)
        assert sent["n"] > 0, "the handler never reached SendMessage"
        bench.ratio(
            f"ingest handler ({FRAMES}x{METRICS} request, real SqsReadingQueue) / floor",
            pair,
            at_least=0.5,
            detail=f"{FRAMES / pair.subject.median:,.0f} frames/s; floor = orjson.loads(body) + orjson.dumps(frames)",
        )
        bench.figure("definition reads on the warm container during the timed runs", calls["n"], "calls", at_most=0)


def cold_import(bench: Bench) -> None:
    code = (
        "import time, importlib.util as u; t=time.perf_counter();"
        "s=u.spec_from_file_location('ingest_app', 'functions/thing_data_ingest/app.py');"
        "m=u.module_from_spec(s); s.loader.exec_module(m); print((time.perf_counter()-t)*1000)"
    )
    env = {
        **os.environ,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "bench",
        "DEFINITIONS_TABLE": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }

    def once() -> float:
        run = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        return float(run.stdout)

    bench.figure(
        "cold import of functions/thing_data_ingest/app.py (fresh interpreter)",
        sampled(once, runs=7),
        "ms",
        at_most=300,
        detail="import only; the first invocation is the built-layout cold-start bench's",
    )


if __name__ == "__main__":
    bench = Bench("bench_ingest")
    handler_throughput(bench)
    cold_import(bench)
    bench.finish()
