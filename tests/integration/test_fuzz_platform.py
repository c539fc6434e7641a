"""Property: whatever a client sends to a platform route, the answer is never a 5xx, its status is
one the route documents in shared/openapi.json, and every refusal is RFC 9457 problem+json that
validates against the contract's ``Problem`` schema, with a stable type and ``status`` equal to
the HTTP status. A fast sample runs in `make test`; set FUZZ_EXAMPLES (e.g. `make fuzz`) for a
long run."""

from __future__ import annotations

import json
import os
import re
from functools import cache
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import REPO, Platform
from tests.integration.test_platform_api import ROUTES, Org

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
#: bodies that look like the real thing, with values swapped for anything
shaped = (
    st.fixed_dictionaries(
        {
            "frames": st.lists(
                st.fixed_dictionaries(
                    {
                        "timestamp": json_values,
                        "metrics": st.dictionaries(st.sampled_from(["soc", "SOC", "x"]), json_values, max_size=3),
                    }
                ),
                max_size=3,
            )
        }
    )
    | st.fixed_dictionaries(
        {
            "name": json_values,
            "dataType": st.sampled_from(["Double", "Int", "Bool", "String", "Json", "x"]),
            "defaultAggregation": json_values,
        }
    )
    | st.fixed_dictionaries({"thingName": json_values, "properties": json_values, "thingTypeId": json_values})
)
bodies = st.one_of(json_values, shaped, st.binary(max_size=40))
queries = st.dictionaries(
    st.sampled_from(["pageLimit", "continuationToken", "start", "end", "interval", "metrics", "order", "aggregation"]),
    st.text(max_size=30),
    max_size=4,
)


@cache
def _openapi() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((REPO / "shared" / "openapi.json").read_text())
    return doc


def documented_statuses(method: str, template: str) -> set[str]:
    return set(_openapi()["paths"][template][method.lower()]["responses"])


def check_answer(method: str, template: str, answer: Any, sent: Any) -> None:
    """The answer's status is documented for the route; a refusal is the contract's problem+json."""
    assert answer.status < 500, (method, template, sent, answer)
    documented = documented_statuses(method, template)
    assert str(answer.status) in documented or (answer.status < 300 and "2XX" in documented), (
        f"{method} {template} answered {answer.status}, documented: {sorted(documented)}",
        sent,
        answer,
    )
    if answer.status < 400:
        return
    assert answer.header("Content-Type") == "application/problem+json", answer
    body = answer.body
    schema = _openapi()["components"]["schemas"]["Problem"]
    invalid = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(body)]
    assert invalid == [], (invalid, body)
    assert re.fullmatch(r"urn:telemetry:problem:[a-z-]+", body["type"]), body
    assert body["status"] == answer.status, body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    for error in body.get("errors", []):
        assert set(error) == {"path", "message"} and isinstance(error["message"], str), body


@pytest.fixture(scope="module")
def org(platform: Platform) -> Org:
    return Org(platform, "fuzz")


@pytest.mark.parametrize(("method", "template"), list(ROUTES))
def test_no_input_makes_a_server_error(platform: Platform, org: Org, method: str, template: str) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=not os.environ.get("FUZZ_EXAMPLES"),
    )
    @given(body=bodies, query=queries)
    def check(body: Any, query: dict[str, str]) -> None:
        raw = body if isinstance(body, bytes) else None
        answer = platform.call(method, org.path(template), raw if raw is not None else body, key=org.key, query=query)
        check_answer(method, template, answer, (body, query))

    check()


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        # what an unsupported Content-Type answered (issue 8.11): not problem+json
        (415, {"Content-Type": "application/json"}, {"statusCode": 415, "message": "Unsupported Media Type"}),
        # problem+json whose status disagrees with the HTTP status
        (404, {"Content-Type": "application/problem+json"}, {"type": "urn:telemetry:problem:not-found",
                                                              "title": "Not found", "status": 400, "detail": "x"}),
        # a status the route does not document
        (422, {"Content-Type": "application/problem+json"}, {"type": "urn:telemetry:problem:unprocessable",
                                                              "title": "Unprocessable", "status": 422, "detail": "x"}),
        # no detail, and an error entry of the wrong shape
        (400, {"Content-Type": "application/problem+json"}, {"type": "urn:telemetry:problem:validation-error",
                                                              "title": "Validation failed", "status": 400,
                                                              "errors": [{"loc": ["body"]}]}),
    ],
)  # fmt: skip
def test_the_check_refuses_what_the_contract_forbids(status: int, headers: dict[str, str], body: Any) -> None:
    """The property is only as good as its check: each of these answers must fail it."""
    from tests.integration.conftest import Answer

    with pytest.raises(AssertionError):
        check_answer("POST", "/v2/definitions/metrics", Answer(status, headers, body), None)
