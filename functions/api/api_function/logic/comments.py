"""Classify and store comments; read them back.

When the model cannot be reached the comment is stored anyway, as ``pending`` with the reason (the
model starting after idle, or unavailable), and its id is queued for the pending worker. The id is
queued *before* the row is written: if the write then fails, the caller gets 503 and the stray
message finds no pending row and is dropped, so nothing is ever half-stored and no stored comment is
ever forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass

from api_function.services import Services
from sentiment_common.errors import (
    InvalidInputError,
    ModelStartingError,
    ModelUnavailableError,
    ServiceUnavailableError,
)
from sentiment_common.observability import count, logger
from sentiment_common.records import (
    Comment,
    CommentStatus,
    ExplainedPrediction,
    PendingReason,
    Prediction,
    checked_comment,
    new_id,
    utc_now,
)

# A serverless endpoint's cold start takes tens of seconds: a retry sooner would only wait again.
STARTING_RETRY_AFTER_S = 20


def _classified(text: str, prediction: Prediction) -> Comment:
    return Comment(
        comment_id=new_id(),
        text=text,
        created_at=utc_now(),
        status=CommentStatus.CLASSIFIED,
        prediction=prediction.rounded(),
    )


def _pending(text: str, reason: PendingReason) -> Comment:
    return Comment(
        comment_id=new_id(), text=text, created_at=utc_now(), status=CommentStatus.PENDING, pending_reason=reason
    )


def _predict(texts: list[str], services: Services) -> list[Prediction] | PendingReason:
    """The model's answers, or why the texts must wait for it."""
    try:
        return services.model.predict(texts)
    except ModelStartingError as error:
        # Counted as unavailable too: a cold start is over in a minute, the alarm waits 15 for an outage.
        logger.info("model starting; storing as pending", extra={"reason": error.message, "texts": len(texts)})
        count("ModelUnavailable")
        return PendingReason.MODEL_STARTING
    except ModelUnavailableError as error:
        logger.warning("model unavailable; storing as pending", extra={"reason": error.message, "texts": len(texts)})
        count("ModelUnavailable")
        return PendingReason.MODEL_UNAVAILABLE


def _store_pending(comments: list[Comment], services: Services) -> None:
    services.pending.enqueue([comment.comment_id for comment in comments])
    if len(comments) == 1:
        services.comments.put_new(comments[0])
    else:
        services.comments.put_all(comments)


def _count_classified(comments: list[Comment], services: Services) -> None:
    predictions = [comment.prediction for comment in comments if comment.prediction]
    for prediction in predictions:
        count("CommentClassified", label=prediction.counted_as)
    services.monitoring.classified(predictions, comments[0].created_at.date())


def create_comment(text: str, services: Services) -> Comment:
    predictions = _predict([text], services)
    if isinstance(predictions, PendingReason):
        comment = _pending(text, predictions)
        _store_pending([comment], services)
        return comment
    comment = _classified(text, predictions[0])
    services.comments.put_new(comment)
    _count_classified([comment], services)
    return comment


@dataclass(frozen=True)
class BatchOutcome:
    stored: list[tuple[int, Comment]]
    errors: list[tuple[int, str]]


def create_batch(texts: list[str], services: Services) -> BatchOutcome:
    """Each text is answered by its position; the valid ones are stored in one transaction."""
    valid: list[tuple[int, str]] = []
    errors: list[tuple[int, str]] = []
    for index, text in enumerate(texts):
        trimmed, problem = checked_comment(text)
        if trimmed is None:
            errors.append((index, problem or "invalid comment"))
        else:
            valid.append((index, trimmed))
    if not valid:
        return BatchOutcome(stored=[], errors=errors)
    predictions = _predict([text for _, text in valid], services)
    if isinstance(predictions, PendingReason):
        comments = [_pending(text, predictions) for _, text in valid]
        _store_pending(comments, services)
    else:
        comments = [_classified(text, prediction) for (_, text), prediction in zip(valid, predictions, strict=True)]
        services.comments.put_all(comments)
        _count_classified(comments, services)
    return BatchOutcome(
        stored=[(index, comment) for (index, _), comment in zip(valid, comments, strict=True)], errors=errors
    )


def get_comment(comment_id: str, services: Services) -> Comment:
    return services.comments.get(comment_id)


def list_comments(
    sentiment: str | None, needs_review: bool, limit: int, next_token: str | None, services: Services
) -> tuple[list[Comment], str | None, int | None]:
    """Newest first; or with ``needs_review`` the review queue, what people should label next: the
    unlabelled comments the model was least sure of first (margin sampling), and how many wait."""
    if not needs_review:
        return *services.comments.list(sentiment, limit, next_token), None
    if sentiment is not None:
        raise InvalidInputError(
            "needs_review cannot be combined with sentiment",
            [{"loc": ["query", "sentiment"], "msg": "leave it out to read the review queue"}],
        )
    return *services.comments.review_queue(limit, next_token), services.monitoring.queue_size()


def explain_comment(comment_id: str, services: Services) -> tuple[Comment, ExplainedPrediction]:
    """The served model's reasons for its label on a stored comment, computed by the container.

    An explanation scores the text once per word (up to 49 times), so it is computed once per comment and
    champion and kept on the comment: asking again while the registry's champion is the version that
    explained it reads it back; a new champion explains afresh.
    """
    comment = services.comments.get(comment_id)
    kept = comment.explanation
    if kept is not None and kept.model_version == _champion_version(services):
        return comment, kept
    try:
        explained = services.model.explain(comment.text)
    except ModelStartingError as error:
        count("ModelUnavailable")
        logger.info("model starting; no explanation", extra={"reason": error.message})
        raise ServiceUnavailableError(
            "the model is starting after idle; ask again shortly", retry_after=STARTING_RETRY_AFTER_S
        ) from error
    except ModelUnavailableError as error:
        count("ModelUnavailable")
        logger.warning("model unavailable; no explanation", extra={"reason": error.message})
        raise ServiceUnavailableError("the model cannot explain now: the model endpoint is unreachable") from error
    try:
        services.comments.keep_explanation(comment_id, explained)
    except ServiceUnavailableError as error:  # the caller still gets it; the next call computes it again
        logger.warning("explanation not kept", extra={"reason": error.message})
    return comment, explained


def _champion_version(services: Services) -> str | None:
    """With no champion registered, which version serves is unknown: the explanation is computed again."""
    champion = services.models.champion()
    return champion.version if champion else None
