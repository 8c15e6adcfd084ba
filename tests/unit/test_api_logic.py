"""The API's logic against in-memory stores and a fake model: what is stored, queued and counted."""

from __future__ import annotations

from typing import Any

import pytest

from api_function.logic.comments import create_batch, create_comment, explain_comment, list_comments
from api_function.logic.feedback import record_feedback
from api_function.logic.monitoring import report
from api_function.logic.reviewers import create_reviewer, withdraw_reviewer
from api_function.services import Services
from sentiment_common.errors import InvalidInputError, NotFoundError, ServiceUnavailableError
from sentiment_common.records import (
    Comment,
    CommentStatus,
    FeedbackMark,
    FeedbackRecord,
    LabelSource,
    PublicLabels,
    utc_now,
)
from sentiment_common.registry import Champion
from sentiment_common.reviewers import key_digest
from tests.fakes.datasets import FakeDatasetFiles, FakeDatasets
from tests.fakes.registry import FakeRegistry
from tests.fakes.reviewers import FakeReviewers
from tests.fakes.stores import (
    FakeCommentStore,
    FakeFeedbackArchive,
    FakeModel,
    FakeMonitoringCounters,
    FakeRetrainWorkflow,
    FakeRetryQueue,
    prediction,
)

pytestmark = pytest.mark.usefixtures("metrics_namespace")


def registry_with_champion(version: str) -> FakeRegistry:
    """A champion whose model record is not registered: the report has no baseline to read for it."""
    registry = FakeRegistry.empty()
    registry.models.data.champion = Champion(
        version=version, model_data_url="s3://models/model.tar.gz", sha256="0" * 64
    )
    return registry


def services(**changes: Any) -> Services:
    stores: dict[str, Any] = {
        "comments": FakeCommentStore(),
        "monitoring": FakeMonitoringCounters(),
        "feedback": FakeFeedbackArchive(),
        "pending": FakeRetryQueue(),
        "model": FakeModel(),
        "backend": "ecs",
        "workflow": FakeRetrainWorkflow(),
        "public_labels": PublicLabels.TRAIN,
        "reviewers": FakeReviewers(),
        "datasets": FakeDatasets(),
        "dataset_files": FakeDatasetFiles(),
    }
    registry = changes.pop("registry", None) or FakeRegistry.empty()
    stores |= {"models": registry.models, "runs": registry.runs, "pipeline": registry.pipeline}
    return Services(**(stores | changes))


def down() -> FakeModel:
    model = FakeModel()
    model.down = True
    return model


def test_a_comment_the_model_answers_is_stored_classified_and_counted() -> None:
    given = services(model=FakeModel(lambda text: prediction("negative", 0.6123456)))
    comment = create_comment("slow delivery", given)
    assert comment.status is CommentStatus.CLASSIFIED
    assert comment.prediction == prediction("negative", 0.6123456).rounded()
    assert given.comments.get(comment.comment_id) == comment
    [day] = given.monitoring.days(comment.created_at.date(), comment.created_at.date())
    assert day.labels["negative"] == 1
    assert given.monitoring.queue_size() == 1
    assert given.pending.comment_ids == []  # type: ignore[attr-defined]


def test_a_comment_stored_while_the_model_is_down_is_pending_and_queued() -> None:
    given = services(model=down())
    comment = create_comment("slow delivery", given)
    assert comment.status is CommentStatus.PENDING
    assert comment.prediction is None
    assert given.comments.get(comment.comment_id) == comment
    assert given.pending.comment_ids == [comment.comment_id]  # type: ignore[attr-defined]
    assert given.monitoring.queue_size() == 0


def test_with_the_model_and_the_queue_down_nothing_is_stored() -> None:
    given = services(model=down(), pending=FakeRetryQueue(unreachable=True))
    with pytest.raises(ServiceUnavailableError):
        create_comment("slow delivery", given)
    assert given.comments.list(None, 10, None)[0] == []


def test_a_pending_comment_is_queued_before_it_is_written() -> None:
    class Busy(FakeCommentStore):
        def put_new(self, comment: Comment) -> None:
            raise ServiceUnavailableError("the comments table is busy")

    given = services(model=down(), comments=Busy())
    with pytest.raises(ServiceUnavailableError):
        create_comment("slow delivery", given)
    # The stray message finds no pending comment and is dropped; no stored comment is ever left unqueued.
    assert len(given.pending.comment_ids) == 1  # type: ignore[attr-defined]
    assert given.comments.list(None, 10, None)[0] == []


def test_a_batch_answers_each_text_by_position_and_stores_the_valid_ones() -> None:
    given = services()
    outcome = create_batch(["good", "   ", "fine"], given)
    assert [index for index, _ in outcome.errors] == [1]
    assert [(index, comment.text) for index, comment in outcome.stored] == [(0, "good"), (2, "fine")]
    assert {comment.comment_id for comment in given.comments.list(None, 10, None)[0]} == {
        comment.comment_id for _, comment in outcome.stored
    }
    assert given.monitoring.queue_size() == 2
    assert given.model.calls == [["good", "fine"]]  # type: ignore[attr-defined]


def test_a_batch_of_invalid_texts_asks_the_model_nothing() -> None:
    given = services()
    outcome = create_batch(["", "  "], given)
    assert outcome.stored == []
    assert [index for index, _ in outcome.errors] == [0, 1]
    assert given.model.calls == []  # type: ignore[attr-defined]


def test_a_batch_while_the_model_is_down_is_stored_pending_and_queued() -> None:
    given = services(model=down())
    outcome = create_batch(["good", "fine"], given)
    assert all(comment.status is CommentStatus.PENDING for _, comment in outcome.stored)
    assert given.pending.comment_ids == [comment.comment_id for _, comment in outcome.stored]  # type: ignore[attr-defined]
    assert given.monitoring.queue_size() == 0


def test_feedback_on_a_comment_is_archived_marks_it_and_is_counted() -> None:
    given = services()
    comment = create_comment("great", given)
    record = record_feedback(comment.comment_id, None, "negative", given).record
    assert record.predicted_label == "positive"
    assert record.text == "great"
    [body] = given.feedback.objects.values()  # type: ignore[attr-defined]
    assert FeedbackRecord.model_validate_json(body) == record
    stored = given.comments.get(comment.comment_id)
    assert stored.feedback == FeedbackMark(
        feedback_id=record.feedback_id, label="negative", created_at=record.created_at
    )
    assert given.comments.review_queue(10, None)[0] == []
    assert given.monitoring.queue_size() == 0
    [day] = given.monitoring.days(record.created_at.date(), record.created_at.date())
    assert (day.feedback, day.agreed) == (1, 0)


def test_a_changed_label_moves_the_comment_in_its_versions_matrix() -> None:
    given = services()
    comment = create_comment("great", given)
    create_comment("fine", given)
    record_feedback(comment.comment_id, None, "negative", given)
    record_feedback(comment.comment_id, None, "positive", given)
    [version] = given.monitoring.versions()
    assert version.matrix["positive"] == {"negative": 0, "neutral": 0, "positive": 1}
    assert given.monitoring.queue_size() == 1  # the comment left the queue once; "fine" still waits


def test_feedback_on_a_pending_comment_is_not_counted() -> None:
    given = services(model=down())
    comment = create_comment("great", given)
    record_feedback(comment.comment_id, None, "positive", given)
    assert given.comments.get(comment.comment_id).feedback is not None
    assert given.monitoring.versions() == []


def test_feedback_on_a_text_alone_is_archived_without_a_comment() -> None:
    given = services()
    record = record_feedback(None, "a new text", "neutral", given).record
    assert (record.comment_id, record.text, record.predicted_label) == (None, "a new text", None)
    assert len(given.feedback.objects) == 1  # type: ignore[attr-defined]


def test_a_reviewers_label_is_archived_with_their_name_and_a_public_one_without() -> None:
    given = services()

    reviewed = record_feedback(None, "Slow but fine", "neutral", given, source=LabelSource.REVIEWER, reviewer="ana")
    public = record_feedback(None, "Slow but fine", "negative", given)

    archived = [FeedbackRecord.model_validate_json(body) for body in given.feedback.objects.values()]  # type: ignore[attr-defined]
    assert {(record.source, record.reviewer) for record in archived} == {
        (LabelSource.REVIEWER, "ana"),
        (LabelSource.PUBLIC, None),
    }
    assert (reviewed.record.reviewer, public.record.reviewer) == ("ana", None)


def test_a_new_reviewer_gets_a_key_only_its_digest_is_stored_and_withdrawal_lists_them() -> None:
    given = services()

    issued = create_reviewer("ana", given)
    withdrawn = withdraw_reviewer("ana", given)

    assert issued.key.startswith("rvw_")
    assert given.reviewers.reviewer_for(key_digest(issued.key)) is None  # withdrawn: revoked too
    assert withdrawn.withdrawn_at is not None
    assert given.reviewers.withdrawn() == {"ana"}


def test_feedback_on_an_unknown_comment_archives_nothing() -> None:
    given = services()
    with pytest.raises(NotFoundError):
        record_feedback("nobody", None, "neutral", given)
    assert given.feedback.objects == {}  # type: ignore[attr-defined]


def test_feedback_whose_mark_fails_removes_its_object_again() -> None:
    class Failing(FakeCommentStore):
        def mark_feedback(self, comment_id: str, mark: FeedbackMark) -> Comment:
            raise ServiceUnavailableError("the comments table is busy")

    given = services(comments=Failing())
    comment = create_comment("great", given)
    with pytest.raises(ServiceUnavailableError):
        record_feedback(comment.comment_id, None, "negative", given)
    assert given.feedback.objects == {}  # type: ignore[attr-defined]


def test_the_review_queue_comes_with_its_size_and_refuses_a_sentiment() -> None:
    given = services(model=FakeModel(lambda text: prediction("positive", float(text))))
    for confidence in ("0.9", "0.5", "0.7"):
        create_comment(confidence, given)
    queue, _, size = list_comments(None, True, 10, None, given)
    assert [comment.text for comment in queue] == ["0.5", "0.7", "0.9"]
    assert size == 3
    assert list_comments(None, False, 10, None, given)[2] is None
    with pytest.raises(InvalidInputError):
        list_comments("positive", True, 10, None, given)


def test_an_explanation_while_the_model_is_down_is_a_service_unavailable() -> None:
    given = services()
    comment = create_comment("great", given)
    assert explain_comment(comment.comment_id, given)[1].label == "positive"
    given.model.down = True  # type: ignore[attr-defined]
    with pytest.raises(ServiceUnavailableError):
        explain_comment(comment.comment_id, given)


def test_the_report_puts_the_champion_first_then_the_newest_versions() -> None:
    given = services(registry=registry_with_champion("2026-03-01-b"))
    when = utc_now().date()
    for version in ("2026-01-01-a", "2026-02-01-c"):
        given.monitoring.labelled(prediction(version=version), "positive", None, when, first=False)
    given.monitoring.classified([prediction()], when)
    figures = report(7, given)
    assert figures.champion == "2026-03-01-b"
    assert [item.model_version for item in figures.versions] == ["2026-03-01-b", "2026-02-01-c", "2026-01-01-a"]
    assert [item.champion for item in figures.versions] == [True, False, False]
    assert len(figures.daily) == 7
    assert figures.daily[-1].date == when
    assert figures.daily[-1].comments["positive"] == 1
    assert figures.drift is not None and figures.drift.psi is None  # no baseline recorded for it
    assert figures.review_queue == 1


def test_the_report_without_a_champion_has_no_drift() -> None:
    figures = report(3, services())
    assert (figures.champion, figures.versions, figures.drift) == (None, [], None)
    assert len(figures.daily) == 3
