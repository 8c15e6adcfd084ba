"""The local HTTP API: payload v2 events, routing, response mapping, CORS, limits and the static page."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from sentiment_local.runtime.functions import Invocation
from sentiment_local.runtime.gateway import MAX_PAYLOAD_BYTES, AuthorizerCache, Cors, Gateway, to_response
from sentiment_template.reader import ACCOUNT, Authorizer, Route, Template
from tests.conftest import ROOT

API_ROUTES = [
    Route("POST", "/comments", "ApiFunction"),
    Route("POST", "/comments/batch", "ApiFunction"),
    Route("GET", "/comments", "ApiFunction"),
    Route("GET", "/comments/{comment_id}", "ApiFunction"),
    Route("POST", "/feedback", "ApiFunction"),
    Route("GET", "/health", "ApiFunction"),
    Route("GET", "/openapi.json", "ApiFunction"),
]
TEMPLATE_CORS = {
    "AllowOrigins": ["https://app.example"],
    "AllowMethods": ["GET", "POST", "OPTIONS"],
    "AllowHeaders": ["content-type", "idempotency-key", "authorization"],
    "MaxAge": 600,
}
OK = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": '{"ok": true}'}


@dataclass
class FakeFunctions:
    """Stands in for the runner: records every invocation and answers with a canned one."""

    answer: Invocation = field(default_factory=lambda: Invocation(payload=json.dumps(OK)))
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def invoke(self, function_name: str, event: dict[str, Any]) -> Invocation:
        self.calls.append((function_name, event))
        return self.answer

    def returning(self, result: Any) -> FakeFunctions:
        self.answer = Invocation(payload=json.dumps(result))
        return self

    @property
    def event(self) -> dict[str, Any]:
        assert len(self.calls) == 1, f"expected one invocation, got {len(self.calls)}"
        return self.calls[0][1]


def client(
    functions: FakeFunctions,
    routes: list[Route] | None = None,
    cors: Cors | None = None,
    static_dir: Path | None = None,
) -> Client:
    gateway = Gateway(API_ROUTES if routes is None else routes, functions.invoke, cors, static_dir)
    return Client(gateway, use_cookies=False)  # the Cookie header as sent, not a cookie jar's


def message(response: Response) -> Any:
    return json.loads(response.get_data(as_text=True))


# ---- the payload v2 event ----


def test_the_event_is_payload_v2_with_route_path_and_query() -> None:
    functions = FakeFunctions()
    response = client(functions).get(
        "/comments?limit=5&tag=a&tag=b&q=hello%20world",
        headers={"X-Trace": "abc", "User-Agent": "tests/1.0"},
        environ_overrides={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert response.status_code == 200
    ((function, event),) = functions.calls
    assert function == "ApiFunction"
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /comments"
    assert event["rawPath"] == "/comments"
    assert event["rawQueryString"] == "limit=5&tag=a&tag=b&q=hello%20world"
    assert event["queryStringParameters"] == {"limit": "5", "tag": "a,b", "q": "hello world"}
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    assert "pathParameters" not in event
    assert "cookies" not in event
    context = event["requestContext"]
    assert context["http"]["method"] == "GET"
    assert context["http"]["path"] == "/comments"
    assert context["http"]["sourceIp"] == "10.1.2.3"
    assert context["http"]["userAgent"] == "tests/1.0"
    assert context["routeKey"] == "GET /comments"
    assert context["stage"] == "$default"
    assert context["accountId"] == ACCOUNT
    assert context["apiId"] == "local"
    assert isinstance(context["timeEpoch"], int)
    assert context["timeEpoch"] > 1_600_000_000_000  # milliseconds, not seconds


def test_the_event_has_no_query_parameters_without_a_query() -> None:
    functions = FakeFunctions()
    client(functions).get("/health")
    assert functions.event["rawQueryString"] == ""
    assert "queryStringParameters" not in functions.event


def test_the_request_id_is_the_one_in_the_response_header() -> None:
    functions = FakeFunctions()
    response = client(functions).get("/health")
    request_id = functions.event["requestContext"]["requestId"]
    assert re.fullmatch(r"[0-9a-f]{16}", request_id)
    assert response.headers["Apigw-Requestid"] == request_id


def test_each_request_gets_its_own_id() -> None:
    functions = FakeFunctions()
    http = client(functions)
    http.get("/health")
    http.get("/health")
    first, second = (event["requestContext"]["requestId"] for _, event in functions.calls)
    assert first != second


def test_headers_are_lowercased_and_cookies_split_out() -> None:
    functions = FakeFunctions()
    client(functions).get(
        "/health",
        headers={"X-Api-Key": "k1", "Idempotency-Key": "abc", "Cookie": "session=s1; theme=dark ;  empty="},
    )
    event = functions.event
    assert event["headers"]["x-api-key"] == "k1"
    assert event["headers"]["idempotency-key"] == "abc"
    assert all(name == name.lower() for name in event["headers"])
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["session=s1", "theme=dark", "empty="]


def test_path_parameters_are_url_decoded() -> None:
    functions = FakeFunctions()
    client(functions).get("/comments/caf%C3%A9%20au%20lait")
    event = functions.event
    assert event["routeKey"] == "GET /comments/{comment_id}"
    assert event["pathParameters"] == {"comment_id": "café au lait"}
    assert event["rawPath"] == "/comments/caf%C3%A9%20au%20lait"
    assert event["requestContext"]["http"]["path"] == "/comments/café au lait"


def test_path_parameters_are_decoded_exactly_once() -> None:
    # "%2520" is an encoded "%20": the function must see "%20", not a space.
    functions = FakeFunctions()
    client(functions).get("/comments/100%2520off")
    assert functions.event["pathParameters"] == {"comment_id": "100%20off"}


# ---- the body ----


def test_a_json_body_is_passed_as_text() -> None:
    functions = FakeFunctions()
    payload = {"text": "I love it ✓"}
    client(functions).post("/comments", json=payload)
    event = functions.event
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == payload
    assert event["headers"]["content-type"] == "application/json"


@pytest.mark.parametrize(
    "content_type", ["text/plain; charset=utf-8", "application/x-www-form-urlencoded", "application/problem+json"]
)
def test_text_media_types_are_passed_as_text(content_type: str) -> None:
    functions = FakeFunctions()
    client(functions).post("/feedback", data="a=1&b=2", content_type=content_type)
    assert functions.event["body"] == "a=1&b=2"
    assert functions.event["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        pytest.param(b"plain ascii, but declared binary", "application/octet-stream", id="a binary media type"),
        pytest.param(b"raw", None, id="no content type"),
        pytest.param(b'{"text": "\xff\xfe"}', "application/json", id="invalid UTF-8 even when declared as JSON"),
    ],
)
def test_a_body_that_is_not_text_is_base64_encoded(data: bytes, content_type: str | None) -> None:
    functions = FakeFunctions()
    client(functions).post("/comments", data=data, content_type=content_type)
    assert functions.event["isBase64Encoded"] is True
    assert base64.b64decode(functions.event["body"]) == data


# ---- routes ----


def test_the_batch_route_wins_over_the_comment_id_route() -> None:
    functions = FakeFunctions()
    http = client(functions)
    http.post("/comments/batch", json={"items": []})
    http.get("/comments/batch")
    (_, posted), (_, got) = functions.calls
    assert posted["routeKey"] == "POST /comments/batch"
    assert "pathParameters" not in posted
    assert got["routeKey"] == "GET /comments/{comment_id}"
    assert got["pathParameters"] == {"comment_id": "batch"}


def test_literal_routes_win_over_parameters_whatever_their_order() -> None:
    routes = [Route("ANY", "/comments/{comment_id}", "ById"), Route("POST", "/comments/batch", "Batch")]
    functions = FakeFunctions()
    http = client(functions, routes)
    http.post("/comments/batch")
    http.delete("/comments/batch")
    assert [name for name, _ in functions.calls] == ["Batch", "ById"]
    assert functions.calls[1][1]["routeKey"] == "ANY /comments/{comment_id}"


def test_route_lookup_returns_the_route_and_its_parameters() -> None:
    gateway = Gateway(API_ROUTES, FakeFunctions().invoke, None)
    assert gateway.route("GET", "/comments/abc") == (
        Route("GET", "/comments/{comment_id}", "ApiFunction"),
        {"comment_id": "abc"},
    )
    assert gateway.route("POST", "/comments/batch") == (Route("POST", "/comments/batch", "ApiFunction"), {})
    assert gateway.route("GET", "/comments/abc/extra") is None
    assert gateway.route("PATCH", "/comments/abc") is None


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nothing-here"), ("PUT", "/comments"), ("DELETE", "/comments/abc"), ("GET", "/feedback")],
)
def test_unmatched_routes_are_404_and_invoke_nothing(method: str, path: str) -> None:
    functions = FakeFunctions()
    response = client(functions).open(path, method=method)
    assert response.status_code == 404
    assert message(response) == {"message": "Not Found"}
    assert response.headers["Content-Type"] == "application/json"
    assert functions.calls == []


def test_a_greedy_parameter_takes_several_segments() -> None:
    routes = [Route("GET", "/files/{proxy+}", "Files"), Route("ANY", "/{proxy+}", "CatchAll")]
    functions = FakeFunctions()
    http = client(functions, routes)
    http.get("/files/a/b/c.txt")
    http.post("/somewhere/else")
    (first_function, first), (second_function, second) = functions.calls
    assert first_function == "Files"
    assert first["routeKey"] == "GET /files/{proxy+}"
    assert first["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert second_function == "CatchAll"
    assert second["pathParameters"] == {"proxy": "somewhere/else"}


def test_a_literal_route_wins_over_a_greedy_one() -> None:
    routes = [Route("ANY", "/{proxy+}", "CatchAll"), Route("GET", "/health", "Health")]
    functions = FakeFunctions()
    client(functions, routes).get("/health")
    assert [name for name, _ in functions.calls] == ["Health"]


# ---- response mapping ----


def test_status_headers_and_body_come_from_the_result() -> None:
    response = to_response(
        Invocation(
            payload=json.dumps({"statusCode": 201, "headers": {"X-Thing": "1", "Location": "/c/1"}, "body": "made"})
        )
    )
    assert response.status_code == 201
    assert response.headers["X-Thing"] == "1"
    assert response.headers["Location"] == "/c/1"
    assert response.get_data() == b"made"
    assert "Content-Type" not in response.headers  # none given, none invented


def test_the_function_response_reaches_the_client() -> None:
    result = {"statusCode": 202, "headers": {"content-type": "application/json", "x-id": "7"}, "body": '{"id": 7}'}
    response = client(FakeFunctions().returning(result)).post("/comments", json={"text": "hi"})
    assert response.status_code == 202
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Id"] == "7"
    assert response.get_json() == {"id": 7}


def test_base64_bodies_are_decoded() -> None:
    data = bytes(range(256))
    result = {"statusCode": 200, "body": base64.b64encode(data).decode(), "isBase64Encoded": True}
    response = to_response(Invocation(payload=json.dumps(result)))
    assert response.get_data() == data


def test_invalid_base64_is_a_500() -> None:
    result = {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True}
    response = to_response(Invocation(payload=json.dumps(result)))
    assert response.status_code == 500
    assert message(response) == {"message": "Internal Server Error"}


def test_cookies_become_set_cookie_headers() -> None:
    result = {"statusCode": 200, "body": "", "cookies": ["a=1; Path=/", "b=2; HttpOnly"]}
    response = to_response(Invocation(payload=json.dumps(result)))
    assert response.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; HttpOnly"]


def test_multi_value_headers_are_all_sent() -> None:
    result = {"statusCode": 200, "multiValueHeaders": {"X-Many": ["1", "2"]}}
    response = to_response(Invocation(payload=json.dumps(result)))
    assert response.headers.getlist("X-Many") == ["1", "2"]
    assert response.get_data() == b""


def test_a_string_status_code_is_accepted() -> None:
    response = to_response(Invocation(payload=json.dumps({"statusCode": "404", "body": "gone"})))
    assert response.status_code == 404
    assert response.get_data() == b"gone"


@pytest.mark.parametrize("result", [{"hello": "world", "n": 1}, ["a", "b"], "just text", None])
def test_a_result_without_status_code_is_a_200_with_the_json(result: Any) -> None:
    payload = json.dumps(result)
    response = to_response(Invocation(payload=payload))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_data(as_text=True) == payload


def test_a_failed_invocation_is_a_500() -> None:
    functions = FakeFunctions(answer=Invocation(error={"errorType": "KeyError", "errorMessage": "'x'"}))
    response = client(functions).get("/health")
    assert len(functions.calls) == 1
    assert response.status_code == 500
    assert message(response) == {"message": "Internal Server Error"}
    assert response.headers["Content-Type"] == "application/json"


def test_a_timed_out_invocation_is_a_503() -> None:
    response = to_response(Invocation(error={"errorType": "Sandbox.Timedout", "errorMessage": "timed out"}))
    assert response.status_code == 503
    assert message(response) == {"message": "Service Unavailable"}


@pytest.mark.parametrize("status", ["abc", None, [200]])
def test_a_non_numeric_status_code_is_a_500(status: Any) -> None:
    response = to_response(Invocation(payload=json.dumps({"statusCode": status, "body": "x"})))
    assert response.status_code == 500
    assert message(response) == {"message": "Internal Server Error"}


# ---- the payload quota ----


def test_a_body_over_10_mib_is_refused_without_invoking() -> None:
    functions = FakeFunctions()
    response = client(functions).post("/comments", data=b"x" * (MAX_PAYLOAD_BYTES + 1), content_type="text/plain")
    assert response.status_code == 413
    assert message(response) == {"message": "Request Entity Too Large"}
    assert functions.calls == []
    assert response.headers.get("Apigw-Requestid")


def test_a_body_of_exactly_10_mib_is_accepted() -> None:
    assert MAX_PAYLOAD_BYTES == 10 * 1024 * 1024
    functions = FakeFunctions()
    response = client(functions).post("/comments", data=b"x" * MAX_PAYLOAD_BYTES, content_type="text/plain")
    assert response.status_code == 200
    assert len(functions.event["body"]) == MAX_PAYLOAD_BYTES


# ---- CORS ----


def test_cors_of_reads_a_cors_configuration() -> None:
    cors = Cors.of({**TEMPLATE_CORS, "AllowMethods": ["get", "post"], "AllowHeaders": ["Content-Type"]})
    assert cors == Cors(
        origins=["https://app.example"],
        methods=["GET", "POST"],
        headers=["content-type"],
        expose=[],
        max_age=600,
        credentials=False,
    )
    assert Cors.of({}) is None


def test_a_preflight_is_answered_without_invoking() -> None:
    functions = FakeFunctions()
    response = client(functions, cors=Cors.of(TEMPLATE_CORS)).options(
        "/comments",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,idempotency-key",
        },
    )
    assert response.status_code == 204
    assert functions.calls == []
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert response.headers["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"
    assert response.headers["Access-Control-Allow-Headers"] == "content-type,idempotency-key,authorization"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert response.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert response.get_data() == b""


def test_a_preflight_from_another_origin_gets_no_cors_headers() -> None:
    functions = FakeFunctions()
    response = client(functions, cors=Cors.of(TEMPLATE_CORS)).options(
        "/comments", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 204
    assert functions.calls == []
    assert not [name for name, _ in response.headers if name.lower().startswith("access-control-")]


def test_a_preflight_for_a_method_not_allowed_gets_no_cors_headers() -> None:
    response = client(FakeFunctions(), cors=Cors.of(TEMPLATE_CORS)).options(
        "/comments", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"}
    )
    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_wildcard_preflight_echoes_the_requested_headers() -> None:
    cors = Cors.of({"AllowOrigins": ["*"], "AllowMethods": ["*"], "AllowHeaders": ["*"], "AllowCredentials": True})
    response = client(FakeFunctions(), cors=cors).options(
        "/anything",
        headers={
            "Origin": "https://any.example",
            "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "x-one,x-two",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Headers"] == "x-one,x-two"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Access-Control-Max-Age" not in response.headers
    assert "Vary" not in response.headers


def test_options_without_a_request_method_is_not_a_preflight() -> None:
    functions = FakeFunctions()
    response = client(functions, cors=Cors.of(TEMPLATE_CORS)).options(
        "/comments", headers={"Origin": "https://app.example"}
    )
    assert response.status_code == 404
    assert functions.calls == []


def test_the_gateway_replaces_the_functions_cors_headers() -> None:
    result = {
        "statusCode": 200,
        "headers": {
            "Access-Control-Allow-Origin": "https://evil.example",
            "access-control-allow-credentials": "true",
            "Access-Control-Expose-Headers": "x-secret",
            "X-Custom": "kept",
        },
        "body": "{}",
    }
    cors = Cors.of({**TEMPLATE_CORS, "ExposeHeaders": ["x-request-id", "etag"]})
    response = client(FakeFunctions().returning(result), cors=cors).get(
        "/health", headers={"Origin": "https://app.example"}
    )
    assert response.status_code == 200
    assert response.headers.getlist("Access-Control-Allow-Origin") == ["https://app.example"]
    assert response.headers["Access-Control-Expose-Headers"] == "x-request-id,etag"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert response.headers["X-Custom"] == "kept"
    assert response.headers["Vary"] == "Origin"


def test_a_disallowed_origin_gets_no_allow_origin_header() -> None:
    result = {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*"}, "body": "{}"}
    response = client(FakeFunctions().returning(result), cors=Cors.of(TEMPLATE_CORS)).get(
        "/health", headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Vary" not in response.headers


def test_a_wildcard_origin_answers_star_without_vary() -> None:
    response = client(FakeFunctions(), cors=Cors.of({**TEMPLATE_CORS, "AllowOrigins": ["*"]})).get(
        "/health", headers={"Origin": "https://whoever.example"}
    )
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Vary" not in response.headers


def test_a_request_without_an_origin_gets_no_cors_headers() -> None:
    response = client(FakeFunctions(), cors=Cors.of(TEMPLATE_CORS)).get("/health")
    assert "Access-Control-Allow-Origin" not in response.headers


def test_errors_carry_cors_headers_too() -> None:
    response = client(FakeFunctions(), cors=Cors.of(TEMPLATE_CORS)).get(
        "/missing", headers={"Origin": "https://app.example"}
    )
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"


def test_the_template_drives_routes_and_cors() -> None:
    template = Template.read(ROOT / "template.yaml", prefix="t", overrides={"AllowedOrigin": "https://app.example"})
    functions = Authorizing()
    gateway = Gateway(template.http_routes(), functions.invoke, Cors.of(template.http_api_cors()))
    http = Client(gateway)
    preflight = http.options(
        "/feedback", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert preflight.headers["Access-Control-Max-Age"] == "600"
    response = http.get("/comments/c-1", headers={"Origin": "https://app.example", "X-Origin-Verify": "v"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert [name for name, _ in functions.calls] == ["OriginAuthorizerFunction", "ApiFunction"]
    assert functions.calls[-1][1]["routeKey"] == "GET /comments/{comment_id}"


# ---- Lambda authorizers ----

ADMIN = Authorizer("AdminKey", "AdminAuthorizerFunction", ("Authorization",))
GUARDED = [Route("POST", "/training", "ApiFunction", ADMIN), Route("GET", "/training", "ApiFunction")]


@dataclass
class Authorizing(FakeFunctions):
    """The authorizer answers ``decision``; the route's function answers OK."""

    decision: Invocation = field(default_factory=lambda: Invocation(payload=json.dumps({"isAuthorized": True})))

    def invoke(self, function_name: str, event: dict[str, Any]) -> Invocation:
        self.calls.append((function_name, event))
        return self.decision if function_name.endswith("AuthorizerFunction") else self.answer

    def deciding(self, result: Any) -> Authorizing:
        self.decision = Invocation(payload=json.dumps(result))
        return self


@pytest.mark.parametrize("headers", [{}, {"Authorization": ""}, {"Authorization": "  "}, {"X-Api-Key": "k"}])
def test_a_missing_identity_header_is_401_without_calling_anything(headers: dict[str, str]) -> None:
    functions = Authorizing()
    response = client(functions, GUARDED).post("/training", headers=headers)

    assert (response.status_code, message(response)) == (401, {"message": "Unauthorized"})
    assert functions.calls == []


def test_the_authorizer_gets_a_payload_2_request_event() -> None:
    functions = Authorizing().deciding({"isAuthorized": False})
    client(functions, GUARDED).post(
        "/training?dry=1", headers={"Authorization": "Bearer k", "Cookie": "a=1"}, data=b'{"x": 1}'
    )

    ((name, event),) = functions.calls
    assert name == "AdminAuthorizerFunction"
    assert (event["version"], event["type"], event["routeKey"]) == ("2.0", "REQUEST", "POST /training")
    assert event["routeArn"] == f"arn:aws:execute-api:us-east-1:{ACCOUNT}:local/$default/POST/training"
    assert event["identitySource"] == ["Bearer k"]
    assert event["headers"]["authorization"] == "Bearer k"
    assert event["queryStringParameters"] == {"dry": "1"}
    assert event["cookies"] == ["a=1"]
    assert "body" not in event
    assert event["requestContext"]["http"]["method"] == "POST"


def test_a_refusal_is_403_and_the_route_is_not_called() -> None:
    functions = Authorizing().deciding({"isAuthorized": False, "context": {"role": "admin"}})
    response = client(functions, GUARDED).post("/training", headers={"Authorization": "Bearer wrong"})

    assert (response.status_code, message(response)) == (403, {"message": "Forbidden"})
    assert [name for name, _ in functions.calls] == ["AdminAuthorizerFunction"]


@pytest.mark.parametrize(
    "decision",
    [
        Invocation(error={"errorType": "ServiceUnavailableError", "errorMessage": "secret unreadable"}),
        Invocation(payload=json.dumps({"isAuthorized": "yes"})),
        Invocation(payload=json.dumps({"principalId": "me"})),
        Invocation(payload=json.dumps(["isAuthorized", True])),
    ],
    ids=["failed", "not-a-boolean", "no-decision", "not-an-object"],
)
def test_an_authorizer_that_fails_or_answers_nonsense_is_a_500(decision: Invocation) -> None:
    functions = Authorizing(decision=decision)
    response = client(functions, GUARDED).post("/training", headers={"Authorization": "Bearer k"})

    assert (response.status_code, message(response)) == (500, {"message": "Internal Server Error"})
    assert [name for name, _ in functions.calls] == ["AdminAuthorizerFunction"]


def test_an_allowed_request_reaches_the_route_with_the_authorizer_context() -> None:
    functions = Authorizing().deciding({"isAuthorized": True, "context": {"role": "admin"}})
    response = client(functions, GUARDED).post("/training", headers={"Authorization": "Bearer k"})

    assert response.status_code == 200
    (_, route_event) = functions.calls[1]
    assert [name for name, _ in functions.calls] == ["AdminAuthorizerFunction", "ApiFunction"]
    assert route_event["requestContext"]["authorizer"] == {"lambda": {"role": "admin"}}


def test_routes_without_an_authorizer_call_only_their_function() -> None:
    functions = Authorizing().deciding({"isAuthorized": False})
    response = client(functions, GUARDED).get("/training")

    assert response.status_code == 200
    assert [name for name, _ in functions.calls] == ["ApiFunction"]
    assert "authorizer" not in functions.event["requestContext"]


ADMIN_ROUTES = {
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


def test_the_template_guards_admin_reviewer_and_public_routes_each_with_their_authorizer() -> None:
    routes = Template.read(ROOT / "template.yaml", prefix="t").http_routes()

    admin = Authorizer("AdminKey", "AdminAuthorizerFunction", ("Authorization",))
    origin = Authorizer("OriginVerify", "OriginAuthorizerFunction", ("X-Origin-Verify",), cache_seconds=300)
    reviewer = Authorizer("ReviewerKey", "ReviewerAuthorizerFunction", ("Authorization",))
    guarded = {route.key: route.authorizer for route in routes}
    assert guarded == {
        route.key: admin if route.key in ADMIN_ROUTES else reviewer if route.key == "POST /reviews" else origin
        for route in routes
    }


# ---- authorizer answers cached as ReauthorizeEvery says ----

CACHED = Authorizer("OriginVerify", "AdminAuthorizerFunction", ("X-Origin-Verify",), cache_seconds=300)


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def cached_client(functions: Authorizing, clock: Clock) -> Client:
    gateway = Gateway([Route("GET", "/comments", "ApiFunction", CACHED)], functions.invoke, None)
    gateway._authorizer_cache = AuthorizerCache(clock)  # the test's own clock
    return Client(gateway)


def authorizer_calls(functions: Authorizing) -> int:
    return sum(1 for name, _ in functions.calls if name == "AdminAuthorizerFunction")


def test_an_allowed_answer_is_reused_for_the_same_header_until_reauthorize_every_has_passed() -> None:
    functions, clock = Authorizing().deciding({"isAuthorized": True}), Clock()
    client_ = cached_client(functions, clock)
    for _ in range(3):
        assert client_.get("/comments", headers={"X-Origin-Verify": "v"}).status_code == 200
    assert authorizer_calls(functions) == 1
    clock.now += 301
    assert client_.get("/comments", headers={"X-Origin-Verify": "v"}).status_code == 200
    assert authorizer_calls(functions) == 2


def test_another_header_value_or_a_refusal_is_not_answered_from_the_cache() -> None:
    functions, clock = Authorizing().deciding({"isAuthorized": True}), Clock()
    client_ = cached_client(functions, clock)
    client_.get("/comments", headers={"X-Origin-Verify": "v"})
    functions.deciding({"isAuthorized": False})
    assert client_.get("/comments", headers={"X-Origin-Verify": "w"}).status_code == 403
    assert client_.get("/comments", headers={"X-Origin-Verify": "w"}).status_code == 403
    assert authorizer_calls(functions) == 3


def test_an_authorizer_with_no_reauthorize_every_is_called_every_time() -> None:
    functions = Authorizing().deciding({"isAuthorized": True, "context": {"role": "admin"}})
    for _ in range(2):
        client(functions, GUARDED).post("/training", headers={"Authorization": "Bearer k"})
    assert authorizer_calls(functions) == 2


# ---- the static page ----


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "css").mkdir(parents=True)
    (site / "index.html").write_text("<h1>comments</h1>")
    (site / "css" / "app.css").write_text("body { color: red }")
    (tmp_path / "secret.txt").write_text("do not serve")
    return site


def test_the_root_serves_index_html(static_dir: Path) -> None:
    functions = FakeFunctions()
    response = client(functions, static_dir=static_dir).get("/")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "<h1>comments</h1>"
    assert response.mimetype == "text/html"
    assert response.headers.get("Apigw-Requestid")
    assert functions.calls == []


def test_static_files_are_served_from_subfolders(static_dir: Path) -> None:
    response = client(FakeFunctions(), static_dir=static_dir).get("/css/app.css")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "body { color: red }"
    assert response.mimetype == "text/css"


def test_head_serves_static_headers(static_dir: Path) -> None:
    response = client(FakeFunctions(), static_dir=static_dir).head("/index.html")
    assert response.status_code == 200
    assert response.get_data() == b""
    assert response.headers["Content-Length"] == str(len("<h1>comments</h1>"))


def test_api_routes_win_over_static_files(static_dir: Path) -> None:
    (static_dir / "health").write_text("static health")
    functions = FakeFunctions()
    response = client(functions, static_dir=static_dir).get("/health")
    assert response.get_json() == {"ok": True}
    assert len(functions.calls) == 1


@pytest.mark.parametrize(
    "path", ["/../secret.txt", "/%2e%2e/secret.txt", "/css/../../secret.txt", "/../etc/passwd", "//etc/passwd"]
)
def test_path_traversal_does_not_escape_the_static_folder(static_dir: Path, path: str) -> None:
    response = client(FakeFunctions(), static_dir=static_dir).get(path)
    assert response.status_code == 404
    assert message(response) == {"message": "Not Found"}
    assert b"do not serve" not in response.get_data()


def test_a_missing_static_file_is_a_json_404(static_dir: Path) -> None:
    response = client(FakeFunctions(), static_dir=static_dir).get("/nope.html")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert message(response) == {"message": "Not Found"}


def test_a_folder_is_not_served(static_dir: Path) -> None:
    response = client(FakeFunctions(), static_dir=static_dir).get("/css")
    assert response.status_code == 404


def test_static_files_are_only_for_get_and_head(static_dir: Path) -> None:
    response = client(FakeFunctions(), static_dir=static_dir).post("/index.html")
    assert response.status_code == 404
    assert message(response) == {"message": "Not Found"}


# ---- the request id ----


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/health", {}, 200),
        ("GET", "/missing", {}, 404),
        ("OPTIONS", "/comments", {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}, 204),
        ("OPTIONS", "/comments", {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, 204),
    ],
)
def test_every_response_carries_a_request_id(method: str, path: str, headers: dict[str, str], status: int) -> None:
    response = client(FakeFunctions(), cors=Cors.of(TEMPLATE_CORS)).open(path, method=method, headers=headers)
    assert response.status_code == status
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers.get("Apigw-Requestid", ""))


def test_a_failed_invocation_still_carries_a_request_id() -> None:
    functions = FakeFunctions(answer=Invocation(error={"errorType": "Sandbox.Timedout"}))
    response = client(functions).get("/health")
    assert response.status_code == 503
    assert response.headers["Apigw-Requestid"] == functions.event["requestContext"]["requestId"]
