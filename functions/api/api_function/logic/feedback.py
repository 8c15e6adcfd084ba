"""Record a person's correction: one S3 object under ``feedback/`` (which retraining reads) and a
mark on the comment. If marking fails the object is removed again, so the two never disagree."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from api_function.services import Services
from sentiment_common.models import FeedbackMark, FeedbackRecord, Label, LabelSource, new_id, utc_now
from sentiment_common.observability import count, logger, metrics


def record_feedback(
    comment_id: str | None,
    text: str | None,
    label: Label,
    services: Services,
    *,
    source: LabelSource = LabelSource.PUBLIC,
    reviewer: str | None = None,
) -> FeedbackRecord:
    """``source`` and ``reviewer`` say who gave the label (``POST /reviews`` passes the reviewer's name)."""
    comment = services.comments.get(comment_id) if comment_id else None
    prediction = comment.prediction if comment else None
    record = FeedbackRecord(
        feedback_id=new_id(),
        comment_id=comment_id,
        text=comment.text if comment else (text or ""),
        label=label,
        predicted_label=prediction.label if prediction else None,
        model_version=prediction.model_version if prediction else None,
        created_at=utc_now(),
        source=source,
        reviewer=reviewer,
    )
    key = services.feedback.put(record)
    if comment_id:
        try:
            before = services.comments.mark_feedback(
                comment_id, FeedbackMark(feedback_id=record.feedback_id, label=label, created_at=record.created_at)
            )
        except Exception:
            logger.warning("could not mark the comment; removing the feedback object", extra={"key": key})
            services.feedback.delete(key)
            raise
        if before.prediction:
            # Its average over a period is the share of feedback that confirms the label (FeedbackAgreementAlarm).
            metrics.add_metric(
                name="FeedbackAgreement", unit=MetricUnit.NoUnit, value=float(before.prediction.label == label)
            )
            previous = before.feedback.label if before.feedback else None
            services.monitoring.labelled(
                before.prediction, label, previous, record.created_at.date(), first=before.feedback is None
            )
    count("FeedbackReceived", label=label)
    logger.info("feedback recorded", extra={"key": key, "agrees": record.predicted_label == label})
    return record
