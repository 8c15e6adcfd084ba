"""The reviewer authorizer decides on the key alone: an active reviewer's key passes with their name, the
admin key passes as reviewer "admin", and a revoked, unknown or malformed one is refused."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from authorizer_function import reviewer as authorizer
from sentiment_common.reviewers import key_digest, new_key
from tests.fakes.reviewers import FakeReviewers

ADMIN_KEY = "AdminKey0123456789abcdefghijklmnopqrstu"
T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


@dataclass
class FixedAdminKey:
    value: str
    reads: int = 0

    def matches(self, candidate: str) -> bool:
        self.reads += 1
        return candidate == self.value


@dataclass
class Context:
    function_name: str = "ReviewerAuthorizerFunction"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "req"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:ReviewerAuthorizerFunction"


@pytest.fixture
def reviewers(monkeypatch: pytest.MonkeyPatch, metrics_namespace: None) -> Iterator[FakeReviewers]:
    store, admin = FakeReviewers(), FixedAdminKey(ADMIN_KEY)
    monkeypatch.setattr(authorizer, "reviewers", lambda: store)
    monkeypatch.setattr(authorizer, "admin_key", lambda: admin)
    yield store


def event(authorization: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": "arn:aws:execute-api:us-east-1:123456789012:api/$default/POST/reviews",
        "identitySource": [authorization],
        "routeKey": "POST /reviews",
        "rawPath": "/reviews",
        "rawQueryString": "",
        "headers": {"authorization": authorization},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "http": {"method": "POST", "path": "/reviews", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.7"},
            "requestId": "req",
            "routeKey": "POST /reviews",
            "stage": "$default",
        },
    }


def decide(authorization: str) -> dict[str, Any]:
    answer: dict[str, Any] = authorizer.lambda_handler(event(authorization), Context())
    return answer


def test_an_active_reviewers_key_passes_with_their_name(reviewers: FakeReviewers) -> None:
    key = new_key()
    reviewers.create("ana", key_digest(key), T0)

    answer = decide(f"Bearer {key}")

    assert answer == {"isAuthorized": True, "context": {"role": "reviewer", "reviewer": "ana"}}


def test_a_revoked_key_is_refused(reviewers: FakeReviewers) -> None:
    key = new_key()
    reviewers.create("ana", key_digest(key), T0)
    reviewers.revoke("ana", T0)

    assert decide(f"Bearer {key}")["isAuthorized"] is False


def test_a_withdrawn_reviewers_key_is_refused(reviewers: FakeReviewers) -> None:
    key = new_key()
    reviewers.create("ana", key_digest(key), T0)
    reviewers.withdraw("ana", T0)

    assert decide(f"Bearer {key}")["isAuthorized"] is False


@pytest.mark.parametrize(
    "authorization",
    ["Bearer rvw_never-issued", "Bearer not-the-admin-key", "Bearer ", "Basic rvw_x", f"Token {ADMIN_KEY}"],
)
def test_an_unknown_or_malformed_key_is_refused(reviewers: FakeReviewers, authorization: str) -> None:
    reviewers.create("ana", key_digest(new_key()), T0)

    answer = decide(authorization)

    assert answer["isAuthorized"] is False
    assert "context" not in answer or not answer["context"]


def test_the_admin_key_passes_as_reviewer_admin(reviewers: FakeReviewers) -> None:

    answer = decide(f"bearer {ADMIN_KEY}")

    assert answer == {"isAuthorized": True, "context": {"role": "reviewer", "reviewer": "admin"}}


def test_a_reviewer_key_is_looked_up_without_reading_the_admin_secret(
    reviewers: FakeReviewers, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = FixedAdminKey(ADMIN_KEY)
    monkeypatch.setattr(authorizer, "admin_key", lambda: admin)
    key = new_key()
    reviewers.create("ana", key_digest(key), T0)

    decide(f"Bearer {key}")
    decide("Bearer rvw_unknown")

    assert admin.reads == 0


def test_keys_are_long_random_and_recognisable() -> None:
    keys = {new_key() for _ in range(100)}

    assert len(keys) == 100
    assert all(key.startswith("rvw_") and len(key) >= 40 for key in keys)
    assert key_digest("rvw_abc") == "d19020de47cd8f820967df76c8e7368f8177e4cecff23b0e50e4970ab2a724c8"  # SHA-256, hex
