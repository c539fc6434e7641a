"""Every sample event of the two dialects (events/ct_*.json, events/dk_*.json) reaches its handler
and gets a well-formed, non-5xx answer (the sample ids do not exist, so 401/404 are fine)."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import REPO, Platform

EVENTS = sorted([*REPO.glob("events/ct_*.json"), *REPO.glob("events/dk_*.json")])


def _logical_id(platform: Platform, folder: str) -> str:
    for spec in platform.template.functions():
        if spec.module_file.parent.name == folder:
            return spec.logical_id
    raise AssertionError(f"no function for functions/{folder}")


@pytest.mark.parametrize("path", EVENTS, ids=[p.stem for p in EVENTS])
def test_sample_event(platform: Platform, path: object) -> None:
    event = json.loads(path.read_text())  # type: ignore[attr-defined]
    result = platform.functions[_logical_id(platform, path.stem)].invoke(event)  # type: ignore[attr-defined]
    assert 200 <= result["statusCode"] < 500, result
    if result.get("body"):
        json.loads(result["body"])


def test_every_dialect_function_has_a_sample_event(platform: Platform) -> None:
    folders = {s.module_file.parent.name for s in platform.template.functions()}
    mine = {f for f in folders if f.startswith(("ct_", "dk_"))}
    assert mine == {p.stem for p in EVENTS}
