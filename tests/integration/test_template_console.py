"""template.yaml deploys the web console (docs/console.md): a private bucket, an optional CloudFront
distribution reading it through origin access control, and CORS for the console's origin on the
preflight, on every gateway response and on every function's answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from devstack.template import Template, load_yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
ORIGIN = "https://console.example.com"


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return load_yaml(TEMPLATE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def resources(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(raw["Resources"])


def test_the_bucket_is_private_and_tls_only(resources: dict[str, dict[str, Any]]) -> None:
    bucket = resources["ConsoleBucket"]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    statements = resources["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    deny = statements[0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # the only reader is the distribution (when there is one), by its ARN: never a public principal
    cond, allow, otherwise = statements[1]["Fn::If"]
    assert cond == "CreateConsoleCdn" and otherwise == {"Ref": "AWS::NoValue"}
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    assert "${ConsoleDistribution}" in allow["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]


def test_the_distribution_is_optional_https_and_reads_through_oac(
    raw: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    assert raw["Parameters"]["CreateConsoleDistribution"]["Default"] == "false"
    for name in ("ConsoleDistribution", "ConsoleOriginAccessControl", "ConsoleResponseHeaders"):
        assert resources[name]["Condition"] == "CreateConsoleCdn"
    config = resources["ConsoleDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # no legacy OAI
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["DefaultRootObject"] == "index.html"
    oac = resources["ConsoleOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("s3", "always")
    outputs = raw["Outputs"]
    assert outputs["ConsoleUrl"]["Condition"] == "CreateConsoleCdn" and "ConsoleBucketName" in outputs


def test_the_preflight_needs_no_key(resources: dict[str, dict[str, Any]]) -> None:
    api = resources["Api"]["Properties"]
    assert api["Auth"]["AddDefaultAuthorizerToCorsPreflight"] is False
    assert "X-Api-Key" in api["Cors"]["AllowHeaders"]


@pytest.mark.parametrize(
    ("parameters", "origin"),
    [({"ConsoleOrigin": ORIGIN}, ORIGIN), ({}, "")],
)
def test_the_console_origin_reaches_the_preflight_the_gateway_responses_and_the_functions(
    parameters: dict[str, str], origin: str
) -> None:
    template = Template.load(TEMPLATE, stack_name="console", parameters=parameters)
    api = template.apis()["Api"]
    # every gateway response (the authorizer's 401, throttling's 429, ...) carries it: the browser
    # shows the console the problem's detail instead of an opaque CORS failure
    assert api.gateway_responses
    for rtype, response in api.gateway_responses.items():
        assert response.headers["Access-Control-Allow-Origin"] == f"'{origin}'", rtype
    assert template.resolve(template.resources["Api"]["Properties"]["Cors"]["AllowOrigin"]) == f"'{origin}'"
    functions = template.function_ids()
    assert functions
    for fn in functions:
        assert template.function(fn).environment["CORS_ALLOW_ORIGIN"] == origin, fn
