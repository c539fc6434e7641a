"""The provider connectors (docs/integrations.md, "Connectors"): one class per provider implementing
the :class:`~telemetry.ports.integrations.Connector` port, each on its own
:class:`~telemetry.adapters.egress.EgressClient` (the egress rules, timeouts and response cap)."""

from __future__ import annotations

from collections.abc import Callable

from telemetry.adapters.connectors.geotab import GeotabConnector
from telemetry.adapters.connectors.http_json import HttpJsonConnector
from telemetry.adapters.connectors.utilityapi import UtilityApiConnector
from telemetry.adapters.connectors.zubie import ZubieConnector
from telemetry.adapters.egress import EgressClient, EgressPolicy
from telemetry.ports.integrations import PROVIDERS, Connector

_CONNECTORS: dict[str, Callable[[EgressClient], Connector]] = {
    "geotab": GeotabConnector,
    "zubie": ZubieConnector,
    "utilityapi": UtilityApiConnector,
    "http": HttpJsonConnector,
}
assert set(_CONNECTORS) == set(PROVIDERS)


def connector_for(provider: str, egress: EgressPolicy) -> Connector:
    """The connector of ``provider`` (one of PROVIDERS); ValueError for another name."""
    try:
        build = _CONNECTORS[provider]
    except KeyError:
        raise ValueError(f"no connector for provider {provider!r}: one of {', '.join(PROVIDERS)}") from None
    return build(egress.client())
