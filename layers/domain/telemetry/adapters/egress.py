"""Outbound HTTP for the provider connectors, held to the egress rules (docs/integrations.md, "Connectors").

Every connector call goes through :class:`EgressClient` (built by :meth:`EgressPolicy.client`):

- **Where it may connect.** The transport resolves the URL's host itself and checks every address
  it resolves to. In a deployed stack (``allow_loopback=False``) a private, loopback, link-local,
  multicast, reserved, unspecified, shared (100.64/10) or instance-metadata address
  (169.254.169.254, fd00:ec2::254) is refused with :class:`EgressRefused` before any connection.
  The connection is then made to the *checked* IP (the Host header and TLS SNI / certificate check
  keep the original name), so DNS cannot answer one address to the check and another to the
  connect (rebinding). ``allow_loopback=True`` (the local stack, the tests) admits loopback only:
  other private ranges and the metadata address stay refused.
- **TLS.** Connector calls carry credentials, so plain ``http`` is refused unless the address is
  loopback, which only the local stack admits (its provider fakes); everything else is ``https``.
- **Redirects are never followed.** A 3xx is refused with :class:`EgressRefused` naming the
  ``Location``: configure the final URL. Geotab's server redirect is data (``path``), and its
  next call goes through this same transport, so it passes the same check.
- **Timeouts**: ``connect_timeout_s`` to connect, ``timeout_s`` per read/write, and ``total_s``
  for the whole call (checked between body chunks, so a server dripping bytes cannot hold a
  Lambda). A timeout or a connection failure is :class:`ProviderUnavailable`.
- **Response cap**: the body is streamed and reading stops past ``max_response_bytes`` (decoded
  bytes, so a gzip bomb stops too): :class:`ProviderUnavailable`, nothing parsed.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from telemetry.ports.integrations import EgressRefused, ProviderUnavailable

#: resolves (host, port) to the IP addresses a connection could go to
Resolver = Callable[[str, int], list[str]]

#: cloud instance-metadata endpoints (AWS IMDS over IPv4 and IPv6), refused even when loopback is allowed
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not private by name, not public either
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # DNS64/NAT64 (IPv6-only subnets): the IPv4 address is embedded


def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses, as the operating system resolves them (A and AAAA)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ProviderUnavailable(f"cannot resolve {host!r}: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal(address: str, allow_loopback: bool) -> str | None:
    """Why a connection to ``address`` is refused (None: allowed)."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    elif isinstance(ip, ipaddress.IPv6Address) and ip in _NAT64:
        ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in METADATA_ADDRESSES:
        return "an instance-metadata address"
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    for name, flag in (
        ("a link-local address", ip.is_link_local),
        ("a multicast address", ip.is_multicast),
        ("the unspecified address", ip.is_unspecified),
        ("a reserved address", ip.is_reserved),
        ("a private address", ip.is_private),
        ("a shared (carrier-grade NAT) address", isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED),
        ("a non-public address", not ip.is_global),
    ):
        if flag:
            return name
    return None


class CheckedTransport(httpx.BaseTransport):
    """Resolves, checks and connects to the checked IP, keeping the Host header and SNI.

    One inner transport (connection pool) per (scheme, host, port) of the *name*, so a TLS
    connection made for one name is never reused for another name that shares its IP.
    """

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._pools: dict[tuple[str, str, int], httpx.HTTPTransport] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise EgressRefused(f"{url.scheme!r} URLs are refused: only http and https")
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = self._policy.resolver(host, port)
        if not addresses:
            raise ProviderUnavailable(f"{host!r} resolves to no address")
        for address in addresses:
            why = refusal(address, self._policy.allow_loopback)
            if why is not None:
                raise EgressRefused(f"{host!r} resolves to {address}, {why}: refused in this stack")
            if url.scheme == "http" and not ipaddress.ip_address(address).is_loopback:
                raise EgressRefused(
                    f"plain http to {host!r} is refused: connector calls carry credentials, use https "
                    "(http is admitted only to loopback on the local stack)"
                )
        extensions = dict(request.extensions)
        if url.scheme == "https":
            extensions["sni_hostname"] = host
        pinned = httpx.Request(
            request.method,
            url.copy_with(host=addresses[0]),
            headers=request.headers,  # carries Host: the original name
            stream=request.stream,
            extensions=extensions,
        )
        response = self._pool(url.scheme, host, port).handle_request(pinned)
        response.request = request
        return response

    def _pool(self, scheme: str, host: str, port: int) -> httpx.HTTPTransport:
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            if len(self._pools) >= 32:  # a tenant cannot grow this without bound
                oldest = next(iter(self._pools))
                self._pools.pop(oldest).close()
            pool = self._pools[key] = httpx.HTTPTransport(retries=0)
        return pool

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """The egress rules of a stack: ``allow_loopback`` only locally (INTEGRATIONS_ALLOW_LOOPBACK)."""

    allow_loopback: bool = False
    #: seconds per read / write of one call
    timeout_s: float = 30.0
    #: the largest response body read (decoded bytes); a full Geotab page of 50,000 records is ~15 MB
    max_response_bytes: int = 48 * 1024 * 1024
    connect_timeout_s: float = 5.0
    #: seconds for one whole call, body included
    total_s: float = 60.0
    resolver: Resolver = field(default=system_resolver, compare=False)

    def client(self) -> EgressClient:
        return EgressClient(self)


@dataclass(frozen=True, slots=True)
class Answer:
    """A provider's answer, read whole (within the cap)."""

    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        """The body as JSON; an unparseable body is :class:`ProviderUnavailable`."""
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise ProviderUnavailable(f"the provider answered {self.status} with a body that is not JSON") from None

    def retry_after_s(self) -> float | None:
        """``Retry-After`` in seconds (delta-seconds; an HTTP date is converted), None if absent or unreadable."""
        raw = (self.headers.get("retry-after") or "").strip()
        if not raw:
            return None
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class EgressClient:
    """The one HTTP client every connector uses (one per connector, reused across warm invocations)."""

    def __init__(self, policy: EgressPolicy) -> None:
        self.policy = policy
        self._http = httpx.Client(
            transport=CheckedTransport(policy),
            follow_redirects=False,
            timeout=httpx.Timeout(policy.timeout_s, connect=policy.connect_timeout_s),
            headers={"User-Agent": "telemetry-platform-integrations/1", "Accept": "application/json"},
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> Answer:
        """One call: the answer read whole, or :class:`EgressRefused` / :class:`ProviderUnavailable`.

        ``json`` sends a JSON body; ``form`` an ``application/x-www-form-urlencoded`` one (OAuth2 token requests).
        """
        from urllib.parse import urlencode

        deadline = time.monotonic() + self.policy.total_s
        send_headers = dict(headers or {})
        content: bytes | None = None
        if json is not None:
            content = orjson.dumps(json)
            send_headers.setdefault("Content-Type", "application/json")
        elif form is not None:
            content = urlencode(form).encode()
            send_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        try:
            request = self._http.build_request(method, url, headers=send_headers, params=params, content=content)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
            raise EgressRefused(f"not a usable URL: {exc}") from None
        host = request.url.host
        try:
            response = self._http.send(request, stream=True)
            try:
                return self._read(response, host, deadline)
            finally:
                response.close()
        except httpx.TimeoutException:
            raise ProviderUnavailable(f"{host!r} timed out") from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise ProviderUnavailable(f"{host!r} unreachable: {type(exc).__name__}") from None

    def _read(self, response: httpx.Response, host: str, deadline: float) -> Answer:
        cap = self.policy.max_response_bytes
        if 300 <= response.status_code < 400:
            location = response.headers.get("location", "")
            raise EgressRefused(
                f"{host!r} answered {response.status_code} redirecting to {location[:200]!r}: "
                "redirects are not followed, configure the final URL"
            )
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            raise ProviderUnavailable(f"{host!r} announced {length} bytes, over the {cap}-byte response cap")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise ProviderUnavailable(f"{host!r} sent more than the {cap}-byte response cap")
            if time.monotonic() > deadline:
                raise ProviderUnavailable(f"{host!r} took longer than {self.policy.total_s} s")
            chunks.append(chunk)
        return Answer(response.status_code, response.headers, b"".join(chunks))

    def close(self) -> None:
        self._http.close()
