"""The local stack's web ACL in front of the gateway: the template's limits per client, enforced as AWS WAF does."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from sentiment_local.runtime.edge import Edge, WebAclError, origin_headers, resolve_secret_references, web_acl_rules
from sentiment_local.runtime.functions import Invocation
from sentiment_local.runtime.gateway import Gateway
from sentiment_template.reader import Template
from tests.conftest import ROOT

ALICE, BOB = "203.0.113.7", "198.51.100.9"
WINDOW = 300  # the template's EvaluationWindowSec


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def origin(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Stands in for the gateway: every request that reaches it is answered 200."""
    response = Response(json.dumps({"reached": Request(environ).path}), content_type="application/json")
    answered: Iterable[bytes] = response(environ, start_response)
    return answered


def edge(clock: Clock, behind_proxy: bool = False, **parameters: str) -> Edge:
    template = Template.read(ROOT / "template.yaml", overrides=parameters)
    return Edge(origin, web_acl_rules(template), behind_proxy=behind_proxy, clock=clock)


def send(app: Edge, method: str, path: str, address: str = ALICE, **headers: str) -> Any:
    return Client(app).open(path, method=method, json={} if method == "POST" else None, headers=headers,
                            environ_base={"REMOTE_ADDR": address})  # fmt: skip


def test_a_client_past_the_write_limit_gets_429_with_the_apis_error_shape_and_retry_after() -> None:
    # Given the template's web ACL with 10 public writes per client
    app = edge(Clock(), ClientWriteRateLimit="10")
    # When one client sends 11 comments in the window
    answers = [send(app, "POST", "/comments") for _ in range(11)]
    # Then the first 10 reach the API and the 11th is refused as the web ACL's custom response says
    assert [answer.status_code for answer in answers] == [200] * 10 + [429]
    refused = answers[-1]
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.headers["Retry-After"] == "60"
    assert set(refused.get_json()) == {"message"}
    assert "Too many requests" in refused.get_json()["message"]


def test_another_client_still_gets_through_while_one_is_blocked() -> None:
    # Given a client blocked for its writes
    app = edge(Clock(), ClientWriteRateLimit="10")
    for _ in range(11):
        send(app, "POST", "/feedback")
    assert send(app, "POST", "/feedback").status_code == 429
    # When another client writes, and the blocked one reads
    # Then both get through: the write limit is per client and counts only writes
    assert send(app, "POST", "/feedback", address=BOB).status_code == 200
    assert send(app, "GET", "/comments").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/comments"), ("POST", "/comments/batch"), ("POST", "/feedback"), ("GET", "/comments/c1/explanation")],
)
def test_each_public_write_and_explanation_counts_towards_the_write_limit(method: str, path: str) -> None:
    app = edge(Clock(), ClientWriteRateLimit="10")
    answers = [send(app, method, path).status_code for _ in range(11)]
    assert answers[-1] == 429


def test_reads_count_only_towards_the_limit_on_all_requests() -> None:
    # Given 20 requests per client in all, 10 writes
    app = edge(Clock(), ClientRateLimit="20", ClientWriteRateLimit="10")
    # When a client reads 20 times, then once more
    answers = [send(app, "GET", "/comments").status_code for _ in range(21)]
    # Then the 21st request is refused, by the rule on all requests
    assert answers == [200] * 20 + [429]


def test_the_window_slides_a_blocked_client_is_let_through_once_its_count_falls_back() -> None:
    # Given a client that sent its 10 writes at once and was refused an 11th
    clock = Clock()
    app = edge(clock, ClientWriteRateLimit="10")
    for _ in range(10):
        send(app, "POST", "/comments")
    assert send(app, "POST", "/comments").status_code == 429
    # When less than the window has passed, it is still refused
    clock.now += WINDOW - 1
    assert send(app, "POST", "/comments").status_code == 429
    # When the window has passed since those requests
    clock.now += WINDOW + 1
    # Then it is let through again
    assert send(app, "POST", "/comments").status_code == 200


def test_a_client_that_keeps_sending_while_blocked_stays_blocked() -> None:
    # Given a blocked client that keeps sending a write every 10 s
    clock = Clock()
    app = edge(clock, ClientWriteRateLimit="10")
    for _ in range(11):
        send(app, "POST", "/comments")
    answers = []
    for _ in range(2 * WINDOW // 10):
        clock.now += 10
        answers.append(send(app, "POST", "/comments").status_code)
    # Then it is never let through: the requests WAF blocks still count
    assert set(answers) == {429}


def test_the_client_is_the_forwarded_address_only_behind_a_proxy() -> None:
    # Given two clients behind one proxy address
    for behind_proxy, expected in ((False, 429), (True, 200)):
        app = edge(Clock(), behind_proxy=behind_proxy, ClientWriteRateLimit="10")
        for _ in range(10):
            send(app, "POST", "/comments", **{"X-Forwarded-For": f"{ALICE}, 10.0.0.1"})
        # When the second one writes through the same proxy
        answer = send(app, "POST", "/comments", **{"X-Forwarded-For": f"{BOB}, 10.0.0.1"})
        # Then it is a client of its own only when the gateway is told it sits behind a proxy
        assert answer.status_code == expected


def test_a_zero_client_rate_limit_turns_the_web_acl_off() -> None:
    template = Template.read(ROOT / "template.yaml", overrides={"ClientRateLimit": "0"})
    assert web_acl_rules(template) == []


def test_a_zero_write_limit_leaves_only_the_limit_on_all_requests() -> None:
    template = Template.read(ROOT / "template.yaml", overrides={"ClientWriteRateLimit": "0"})
    assert [rule.name for rule in web_acl_rules(template)] == ["requests-per-client"]


def test_the_template_defaults_are_a_write_rule_inside_a_rule_on_all_requests() -> None:
    rules = web_acl_rules(Template.read(ROOT / "template.yaml"))
    assert [(rule.name, rule.window) for rule in rules] == [
        ("writes-per-client", WINDOW),
        ("requests-per-client", WINDOW),
    ]
    writes, everything = rules
    assert 10 <= writes.limit < everything.limit


def test_a_stack_given_a_web_acl_from_us_east_1_makes_none_of_its_own() -> None:
    arn = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/sentiment-edge/0123"
    assert web_acl_rules(Template.read(ROOT / "template.yaml", overrides={"WebAclArn": arn})) == []


@pytest.mark.parametrize("parameter", ["ClientRateLimit", "ClientWriteRateLimit"])
def test_a_limit_below_ten_is_refused_as_aws_waf_refuses_it(parameter: str) -> None:
    template = Template.read(ROOT / "template.yaml", overrides={parameter: "5"})
    with pytest.raises(WebAclError, match="Limit must be 10 or more, not 5"):
        web_acl_rules(template)


def test_the_page_counts_too_as_cloudfront_serves_it_behind_the_same_web_acl() -> None:
    app = edge(Clock(), ClientRateLimit="10")
    answers = [send(app, "GET", "/index.html").status_code for _ in range(11)]
    assert answers[-1] == 429


# ---- CloudFront's origin header ----

ORIGIN_VALUE = "generated-origin-value"


def echo_origin_header(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Stands in for the gateway: answers with the X-Origin-Verify header it received."""
    header = Request(environ).headers.get("X-Origin-Verify")
    response = Response(json.dumps({"x-origin-verify": header}), content_type="application/json")
    answered: Iterable[bytes] = response(environ, start_response)
    return answered


def test_the_origin_header_is_the_templates_secret_resolved_as_cloudformation_resolves_it() -> None:
    template = Template.read(ROOT / "template.yaml", prefix="t")
    asked: list[str] = []

    def secret_value(secret_id: str) -> str:
        asked.append(secret_id)
        return ORIGIN_VALUE

    assert origin_headers(template, secret_value) == {"X-Origin-Verify": ORIGIN_VALUE}
    assert asked == [template.physical_name("OriginVerifySecret")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{resolve:secretsmanager:name:SecretString}}", "plain"),
        ("{{resolve:secretsmanager:name}}", "plain"),
        ("a-{{resolve:secretsmanager:json:SecretString:key}}-b", "a-from-json-b"),
        (
            "{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:name-Ab12:SecretString}}",
            "plain",
        ),
        ("{{resolve:secretsmanager:name:SecretString::AWSCURRENT:}}", "plain"),
    ],
)
def test_secrets_manager_dynamic_references_are_resolved(text: str, expected: str) -> None:
    values = {"name": "plain", "json": json.dumps({"key": "from-json"})}
    assert (
        resolve_secret_references(text, lambda secret_id: values[secret_id.rsplit(":", 1)[-1].split("-")[0]])
        == expected
    )


def test_the_edge_replaces_an_origin_header_the_viewer_sent() -> None:
    app = Edge(echo_origin_header, [], added_headers={"X-Origin-Verify": ORIGIN_VALUE})
    answer = Client(app).get("/comments", headers={"X-Origin-Verify": "forged"})
    assert answer.get_json() == {"x-origin-verify": ORIGIN_VALUE}


class Functions:
    """The authorizer allows exactly the origin value; the route answers 200."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def invoke(self, function: str, event: dict[str, Any]) -> Invocation:
        self.calls.append(function)
        if function == "OriginAuthorizerFunction":
            return Invocation(
                payload=json.dumps({"isAuthorized": event["headers"].get("x-origin-verify") == ORIGIN_VALUE})
            )
        return Invocation(payload=json.dumps({"statusCode": 200, "body": "{}"}))


def test_a_request_straight_to_the_api_is_refused_and_the_same_through_the_edge_is_answered() -> None:
    # Given the template's routes behind the gateway, and the edge in front of it
    template = Template.read(ROOT / "template.yaml", prefix="t")
    functions = Functions()
    gateway = Gateway(template.http_routes(), functions.invoke, None)
    edge_ = Edge(gateway, web_acl_rules(template), added_headers={"X-Origin-Verify": ORIGIN_VALUE})
    # When a client calls the API itself, with no header or a guessed one
    straight = Client(gateway).post("/comments", json={"comment": "round the limits"})
    guessed = Client(gateway).post("/comments", json={"comment": "x"}, headers={"X-Origin-Verify": "guess"})
    # Then API Gateway answers 401 without calling anything, and 403 for the guess
    assert straight.status_code == 401
    assert guessed.status_code == 403
    assert "ApiFunction" not in functions.calls
    # When the same call comes through the edge, it is answered
    assert Client(edge_).post("/comments", json={"comment": "through the front door"}).status_code == 200
    assert functions.calls[-1] == "ApiFunction"
