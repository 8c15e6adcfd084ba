"""In-memory stores with the adapters' semantics, for unit tests of the logic.

Each implements a protocol of ``sentiment_common.ports``; ``tests/contract`` runs the same suite against
it and against the boto3 adapter on moto, so a test that passes here means what it would mean on AWS.
The comments fake keeps the adapter's item layout (``to_item``/``from_item``) and issues the adapter's
paging tokens, so a token from one listing is refused by another exactly as DynamoDB's keys are.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from botocore.exceptions import ClientError

from sentiment_common import monitoring
from sentiment_common.dal.comments import (
    ENTITY,
    OPEN,
    PENDING,
    _feedback_attributes,
    _prediction_attributes,
    _review_attributes,
    _suggestion_attributes,
    _token_detail,
    alive,
    decode_token,
    encode_token,
    from_item,
    now_epoch,
    to_item,
)
from sentiment_common.dal.feedback import feedback_key
from sentiment_common.errors import (
    InvalidInputError,
    ModelStartingError,
    ModelUnavailableError,
    NotFoundError,
    ServiceUnavailableError,
)
from sentiment_common.inference import ModelHealth
from sentiment_common.monitoring import DayCounts, VersionCounts
from sentiment_common.ports import Classified
from sentiment_common.records import (
    LABELS,
    Comment,
    CommentStatus,
    ExplainedPrediction,
    Explanation,
    FeedbackMark,
    FeedbackRecord,
    Label,
    LabelSource,
    Prediction,
    Readiness,
    Scores,
)
from sentiment_common.registry import RunRequest


def refused(code: str, operation: str) -> ClientError:
    """The error a refused conditional write raises, as boto3 raises it."""
    return ClientError({"Error": {"Code": code, "Message": "The conditional request failed"}}, operation)


class FakeCommentStore:
    """Items keyed by id; each index is the items carrying its partition attribute, ordered by its sort key.
    An item past its ``expires_at`` stays, as DynamoDB keeps it until its TTL deletes it, but reads skip it."""

    def __init__(self, retention_days: int = 0) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self._retention_days = retention_days

    def _alive(self, comment_id: str) -> dict[str, Any] | None:
        item = self.items.get(comment_id)
        return item if item is not None and alive(item, now_epoch()) else None

    def put_new(self, comment: Comment) -> None:
        if comment.comment_id in self.items:
            raise refused("ConditionalCheckFailedException", "PutItem")
        self.items[comment.comment_id] = to_item(comment, self._retention_days)

    def put_all(self, comments: list[Comment]) -> None:
        if any(comment.comment_id in self.items for comment in comments):
            raise refused("TransactionCanceledException", "TransactWriteItems")
        for comment in comments:
            self.items[comment.comment_id] = to_item(comment, self._retention_days)

    def get(self, comment_id: str) -> Comment:
        item = self._alive(comment_id)
        if item is None:
            raise NotFoundError(f"no comment with id {comment_id!r}")
        return from_item(item)

    def review_queue(self, limit: int, token: str | None) -> tuple[list[Comment], str | None]:
        start = (
            decode_token(token, {"comment_id", "review", "review_key"}, partition={"review": OPEN}) if token else None
        )
        return self._query(("review", OPEN), "review_key", newest_first=False, limit=limit, start=start)

    def _query(
        self, index: tuple[str, str], sort: str, *, newest_first: bool, limit: int, start: dict[str, str] | None
    ) -> tuple[list[Comment], str | None]:
        """A query of the index whose partition attribute is ``index[0]``, for the partition ``index[1]``."""
        partition, value = index
        now = now_epoch()
        matching = sorted(
            (item for item in self.items.values() if item.get(partition) == value and alive(item, now)),
            key=lambda item: str(item[sort]),
            reverse=newest_first,
        )
        if start is not None:
            after = start[sort]
            matching = [item for item in matching if (item[sort] < after if newest_first else item[sort] > after)]
        page = matching[:limit]
        # A token only when more follow, as moto answers. DynamoDB may also end a full page with a token to
        # an empty one: callers follow tokens until there is none, and the contract asserts no more.
        last = page[-1] if len(matching) > limit else None
        token = encode_token({name: last[name] for name in ("comment_id", partition, sort)}) if last else None
        # What the indexes project: never the explanation.
        return [from_item({key: item[key] for key in item if key != "explanation"}) for item in page], token

    def list(self, sentiment: str | None, limit: int, token: str | None) -> tuple[list[Comment], str | None]:
        partition, value = ("entity", ENTITY) if sentiment is None else ("sentiment", sentiment)
        start = None
        if token:
            start = decode_token(token, {"comment_id", partition, "created_key"})
            if start[partition] != value:
                other = "another sentiment filter" if sentiment is not None else "another listing"
                raise InvalidInputError(f"next_token belongs to {other}", [_token_detail()])
        return self._query((partition, value), "created_key", newest_first=True, limit=limit, start=start)

    def classify_pending(self, comment_id: str, prediction: Prediction) -> Classified:
        item = self._alive(comment_id)
        if item is None or item["sentiment"] != PENDING:
            return "skipped"
        item |= _prediction_attributes(prediction) | {
            "sentiment": prediction.label,
            "status": CommentStatus.CLASSIFIED.value,
        }
        if not prediction.supported:
            return "unsupported"
        if "feedback_id" in item:
            return "labelled"
        item |= _review_attributes(prediction, comment_id)
        return "queued"

    def mark_feedback(self, comment_id: str, mark: FeedbackMark) -> Comment:
        item = self._alive(comment_id)
        if item is None:
            raise NotFoundError(f"no comment with id {comment_id!r}")
        before = from_item(item)
        if mark.source is LabelSource.PUBLIC and before.feedback and before.feedback.source is LabelSource.REVIEWER:
            return before
        item |= _feedback_attributes(mark)
        item.pop("review", None)
        item.pop("review_key", None)
        return before

    def suggest(self, comment_id: str, mark: FeedbackMark) -> Comment:
        before = self.get(comment_id)
        if before.feedback and before.feedback.source is LabelSource.REVIEWER:
            return before
        item = self.items[comment_id]
        item |= _suggestion_attributes(mark)
        if before.prediction and item.get("review") == OPEN:
            item |= _review_attributes(before.prediction, comment_id, suggested=True)
        return before

    def keep_explanation(self, comment_id: str, explained: ExplainedPrediction) -> None:
        item = self._alive(comment_id)
        if item is not None:
            item["explanation"] = explained.model_dump_json()


class FakeFeedbackArchive:
    """Feedback objects by key, as the data bucket holds them."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, record: FeedbackRecord) -> str:
        key = feedback_key(record)
        self.objects[key] = record.model_dump_json().encode()
        return key

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)


class FakeRetryQueue:
    """The pending queue's messages, in order; ``unreachable`` refuses every batch, as a missing queue does."""

    def __init__(self, unreachable: bool = False) -> None:
        self.unreachable = unreachable
        self.comment_ids: list[str] = []

    def enqueue(self, comment_ids: list[str]) -> None:
        if self.unreachable:
            raise ServiceUnavailableError("the model is unreachable and the retry queue is too")
        self.comment_ids += comment_ids


class FakeRetrainWorkflow:
    """Executions named by run id; a started execution stays ``RUNNING`` until a test ``finish``es it."""

    def __init__(self, state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:retrain") -> None:
        self._arn = state_machine_arn
        self.requests: dict[str, RunRequest] = {}
        self.statuses: dict[str, str] = {}

    def execution_arn(self, run_id: str) -> str:
        prefix, name = self._arn.split(":stateMachine:", 1)
        return f"{prefix}:execution:{name}:{run_id}"

    def start(self, run_id: str, request: RunRequest) -> str:
        if run_id not in self.requests:
            self.requests[run_id] = request
            self.statuses[run_id] = "RUNNING"
        return self.execution_arn(run_id)

    def status(self, run_id: str) -> str | None:
        return self.statuses.get(run_id)

    def finish(self, run_id: str, status: str = "SUCCEEDED") -> None:
        self.statuses[run_id] = status


class FakeMonitoringCounters(monitoring.CountingRules):
    """The counters as the monitoring table holds them: one counter set per (``pk``, ``sk``), added to by
    the adapter's own rules."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, str], Counter[str]] = {}

    def _add(self, pk: str, sk: str, additions: monitoring.Additions) -> None:
        self.counters.setdefault((pk, sk), Counter()).update(additions)

    def days(self, first: date, last: date) -> list[DayCounts]:
        days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
        return [monitoring.day_counts(day, self.counters.get((monitoring.DAY, day.isoformat()), {})) for day in days]

    def versions(self) -> list[VersionCounts]:
        counters = sorted(self.counters.items())
        return [monitoring.version_counts(sk, counts) for (pk, sk), counts in counters if pk == monitoring.VERSION]

    def queue_size(self) -> int:
        return max(self.counters.get((monitoring.QUEUE, monitoring.OPEN), Counter())["open"], 0)


def prediction(
    label: Label = "positive", confidence: float = 0.9, version: str = "v1", language: str = "en"
) -> Prediction:
    """A prediction whose other two classes share what ``label`` leaves; supported when ``language`` is English."""
    rest = round((1 - confidence) / 2, 6)
    scores = {name: (confidence if name == label else rest) for name in LABELS}
    return Prediction(
        label=label,
        scores=Scores(**scores),
        confidence=confidence,
        model_version=version,
        language=language,
        supported=language in {"en", "und"},
    )


class FakeModel:
    """A model client that answers ``answer(text)`` for each text, or is down (``ModelUnavailableError``), or
    is starting, as a serverless endpoint after idle (``ModelStartingError``)."""

    def __init__(self, answer: Callable[[str], Prediction] | None = None, version: str = "v1") -> None:
        self.answer = answer or (lambda text: prediction(version=version))
        self.version = version
        self.down = False
        self.starting = False
        self.calls: list[list[str]] = []
        self.explained: list[str] = []  # each text explain() was asked about
        self.health_checks = 0

    def _check(self) -> None:
        if self.down:
            raise ModelUnavailableError("the model is down")
        if self.starting:
            raise ModelStartingError("serverless endpoint sentiment did not answer in time: an instance is starting")

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        self.calls.append(list(texts))
        self._check()
        return [self.answer(text) for text in texts]

    def explain(self, text: str) -> ExplainedPrediction:
        self.explained.append(text)
        self._check()
        answer = self.answer(text)
        explanation = Explanation(method="occlusion", label=answer.label, tokens_per_span=1, tokens=[])
        return ExplainedPrediction(**answer.model_dump(), explanation=explanation)

    def health(self) -> ModelHealth:
        self.health_checks += 1
        if self.down:
            return ModelHealth(status=Readiness.DOWN, reason="the model is down")
        if self.starting:
            return ModelHealth(status=Readiness.STARTING, reason="an instance is starting after idle")
        return ModelHealth(status=Readiness.READY, model_version=self.version)
