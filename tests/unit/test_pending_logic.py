"""The pending worker's logic against in-memory stores and a fake model."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pending_function.logic import classify_pending
from sentiment_common.errors import ModelUnavailableError
from sentiment_common.records import Comment, CommentStatus, FeedbackMark
from tests.fakes.stores import FakeCommentStore, FakeModel, FakeMonitoringCounters, prediction

pytestmark = pytest.mark.usefixtures("metrics_namespace")

CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def stores(status: CommentStatus = CommentStatus.PENDING) -> tuple[FakeCommentStore, FakeModel, FakeMonitoringCounters]:
    comments = FakeCommentStore()
    comments.put_new(
        Comment(
            comment_id="c1",
            text="slow delivery",
            created_at=CREATED,
            status=status,
            prediction=prediction() if status is CommentStatus.CLASSIFIED else None,
        )
    )
    return comments, FakeModel(lambda text: prediction("negative", 0.7123456)), FakeMonitoringCounters()


def test_a_pending_comment_is_classified_queued_for_review_and_counted_on_its_day() -> None:
    comments, model, monitoring = stores()
    assert classify_pending("c1", comments, model, monitoring) is True
    stored = comments.get("c1")
    assert stored.status is CommentStatus.CLASSIFIED
    assert stored.prediction == prediction("negative", 0.7123456).rounded()
    assert [comment.comment_id for comment in comments.review_queue(10, None)[0]] == ["c1"]
    [day] = monitoring.days(CREATED.date(), CREATED.date())
    assert day.labels["negative"] == 1
    assert monitoring.queue_size() == 1


def test_a_comment_labelled_while_pending_is_classified_but_not_queued() -> None:
    comments, model, monitoring = stores()
    comments.mark_feedback("c1", FeedbackMark(feedback_id="f1", label="positive", created_at=CREATED))
    assert classify_pending("c1", comments, model, monitoring) is True
    assert comments.get("c1").status is CommentStatus.CLASSIFIED
    assert comments.review_queue(10, None)[0] == []
    assert monitoring.days(CREATED.date(), CREATED.date())[0].labels["negative"] == 1
    assert monitoring.queue_size() == 0


def test_a_classified_comment_is_left_alone_without_asking_the_model() -> None:
    comments, model, monitoring = stores(CommentStatus.CLASSIFIED)
    assert classify_pending("c1", comments, model, monitoring) is False
    assert model.calls == []
    assert comments.get("c1").prediction == prediction()
    assert monitoring.days(CREATED.date(), CREATED.date())[0].labels["negative"] == 0


def test_a_message_for_a_comment_that_is_gone_is_dropped() -> None:
    comments, model, monitoring = stores()
    assert classify_pending("nobody", comments, model, monitoring) is False
    assert model.calls == []


def test_a_model_still_down_fails_the_message_and_leaves_the_comment_pending() -> None:
    comments, model, monitoring = stores()
    model.down = True
    with pytest.raises(ModelUnavailableError):
        classify_pending("c1", comments, model, monitoring)
    assert comments.get("c1").status is CommentStatus.PENDING
    assert monitoring.queue_size() == 0
