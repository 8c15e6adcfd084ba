"""What CloudFormation receives at the edge, in SAM's translation under each choice: a web ACL limiting each
client IP on the distribution, the API answering only what comes through it, and no way round either."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest

from sentiment_template import cloudformation
from sentiment_template.cloudformation import EDGE_CHOICES, SETTINGS, Setting
from sentiment_template.reader import Template, load
from tests.conftest import ROOT

DOCUMENT = load(ROOT / "template.yaml")
DEFAULT = next(setting for setting in SETTINGS if setting.name == "dev-sagemaker-serverless-with-image")
EDGE = {setting.edge: setting for setting in SETTINGS if setting.edge}
PUBLIC_WRITES = {("POST", "/comments"), ("POST", "/comments/batch"), ("POST", "/feedback")}


@cache
def translated(setting: Setting) -> tuple[dict[str, Any], Template]:
    document = cloudformation.translate(DOCUMENT, setting.parameters)
    return document, Template(document, overrides=setting.parameters)


def created(setting: Setting) -> dict[str, dict[str, Any]]:
    """The resources CloudFormation creates under ``setting``, in the us-east-1 the checks run in."""
    document, template = translated(setting)
    return {
        name: resource
        for name, resource in document["Resources"].items()
        if template.condition_holds(resource.get("Condition"))
    }


def web_acl_id(setting: Setting) -> Any:
    document, template = translated(setting)
    config = document["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"]
    return cloudformation._settled(config.get("WebACLId"), template)  # the conditions settled


def test_every_edge_choice_is_among_the_settings_make_validate_checks() -> None:
    assert set(EDGE) == set(EDGE_CHOICES)


def test_by_default_the_stack_makes_a_cloudfront_web_acl_and_the_distribution_uses_it() -> None:
    resources = created(DEFAULT)
    acl = resources["ClientWebAcl"]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT"
    assert acl["DefaultAction"] == {"Allow": {}}
    assert web_acl_id(DEFAULT) == {"Fn::GetAtt": ["ClientWebAcl", "Arn"]}


def test_the_rules_count_per_client_ip_over_five_minutes_and_answer_429_with_retry_after() -> None:
    acl = created(DEFAULT)["ClientWebAcl"]["Properties"]
    body = acl["CustomResponseBodies"]["TooManyRequests"]
    assert body["ContentType"] == "APPLICATION_JSON"
    assert '"message"' in body["Content"]
    _, template = translated(DEFAULT)
    rules = template.resolve(acl["Rules"])
    assert [rule["Name"] for rule in rules] == ["writes-per-client", "requests-per-client"]
    for rule in rules:
        rate = rule["Statement"]["RateBasedStatement"]
        assert (rate["AggregateKeyType"], rate["EvaluationWindowSec"]) == ("IP", 300)
        response = rule["Action"]["Block"]["CustomResponse"]
        assert (response["ResponseCode"], response["CustomResponseBodyKey"]) == (429, "TooManyRequests")
        assert [header["Name"] for header in response["ResponseHeaders"]] == ["Retry-After"]
    writes, everything = (rule["Statement"]["RateBasedStatement"]["Limit"] for rule in rules)
    assert (writes, everything) == (
        int(DOCUMENT["Parameters"]["ClientWriteRateLimit"]["Default"]),
        int(DOCUMENT["Parameters"]["ClientRateLimit"]["Default"]),
    )


def test_without_a_client_rate_limit_there_is_no_web_acl() -> None:
    assert "ClientWebAcl" not in created(EDGE["no-web-acl"])
    assert web_acl_id(EDGE["no-web-acl"]) == {"Ref": "AWS::NoValue"}


def test_a_stack_given_a_web_acl_made_in_us_east_1_uses_it_and_makes_none() -> None:
    setting = EDGE["web-acl-from-us-east-1"]
    assert "ClientWebAcl" not in created(setting)
    assert web_acl_id(setting) == {"Ref": "WebAclArn"}


def test_a_stack_outside_us_east_1_makes_no_web_acl_of_its_own() -> None:
    # A CLOUDFRONT web ACL exists only in us-east-1: the condition holds there alone.
    condition = DOCUMENT["Conditions"]["CreateClientWebAcl"]["Fn::And"]
    assert {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]} in condition


def test_the_api_origin_gets_the_generated_origin_header_and_every_public_route_requires_it() -> None:
    resources = created(DEFAULT)
    config = resources["WebDistribution"]["Properties"]["DistributionConfig"]
    (api_origin,) = (origin for origin in config["Origins"] if origin["Id"] == "HttpApi")
    (header,) = api_origin["OriginCustomHeaders"]
    assert header["HeaderName"] == "X-Origin-Verify"
    assert header["HeaderValue"] == {"Fn::Sub": "{{resolve:secretsmanager:${OriginVerifySecret}:SecretString}}"}
    assert "GenerateSecretString" in resources["OriginVerifySecret"]["Properties"]
    # SAM writes the HttpApi's authorizers and each route's choice into the API's OpenAPI body.
    body = resources["HttpApi"]["Properties"]["Body"]
    schemes = {
        name: scheme["x-amazon-apigateway-authorizer"] for name, scheme in body["components"]["securitySchemes"].items()
    }
    assert schemes["OriginVerify"]["identitySource"] == ["$request.header.X-Origin-Verify"]
    assert schemes["OriginVerify"]["authorizerResultTtlInSeconds"] == 300
    assert schemes["OriginVerify"]["authorizerUri"]["Fn::Sub"][1] == {
        "__FunctionArn__": {"Fn::GetAtt": ["OriginAuthorizerFunction", "Arn"]}
    }
    assert schemes["AdminKey"]["authorizerResultTtlInSeconds"] == 0
    chosen = {
        f"{method.upper()} {path}": [name for requirement in operation["security"] for name in requirement]
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
    }
    assert len(chosen) > 10
    admin = {
        "POST /training",
        "POST /models/{version}/promote",
        "POST /reviewers",
        "GET /reviewers",
        "DELETE /reviewers/{name}",
        "POST /reviewers/{name}/withdraw",
        "POST /datasets",
        "GET /datasets",
        "GET /datasets/{name}",
        "DELETE /datasets/{name}",
        "POST /jobs",
        "GET /jobs",
        "GET /jobs/{job_id}",
        "GET /jobs/{job_id}/results",
        "POST /jobs/{job_id}/cancel",
        "POST /jobs/{job_id}/resume",
    }
    reviewer = {"POST /reviews"}
    expected = {
        route: ["AdminKey"] if route in admin else ["ReviewerKey"] if route in reviewer else ["OriginVerify"]
        for route in chosen
    }
    assert chosen == expected


@pytest.mark.slow  # SAM's translation and cfn-lint, about 5 s a choice
@pytest.mark.parametrize("setting", list(EDGE.values()), ids=lambda setting: setting.name)
def test_each_edge_choice_translates_to_a_template_cfn_lint_finds_clean(setting: Setting) -> None:
    document, _ = translated(setting)
    assert cloudformation.lint_errors(document) == []
