"""The API's own address is no way round the limits per client in front of CloudFront: its public routes
answer only requests carrying the origin header CloudFront adds, and the admin routes keep their key."""

from __future__ import annotations

import hmac
from typing import Any

import pytest

from authorizer_function import origin
from sentiment_common.dal.origin_secret import OriginSecret
from tests.integration.api.conftest import ORIGIN_VALUE, LambdaContext, Stack, http_event

PUBLIC_CALLS = [
    ("POST", "/comments", {"comment": "Straight to the API, round the limits"}),
    ("POST", "/feedback", {"text": "Straight to the API", "label": "negative"}),
    ("GET", "/comments", None),
    ("GET", "/health", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PUBLIC_CALLS)
def test_a_public_route_called_without_the_origin_header_is_401_and_nothing_runs(
    api: Stack, method: str, path: str, body: Any
) -> None:
    # When a client calls the API's own address, without CloudFront's header
    answer = api.call(method, path, body, through_cloudfront=False)
    # Then API Gateway refuses it, and nothing was stored
    assert (answer.status, answer.body) == (401, {"message": "Unauthorized"})
    assert api.items("CommentsTable") == []
    assert api.objects("feedback/") == []


@pytest.mark.parametrize("guess", ["guess", ORIGIN_VALUE + "x", ORIGIN_VALUE[:-1]])
def test_a_public_route_called_with_a_guessed_origin_header_is_403_and_nothing_runs(api: Stack, guess: str) -> None:
    answer = api.call(
        "POST", "/comments", {"comment": "A guess"}, through_cloudfront=False, headers={"X-Origin-Verify": guess}
    )
    assert (answer.status, answer.body) == (403, {"message": "Forbidden"})
    assert api.items("CommentsTable") == []


def test_the_same_call_through_cloudfront_is_answered(api: Stack) -> None:
    answer = api.call("POST", "/comments", {"comment": "Through the front door"})
    assert answer.status == 201
    assert len(api.items("CommentsTable")) == 1


def test_the_admin_routes_keep_their_key_and_need_no_origin_header(api: Stack) -> None:
    # An administrator's call to the API's own address still works with the key, and without it is refused
    allowed = api.call(
        "POST", "/training", {}, through_cloudfront=False, headers={"Authorization": f"Bearer {api.admin_key}"}
    )
    refused = api.call("POST", "/training", {}, through_cloudfront=False)
    assert allowed.status == 202
    assert refused.status == 401


def test_the_origin_authorizer_allows_the_secret_and_nothing_else(stack: Stack) -> None:
    def decide(value: str | None) -> Any:
        headers = {} if value is None else {"X-Origin-Verify": value}
        event = {**http_event("GET", "/comments", headers=headers), "type": "REQUEST"}
        return origin.lambda_handler(event, LambdaContext("OriginAuthorizerFunction"))["isAuthorized"]

    assert decide(ORIGIN_VALUE) is True
    assert decide(f" {ORIGIN_VALUE} ") is True  # CloudFront sends it as stored; surrounding blanks are no secret
    assert decide("") is False
    assert decide(None) is False
    assert decide(ORIGIN_VALUE.upper()) is False


def test_the_origin_value_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []

    def compare(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(hmac, "compare_digest", compare)
    secret = OriginSecret("unused", 0)
    monkeypatch.setattr(secret, "_value", lambda: "right")
    assert secret.matches("wrong") is False
    assert compared == [(b"wrong", b"right")]
