"""Record a person's label: one S3 object under ``feedback/`` (the record, kept whatever the label is
used for), then what the label does to the comment, as its source and the ``PublicLabels`` policy say:

- a label that trains (a reviewer's; a public one under ``train``) marks the comment and takes it out of
  the review queue, unless it is public and a reviewer already labelled the comment: a reviewer's label
  stands, and the public one is then only archived;
- a public suggestion (``suggest``) moves the comment to the front of the review queue, the suggestion
  shown, for a reviewer to confirm or correct; it never trains;
- an ignored public label (``ignore``, or a suggestion with no comment to queue) is only archived.

If changing the comment fails the object is removed again, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from api_function.services import Services
from sentiment_common.observability import count, logger, metrics
from sentiment_common.records import (
    Comment,
    FeedbackMark,
    FeedbackRecord,
    Label,
    LabelSource,
    LabelUse,
    Prediction,
    label_use,
    new_id,
    utc_now,
)


@dataclass(frozen=True)
class RecordedFeedback:
    record: FeedbackRecord
    use: LabelUse  # what became of the label


def record_feedback(
    comment_id: str | None,
    text: str | None,
    label: Label,
    services: Services,
    *,
    source: LabelSource = LabelSource.PUBLIC,
    reviewer: str | None = None,
) -> RecordedFeedback:
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
        language=prediction.language if prediction else None,
        supported=prediction.supported if prediction else None,
    )
    use = label_use(source, services.public_labels)
    if use is LabelUse.SUGGESTION and comment is None:
        use = LabelUse.IGNORED  # a text alone has no comment to put in the review queue
    if prediction is not None and not prediction.supported:
        # The model cannot read the comment's language: a label is the comment's answer from now on, and
        # never trains; a suggestion would put into the review queue a comment that is kept out of it.
        use = LabelUse.KEPT if use is LabelUse.TRAINING else LabelUse.IGNORED
    key = services.feedback.put(record)
    if comment is not None:
        try:
            use = _apply(comment.comment_id, record, use, services)
        except Exception:
            logger.warning("could not mark the comment; removing the feedback object", extra={"key": key})
            services.feedback.delete(key)
            raise
    count("FeedbackReceived", label=label)
    logger.info(
        "feedback recorded",
        extra={"key": key, "agrees": record.predicted_label == label, "source": source, "use": use},
    )
    return RecordedFeedback(record=record, use=use)


def _apply(comment_id: str, record: FeedbackRecord, use: LabelUse, services: Services) -> LabelUse:
    """Change the comment as the label's use says; the use it turned out to have."""
    mark = FeedbackMark(
        feedback_id=record.feedback_id,
        label=record.label,
        created_at=record.created_at,
        source=record.source,
        reviewer=record.reviewer,
    )
    day = record.created_at.date()
    if use in {LabelUse.TRAINING, LabelUse.KEPT}:
        before = services.comments.mark_feedback(comment_id, mark)
        if _reviewed(before) and record.source is LabelSource.PUBLIC:
            return LabelUse.IGNORED
        if before.prediction:
            _agreement(before.prediction, record.label, record.source)
            previous = before.feedback.label if before.feedback else None
            services.monitoring.labelled(
                before.prediction, record.label, previous, day, first=before.feedback is None, source=record.source
            )
    elif use is LabelUse.SUGGESTION:
        before = services.comments.suggest(comment_id, mark)
        if _reviewed(before):
            return LabelUse.IGNORED
        if before.prediction:
            _agreement(before.prediction, record.label, record.source)
            services.monitoring.suggested(before.prediction, record.label, day)
    return use


def _reviewed(comment: Comment) -> bool:
    return comment.feedback is not None and comment.feedback.source is LabelSource.REVIEWER


def _agreement(prediction: Prediction, label: Label, source: LabelSource) -> None:
    """``FeedbackAgreement`` 1 (confirms) or 0 (corrects): its average over a period is the share of
    labels that confirm the model. Emitted once over every source (FeedbackAgreementAlarm's) and once with
    the label's ``source`` dimension, so the public's agreement and reviewers' can be read apart."""
    if not prediction.supported:  # the model only guessed: no agreement to measure
        return
    value = float(prediction.label == label)
    metrics.add_metric(name="FeedbackAgreement", unit=MetricUnit.NoUnit, value=value)
    with single_metric(
        name="FeedbackAgreement",
        unit=MetricUnit.NoUnit,
        value=value,
        namespace=metrics.namespace,
        default_dimensions=metrics.default_dimensions,
    ) as metric:
        metric.add_dimension(name="source", value=source.value)
