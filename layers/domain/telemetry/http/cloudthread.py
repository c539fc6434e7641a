"""HTTP for the stream dialect (``/api/streams/ingest`` and ``/v2/data-streams...``).

The stream ingest document specifies only the success status (201) and no error shape, so its
errors are the platform's RFC 9457 problem+json (:mod:`telemetry.http.problems`), whose
``errors`` list names every invalid item as ``data/<index>/<field>``. This module adds what the
stream routes need on top of the platform's resolver: the ``filter[dim]=value`` query parsing.
"""

from __future__ import annotations

import re

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from telemetry.errors import ValidationFailed
from telemetry.http.app import build_app, entrypoint, raw_body

__all__ = ["build_stream_app", "dimension_filters", "entrypoint", "raw_body"]

_FILTER = re.compile(r"filter\[(?P<dim>[^\]]+)\]")


def build_stream_app() -> APIGatewayRestResolver:
    return build_app()


def dimension_filters(app: APIGatewayRestResolver) -> dict[str, list[str]]:
    """``filter[region]=eu&filter[region]=us`` -> ``{"region": ["eu", "us"]}`` (values OR-ed)."""
    event = app.current_event
    multi = event.multi_value_query_string_parameters or {}
    single = event.query_string_parameters or {}
    out: dict[str, list[str]] = {}
    for name in {*multi, *single}:
        match = _FILTER.fullmatch(name)
        if match is None:
            if name.startswith("filter"):
                raise ValidationFailed.single(["query", name], "filters look like filter[<dimension>]=<value>")
            continue
        values = multi.get(name) or [single[name]]
        out[match["dim"]] = list(values)
    return out
