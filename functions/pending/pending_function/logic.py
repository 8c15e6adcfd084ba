"""Classify one pending comment. Only a model that still does not answer makes this fail (and SQS retry
it); a comment that is gone or already classified is done, so duplicate and stray messages are harmless."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sentiment_common.errors import ModelUnavailableError, NotFoundError
from sentiment_common.inference import Predictor
from sentiment_common.observability import count, logger
from sentiment_common.ports import CommentStore, MonitoringCounters
from sentiment_common.records import CommentStatus, Prediction

# What a record needs once the model has answered: its comment's update and the counters.
STORE_SECONDS = 2.0


class BatchModel:
    """The model as one invocation's batch of records meets it.

    Once the model has not answered one record (a serverless endpoint starting after idle, or the model
    down), the batch's other records are not sent to it: each could wait as long as the first, and
    together they would run past the function's timeout. They fail at once and go back to the queue
    with the first, to be tried again after its visibility timeout. Nor is a record sent to the model
    when the invocation has less time left than a call may take and the record's own writes.
    """

    def __init__(self, model: Predictor, longest_call: float, seconds_left: Callable[[], float]) -> None:
        self._model = model
        self._longest_call = longest_call
        self._seconds_left = seconds_left
        self._failure: ModelUnavailableError | None = None

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        if self._failure is not None:  # the same kind: a model starting still reads as starting
            raise type(self._failure)(f"not asked again in this batch: {self._failure.message}")
        if self._seconds_left() < self._longest_call + STORE_SECONDS:
            raise ModelUnavailableError("too little time left in this invocation to wait for the model")
        try:
            return self._model.predict(texts)
        except ModelUnavailableError as error:
            self._failure = error
            raise


def classify_pending(comment_id: str, comments: CommentStore, model: Predictor, monitoring: MonitoringCounters) -> bool:
    """True when this call stored a label; False when there was nothing to do."""
    try:
        comment = comments.get(comment_id)
    except NotFoundError:
        logger.info("no such comment; dropping the message", extra={"comment_id": comment_id})
        return False
    if comment.status is not CommentStatus.PENDING:
        return False
    prediction = model.predict([comment.text])[0].rounded()  # ModelUnavailableError: the record is retried
    outcome = comments.classify_pending(comment_id, prediction)
    if outcome == "skipped":
        return False
    monitoring.classified([prediction], comment.created_at.date(), queued=outcome == "queued")
    count("CommentClassified", label=prediction.counted_as)
    logger.info("pending comment classified", extra={"comment_id": comment_id, "label": prediction.label})
    return True
