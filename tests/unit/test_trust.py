"""Which labels a run trains on: the public labels policy, reviewers over the public, withdrawals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline_function.logic.trust import Dropped, training_labels
from sentiment_common.records import FeedbackRecord, Label, LabelSource, PublicLabels

START = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def label(
    value: Label,
    minute: int,
    *,
    comment: str | None = "c1",
    text: str = "BrandZed support is great",
    reviewer: str | None = None,
) -> FeedbackRecord:
    return FeedbackRecord(
        feedback_id=f"f{minute:03d}",
        comment_id=comment,
        text=text,
        label=value,
        predicted_label="positive",
        model_version="v1",
        created_at=START + timedelta(minutes=minute),
        source=LabelSource.REVIEWER if reviewer else LabelSource.PUBLIC,
        reviewer=reviewer,
    )


def labels_of(records: list[FeedbackRecord]) -> list[tuple[str | None, Label]]:
    return [(record.comment_id or record.text, record.label) for record in records]


@pytest.mark.parametrize("policy", [PublicLabels.SUGGEST, PublicLabels.IGNORE])
def test_public_labels_train_nothing_unless_the_policy_is_train(policy: PublicLabels) -> None:
    public = [label("negative", minute, comment=f"c{minute}") for minute in range(10)]

    kept, dropped = training_labels(public, policy, set())

    assert kept == []
    assert dropped[Dropped.POLICY] == 10


def test_under_train_public_labels_train_the_latest_per_comment() -> None:
    kept, dropped = training_labels([label("negative", 1), label("neutral", 2)], PublicLabels.TRAIN, set())
    assert labels_of(kept) == [("c1", "neutral")]
    assert dropped[Dropped.SUPERSEDED] == 1


def test_a_reviewers_label_outranks_later_public_labels_on_the_same_comment() -> None:
    records = [label("positive", 1, reviewer="ana"), *(label("negative", minute) for minute in range(2, 12))]

    kept, dropped = training_labels(records, PublicLabels.TRAIN, set())

    assert labels_of(kept) == [("c1", "positive")]
    assert dropped[Dropped.OUTRANKED] == 10


def test_a_reviewers_label_outranks_public_labels_on_the_same_text_without_a_comment() -> None:
    records = [
        label("negative", 5, comment=None, text="BrandZed  support is GREAT"),
        label("positive", 1, comment=None, reviewer="ana"),
    ]
    kept, dropped = training_labels(records, PublicLabels.TRAIN, set())
    assert [(record.reviewer, record.label) for record in kept] == [("ana", "positive")]
    assert dropped[Dropped.OUTRANKED] == 1


def test_among_reviewers_the_latest_label_wins() -> None:
    records = [label("negative", 3, reviewer="bo"), label("positive", 1, reviewer="ana")]
    kept, dropped = training_labels(records, PublicLabels.SUGGEST, set())
    assert [(record.reviewer, record.label) for record in kept] == [("bo", "negative")]
    assert dropped[Dropped.SUPERSEDED] == 1


def test_a_withdrawn_reviewers_labels_are_dropped_and_what_they_outranked_returns() -> None:
    records = [label("negative", 1, reviewer="mallory"), label("positive", 2, comment="c2", reviewer="mallory")]
    records += [label("neutral", 3)]

    kept, dropped = training_labels(records, PublicLabels.TRAIN, {"mallory"})

    assert labels_of(kept) == [("c1", "neutral")]
    assert dropped[Dropped.WITHDRAWN] == 2
    assert dropped[Dropped.OUTRANKED] == 0


def test_a_withdrawn_reviewer_leaves_other_reviewers_labels_in_place() -> None:
    records = [label("positive", 1, reviewer="ana"), label("negative", 2, reviewer="mallory")]
    kept, _ = training_labels(records, PublicLabels.SUGGEST, {"mallory"})
    assert [(record.reviewer, record.label) for record in kept] == [("ana", "positive")]


def test_kept_labels_come_oldest_first_and_every_label_is_accounted_for() -> None:
    records = [
        label("negative", 9, comment="c3"),
        label("positive", 4, comment="c2", reviewer="ana"),
        label("neutral", 7, comment="c2"),
        label("negative", 1, comment="c1", reviewer="ana"),
        label("positive", 2, comment="c4", reviewer="gone"),
    ]
    kept, dropped = training_labels(records, PublicLabels.TRAIN, {"gone"})
    assert labels_of(kept) == [("c1", "negative"), ("c2", "positive"), ("c3", "negative")]
    assert len(kept) + sum(dropped.values()) == len(records)


def test_a_reviewers_label_on_a_comment_the_model_could_not_read_never_trains() -> None:
    german = label("negative", 1, comment="c1", reviewer="ana").model_copy(
        update={"language": "de", "supported": False}
    )
    english = label("positive", 2, comment="c2", reviewer="ana").model_copy(
        update={"language": "en", "supported": True}
    )
    alone = label("neutral", 3, comment=None, reviewer="ana")  # a text alone: the training job identifies it

    kept, dropped = training_labels([german, english, alone], PublicLabels.SUGGEST, set())

    assert labels_of(kept) == [("c2", "positive"), ("BrandZed support is great", "neutral")]
    assert dropped[Dropped.UNSUPPORTED_LANGUAGE] == 1
