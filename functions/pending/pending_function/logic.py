"""Classify one pending comment. Only a still-unreachable model makes this fail (and SQS retry it);
a comment that is gone or already classified is done, so duplicate and stray messages are harmless."""

from __future__ import annotations

from sentiment_common.errors import NotFoundError
from sentiment_common.inference import ModelClient
from sentiment_common.models import CommentStatus
from sentiment_common.observability import count, logger
from sentiment_common.ports import CommentStore, MonitoringCounters


def classify_pending(
    comment_id: str, comments: CommentStore, model: ModelClient, monitoring: MonitoringCounters
) -> bool:
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
    count("CommentClassified", label=prediction.label)
    logger.info("pending comment classified", extra={"comment_id": comment_id, "label": prediction.label})
    return True
