"""The REST resolver every handler builds: powertools' own, with its per-request state per thread.

Powertools keeps the request being resolved in CLASS attributes (``resolve`` assigns
``BaseRouter.current_event`` and ``BaseRouter.lambda_context``) and the route's arguments in
one ``app.context`` dict. On AWS that is harmless: an execution environment serves one request
at a time. The local stack (and any test) runs handlers in threads of one process, and there a
concurrent request overwrote the event another one was still reading: its route read the other
request's body and enqueued THOSE frames under its own thing, answering 200 while its own frames
were never queued (the cold-burst loss of tests/load/test_cold_burst.py; the window is widest on
a cold start, where the route builds the container before it reads the body).

:class:`IsolatedRestResolver` keeps the event, the Lambda context and the routing context in a
``threading.local``, so each thread sees only the request it resolves. Relies on two powertools
internals, both pinned by tests/unit/test_resolver_isolation.py: ``resolve`` converts the event
with ``self._to_proxy_event`` and every reader goes through ``self.current_event``/``self.context``.
"""

from __future__ import annotations

import threading
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent


class IsolatedRestResolver(APIGatewayRestResolver):
    """``APIGatewayRestResolver`` whose current event, Lambda context and routing context are per thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._local = threading.local()
        super().__init__(*args, **kwargs)

    @property  # type: ignore[override]
    def current_event(self) -> APIGatewayProxyEvent:
        event: APIGatewayProxyEvent | None = getattr(self._local, "current_event", None)
        if event is None:
            raise AttributeError("no request is being resolved in this thread")
        return event

    @current_event.setter
    def current_event(self, value: APIGatewayProxyEvent) -> None:
        self._local.current_event = value

    @property  # type: ignore[override]
    def lambda_context(self) -> Any:
        return getattr(self._local, "lambda_context", None)

    @lambda_context.setter
    def lambda_context(self, value: Any) -> None:
        self._local.lambda_context = value

    @property  # type: ignore[override]
    def context(self) -> dict[str, Any]:
        ctx: dict[str, Any] | None = getattr(self._local, "context", None)
        if ctx is None:
            ctx = self._local.context = {}
        return ctx

    @context.setter
    def context(self, value: dict[str, Any]) -> None:
        self._local.context = value

    def _to_proxy_event(self, event: dict[str, Any]) -> APIGatewayProxyEvent:
        # resolve() stores the result on the BaseRouter class (shared by every thread); keep ours
        proxy = cast(APIGatewayProxyEvent, super()._to_proxy_event(event))
        self._local.current_event = proxy
        return proxy

    def resolve(self, event: Any, context: Any) -> dict[str, Any]:
        self._local.lambda_context = context
        return super().resolve(event, context)
