"""What a cold start imports (docs/performance.md, "Cold start"): checked in fresh interpreters.

The figures themselves are bench/bench_cold_start.py's; these tests pin the structural gains so
a later change cannot silently bring the heavy imports back. Each failed on the code before the
change it pins (the authorizer loaded pydantic through KeyService; clients came from boto3).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _child(code: str) -> dict[str, object]:
    env = {"PYTHONPATH": f"{REPO / 'layers' / 'domain'}:{REPO}", "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False, cwd=REPO, timeout=60
    )
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def test_authenticating_a_key_imports_no_pydantic() -> None:
    out = _child(
        """
import json, sys
from telemetry.bootstrap import bootstrap
from telemetry.settings import Settings
from telemetry.ports.definitions import Stored
from telemetry.repositories.api_keys import KEY_HASH_SK, key_hash_pk
from telemetry.services.authn import hash_secret

class Store:  # the one read authenticating makes (tests.fakes imports pydantic models)
    items = {}
    def get(self, pk, sk):
        doc = self.items.get((pk, sk))
        return Stored(pk, sk, doc, 1) if doc else None

store = Store()
key = "avy_" + "k" * 43
doc = {"id": "key_1", "orgId": "org_1", "keyHash": hash_secret(key), "prefix": "avy_kkkk", "scopes": ["things:read"],
       "filters": {"places": ["site_1"], "things": []}, "createdAt": "2024-01-01T00:00:00Z",
       "revoked": False, "expiresAt": "9999-01-01T00:00:00Z"}
store.items[(key_hash_pk(hash_secret(key)), KEY_HASH_SK)] = doc
who = bootstrap(Settings.from_env({}), store=store).authenticator.authenticate(key)
print(json.dumps({"org": who.org_id, "places": sorted(who.place_filter), "expires": who.expires_at_ms,
                  "heavy": sorted(m for m in ("pydantic", "boto3", "aws_lambda_powertools") if m in sys.modules)}))
"""
    )
    assert out == {"org": "org_1", "places": ["site_1"], "expires": 253370764800000, "heavy": []}


def test_clients_come_from_one_botocore_session_without_boto3() -> None:
    out = _child(
        """
import json, sys
from telemetry.adapters import aws_clients
a = aws_clients.aws_client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
session = aws_clients._session
b = aws_clients.aws_client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
print(json.dumps({"boto3": "boto3" in sys.modules, "one_session": aws_clients._session is session,
                  "services": [a.meta.service_model.service_name, b.meta.service_model.service_name]}))
"""
    )
    assert out == {"boto3": False, "one_session": True, "services": ["sqs", "dynamodb"]}


def test_the_writer_loads_no_asyncio_and_no_powertools_batch_utility() -> None:
    # powertools' batch module imports asyncio (its async processor) and every event data class:
    # ~40 ms of the writer's cold start for a loop over event["Records"]
    out = _child(
        f"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("writer_app", {str(REPO / "functions" / "writer" / "app.py")!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps({{"heavy": sorted(m for m in ("asyncio", "aws_lambda_powertools.utilities.batch",
                   "aws_lambda_powertools.utilities.data_classes") if m in sys.modules)}}))
"""
    )
    assert out == {"heavy": []}
