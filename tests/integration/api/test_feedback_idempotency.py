"""Feedback lands in S3 under feedback/ and marks the comment; Idempotency-Key makes retries safe."""

from __future__ import annotations

import json

import boto3

from sentiment_common.records import PublicLabels
from tests.integration.api.conftest import Stack


def test_feedback_writes_one_object_and_marks_the_comment(api: Stack, model_version: str) -> None:
    api.public_labels(PublicLabels.TRAIN)
    comment = api.call("POST", "/comments", {"comment": "Not my cup of tea, but fine"}).body

    answer = api.call("POST", "/feedback", {"comment_id": comment["comment_id"], "label": "neutral"})

    assert answer.status == 201
    keys = api.objects("feedback/")
    assert len(keys) == 1
    assert keys[0].startswith(f"feedback/dt={answer.body['created_at'][:10]}/")
    stored = json.loads(boto3.client("s3").get_object(Bucket=api.bucket, Key=keys[0])["Body"].read())
    assert stored["text"] == "Not my cup of tea, but fine"
    assert stored["label"] == "neutral"
    assert stored["predicted_label"] == comment["sentiment"]
    assert stored["model_version"] == model_version
    assert stored["comment_id"] == comment["comment_id"]
    read = api.call("GET", f"/comments/{comment['comment_id']}").body
    assert read["feedback"]["label"] == "neutral"
    assert read["feedback"]["feedback_id"] == answer.body["feedback_id"]


def test_feedback_on_a_text_alone_needs_no_comment(api: Stack) -> None:
    answer = api.call("POST", "/feedback", {"text": "meh", "label": "negative"})
    assert answer.status == 201
    assert answer.body["comment_id"] is None
    assert len(api.objects("feedback/")) == 1


def test_bad_feedback_gets_4xx_and_writes_nothing(api: Stack) -> None:
    missing = api.call("POST", "/feedback", {"comment_id": "nope", "label": "positive"})
    assert missing.status == 404
    assert api.call("POST", "/feedback", {"comment_id": "x", "label": "great"}).status == 422
    both = api.call("POST", "/feedback", {"comment_id": "x", "text": "y", "label": "positive"})
    assert both.status == 422
    assert "exactly one" in json.dumps(both.body)
    assert api.call("POST", "/feedback", {"label": "positive"}).status == 422
    assert api.objects("feedback/") == []


def test_a_retried_comment_with_the_same_key_is_stored_once(api: Stack) -> None:
    headers = {"Idempotency-Key": "retry-me-1"}
    answers = [api.call("POST", "/comments", {"comment": "Great stuff"}, headers=headers) for _ in range(5)]

    assert {answer.status for answer in answers} == {201}
    assert len({answer.body["comment_id"] for answer in answers}) == 1
    assert len(api.items("CommentsTable")) == 1


def test_the_same_key_with_another_body_is_refused(api: Stack) -> None:
    headers = {"Idempotency-Key": "retry-me-2"}
    assert api.call("POST", "/comments", {"comment": "first"}, headers=headers).status == 201
    answer = api.call("POST", "/comments", {"comment": "second"}, headers=headers)
    assert answer.status == 422
    assert "Idempotency-Key" in answer.body["message"]
    assert len(api.items("CommentsTable")) == 1


def test_keys_are_scoped_to_the_route(api: Stack) -> None:
    headers = {"Idempotency-Key": "shared"}
    comment = api.call("POST", "/comments", {"comment": "Lovely"}, headers=headers)
    feedback = api.call(
        "POST", "/feedback", {"comment_id": comment.body["comment_id"], "label": "positive"}, headers=headers
    )
    again = api.call(
        "POST", "/feedback", {"comment_id": comment.body["comment_id"], "label": "positive"}, headers=headers
    )
    assert (comment.status, feedback.status, again.status) == (201, 201, 201)
    assert feedback.body == again.body
    assert len(api.objects("feedback/")) == 1
