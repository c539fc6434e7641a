"""Property: whatever a client sends to a platform route, the answer is never a 5xx, and every
refusal is RFC 9457 problem+json with a stable type. A fast sample runs in `make test`; set
FUZZ_EXAMPLES (e.g. `make fuzz`) for a long run."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.conftest import Platform
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
        assert answer.status < 500, (method, template, body, query, answer)
        if answer.status >= 400:
            assert answer.header("Content-Type") == "application/problem+json", answer
            assert re.fullmatch(r"urn:telemetry:problem:[a-z-]+", answer.body["type"]), answer.body

    check()
