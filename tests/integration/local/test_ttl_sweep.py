"""DynamoDB's time to live on the local stack: the tables made from template.yaml carry their TTL, the
comments store treats an expired comment as gone before anything deletes it, and the local sweep then
deletes it, as DynamoDB's background process does (moto does not). Moto in-process."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from sentiment_common.dal.comments import DynamoDbCommentStore
from sentiment_common.errors import NotFoundError
from sentiment_common.records import Comment, CommentStatus, ExplainedPrediction
from sentiment_local.moto.ttl import TtlSweeper
from sentiment_local.resources import create_tables
from sentiment_template.reader import Template
from tests.conftest import ROOT
from tests.fakes.stores import prediction

pytestmark = pytest.mark.usefixtures("aws")
RETENTION_DAYS = 30


def comment(comment_id: str, age: timedelta) -> Comment:
    return Comment(
        comment_id=comment_id,
        text=f"comment {comment_id}",
        created_at=datetime.now(UTC) - age,
        status=CommentStatus.CLASSIFIED,
        prediction=prediction("positive", 0.9),
    )


def test_an_expired_comment_is_gone_at_once_and_deleted_by_the_sweep() -> None:
    template = Template.read(ROOT / "template.yaml", prefix="t")
    dynamodb = boto3.client("dynamodb")
    tables = create_tables(template, dynamodb)
    name = template.physical_name("CommentsTable")
    store = DynamoDbCommentStore(name, RETENTION_DAYS)
    store.put_all([comment("old", timedelta(days=RETENTION_DAYS, minutes=1)), comment("new", timedelta(days=1))])

    # Expired, not yet deleted: DynamoDB still holds it, the store does not answer with it.
    assert dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "AttributeName": "expires_at",
        "TimeToLiveStatus": "ENABLED",
    }
    assert dynamodb.get_item(TableName=name, Key={"comment_id": {"S": "old"}}).get("Item")
    with pytest.raises(NotFoundError):
        store.get("old")
    assert [c.comment_id for c in store.list(None, 10, None)[0]] == ["new"]
    assert [c.comment_id for c in store.list("positive", 10, None)[0]] == ["new"]
    assert [c.comment_id for c in store.review_queue(10, None)[0]] == ["new"]

    deleted = TtlSweeper(dynamodb, tables, clock=time.time).sweep_once()

    assert deleted == 1
    assert "Item" not in dynamodb.get_item(TableName=name, Key={"comment_id": {"S": "old"}})
    assert store.get("new").comment_id == "new"


def test_the_sweep_leaves_items_without_a_number_in_the_ttl_attribute() -> None:
    template = Template.read(ROOT / "template.yaml", prefix="t")
    dynamodb = boto3.client("dynamodb")
    tables = create_tables(template, dynamodb)
    name = template.physical_name("CommentsTable")
    for comment_id, expires in (("text", {"S": "1"}), ("none", None), ("later", {"N": str(int(time.time()) + 60)})):
        item = {"comment_id": {"S": comment_id}, **({"expires_at": expires} if expires else {})}
        dynamodb.put_item(TableName=name, Item=item)

    assert TtlSweeper(dynamodb, tables).sweep_once() == 0
    assert dynamodb.scan(TableName=name)["Count"] == 3


def test_an_index_listing_does_not_carry_the_kept_explanation() -> None:
    """The indexes project what a listing reads: a kept explanation is written to the item alone."""
    template = Template.read(ROOT / "template.yaml", prefix="t")
    create_tables(template, boto3.client("dynamodb"))
    store = DynamoDbCommentStore(template.physical_name("CommentsTable"), RETENTION_DAYS)
    store.put_new(comment("c1", timedelta(0)))
    explained = {
        **prediction("positive", 0.9).model_dump(),
        "explanation": {"method": "occlusion", "label": "positive", "tokens_per_span": 1, "tokens": []},
    }
    store.keep_explanation("c1", ExplainedPrediction.model_validate(explained))

    assert store.get("c1").explanation is not None
    listed = store.list(None, 10, None)[0]
    assert [(c.comment_id, c.explanation) for c in listed] == [("c1", None)]
    assert listed[0].text == "comment c1"
    assert listed[0].prediction == prediction("positive", 0.9)
