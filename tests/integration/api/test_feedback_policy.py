"""POST /feedback through the handler, on moto: the template makes public labels suggestions, and a label
under PublicLabels=train marks its comment and is archived. What each setting does, and that a reviewer's
label always stands, is the logic's, tested on in-memory stores in ``tests/unit/test_feedback_policy.py``."""

from __future__ import annotations

import json
from typing import Any

import boto3

from sentiment_common.records import PublicLabels
from tests.integration.api.conftest import Stack

TEXTS = ["A wonderful, moving film", "Awful, boring and far too long", "BrandZed support is great"]


def comments(api: Stack) -> list[dict[str, Any]]:
    created: list[dict[str, Any]] = api.call("POST", "/comments/batch", {"comments": TEXTS}).body["results"]
    return created


def review_queue(api: Stack) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.call("GET", "/comments", query={"needs_review": "true"}).body["items"]
    return items


def test_the_template_makes_public_labels_suggestions_by_default(api: Stack) -> None:
    target = comments(api)[-1]
    answer = api.call("POST", "/feedback", {"comment_id": target["comment_id"], "label": "negative"})
    assert answer.status == 201
    assert answer.body["use"] == "suggestion"


def test_under_train_a_public_label_marks_the_comment_and_takes_it_out_of_the_queue(api: Stack) -> None:
    api.public_labels(PublicLabels.TRAIN)
    target = comments(api)[0]

    answer = api.call("POST", "/feedback", {"comment_id": target["comment_id"], "label": "neutral"})

    assert (answer.status, answer.body["use"]) == (201, "training")
    assert api.call("GET", f"/comments/{target['comment_id']}").body["feedback"]["label"] == "neutral"
    assert target["comment_id"] not in [item["comment_id"] for item in review_queue(api)]
    assert len(api.objects("feedback/")) == 1


GERMAN = "Das ist das schlechteste Handy, das ich je hatte."


def test_a_label_on_a_comment_the_model_cannot_read_is_kept_on_it_and_never_trains(api: Stack) -> None:
    api.public_labels(PublicLabels.TRAIN)
    german = api.call("POST", "/comments", {"comment": GERMAN}).body

    answer = api.call("POST", "/feedback", {"comment_id": german["comment_id"], "label": "negative"})

    assert (answer.status, answer.body["use"]) == (201, "kept")
    assert api.call("GET", f"/comments/{german['comment_id']}").body["feedback"]["label"] == "negative"
    [key] = api.objects("feedback/")
    record = json.loads(boto3.client("s3").get_object(Bucket=api.bucket, Key=key)["Body"].read())
    assert (record["language"], record["supported"]) == ("de", False)


def test_a_suggestion_on_a_comment_the_model_cannot_read_leaves_the_review_queue_alone(api: Stack) -> None:
    german = api.call("POST", "/comments", {"comment": GERMAN}).body

    answer = api.call("POST", "/feedback", {"comment_id": german["comment_id"], "label": "positive"})

    assert (answer.status, answer.body["use"]) == (201, "ignored")
    assert review_queue(api) == []
    assert api.call("GET", f"/comments/{german['comment_id']}").body["suggested_label"] is None
