"""The comments table: one item per comment, two indexes for newest-first listing and one for review.

Item layout (the template declares the keys and indexes; tests build the table from it):
- ``comment_id`` partition key;
- ``ByTime`` index: ``entity`` (always ``comment``) + ``created_key`` (ISO time + id), for the full list;
- ``BySentiment`` index: ``sentiment`` (a label, or ``pending``) + ``created_key``, for the filtered list;
- ``ByReview`` index, sparse: ``review`` (always ``open``) + ``review_key`` (the margin between the two
  likeliest classes, six decimals, then the id), for the review queue. Only a classified comment
  nobody has labelled carries ``review``: feedback removes it, and the comment leaves the index. A
  comment carrying a public suggestion (``PublicLabels=suggest``) has ``!`` before its margin, which sorts
  before every digit: suggested comments come first, the least certain of them first.
- ``feedback_source`` and ``feedback_reviewer`` say who gave the latest label (absent: the public, as
  every label was before labels carried their source); ``suggestion_*`` hold the latest suggestion.

The indexes project only what a listing reads (the template's ``NonKeyAttributes``, :data:`LISTED`),
not the stored ``explanation``, which may be larger than the rest of the item: keeping one writes the
base item only.

Retention: with ``retention_days`` set, each new comment carries ``expires_at`` (epoch seconds), the
table's TTL attribute. DynamoDB deletes an expired item within days, not at once, so every read here
treats an item past ``expires_at`` as gone (DynamoDB developer guide, "Working with time to live":
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html). Comments
stored before retention was set carry no ``expires_at`` and are kept.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from sentiment_common.dal.aws import TableAdapter
from sentiment_common.dal.transient import unavailable_when_transient
from sentiment_common.errors import InvalidInputError, NotFoundError
from sentiment_common.ports import Classified
from sentiment_common.records import (
    UNDETERMINED,
    Comment,
    CommentStatus,
    ExplainedPrediction,
    FeedbackMark,
    LabelSource,
    PendingReason,
    Prediction,
    Scores,
)

ENTITY = "comment"
BY_TIME = "ByTime"
BY_SENTIMENT = "BySentiment"
BY_REVIEW = "ByReview"
PENDING = "pending"
OPEN = "open"
SUGGESTED = "!"
NOT_REVIEWED = "(attribute_not_exists(feedback_source) OR feedback_source <> :reviewer)"
EXPIRES_AT = "expires_at"
# What from_item reads, besides the keys: each index projects these (template.yaml, NonKeyAttributes).
LISTED = (
    "created_at",
    "text",
    "status",
    "sentiment",
    "scores",
    "confidence",
    "model_version",
    "language",
    "supported",
    "feedback_id",
    "feedback_label",
    "feedback_at",
    "pending_reason",
    "feedback_source",
    "feedback_reviewer",
    "suggestion_id",
    "suggestion_label",
    "suggestion_at",
    EXPIRES_AT,
)
# A condition that holds for a comment not yet past its retention (or kept forever), with ``:now``.
ALIVE = f"(attribute_not_exists({EXPIRES_AT}) OR {EXPIRES_AT} > :now)"


def now_epoch() -> int:
    return int(time.time())


def alive(item: dict[str, Any], now: int) -> bool:
    """Not past its retention: DynamoDB may still hold an expired item for days."""
    return EXPIRES_AT not in item or int(item[EXPIRES_AT]) > now


def _number(value: float) -> Decimal:
    return Decimal(str(round(value, 6)))


def to_item(comment: Comment, retention_days: int = 0) -> dict[str, Any]:
    """The item; with ``retention_days``, ``expires_at`` that many days after the comment was made."""
    created = comment.created_at.isoformat()
    item: dict[str, Any] = {
        "comment_id": comment.comment_id,
        "entity": ENTITY,
        "created_key": f"{created}#{comment.comment_id}",
        "created_at": created,
        "text": comment.text,
        "status": comment.status.value,
        "sentiment": comment.prediction.label if comment.prediction else PENDING,
    }
    if comment.prediction:
        item |= _prediction_attributes(comment.prediction)
        if not comment.feedback and comment.prediction.supported:
            item |= _review_attributes(comment.prediction, comment.comment_id, suggested=bool(comment.suggestion))
    if comment.feedback:
        item |= _feedback_attributes(comment.feedback)
    if comment.suggestion:
        item |= _suggestion_attributes(comment.suggestion)
    if comment.pending_reason and not comment.prediction:
        item["pending_reason"] = comment.pending_reason.value
    if comment.explanation:
        item["explanation"] = comment.explanation.model_dump_json()
    if retention_days:
        item[EXPIRES_AT] = int((comment.created_at + timedelta(days=retention_days)).timestamp())
    return item


def _review_attributes(prediction: Prediction, comment_id: str, suggested: bool = False) -> dict[str, Any]:
    """Margins sort as text: every one is ``0.dddddd`` or ``1.000000``; the id orders equal margins."""
    first = SUGGESTED if suggested else ""
    return {"review": OPEN, "review_key": f"{first}{prediction.margin:.6f}#{comment_id}"}


def _prediction_attributes(prediction: Prediction) -> dict[str, Any]:
    return {
        "scores": {label: _number(score) for label, score in prediction.scores.model_dump().items()},
        "confidence": _number(prediction.confidence),
        "model_version": prediction.model_version,
        "language": prediction.language,
        "supported": prediction.supported,
    }


def _feedback_attributes(mark: FeedbackMark) -> dict[str, Any]:
    attributes = {
        "feedback_id": mark.feedback_id,
        "feedback_label": mark.label,
        "feedback_at": mark.created_at.isoformat(),
        "feedback_source": mark.source.value,
    }
    if mark.reviewer:
        attributes["feedback_reviewer"] = mark.reviewer
    return attributes


def _suggestion_attributes(mark: FeedbackMark) -> dict[str, Any]:
    return {
        "suggestion_id": mark.feedback_id,
        "suggestion_label": mark.label,
        "suggestion_at": mark.created_at.isoformat(),
    }


def from_item(item: dict[str, Any]) -> Comment:
    prediction = None
    if item["sentiment"] != PENDING:
        prediction = Prediction(
            label=item["sentiment"],
            scores=Scores(**{label: float(score) for label, score in item["scores"].items()}),
            confidence=float(item["confidence"]),
            model_version=item["model_version"],
            # Comments classified before answers carried a language read as undetermined and supported.
            language=item.get("language", UNDETERMINED),
            supported=item.get("supported", True),
        )
    feedback = None
    if "feedback_id" in item:
        feedback = FeedbackMark(
            feedback_id=item["feedback_id"],
            label=item["feedback_label"],
            created_at=datetime.fromisoformat(item["feedback_at"]),
            source=LabelSource(item.get("feedback_source", LabelSource.PUBLIC)),
            reviewer=item.get("feedback_reviewer"),
        )
    suggestion = None
    if "suggestion_id" in item:
        suggestion = FeedbackMark(
            feedback_id=item["suggestion_id"],
            label=item["suggestion_label"],
            created_at=datetime.fromisoformat(item["suggestion_at"]),
        )
    # Classifying a pending comment leaves its reason behind: it only counts while the comment is pending.
    reason = item.get("pending_reason") if prediction is None else None
    return Comment(
        comment_id=item["comment_id"],
        text=item["text"],
        created_at=datetime.fromisoformat(item["created_at"]),
        status=CommentStatus(item["status"]),
        prediction=prediction,
        feedback=feedback,
        pending_reason=PendingReason(reason) if reason else None,
        suggestion=suggestion,
        explanation=ExplainedPrediction.model_validate_json(item["explanation"]) if "explanation" in item else None,
    )


def encode_token(last_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key, sort_keys=True).encode()).decode().rstrip("=")


def decode_token(token: str, expected_keys: set[str], partition: dict[str, str] | None = None) -> dict[str, str]:
    """The opaque ``next_token`` back into a DynamoDB start key, refusing anything we did not issue.

    ``partition``: the key values the query it continues asks for. DynamoDB refuses a start key from
    another partition with a ValidationException ("The provided starting key is outside query boundaries
    based on provided conditions"), which would be a 500: such a token is the caller's mistake, a 400."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise InvalidInputError("next_token is not a token this API issued", [_token_detail()]) from error
    if (
        not isinstance(key, dict)
        or set(key) != expected_keys
        or not all(isinstance(value, str) for value in key.values())
    ):
        raise InvalidInputError("next_token does not belong to this listing", [_token_detail()])
    if any(key[name] != value for name, value in (partition or {}).items()):
        raise InvalidInputError("next_token belongs to another listing", [_token_detail()])
    return key


def _token_detail() -> dict[str, Any]:
    return {"loc": ["query", "next_token"], "msg": "pass back the next_token of the previous page unchanged"}


class DynamoDbCommentStore(TableAdapter):
    def __init__(self, table_name: str, retention_days: int = 0) -> None:
        super().__init__(table_name)
        self._retention_days = retention_days

    @property
    def _client(self) -> Any:
        return self._table.meta.client

    def put_new(self, comment: Comment) -> None:
        with unavailable_when_transient("the comments table"):
            self._table.put_item(
                Item=to_item(comment, self._retention_days), ConditionExpression="attribute_not_exists(comment_id)"
            )

    def put_all(self, comments: list[Comment]) -> None:
        """All or nothing: a batch is stored in one transaction (at most 100 items)."""
        puts = [
            {
                "Put": {
                    "TableName": self._table_name,
                    # The resource's client serialises Python values itself.
                    "Item": to_item(comment, self._retention_days),
                    "ConditionExpression": "attribute_not_exists(comment_id)",
                }
            }
            for comment in comments
        ]
        with unavailable_when_transient("the comments table"):
            self._client.transact_write_items(TransactItems=puts)

    def get(self, comment_id: str) -> Comment:
        with unavailable_when_transient("the comments table"):
            item = self._table.get_item(Key={"comment_id": comment_id}, ConsistentRead=True).get("Item")
        if item is None or not alive(item, now_epoch()):
            raise NotFoundError(f"no comment with id {comment_id!r}")
        return from_item(item)

    def review_queue(self, limit: int, token: str | None) -> tuple[list[Comment], str | None]:
        """Classified comments nobody has labelled, smallest margin first. The order is by stored keys, so
        a page never repeats or skips a comment that was there when the first page was read."""
        query: dict[str, Any] = {
            "IndexName": BY_REVIEW,
            "KeyConditionExpression": Key("review").eq(OPEN),
            "FilterExpression": _not_expired(),
            "ScanIndexForward": True,
            "Limit": limit,
        }
        if token:
            query["ExclusiveStartKey"] = decode_token(
                token, {"comment_id", "review", "review_key"}, partition={"review": OPEN}
            )
        with unavailable_when_transient("the comments table"):
            page = self._table.query(**query)
        last = page.get("LastEvaluatedKey")
        return [from_item(item) for item in page["Items"]], encode_token(last) if last else None

    def list(self, sentiment: str | None, limit: int, token: str | None) -> tuple[list[Comment], str | None]:
        """Newest first. ``sentiment`` is a label or ``pending``; ``None`` lists everything."""
        if sentiment is None:
            index, partition = BY_TIME, {"entity": ENTITY}
        else:
            index, partition = BY_SENTIMENT, {"sentiment": sentiment}
        ((partition_key, partition_value),) = partition.items()
        condition = Key(partition_key).eq(partition_value)
        key_names = {"comment_id", partition_key, "created_key"}
        query: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": condition,
            "FilterExpression": _not_expired(),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if token:
            start = decode_token(token, key_names)
            if start[partition_key] != partition_value:
                other = "another sentiment filter" if sentiment is not None else "another listing"
                raise InvalidInputError(f"next_token belongs to {other}", [_token_detail()])
            query["ExclusiveStartKey"] = start
        with unavailable_when_transient("the comments table"):
            page = self._table.query(**query)
        last = page.get("LastEvaluatedKey")
        return [from_item(item) for item in page["Items"]], encode_token(last) if last else None

    def classify_pending(self, comment_id: str, prediction: Prediction) -> Classified:
        """Store the model's answer for a pending comment: ``queued`` when it joins the review queue,
        ``labelled`` when someone labelled it while it was pending (so it does not), ``unsupported`` when its
        language is not one the model was trained for (so it does not either), ``skipped`` when it is
        gone or already classified."""
        attributes = _prediction_attributes(prediction) | {
            "sentiment": prediction.label,
            "status": CommentStatus.CLASSIFIED.value,
        }
        if not prediction.supported:  # a guess in a language the model cannot read: nobody is asked to review it
            return "unsupported" if self._set_if_pending(comment_id, attributes) else "skipped"
        review = _review_attributes(prediction, comment_id)
        if self._set_if_pending(comment_id, attributes | review, "AND attribute_not_exists(feedback_id)"):
            return "queued"
        if self._set_if_pending(comment_id, attributes):
            return "labelled"
        return "skipped"

    def _set_if_pending(self, comment_id: str, attributes: dict[str, Any], and_also: str = "") -> bool:
        condition = f"#sentiment = :pending {and_also}".strip()
        return self._set_if(comment_id, attributes, condition, {"#sentiment": "sentiment"}, {":pending": PENDING})

    def mark_feedback(self, comment_id: str, mark: FeedbackMark) -> Comment:
        """Record the latest label and take the comment out of the review queue; returns the comment as it
        was before, so that a change of label can be counted as a change. A public label never replaces a
        reviewer's: the comment is then left as it was (and returned as it is)."""
        attributes = _feedback_attributes(mark)
        condition = "attribute_exists(comment_id)"
        values: dict[str, Any] = {f":{name}": value for name, value in attributes.items()}
        if mark.source is LabelSource.PUBLIC:
            condition += f" AND {NOT_REVIEWED}"
            values[":reviewer"] = LabelSource.REVIEWER.value
        try:
            with unavailable_when_transient("the comments table"):
                answer = self._table.update_item(
                    Key={"comment_id": comment_id},
                    UpdateExpression="SET "
                    + ", ".join(f"{name} = :{name}" for name in attributes)
                    + " REMOVE review, review_key",
                    ConditionExpression=f"{condition} AND {ALIVE}",
                    ExpressionAttributeValues=values | {":now": now_epoch()},
                    ReturnValues="ALL_OLD",
                )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return self.get(comment_id)  # NotFoundError when there is no such comment
            raise
        return from_item(answer["Attributes"])

    def suggest(self, comment_id: str, mark: FeedbackMark) -> Comment:
        """Record a public suggestion; a comment in the review queue moves to its front. A labelled comment
        keeps its label and stays out of the queue; one a reviewer labelled is left as it is. Returns the
        comment as it was."""
        before = self.get(comment_id)
        attributes = _suggestion_attributes(mark)
        if before.prediction and before.feedback is None:
            front = _review_attributes(before.prediction, comment_id, suggested=True)
            # Only while it is still in the queue: a label given meanwhile has taken it out for good.
            if self._set_if(comment_id, attributes | front, "#review = :open", {"#review": "review"}, {":open": OPEN}):
                return before
        self._set_if(
            comment_id,
            attributes,
            f"attribute_exists(#id) AND {NOT_REVIEWED}",
            {"#id": "comment_id"},
            {":reviewer": LabelSource.REVIEWER.value},
        )
        return before

    def _set_if(
        self, comment_id: str, attributes: dict[str, Any], condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> bool:
        """Set ``attributes`` while ``condition`` holds and the comment is not past its retention."""
        try:
            with unavailable_when_transient("the comments table"):
                self._table.update_item(
                    Key={"comment_id": comment_id},
                    UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in attributes),
                    ConditionExpression=f"({condition}) AND {ALIVE}",
                    ExpressionAttributeNames={f"#{name}": name for name in attributes} | names,
                    ExpressionAttributeValues={f":{name}": value for name, value in attributes.items()}
                    | values
                    | {":now": now_epoch()},
                )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def keep_explanation(self, comment_id: str, explained: ExplainedPrediction) -> None:
        """Keep the explanation on the comment; a comment gone or expired meanwhile is left alone."""
        try:
            with unavailable_when_transient("the comments table"):
                self._table.update_item(
                    Key={"comment_id": comment_id},
                    UpdateExpression="SET explanation = :explanation",
                    ConditionExpression=f"attribute_exists(comment_id) AND {ALIVE}",
                    ExpressionAttributeValues={":explanation": explained.model_dump_json(), ":now": now_epoch()},
                )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise


def _not_expired() -> Any:
    return Attr(EXPIRES_AT).not_exists() | Attr(EXPIRES_AT).gt(now_epoch())
