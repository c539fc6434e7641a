"""The local API Gateway: one request through routing, authorization and invocation."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from typing import Any

from ..lambdas import LocalFunction
from ..template import ACCOUNT_ID, REGION, ApiSpec, Route, Template
from . import authorizer, invoke, responses, static
from .authorizer import AuthorizerCache, AuthResult
from .messages import MAX_BODY_BYTES, IncomingRequest, OutgoingResponse
from .routing import Router
from .server import GatewayServer, RequestHandler
from .throttle import MethodThrottle


class LocalGateway:
    """Routes HTTP requests to functions as API Gateway would. ``handle`` is usable without HTTP."""

    def __init__(
        self,
        template: Template,
        functions: Mapping[str, LocalFunction],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.template = template
        self.functions = functions
        self.host = host
        self.port = port
        self.apis: dict[str, ApiSpec] = template.apis()
        self.api_ids = {api_id: template.physical_resource(api_id).ref for api_id in self.apis}
        self.router = Router(template.api_routes())
        self.cache = AuthorizerCache()
        #: one per API, from its stage's MethodSettings (None: unthrottled)
        self.throttles: dict[str, MethodThrottle] = {
            api_id: MethodThrottle(*api.method_throttle) for api_id, api in self.apis.items() if api.method_throttle
        }
        self._server: GatewayServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalGateway:
        self._server = GatewayServer((self.host, self.port), RequestHandler)
        self._server.gateway = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="devstack-gateway", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ request handling

    def _default_api(self) -> ApiSpec | None:
        return next(iter(self.apis.values()), None)

    def gateway_response(
        self,
        rtype: str,
        api: ApiSpec | None,
        request: IncomingRequest,
        request_id: str,
        message: str | None = None,
    ) -> OutgoingResponse:
        return responses.gateway_response(rtype, api, request, request_id, message)

    def handle(self, request: IncomingRequest) -> OutgoingResponse:
        request_id = str(uuid.uuid4())
        api = self._default_api()
        if len(request.body) > MAX_BODY_BYTES:
            return self.gateway_response("REQUEST_TOO_LARGE", api, request, request_id)
        if static.is_console_path(request.path or "/"):
            return static.serve(request)
        resolved = self.resolve(request)
        if resolved is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", api, request, request_id)
        route, path, path_params = resolved
        api = self.apis.get(route.api_id, api)
        throttle = self.throttles.get(route.api_id)
        if throttle is not None and not throttle.take(request.method, route.path):
            return self.gateway_response("THROTTLED", api, request, request_id)
        stage = api.stage if api else "Prod"
        api_id = self.api_ids.get(route.api_id, "localapi")
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/{stage}/{request.method}/{path.lstrip('/')}"
        event = self.proxy_event(request, route, path, path_params, stage, api_id, request_id)
        if route.authorizer is not None:
            auth = self.authorize(route, api, request, event, method_arn, request_id)
            if auth.denied is not None:
                return auth.denied
            event["requestContext"]["authorizer"] = auth.authorizer
        return self.integrate(route, api, request, event, request_id)

    def resolve(self, request: IncomingRequest) -> tuple[Route, str, dict[str, str]] | None:
        """The route a request reaches, its path without the stage prefix, and its path parameters."""
        api = self._default_api()
        path = request.path or "/"
        resolved = self.router.resolve(path, request.method)
        if resolved is None and api is not None and path.startswith(f"/{api.stage}/"):
            path = path[len(api.stage) + 1 :]
            resolved = self.router.resolve(path, request.method)
        if resolved is None:
            return None
        route, path_params = resolved
        return route, path, path_params

    def proxy_event(
        self,
        request: IncomingRequest,
        route: Route,
        path: str,
        path_params: dict[str, str],
        stage: str,
        api_id: str,
        request_id: str,
    ) -> dict[str, Any]:
        return invoke.proxy_event(
            request, route, path, path_params, stage, api_id, request_id, apis=self.apis, host=self.host, port=self.port
        )

    def authorize(
        self,
        route: Route,
        api: ApiSpec | None,
        request: IncomingRequest,
        event: dict[str, Any],
        method_arn: str,
        request_id: str,
    ) -> AuthResult:
        return authorizer.authorize(self.functions, self.cache, route, api, request, event, method_arn, request_id)

    def integrate(
        self,
        route: Route,
        api: ApiSpec | None,
        request: IncomingRequest,
        event: dict[str, Any],
        request_id: str,
    ) -> OutgoingResponse:
        return invoke.integrate(self.functions, route, api, request, event, request_id)
