"""The arithmetic of live quality and drift, on figures worked out by hand."""

from __future__ import annotations

import math
from datetime import date

import pytest

from sentiment_common.monitoring import (
    CONFIDENCE_EDGES,
    MIN_DRIFT_COMMENTS,
    Baseline,
    DayCounts,
    VersionCounts,
    confidence_bin,
    day_figures,
    drift,
    psi,
    version_quality,
)
from sentiment_common.records import LABELS
from sentiment_model.training import CONFIDENCE_EDGES as TRAINING_EDGES


def test_psi_of_two_known_distributions() -> None:
    # (0.3 − 0.5)·ln(0.3/0.5) + (0.7 − 0.5)·ln(0.7/0.5)
    assert psi([3, 7], [0.5, 0.5]) == pytest.approx(0.2 * math.log(5 / 3) + 0.2 * math.log(1.4), abs=1e-6)
    assert psi([30, 70], [3, 7]) == 0
    assert psi([1, 0], [0.5, 0.5]) == pytest.approx(
        (1 - 0.5) * math.log(1 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5), abs=1e-6
    )
    with pytest.raises(ValueError, match="bins"):
        psi([1, 2, 3], [1, 2])


def test_confidence_bins_are_the_ones_training_records_its_baseline_in() -> None:
    assert TRAINING_EDGES == CONFIDENCE_EDGES
    assert [confidence_bin(value) for value in (1 / 3, 0.4999, 0.5, 0.94, 0.95, 1.0)] == [0, 0, 1, 5, 6, 6]


def matrix(cells: dict[tuple[str, str], int]) -> VersionCounts:
    counts = VersionCounts.empty("v1")
    for (predicted, given), value in cells.items():
        counts.matrix[predicted][given] = value  # type: ignore[index]
    return counts


def test_version_quality_reads_agreement_from_the_confusion_matrix() -> None:
    counts = matrix({("positive", "positive"): 6, ("positive", "neutral"): 2, ("negative", "negative"): 1})

    quality = version_quality(counts, champion=True)

    assert (quality.count, quality.agreement) == (9, round(7 / 9, 6))
    assert quality.per_label["positive"].model_dump() == {"count": 8, "agreement": 0.75}
    assert quality.per_label["negative"].model_dump() == {"count": 1, "agreement": 1.0}
    assert quality.per_label["neutral"].model_dump() == {"count": 0, "agreement": None}
    assert quality.confusion["positive"]["neutral"] == 2


def test_a_day_without_comments_or_feedback_has_no_mean_or_agreement() -> None:
    empty = day_figures(DayCounts(day=date(2026, 1, 2)))
    assert (empty.mean_confidence, empty.agreement, empty.feedback) == (None, None, 0)
    busy = day_figures(
        DayCounts(
            day=date(2026, 1, 2),
            labels={"negative": 1, "neutral": 0, "positive": 3},
            confidence_sum=3.0,
            feedback=4,
            agreed=3,
        )
    )
    assert (busy.mean_confidence, busy.agreement) == (0.75, 0.75)


BASELINE = Baseline(
    rows=100,
    labels={"negative": 0.4, "neutral": 0.2, "positive": 0.4},
    confidence_edges=list(CONFIDENCE_EDGES),
    confidence=[0.0, 0.1, 0.1, 0.1, 0.2, 0.2, 0.3],
)


def test_drift_compares_the_windows_labels_and_confidences_with_the_baseline() -> None:
    day = DayCounts(
        day=date(2026, 1, 2),
        labels={"negative": 10, "neutral": 30, "positive": 20},
        confidence_bins=[0, 6, 6, 6, 12, 12, 18],
    )

    figure = drift("v1", BASELINE, [day])

    assert figure.comments == 60
    assert figure.labels is not None and figure.confidence is not None
    recent = [10 / 60, 30 / 60, 20 / 60]
    expected = sum((a - e) * math.log(a / e) for a, e in zip(recent, [0.4, 0.2, 0.4], strict=True))
    assert figure.labels.psi == pytest.approx(expected, abs=1e-5)
    assert figure.confidence.psi == pytest.approx(0, abs=1e-9)  # the same shares as the baseline
    assert figure.psi == figure.labels.psi


def test_no_drift_figure_without_a_baseline_or_with_too_few_comments() -> None:
    few = DayCounts(day=date(2026, 1, 2), labels=dict.fromkeys(LABELS, 1))
    assert drift("v1", None, [few]).reason == "the champion was trained before baselines were recorded"
    too_few = drift("v1", BASELINE, [few])
    assert too_few.psi is None
    assert too_few.reason is not None and str(MIN_DRIFT_COMMENTS) in too_few.reason
    other_bins = BASELINE.model_copy(update={"confidence_edges": [0.5, 0.9]})
    assert "other confidence bins" in (drift("v1", other_bins, [few]).reason or "")
