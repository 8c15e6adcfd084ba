"""The monitoring counters' contract, held by the DynamoDB adapter (on moto) and by the in-memory fake."""

from __future__ import annotations

from datetime import date

import pytest

from sentiment_common.dal.monitoring import DynamoDbMonitoringCounters
from sentiment_common.monitoring import BINS, confidence_bin
from sentiment_common.ports import MonitoringCounters
from sentiment_common.records import LabelSource
from tests.contract.conftest import create_table, implementation
from tests.fakes.stores import FakeMonitoringCounters, prediction

DAY = date(2026, 3, 1)


@pytest.fixture(params=["dynamodb", "fake"])
def counters(request: pytest.FixtureRequest) -> MonitoringCounters:
    return implementation(
        request, FakeMonitoringCounters, lambda: DynamoDbMonitoringCounters(create_table("MonitoringTable"))
    )


def test_nothing_counted_reads_as_zeros_every_day(counters: MonitoringCounters) -> None:
    days = counters.days(DAY, date(2026, 3, 3))
    assert [day.day for day in days] == [DAY, date(2026, 3, 2), date(2026, 3, 3)]
    assert all(sum(day.labels.values()) == 0 and day.confidence_bins == [0] * BINS for day in days)
    assert counters.versions() == []
    assert counters.queue_size() == 0


def test_classified_comments_count_by_day_label_and_confidence(counters: MonitoringCounters) -> None:
    counters.classified([prediction("positive", 0.9), prediction("negative", 0.55)], DAY)
    counters.classified([prediction("positive", 0.7)], DAY, queued=False)
    counters.classified([], DAY)
    [day] = counters.days(DAY, DAY)
    assert day.labels == {"negative": 1, "neutral": 0, "positive": 2}
    assert day.confidence_sum == pytest.approx(2.15)
    bins = [0] * BINS
    for confidence in (0.9, 0.55, 0.7):
        bins[confidence_bin(confidence)] += 1
    assert day.confidence_bins == bins
    assert counters.queue_size() == 2


def test_labels_fill_each_versions_matrix_once_per_comment(counters: MonitoringCounters) -> None:
    counters.classified([prediction("positive", version="v1"), prediction("negative", version="v2")], DAY)
    counters.labelled(prediction("positive", version="v1"), "positive", None, DAY, first=True)
    counters.labelled(prediction("negative", version="v2"), "neutral", None, DAY, first=True)
    counters.labelled(prediction("negative", version="v2"), "positive", "neutral", DAY, first=False)
    [day] = counters.days(DAY, DAY)
    assert (day.feedback, day.agreed) == (3, 1)
    versions = {item.version: item.matrix for item in counters.versions()}
    assert set(versions) == {"v1", "v2"}
    assert versions["v1"]["positive"] == {"negative": 0, "neutral": 0, "positive": 1}
    assert versions["v2"]["negative"] == {"negative": 0, "neutral": 0, "positive": 1}
    assert counters.queue_size() == 0


def test_the_queue_size_never_reads_below_zero(counters: MonitoringCounters) -> None:
    counters.labelled(prediction("positive"), "positive", None, DAY, first=True)
    assert counters.queue_size() == 0


def test_labels_count_toward_their_sources_agreement_and_suggestions_leave_the_matrix_alone(
    counters: MonitoringCounters,
) -> None:
    counters.labelled(prediction("positive"), "positive", None, DAY, first=True, source=LabelSource.REVIEWER)
    counters.labelled(prediction("positive"), "negative", None, DAY, first=True)
    counters.suggested(prediction("negative"), "positive", DAY)
    counters.suggested(prediction("negative"), "negative", DAY)

    [day] = counters.days(DAY, DAY)

    assert (day.feedback, day.agreed) == (4, 2)
    assert day.feedback_by_source == {LabelSource.PUBLIC: 3, LabelSource.REVIEWER: 1}
    assert day.agreed_by_source == {LabelSource.PUBLIC: 1, LabelSource.REVIEWER: 1}
    [version] = counters.versions()
    assert version.count == 2  # the two labels that marked their comments; suggestions did not


def test_comments_in_languages_the_model_cannot_read_count_apart_and_nowhere_else(counters: MonitoringCounters) -> None:
    german, japanese = prediction("positive", 0.81, language="de"), prediction("negative", 0.6, language="ja")
    counters.classified([prediction("neutral", 0.7), german, german, japanese], DAY)
    counters.labelled(german, "negative", None, DAY, first=True, source=LabelSource.REVIEWER)
    counters.suggested(japanese, "positive", DAY)
    [day] = counters.days(DAY, DAY)
    assert day.labels == {"negative": 0, "neutral": 1, "positive": 0}
    assert day.confidence_sum == pytest.approx(0.7)
    assert sum(day.confidence_bins) == 1
    assert day.unsupported == {"de": 2, "ja": 1}
    assert (day.feedback, day.agreed, sum(day.feedback_by_source.values())) == (0, 0, 0)
    assert counters.versions() == []
    assert counters.queue_size() == 1
