"""Metric and property names match ASCII case-insensitively, and nothing else folds (issue 8.11)."""

from __future__ import annotations

import pytest
from telemetry.models.types import name_key


@pytest.mark.parametrize(("a", "b"), [("soc", "SOC"), ("Soc", "sOC"), ("v.a_b-1", "V.A_B-1")])
def test_ascii_case_is_ignored(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize(("sent", "defined"), [("\u017foc", "soc"), ("\u212aw", "kw"), ("\uff53oc", "soc")])
def test_unicode_lookalikes_do_not_match(sent: str, defined: str) -> None:
    """casefold() maps the long s to s and the Kelvin sign to k; NFKC maps fullwidth s to s."""
    assert name_key(sent) != name_key(defined)
