"""A public label under each PublicLabels setting, on in-memory stores: the record is always archived;
whether the label marks the comment, suggests it to reviewers, or does nothing more follows the setting,
and a reviewer's label always stands. (``tests/integration/api/test_feedback_policy.py`` keeps the
route's own check on moto: the template's default and one label end to end.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from api_function.logic.comments import create_batch, list_comments
from api_function.logic.feedback import record_feedback
from api_function.logic.monitoring import report
from api_function.services import Services
from sentiment_common.records import (
    Comment,
    FeedbackMark,
    FeedbackRecord,
    LabelSource,
    LabelUse,
    PublicLabels,
    utc_now,
)
from tests.fakes.stores import FakeModel, prediction
from tests.unit.test_api_logic import services

pytestmark = pytest.mark.usefixtures("metrics_namespace")

# The model is surest of the first text and least sure of the last: the review queue puts the last first.
CONFIDENCE = {"Wonderful": 0.95, "Awful": 0.8, "Fine": 0.5}
WRONG = {"negative": "positive", "neutral": "negative", "positive": "negative"}


def given(policy: PublicLabels) -> tuple[Services, list[Comment]]:
    model = FakeModel(lambda text: prediction("positive" if text == "Wonderful" else "negative", CONFIDENCE[text]))
    stores = services(public_labels=policy, model=model)
    return stores, [comment for _, comment in create_batch(list(CONFIDENCE), stores).stored]


def review_queue(stores: Services) -> list[Comment]:
    return list_comments(None, True, 10, None, stores)[0]


def archived(stores: Services) -> list[FeedbackRecord]:
    return [FeedbackRecord.model_validate_json(body) for body in stores.feedback.objects.values()]  # type: ignore[attr-defined]


def public_agreement(stores: Services) -> tuple[int, float | None]:
    figures = report(1, stores).agreement_by_source[LabelSource.PUBLIC]
    return figures.count, figures.agreement


def test_a_suggestion_is_archived_and_puts_its_comment_first_in_the_queue_unlabelled() -> None:
    stores, created = given(PublicLabels.SUGGEST)
    target = created[0]  # the comment the model is surest of: without the suggestion it would come last
    label = WRONG[target.prediction.label]  # type: ignore[union-attr]

    recorded = record_feedback(target.comment_id, None, label, stores)

    assert recorded.use is LabelUse.SUGGESTION
    [record] = archived(stores)
    assert (record.comment_id, record.label, record.source) == (target.comment_id, label, LabelSource.PUBLIC)
    queue = review_queue(stores)
    assert queue[0].comment_id == target.comment_id
    assert len(queue) == len(created)
    read = stores.comments.get(target.comment_id)
    assert (read.suggestion.label if read.suggestion else None, read.feedback) == (label, None)
    assert public_agreement(stores) == (1, 0.0)


def test_a_suggestion_on_a_text_alone_is_archived_and_ignored() -> None:
    stores, _ = given(PublicLabels.SUGGEST)
    assert record_feedback(None, "Fine", "negative", stores).use is LabelUse.IGNORED
    assert len(archived(stores)) == 1


def test_under_train_a_public_label_marks_the_comment_and_takes_it_out_of_the_queue() -> None:
    stores, created = given(PublicLabels.TRAIN)
    target = created[0]

    assert record_feedback(target.comment_id, None, "neutral", stores).use is LabelUse.TRAINING

    feedback = stores.comments.get(target.comment_id).feedback
    assert feedback is not None and feedback.label == "neutral"
    assert target.comment_id not in [comment.comment_id for comment in review_queue(stores)]
    assert len(archived(stores)) == 1


def test_under_ignore_a_public_label_is_only_archived() -> None:
    stores, created = given(PublicLabels.IGNORE)
    queue_before = [comment.comment_id for comment in review_queue(stores)]
    target = created[0]

    recorded = record_feedback(target.comment_id, None, WRONG[target.prediction.label], stores)  # type: ignore[union-attr]

    assert recorded.use is LabelUse.IGNORED
    assert len(archived(stores)) == 1
    read = stores.comments.get(target.comment_id)
    assert (read.feedback, read.suggestion) == (None, None)
    assert [comment.comment_id for comment in review_queue(stores)] == queue_before
    assert public_agreement(stores) == (0, None)


@pytest.mark.parametrize("policy", [PublicLabels.TRAIN, PublicLabels.SUGGEST])
def test_a_public_label_never_overrides_a_reviewers(policy: PublicLabels) -> None:
    stores, created = given(policy)
    target = created[2]
    label = target.prediction.label  # type: ignore[union-attr]
    review = FeedbackMark(
        feedback_id="r1",
        label=label,
        created_at=utc_now() - timedelta(minutes=1),
        source=LabelSource.REVIEWER,
        reviewer="ana",
    )
    stores.comments.mark_feedback(target.comment_id, review)

    assert record_feedback(target.comment_id, None, WRONG[label], stores).use is LabelUse.IGNORED

    read = stores.comments.get(target.comment_id)
    assert read.feedback is not None and (read.feedback.feedback_id, read.feedback.label) == ("r1", label)
    assert read.suggestion is None
    assert target.comment_id not in [comment.comment_id for comment in review_queue(stores)]
    assert len(archived(stores)) == 1  # still the record of what was sent
