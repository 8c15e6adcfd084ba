"""Named reviewers through the API: an admin issues, lists, revokes and withdraws them behind the admin
authorizer; a reviewer labels through POST /reviews behind the reviewer authorizer, and the label is
stored with their name."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import boto3
import pytest

from sentiment_common import dependencies
from sentiment_common.dal.reviewers import DynamoDbReviewers
from tests.integration.api.conftest import LambdaContext, Stack, http_event


def _admin(api: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.admin_key}"}


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _create(api: Stack, name: str) -> str:
    answer = api.call("POST", "/reviewers", {"name": name}, headers=_admin(api))
    assert answer.status == 201, answer.body
    key: str = answer.body["key"]
    return key


def _comment(api: Stack, text: str = "The delivery was late again") -> str:
    answer = api.call("POST", "/comments", {"comment": text})
    assert answer.status == 201, answer.body
    comment_id: str = answer.body["comment_id"]
    return comment_id


def _feedback_objects(api: Stack) -> list[dict[str, Any]]:
    s3 = boto3.client("s3")
    return [json.loads(s3.get_object(Bucket=api.bucket, Key=key)["Body"].read()) for key in api.objects("feedback/")]


def test_an_admin_creates_a_reviewer_whose_key_is_shown_once_and_stored_only_as_its_digest(api: Stack) -> None:

    answer = api.call("POST", "/reviewers", {"name": "ana.k"}, headers=_admin(api))

    assert answer.status == 201
    assert set(answer.body) == {"name", "key", "created_at"}
    key = answer.body["key"]
    assert answer.body["name"] == "ana.k"
    assert key.startswith("rvw_") and len(key) >= 40
    assert answer.headers["Cache-Control"] == "no-store"
    stored = json.dumps(api.items("RegistryTable"), default=str)
    assert key not in stored
    assert hashlib.sha256(key.encode()).hexdigest() in stored
    listed = api.call("GET", "/reviewers", headers=_admin(api))
    assert listed.status == 200
    assert [(r["name"], r["active"], r["revoked_at"], r["withdrawn_at"]) for r in listed.body["reviewers"]] == [
        ("ana.k", True, None, None)
    ]
    assert key not in json.dumps(listed.body)


def test_an_active_name_is_409_and_nothing_changes(api: Stack) -> None:
    key = _create(api, "ana")

    again = api.call("POST", "/reviewers", {"name": "ana"}, headers=_admin(api))

    assert again.status == 409
    assert "ana" in again.body["message"]
    assert (
        api.call("POST", "/reviews", {"comment_id": _comment(api), "label": "negative"}, headers=_bearer(key)).status
        == 201
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Ana"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "a" * 65}, "name"),
        ({"name": "ana smith"}, "name"),
        ({"name": "admin"}, "admin"),
        ({"name": "ana", "key": "rvw_mine"}, "key"),
    ],
)
def test_a_bad_name_is_422_naming_what_is_wrong_and_stores_nothing(
    api: Stack, body: dict[str, str], field: str
) -> None:

    answer = api.call("POST", "/reviewers", body, headers=_admin(api))

    assert answer.status == 422
    assert field in json.dumps(answer.body["details"])
    assert api.items("RegistryTable") == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/reviewers", {"name": "ana"}),
        ("GET", "/reviewers", None),
        ("DELETE", "/reviewers/ana", None),
        ("POST", "/reviewers/ana/withdraw", None),
    ],
)
def test_reviewer_management_is_for_the_admin_only(api: Stack, method: str, path: str, body: Any) -> None:
    reviewer_key = _create(api, "ana")

    anonymous = api.call(method, path, body)
    wrong = api.call(method, path, body, headers=_bearer("not-the-key"))
    as_reviewer = api.call(method, path, body, headers=_bearer(reviewer_key))

    assert (anonymous.status, wrong.status, as_reviewer.status) == (401, 403, 403)
    assert [r["name"] for r in api.call("GET", "/reviewers", headers=_admin(api)).body["reviewers"]] == ["ana"]
    assert (
        api.call(
            "POST", "/reviews", {"comment_id": _comment(api), "label": "neutral"}, headers=_bearer(reviewer_key)
        ).status
        == 201
    )


def test_a_reviewers_label_is_stored_with_their_name(api: Stack) -> None:
    key = _create(api, "ana")
    comment_id = _comment(api)

    answer = api.call("POST", "/reviews", {"comment_id": comment_id, "label": "negative"}, headers=_bearer(key))

    assert answer.status == 201
    assert (answer.body["source"], answer.body["reviewer"], answer.body["label"]) == ("reviewer", "ana", "negative")
    [record] = _feedback_objects(api)
    assert (record["source"], record["reviewer"], record["comment_id"], record["label"]) == (
        "reviewer",
        "ana",
        comment_id,
        "negative",
    )
    assert api.call("GET", f"/comments/{comment_id}").body["feedback"]["label"] == "negative"


def test_the_admin_key_labels_as_reviewer_admin_and_a_public_label_stays_public(api: Stack) -> None:
    comment_id = _comment(api)

    as_admin = api.call("POST", "/reviews", {"comment_id": comment_id, "label": "positive"}, headers=_admin(api))
    public = api.call("POST", "/feedback", {"comment_id": comment_id, "label": "neutral"})

    assert (as_admin.status, as_admin.body["reviewer"]) == (201, "admin")
    assert public.status == 201
    sources = sorted((record["source"], record.get("reviewer")) for record in _feedback_objects(api))
    assert sources == [("public", None), ("reviewer", "admin")]


@pytest.mark.parametrize("authorization", [None, "Bearer rvw_never-issued", "Bearer not-a-key", "Basic rvw_x"])
def test_a_review_without_an_active_key_is_refused_and_stores_nothing(api: Stack, authorization: str | None) -> None:
    comment_id = _comment(api)
    headers = {"Authorization": authorization} if authorization else {}

    answer = api.call("POST", "/reviews", {"comment_id": comment_id, "label": "negative"}, headers=headers)

    assert answer.status == (401 if authorization is None else 403)
    assert api.objects("feedback/") == []


def test_a_revoked_key_is_refused_at_once_and_its_earlier_labels_stay(api: Stack) -> None:
    key = _create(api, "ana")
    api.call("POST", "/reviews", {"comment_id": _comment(api), "label": "negative"}, headers=_bearer(key))

    revoked = api.call("DELETE", "/reviewers/ana", headers=_admin(api))
    refused = api.call(
        "POST", "/reviews", {"comment_id": _comment(api, "Fine"), "label": "positive"}, headers=_bearer(key)
    )

    assert revoked.status == 200
    assert (revoked.body["active"], revoked.body["revoked_at"] is not None) == (False, True)
    assert refused.status == 403
    assert len(api.objects("feedback/")) == 1
    new_key = _create(api, "ana")  # a revoked name may be issued a new key; the old one stays dead
    assert (
        api.call("POST", "/reviews", {"comment_id": _comment(api), "label": "neutral"}, headers=_bearer(new_key)).status
        == 201
    )
    assert (
        api.call("POST", "/reviews", {"comment_id": _comment(api), "label": "neutral"}, headers=_bearer(key)).status
        == 403
    )


def test_withdrawal_lists_the_reviewer_as_withdrawn_for_the_next_run_and_revokes_the_key(api: Stack) -> None:
    key = _create(api, "ana")
    _create(api, "ben")

    answer = api.call("POST", "/reviewers/ana/withdraw", headers=_admin(api))

    assert answer.status == 200
    assert answer.body["withdrawn_at"] is not None and answer.body["active"] is False
    # What prepare reads to leave their labels out.
    assert DynamoDbReviewers(api.template.physical_name("RegistryTable")).withdrawn() == {"ana"}
    assert (
        api.call("POST", "/reviews", {"comment_id": _comment(api), "label": "neutral"}, headers=_bearer(key)).status
        == 403
    )
    assert api.call("POST", "/reviewers", {"name": "ana"}, headers=_admin(api)).status == 409


def test_unknown_reviewers_are_404(api: Stack) -> None:
    for method, path in (("DELETE", "/reviewers/nobody"), ("POST", "/reviewers/nobody/withdraw")):
        answer = api.call(method, path, headers=_admin(api))
        assert answer.status == 404
        assert "nobody" in answer.body["message"]


def test_a_review_route_the_reviewer_authorizer_did_not_pass_is_403_from_the_function(api: Stack) -> None:
    """Were POST /reviews deployed without its authorizer, the function itself lets no one in."""
    comment_id = _comment(api)
    for claims in (None, {"lambda": {"role": "admin"}}, {"lambda": {"role": "reviewer"}}):
        event = http_event("POST", "/reviews", {"comment_id": comment_id, "label": "negative"})
        if claims is not None:
            event["requestContext"]["authorizer"] = claims
        answer = api.api.lambda_handler(event, LambdaContext())

        assert answer["statusCode"] == 403
        assert "reviewer authorizer" in json.loads(answer["body"])["message"]
    assert api.objects("feedback/") == []


def test_the_reviewer_authorizer_reads_only_the_keys_item(api: Stack) -> None:
    """One GetItem per call, no scan: the key is found by its digest."""
    key = _create(api, "ana")
    calls: list[str] = []

    def record(**kwargs: Any) -> None:
        calls.append(kwargs["event_name"].split(".")[-1])

    from authorizer_function import reviewer  # noqa: PLC0415 - the module the stack calls

    dependencies.reset()
    table = reviewer.reviewers()._table._table
    table.meta.client.meta.events.register("before-call.dynamodb.*", record)

    answer = api.call("POST", "/reviews", {"comment_id": _comment(api), "label": "negative"}, headers=_bearer(key))

    assert answer.status == 201
    assert calls == ["GetItem"]
