"""The egress rules every connector call obeys (telemetry/adapters/egress.py), against a real local server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from devstack.fakes import HttpFeedFake
from telemetry.adapters.egress import EgressPolicy, refusal, system_resolver
from telemetry.ports.integrations import EgressRefused, ProviderUnavailable

DEPLOYED = EgressPolicy(allow_loopback=False)
LOCAL = EgressPolicy(allow_loopback=True)
TOKEN = {"X-Feed-Token": "feed-test-token"}


@pytest.fixture
def feed() -> Iterator[HttpFeedFake]:
    fake = HttpFeedFake().start()
    fake.seed(1_700_000_000_000, count=3)
    yield fake
    fake.stop()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed",
        "http://127.9.9.9/",
        "https://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://localhost/",
    ],
)
def test_a_deployed_stack_refuses_non_public_addresses_before_connecting(url: str) -> None:
    # Given the deployed policy, When a call goes to a literal or resolved non-public address
    with pytest.raises(EgressRefused) as refused:
        DEPLOYED.client().request("GET", url)
    # Then it is refused, naming the host and why
    assert "refused" in refused.value.message


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://10.0.0.1/", "http://[fe80::1]/"]
)
def test_the_local_stack_still_refuses_metadata_and_private_addresses(url: str) -> None:
    with pytest.raises(EgressRefused):
        LOCAL.client().request("GET", url)


def test_the_local_stack_allows_loopback_by_ip_and_by_name(feed: HttpFeedFake) -> None:
    for base in (f"http://127.0.0.1:{feed.port}", f"http://localhost:{feed.port}"):
        answer = LOCAL.client().request("GET", base + "/feed", headers=TOKEN)
        assert answer.status == 200 and len(answer.json()["data"]["items"]) == 6


def test_ipv6_loopback_is_allowed_locally() -> None:
    assert refusal("::1", allow_loopback=True) is None
    assert refusal("::1", allow_loopback=False) == "a loopback address"


def test_embedded_ipv4_forms_are_judged_by_the_ipv4_address() -> None:
    assert refusal("::ffff:10.0.0.1", allow_loopback=True) == "a private address"
    assert (
        refusal("64:ff9b::a9fe:a9fe", allow_loopback=True) == "an instance-metadata address"
    )  # NAT64 of 169.254.169.254
    assert refusal("64:ff9b::5db8:d822", allow_loopback=False) is None  # NAT64 of a public address


def test_public_addresses_pass() -> None:
    assert refusal("93.184.216.34", allow_loopback=False) is None
    assert refusal("2606:2800:220:1:248:1893:25c8:1946", allow_loopback=False) is None


def test_the_connection_goes_to_the_checked_address_with_the_original_host_header(feed: HttpFeedFake) -> None:
    # Given a name only our resolver knows (no real DNS answers it), resolving to loopback
    resolved: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    policy = EgressPolicy(allow_loopback=True, resolver=resolver)
    # When a call goes to that name
    answer = policy.client().request("GET", f"http://provider.test:{feed.port}/feed", headers=TOKEN)
    # Then it reached the checked IP, resolved once, and the server saw the original name
    assert answer.status == 200
    assert resolved == ["provider.test"]
    assert feed.calls[-1].headers["host"] == f"provider.test:{feed.port}"


def test_a_name_with_any_private_address_is_refused() -> None:
    policy = EgressPolicy(allow_loopback=False, resolver=lambda host, port: ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(EgressRefused, match=r"10\.0\.0\.7, a private address"):
        policy.client().request("GET", "https://rebind.example/")


def test_an_unresolvable_name_is_unavailable() -> None:
    with pytest.raises(ProviderUnavailable):
        system_resolver("no-such-host.invalid", 443)


def test_other_schemes_are_refused() -> None:
    with pytest.raises(EgressRefused):
        LOCAL.client().request("GET", "ftp://127.0.0.1/x")


def test_redirects_are_not_followed(feed: HttpFeedFake) -> None:
    feed.redirect_next("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(EgressRefused, match="redirects are not followed"):
        LOCAL.client().request("GET", f"{feed.url}/feed", headers=TOKEN)
    assert len(feed.calls) == 1


@pytest.mark.parametrize("announce", [False, True])
def test_a_response_over_the_cap_is_refused(feed: HttpFeedFake, announce: bool) -> None:
    feed.oversize_next(300_000, announce=announce)
    policy = EgressPolicy(allow_loopback=True, max_response_bytes=100_000)
    with pytest.raises(ProviderUnavailable, match="100000-byte response cap"):
        policy.client().request("GET", f"{feed.url}/feed", headers=TOKEN)


def test_a_response_within_the_cap_is_read_whole(feed: HttpFeedFake) -> None:
    feed.oversize_next(90_000)
    policy = EgressPolicy(allow_loopback=True, max_response_bytes=100_000)
    assert len(policy.client().request("GET", f"{feed.url}/feed").body) == 90_000


def test_a_slow_answer_times_out_as_unavailable(feed: HttpFeedFake) -> None:
    feed.delay_next(1.5)
    policy = EgressPolicy(allow_loopback=True, timeout_s=0.3)
    with pytest.raises(ProviderUnavailable, match="timed out"):
        policy.client().request("GET", f"{feed.url}/feed", headers=TOKEN)


def test_a_dripping_answer_hits_the_total_deadline(feed: HttpFeedFake) -> None:
    # every read is quick (0.1 s apart, under the 1 s read timeout), the whole answer is not
    feed.drip_next(chunks=20, every_s=0.1)
    policy = EgressPolicy(allow_loopback=True, timeout_s=1.0, total_s=0.5)
    with pytest.raises(ProviderUnavailable, match=r"longer than 0\.5 s"):
        policy.client().request("GET", f"{feed.url}/feed", headers=TOKEN)


def test_a_refused_connection_is_unavailable() -> None:
    stopped = HttpFeedFake().start()
    stopped.stop()
    with pytest.raises(ProviderUnavailable, match="unreachable"):
        LOCAL.client().request("GET", f"{stopped.url}/feed")


@pytest.mark.parametrize("policy", [DEPLOYED, LOCAL], ids=["deployed", "local"])
def test_plain_http_to_a_public_address_is_refused_before_connecting(policy: EgressPolicy) -> None:
    """Connector calls carry credentials: over plain http they would cross the internet in clear text."""
    public = EgressPolicy(allow_loopback=policy.allow_loopback, resolver=lambda host, port: ["93.184.216.34"])
    with pytest.raises(EgressRefused, match="https"):
        public.client().request("GET", "http://provider.example/feed", headers=TOKEN)
