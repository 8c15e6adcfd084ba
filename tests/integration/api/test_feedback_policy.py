"""POST /feedback under each PublicLabels setting: the record is always archived; whether the label marks
the comment, suggests it to reviewers, or does nothing more follows the setting, and a reviewer's label
always stands."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest

from sentiment_common.dal.comments import DynamoDbCommentStore
from sentiment_common.records import FeedbackMark, LabelSource, PublicLabels, utc_now
from tests.integration.api.conftest import Stack

TEXTS = ["A wonderful, moving film", "Awful, boring and far too long", "BrandZed support is great"]
WRONG = {"negative": "positive", "neutral": "negative", "positive": "negative"}


def comments(api: Stack) -> list[dict[str, Any]]:
    created: list[dict[str, Any]] = api.call("POST", "/comments/batch", {"comments": TEXTS}).body["results"]
    return created


def review_queue(api: Stack) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.call("GET", "/comments", query={"needs_review": "true"}).body["items"]
    return items


def archived(api: Stack) -> list[dict[str, Any]]:
    s3 = boto3.client("s3")
    return [json.loads(s3.get_object(Bucket=api.bucket, Key=key)["Body"].read()) for key in api.objects("feedback/")]


def public_agreement(api: Stack) -> dict[str, Any]:
    by_source: dict[str, Any] = api.call("GET", "/monitoring", query={"days": "1"}).body["agreement_by_source"]
    return by_source["public"]


def test_the_template_makes_public_labels_suggestions_by_default(api: Stack) -> None:
    target = comments(api)[-1]
    answer = api.call("POST", "/feedback", {"comment_id": target["comment_id"], "label": "negative"})
    assert answer.status == 201
    assert answer.body["use"] == "suggestion"


def test_a_suggestion_is_archived_and_puts_its_comment_first_in_the_queue_unlabelled(api: Stack) -> None:
    api.public_labels(PublicLabels.SUGGEST)
    created = comments(api)
    # The comment the model is surest of: without the suggestion it would come last.
    target = min(created, key=lambda comment: comment["uncertainty"])

    answer = api.call("POST", "/feedback", {"comment_id": target["comment_id"], "label": WRONG[target["sentiment"]]})

    assert (answer.status, answer.body["use"]) == (201, "suggestion")
    [record] = archived(api)
    assert (record["comment_id"], record["label"], record["source"]) == (
        target["comment_id"],
        WRONG[target["sentiment"]],
        "public",
    )
    queue = review_queue(api)
    assert queue[0]["comment_id"] == target["comment_id"]
    assert len(queue) == len(TEXTS)
    first = queue[0]
    assert (first["suggested_label"], first["feedback"]) == (WRONG[target["sentiment"]], None)
    read = api.call("GET", f"/comments/{target['comment_id']}").body
    assert (read["suggested_label"], read["feedback"]) == (WRONG[target["sentiment"]], None)
    assert public_agreement(api) == {"count": 1, "agreement": 0.0}


def test_a_suggestion_on_a_text_alone_is_archived_and_ignored(api: Stack) -> None:
    api.public_labels(PublicLabels.SUGGEST)
    answer = api.call("POST", "/feedback", {"text": "BrandZed support is great", "label": "negative"})
    assert (answer.status, answer.body["use"]) == (201, "ignored")
    assert len(archived(api)) == 1


def test_under_train_a_public_label_marks_the_comment_and_takes_it_out_of_the_queue(api: Stack) -> None:
    api.public_labels(PublicLabels.TRAIN)
    target = comments(api)[0]

    answer = api.call("POST", "/feedback", {"comment_id": target["comment_id"], "label": "neutral"})

    assert (answer.status, answer.body["use"]) == (201, "training")
    assert api.call("GET", f"/comments/{target['comment_id']}").body["feedback"]["label"] == "neutral"
    assert target["comment_id"] not in [item["comment_id"] for item in review_queue(api)]
    assert len(archived(api)) == 1


def test_under_ignore_a_public_label_is_only_archived(api: Stack) -> None:
    api.public_labels(PublicLabels.IGNORE)
    created = comments(api)
    queue_before = [item["comment_id"] for item in review_queue(api)]
    target = created[0]

    answer = api.call("POST", "/feedback", {"comment_id": target["comment_id"], "label": WRONG[target["sentiment"]]})

    assert (answer.status, answer.body["use"]) == (201, "ignored")
    assert len(archived(api)) == 1
    read = api.call("GET", f"/comments/{target['comment_id']}").body
    assert (read["feedback"], read["suggested_label"]) == (None, None)
    assert [item["comment_id"] for item in review_queue(api)] == queue_before
    assert public_agreement(api) == {"count": 0, "agreement": None}


@pytest.mark.parametrize("policy", [PublicLabels.TRAIN, PublicLabels.SUGGEST])
def test_a_public_label_never_overrides_a_reviewers(api: Stack, policy: PublicLabels) -> None:
    api.public_labels(policy)
    target = comments(api)[2]
    repository = DynamoDbCommentStore(api.template.physical_name("CommentsTable"))
    review = FeedbackMark(
        feedback_id="r1",
        label=target["sentiment"],
        created_at=utc_now() - timedelta(minutes=1),
        source=LabelSource.REVIEWER,
        reviewer="ana",
    )
    repository.mark_feedback(target["comment_id"], review)

    answer = api.call("POST", "/feedback", {"comment_id": target["comment_id"], "label": WRONG[target["sentiment"]]})

    assert (answer.status, answer.body["use"]) == (201, "ignored")
    read = api.call("GET", f"/comments/{target['comment_id']}").body
    assert (read["feedback"]["feedback_id"], read["feedback"]["label"]) == ("r1", target["sentiment"])
    assert read["suggested_label"] is None
    assert target["comment_id"] not in [item["comment_id"] for item in review_queue(api)]
    assert len(archived(api)) == 1  # still the record of what was sent
