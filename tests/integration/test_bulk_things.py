"""Bulk registration through the real routing, authorizer and handlers, under moto (issue 8.1).

Until typed bodies, every valid array was refused 400: the handler declared ``Annotated[Any,
Body()]`` and powertools handed it only the array's first element.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import Platform


@pytest.mark.parametrize("kind", ["sites", "fleets"])
def test_a_valid_bulk_array_registers_every_thing(platform: Platform, kind: str) -> None:
    key = platform.key(f"bulk-{kind}")
    place = platform.call("POST", f"/v2/{kind}", {"name": "P"}, key=key).body["id"]
    answer = platform.call(
        "POST", f"/v2/{kind}/{place}/things/bulk", [{"thingName": "a"}, {"thingName": "b", "model": "m"}], key=key
    )
    assert answer.status == 201, answer
    assert (answer.body["created"], answer.body["failed"]) == (2, 0)
    assert [r["index"] for r in answer.body["results"]] == [0, 1]
    listed = platform.call("GET", f"/v2/{kind}/{place}/things", key=key).body["items"]
    assert sorted(t["thingName"] for t in listed) == ["a", "b"]


def test_a_bulk_array_with_a_bad_item_answers_207_per_item(platform: Platform) -> None:
    key = platform.key("bulk-mixed")
    site = platform.call("POST", "/v2/sites", {"name": "P"}, key=key).body["id"]
    answer = platform.call("POST", f"/v2/sites/{site}/things/bulk", [{"thingName": "ok"}, {"model": "x"}], key=key)
    assert answer.status == 207, answer
    assert [r["status"] for r in answer.body["results"]] == [201, 400]


@pytest.mark.parametrize("body", [{"thingName": "not an array"}, [], [1, 2], [{"thingName": "x"}] * 101])
def test_a_bulk_body_that_is_not_an_array_of_1_to_100_objects_is_a_problem(platform: Platform, body: object) -> None:
    key = platform.key("bulk-bad")
    site = platform.call("POST", "/v2/sites", {"name": "P"}, key=key).body["id"]
    answer = platform.call("POST", f"/v2/sites/{site}/things/bulk", body, key=key)
    assert answer.status == 400, answer
    assert answer.header("Content-Type") == "application/problem+json"
