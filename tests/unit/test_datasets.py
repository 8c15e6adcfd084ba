"""Labelled files: the import's every rejection reason, its whole-file refusals, all or nothing, once per
upload; the API's logic on them; and what a run's prepare step makes of active datasets."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api_function.logic import datasets as api
from api_function.services import Services
from pipeline_function.logic.datasets import on_upload, validate
from pipeline_function.logic.prepare import prepare
from pipeline_function.steps import PrepareInput
from sentiment_common.datasets import (
    MAX_UPLOAD_BYTES,
    DatasetFormat,
    DatasetStatus,
    report_key,
    rows_key,
    upload_key,
)
from sentiment_common.errors import ConflictError
from sentiment_common.records import PublicLabels
from tests.fakes.datasets import FakeDatasetFiles, FakeDatasets
from tests.fakes.pipeline import FakeDataStore, FakePipeline, FakeWithdrawnReviewers
from tests.unit.test_api_logic import services as api_services

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
CSV = DatasetFormat.CSV
JSONL = DatasetFormat.JSONL


def reasons(data: bytes, format: DatasetFormat = CSV) -> list[tuple[int, str]]:
    return [(rejection.line, rejection.reason) for rejection in validate(data, format).rejected]


# ---- the validator ----


def test_good_csv_rows_are_accepted_with_their_labels_normalised() -> None:
    validation = validate(b"id,text,label\n1,Great support,Positive\n2,  Slow reply , negative\n", CSV)

    assert [(row.text, row.label) for row in validation.accepted] == [
        ("Great support", "positive"),
        ("Slow reply", "negative"),
    ]
    assert validation.counts().labels == {"negative": 1, "neutral": 0, "positive": 1}


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (b",positive", "EMPTY_TEXT"),
        (b"   ,positive", "EMPTY_TEXT"),
        (b"x" * 5001 + b",positive", "TEXT_TOO_LONG"),
        (b"Fine,happy", "UNKNOWN_LABEL"),
        (b"caf\xe9 au lait,neutral", "UNSUPPORTED_ENCODING"),
        (b"one,two,three", "MALFORMED_ROW"),
    ],
)
def test_each_bad_csv_row_is_rejected_with_its_line_and_reason(row: bytes, reason: str) -> None:
    data = b"text,label\nA good day,positive\n" + row + b"\nA bad day,negative\n"

    assert reasons(data) == [(3, reason)]
    assert len(validate(data, CSV).accepted) == 2


def test_a_quoted_text_over_several_lines_is_one_row_and_lines_count_from_its_start() -> None:
    data = b'text,label\n"first line\nsecond line",neutral\n,positive\n'

    assert reasons(data) == [(4, "EMPTY_TEXT")]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"text": "", "label": "positive"}', "EMPTY_TEXT"),
        (b'{"text": "ok", "label": "meh"}', "UNKNOWN_LABEL"),
        (b'{"text": 5, "label": "positive"}', "MALFORMED_ROW"),
        (b'{"text": "ok", "label": "pos', "MALFORMED_ROW"),
        (b'["ok", "positive"]', "MALFORMED_ROW"),
        (b'{"text": "caf\xe9", "label": "neutral"}', "UNSUPPORTED_ENCODING"),
        (b'{"text": "' + b"y" * 5001 + b'", "label": "neutral"}', "TEXT_TOO_LONG"),
    ],
)
def test_each_bad_jsonl_line_is_rejected_with_its_line_and_reason(line: bytes, reason: str) -> None:
    data = b'{"text": "A good day", "label": "positive"}\n' + line + b'\n{"text": "A bad day", "label": "negative"}\n'

    assert reasons(data, JSONL) == [(2, reason)]


def test_a_repeated_text_is_kept_once_and_a_text_given_two_labels_not_at_all() -> None:
    data = b"text,label\nGreat,positive\ngreat ,positive\nMeh,neutral\nmeh,negative\nBad,negative\n"

    validation = validate(data, CSV)

    assert [row.text for row in validation.accepted] == ["Great", "Bad"]
    assert reasons(data) == [(3, "DUPLICATE_TEXT"), (4, "CONFLICTING_LABEL"), (5, "CONFLICTING_LABEL")]


@pytest.mark.parametrize(
    ("data", "format", "why"),
    [
        (b"comment,sentiment\nhi,positive\n", CSV, "lacks the column"),
        (b"text\nhi\n", CSV, "label"),
        (b"", CSV, "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", CSV, "binary"),
        (b"text,label\nhi,positive\n", JSONL, "not JSON Lines"),
        (b'{"comment": "hi", "label": "positive"}\n', JSONL, "no text"),
    ],
)
def test_a_file_not_in_its_format_or_without_the_columns_is_refused_whole(
    data: bytes, format: DatasetFormat, why: str
) -> None:
    world = World()
    world.submit("tickets", format)

    world.upload("tickets", data)

    dataset = world.datasets.get("tickets")
    assert dataset.status is DatasetStatus.FAILED
    assert why in (dataset.failure_reason or "")
    assert rows_key("tickets") not in world.store.objects


# ---- the import ----


class World:
    """The import's stores in memory, and S3's event for an upload."""

    def __init__(self) -> None:
        self.store = FakeDataStore()
        self.datasets = FakeDatasets()
        self.files = FakeDatasetFiles(self.store.objects)

    def submit(self, name: str, format: DatasetFormat = CSV) -> None:
        services = api_services(datasets=self.datasets, dataset_files=self.files)
        api.create_dataset(name, format, services, now=NOW)

    def event(self, *names: str) -> dict[str, Any]:
        keys = [upload_key(name) for name in names]
        return {"Records": [{"s3": {"bucket": {"name": self.store.bucket}, "object": {"key": key}}} for key in keys]}

    def upload(self, name: str, data: bytes) -> Any:
        self.store.write(upload_key(name), data, "text/csv")
        return on_upload(self.event(name), self.datasets, self.store, self.files, now=NOW)


def test_an_upload_makes_the_dataset_active_with_counts_and_its_full_report_kept() -> None:
    world = World()
    world.submit("tickets")
    bad = ",positive\n" * 30
    data = ("text,label\nGreat support,positive\nSlow reply,negative\n" + bad).encode()

    report = world.upload("tickets", data)

    dataset = world.datasets.get("tickets")
    assert report.imported == ["tickets"]
    assert dataset.status is DatasetStatus.ACTIVE
    assert dataset.counts is not None
    assert (dataset.counts.rows, dataset.counts.accepted, dataset.counts.rejected) == (32, 2, 30)
    assert len(dataset.rejections) == 20
    assert len(world.store.read(report_key("tickets")).splitlines()) == 30
    assert list(csv.reader(io.StringIO(world.store.read(rows_key("tickets")).decode()))) == [
        ["text", "label"],
        ["Great support", "positive"],
        ["Slow reply", "negative"],
    ]


def test_a_duplicate_event_imports_nothing_twice() -> None:
    world = World()
    world.submit("tickets")
    world.upload("tickets", b"text,label\nGreat,positive\n")
    first = world.datasets.get("tickets")

    # The same upload's event again, even after the object changed, finds the dataset imported
    world.store.write(upload_key("tickets"), b"text,label\nOther,negative\n", "text/csv")
    again = on_upload(world.event("tickets"), world.datasets, world.store, world.files, now=NOW + timedelta(hours=1))

    assert again.imported == [] and again.skipped == 1
    assert world.datasets.get("tickets") == first
    assert b"Great" in world.store.read(rows_key("tickets"))


def test_a_file_whose_every_row_is_rejected_imports_nothing_and_keeps_the_report() -> None:
    world = World()
    world.submit("tickets")

    world.upload("tickets", b"text,label\n,positive\nok,bad\n")

    dataset = world.datasets.get("tickets")
    assert dataset.status is DatasetStatus.FAILED
    assert [r.reason for r in dataset.rejections] == ["EMPTY_TEXT", "UNKNOWN_LABEL"]
    assert rows_key("tickets") not in world.store.objects


def test_a_file_over_the_size_bound_is_refused_with_the_reason() -> None:
    world = World()
    world.submit("tickets")

    world.upload("tickets", b"text,label\n" + b"a,positive\n" * (MAX_UPLOAD_BYTES // 11 + 1))

    dataset = world.datasets.get("tickets")
    assert dataset.status is DatasetStatus.FAILED
    assert "at most" in (dataset.failure_reason or "")


def test_an_upload_for_a_dataset_deleted_meanwhile_leaves_no_file_behind() -> None:
    world = World()

    class DeletedWhileImporting(FakeDatasets):
        def finish_import(self, name: str, outcome: Any) -> bool:
            self.records.pop(name, None)
            return False

    world.datasets = DeletedWhileImporting()
    world.submit("tickets")
    world.upload("tickets", b"text,label\nGreat,positive\n")

    assert [key for key in world.store.objects if key.startswith("datasets/tickets/")] == []


def test_an_event_for_another_key_or_bucket_is_skipped() -> None:
    world = World()
    world.submit("tickets")
    event = {
        "Records": [
            {"s3": {"bucket": {"name": "other"}, "object": {"key": upload_key("tickets")}}},
            {"s3": {"bucket": {"name": world.store.bucket}, "object": {"key": "datasets/tickets/rows.csv"}}},
        ]
    }

    report = on_upload(event, world.datasets, world.store, world.files, now=NOW)

    assert (report.imported, report.skipped) == ([], 0)
    assert world.datasets.get("tickets").status is DatasetStatus.SUBMITTED


# ---- the API's logic ----


def test_a_submitted_dataset_answers_an_upload_url_and_its_name_is_taken() -> None:
    services: Services = api_services(datasets=FakeDatasets(), dataset_files=FakeDatasetFiles())

    submitted = api.create_dataset("tickets", CSV, services, now=NOW)

    assert submitted.dataset.status is DatasetStatus.SUBMITTED
    assert upload_key("tickets") in submitted.upload.url
    assert submitted.upload.path.startswith(f"/{upload_key('tickets')}?")
    assert submitted.dataset.upload_expires_at == NOW + timedelta(hours=1)
    with pytest.raises(ConflictError):
        api.create_dataset("tickets", JSONL, services, now=NOW)


def test_a_dataset_whose_upload_never_came_reads_as_expired_and_frees_its_name() -> None:
    services: Services = api_services(datasets=FakeDatasets(), dataset_files=FakeDatasetFiles())
    api.create_dataset("tickets", CSV, services, now=NOW)

    later = NOW + timedelta(hours=2)

    assert api.get_dataset("tickets", services, now=later).dataset.status is DatasetStatus.EXPIRED
    assert api.create_dataset("tickets", CSV, services, now=later).dataset.status is DatasetStatus.SUBMITTED


def test_deleting_a_dataset_removes_its_files_and_its_record() -> None:
    world = World()
    world.submit("tickets")
    world.upload("tickets", b"text,label\nGreat,positive\n")
    services = api_services(datasets=world.datasets, dataset_files=world.files)

    api.delete_dataset("tickets", services)

    assert world.datasets.active() == []
    assert [key for key in world.store.objects if key.startswith("datasets/")] == []


# ---- training on datasets ----


def prepared(
    pipeline: FakePipeline,
    datasets: FakeDatasets,
    run_id: str = "run-000001",
    public_labels: PublicLabels = PublicLabels.TRAIN,
) -> Any:
    return prepare(
        PrepareInput(run_id=run_id),
        pipeline.runs,
        pipeline.models,
        pipeline.store,
        now=NOW,
        public_labels=public_labels,
        withdrawals=FakeWithdrawnReviewers(),
        datasets=datasets,
    )


def pipeline_with_data() -> FakePipeline:
    pipeline = FakePipeline()
    base = b"text,label\nA fine film,positive\nDull,negative\nOkay,neutral\n"
    pipeline.put("data/base/reviews.csv", base, "text/csv")
    pipeline.put("data/golden/reviews.csv", b"text,label\nThe golden text,positive\n", "text/csv")
    return pipeline


def test_a_run_trains_on_an_active_dataset_as_base_rows_and_records_its_share() -> None:
    pipeline = pipeline_with_data()
    datasets = FakeDatasets()
    world = World()
    world.store, world.datasets = pipeline.store, datasets
    world.files = FakeDatasetFiles(pipeline.store.objects)
    world.submit("tickets")
    world.upload("tickets", b"text,label\nBroken on arrival,negative\nTHE GOLDEN  text,negative\n")

    dataset = prepared(pipeline, datasets)

    channel = "training-runs/run-000001/train/"
    assert dataset.train_uri == pipeline.store.uri(channel)
    assert pipeline.store.read(f"{channel}base/reviews.csv") == pipeline.store.read("data/base/reviews.csv")
    assert pipeline.store.read(f"{channel}golden/reviews.csv") == pipeline.store.read("data/golden/reviews.csv")
    # the golden text is judged on, so it does not train
    assert pipeline.store.read(f"{channel}base/dataset-tickets.csv") == b"text,label\nBroken on arrival,negative\n"
    manifest = json.loads(pipeline.store.read("training-runs/run-000001/manifest.json"))
    assert manifest["datasets"]["tickets"]["rows"] == 1
    assert manifest["datasets"]["tickets"]["golden_overlap_excluded"] == 1
    assert manifest["datasets"]["tickets"]["share"] == pytest.approx(1 / 4)
    [step] = [step for step in pipeline.runs.get_run("run-000001").steps if step.step == "prepare"]
    assert step.detail["datasets"] == {"tickets": {"rows": 1, "share": 0.25}}


def test_a_deleted_dataset_no_longer_trains_and_a_run_without_datasets_reads_the_shared_data() -> None:
    pipeline = pipeline_with_data()
    world = World()
    world.store, world.files = pipeline.store, FakeDatasetFiles(pipeline.store.objects)
    world.submit("tickets")
    world.upload("tickets", b"text,label\nBroken on arrival,negative\n")
    api.delete_dataset("tickets", api_services(datasets=world.datasets, dataset_files=world.files))

    dataset = prepared(pipeline, world.datasets)

    assert dataset.train_uri == pipeline.store.uri("data/")
    assert json.loads(pipeline.store.read("training-runs/run-000001/manifest.json"))["datasets"] == {}


def test_an_admins_dataset_trains_whatever_the_policy_on_public_labels() -> None:
    pipeline = pipeline_with_data()
    world = World()
    world.store, world.files = pipeline.store, FakeDatasetFiles(pipeline.store.objects)
    world.submit("tickets")
    world.upload("tickets", b"text,label\nBroken on arrival,negative\n")
    pipeline.feedback("positive", text="A stranger's label")

    dataset = prepared(pipeline, world.datasets, public_labels=PublicLabels.IGNORE)

    manifest = json.loads(pipeline.store.read("training-runs/run-000001/manifest.json"))
    assert dataset.feedback_rows == 0
    assert manifest["datasets"]["tickets"]["rows"] == 1
