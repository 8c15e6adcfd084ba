"""Feedback at volume on moto: the scheduled compactor through its handler, and PrepareDataset reading
twenty thousand labels in a few dozen S3 GETs, not one per label."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.backends import get_backend

from pipeline_function.logic.compact import compact
from pipeline_function.logic.labels import DayIndex, index_key
from pipeline_function.logic.prepare import prepare
from pipeline_function.steps import PrepareInput
from sentiment_common import observability
from sentiment_common.records import FeedbackRecord, PublicLabels, feedback_key, new_id
from sentiment_local.runtime.event_sources import scheduled_event
from tests.fakes.datasets import FakeDatasets
from tests.fakes.pipeline import FakeDataStore, FakeWithdrawnReviewers
from tests.integration.pipeline.conftest import MotoPipeline
from tests.integration.pipeline.test_handlers import Context, handler

NOW = datetime.now(UTC)
DAYS = 4
PER_DAY = 5_000
OPEN = 50
ACCOUNT = "123456789012"

# Public labels train and nothing is withdrawn: what these tests read is how labels are stored.
TRUSTING: dict[str, Any] = {
    "public_labels": PublicLabels.TRAIN,
    "withdrawals": FakeWithdrawnReviewers(),
    "datasets": FakeDatasets(),
}


def record(at: datetime, n: int) -> FeedbackRecord:
    return FeedbackRecord(
        feedback_id=new_id(),
        comment_id=f"comment-{n}",
        text=f"Comment number {n}, which someone labelled",
        label=("negative", "neutral", "positive")[n % 3],
        predicted_label="neutral",
        model_version="v1",
        created_at=at,
    )


def straight_into_s3(bucket: str, objects: dict[str, bytes]) -> None:
    """Objects put into moto's S3 without a request each: setting up twenty thousand is not what is measured."""
    s3 = get_backend("s3")[ACCOUNT]["global"]
    for key, body in objects.items():
        s3.put_object(bucket, key, body, disable_notification=True)


@pytest.fixture
def get_objects(pipeline: MotoPipeline) -> Iterator[list[str]]:
    """The keys of every GetObject the data bucket's adapter sends."""
    keys: list[str] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        keys.append(params["Key"])

    events = pipeline.store._s3.meta.events  # the adapter's own client, whose calls are counted
    events.register("provide-client-params.s3.GetObject", count)
    yield keys
    events.unregister("provide-client-params.s3.GetObject", count)


def test_a_run_reads_twenty_thousand_labels_in_a_few_dozen_gets(pipeline: MotoPipeline, get_objects: list[str]) -> None:
    # Given four past days of 5,000 labels each, compacted (the compactor run over the same objects in
    # memory, its parts and indexes then put into S3 with the objects), and 50 labels of today not yet compacted
    archive = FakeDataStore(pipeline.bucket)
    n = 0
    for day in range(DAYS, 0, -1):
        for _ in range(PER_DAY):
            start = (NOW - timedelta(days=day)).replace(hour=0, minute=0, second=0, microsecond=0)
            labelled = record(start + timedelta(seconds=n % PER_DAY), n)
            archive.objects[feedback_key(labelled)] = labelled.model_dump_json().encode()
            n += 1
    compact(archive, NOW)
    archive.objects |= {f"data/{split}/tweets.csv": b"text,label\nlovely,positive\n" for split in ("base", "golden")}
    straight_into_s3(pipeline.bucket, archive.objects)
    for _ in range(OPEN):
        pipeline.feedback("neutral", comment_id=f"comment-{n}", created_at=NOW)
        n += 1

    # When PrepareDataset runs
    dataset = prepare(
        PrepareInput(run_id="run-000001"), pipeline.runs, pipeline.models, pipeline.store, now=NOW, **TRUSTING
    )
    gets = list(get_objects)

    # Then every label is in the dataset, read from 4 indexes, 4 parts, today's 50 objects and the 2 CSVs
    assert dataset.feedback_rows == DAYS * PER_DAY + OPEN
    manifest = json.loads(pipeline.store.read("training-runs/run-000001/manifest.json"))
    assert manifest["feedback"]["objects"] == DAYS * PER_DAY + OPEN
    assert len(gets) == DAYS + DAYS + OPEN + 2
    assert len([key for key in gets if key.startswith("feedback/")]) == OPEN


def test_the_scheduled_compactor_seals_past_days_and_leaves_today_open(
    pipeline: MotoPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The template's namespace: the shared Metrics was made before this test set the environment.
    namespace = pipeline.template.function_environment("CompactFeedbackFunction", "")["POWERTOOLS_METRICS_NAMESPACE"]
    monkeypatch.setattr(observability.metrics, "namespace", namespace)
    # Given labels of a past day, a malformed object among them, and of today, written as the API writes them
    past_day = NOW - timedelta(days=2)
    for n in range(30):
        pipeline.feedback("positive", comment_id=f"c{n}", created_at=past_day.replace(hour=12) + timedelta(seconds=n))
    broken = pipeline.put(f"feedback/dt={past_day:%Y-%m-%d}/broken.json", b"{ broken")
    pipeline.feedback("negative", comment_id="today", created_at=NOW)

    # When EventBridge invokes CompactFeedbackFunction
    answer = handler(pipeline.template, monkeypatch, "CompactFeedbackFunction")(
        scheduled_event("arn:aws:events:us-east-1:123456789012:rule/compact"), Context("CompactFeedbackFunction")
    )

    # Then the past day is sealed, and today is compacted but stays open
    past = DayIndex.model_validate_json(pipeline.store.read(index_key(past_day.date())))
    assert (past.rows, past.malformed_keys, past.sealed) == (30, [broken], True)
    present = DayIndex.model_validate_json(pipeline.store.read(index_key(NOW.date())))
    assert (present.rows, present.sealed) == (1, False)
    assert answer["objects_compacted"] == 31
    assert answer["malformed"] == 1
    # and a second invocation finds nothing new
    again = handler(pipeline.template, monkeypatch, "CompactFeedbackFunction")(
        scheduled_event("arn:aws:events:us-east-1:123456789012:rule/compact"), Context("CompactFeedbackFunction")
    )
    assert (again["objects_compacted"], again["parts_written"]) == (0, 0)
