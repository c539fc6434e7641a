"""HTTP for the template endpoints: the platform's resolver plus one mapping of its own.

A template whose code fails on a payload (:class:`TemplateExecutionFailed`: script timeout, heap
limit, an exception in the handler, an unusable result) answers **422 Unprocessable Content**:
the request is well-formed and the template is valid, but this combination could not be
processed. Every other error keeps the platform mapping (:mod:`telemetry.http.problems`).
"""

from __future__ import annotations

from typing import Any

import orjson
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from telemetry.http.app import build_app
from telemetry.http.problems import PROBLEM_CONTENT_TYPE, problem_body
from telemetry.services.templates.errors import TemplateExecutionFailed

EXECUTION_FAILED_STATUS = 422


def build_templates_app() -> APIGatewayRestResolver:
    app = build_app()

    @app.exception_handler(TemplateExecutionFailed)
    def _execution_failed(err: TemplateExecutionFailed) -> Response[Any]:
        body = problem_body(err, app.current_event.path)
        body["status"] = EXECUTION_FAILED_STATUS
        return Response(
            status_code=EXECUTION_FAILED_STATUS,
            headers={"Content-Type": PROBLEM_CONTENT_TYPE},
            body=orjson.dumps(body).decode(),
        )

    return app
