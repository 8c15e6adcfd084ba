"""Metrics computed by hand on small examples."""

from __future__ import annotations

import pytest

from sentiment_model.evaluate import classification_metrics


def test_metrics_match_a_hand_computed_example() -> None:
    truth = ["positive", "positive", "negative", "neutral"]
    predicted = ["positive", "negative", "negative", "positive"]
    metrics = classification_metrics(truth, predicted)
    assert metrics["accuracy"] == 0.5
    assert metrics["per_class"]["negative"] == {"precision": 0.5, "recall": 1.0, "f1": 0.6667, "support": 1}
    assert metrics["per_class"]["positive"]["precision"] == 0.5
    assert metrics["per_class"]["neutral"]["recall"] == 0.0
    # rows: true negative, neutral, positive; columns: predicted in the same order
    assert metrics["confusion_matrix"]["matrix"] == [[1, 0, 0], [0, 0, 1], [1, 0, 1]]
    assert metrics["macro_f1"] == round((0.6667 + 0.0 + 0.5) / 3, 4)


def test_macro_f1_ignores_classes_absent_from_the_truth() -> None:
    metrics = classification_metrics(["positive", "negative"], ["positive", "negative"])
    assert metrics["macro_f1"] == 1.0
    assert metrics["per_class"]["neutral"]["support"] == 0


def test_empty_set_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        classification_metrics([], [])


def test_a_review_answered_neutral_counts_as_a_wrong_answer() -> None:
    """The reviews carry no neutral label: a model that answers one neutral is wrong about it, not excused."""
    metrics = classification_metrics(["positive", "negative"], ["neutral", "negative"])
    assert metrics["accuracy"] == 0.5
    assert metrics["per_class"]["positive"]["recall"] == 0.0
    assert metrics["macro_f1"] == 0.5  # negative 1.0, positive 0.0; neutral is absent from the truth
