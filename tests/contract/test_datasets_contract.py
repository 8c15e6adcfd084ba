"""The datasets' records, the DynamoDB adapter and the fake alike: a name given out once unless its upload
never came, an import recorded once and only while the dataset waits for it, newest-first pages, and a
delete that takes the dataset out of what runs train on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from sentiment_common.dal.datasets import DynamoDbDatasets, S3DatasetFiles
from sentiment_common.datasets import (
    Dataset,
    DatasetFormat,
    DatasetStatus,
    ImportCounts,
    ImportOutcome,
    Rejection,
)
from sentiment_common.errors import ConflictError, InvalidInputError, NotFoundError
from sentiment_common.ports import DatasetFiles, Datasets
from tests.contract.conftest import create_table, implementation
from tests.fakes.datasets import FakeDatasetFiles, FakeDatasets

T0 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(params=["dynamodb", "fake"])
def datasets(request: pytest.FixtureRequest) -> Datasets:
    return implementation(request, FakeDatasets, lambda: DynamoDbDatasets(create_table("RegistryTable")))


def submitted(name: str, at: datetime = T0) -> Dataset:
    return Dataset(
        name=name, format=DatasetFormat.CSV, status=DatasetStatus.SUBMITTED, created_at=at, upload_expires_at=at + HOUR
    )


def imported(status: DatasetStatus = DatasetStatus.ACTIVE) -> ImportOutcome:
    return ImportOutcome(
        status=status,
        counts=ImportCounts(rows=3, accepted=2, rejected=1, labels={"negative": 1, "neutral": 0, "positive": 1}),
        rejections=[Rejection(line=3, reason="EMPTY_TEXT", message="the text is empty")],
        rows_sha256="ab" * 32,
        imported_at=T0 + timedelta(minutes=5),
    )


def test_a_submitted_dataset_is_read_back_as_recorded(datasets: Datasets) -> None:
    created = datasets.create(submitted("tickets"), T0)

    assert datasets.get("tickets") == created
    assert datasets.active() == []
    with pytest.raises(NotFoundError):
        datasets.get("reviews")


def test_a_name_is_taken_until_its_upload_url_expired_unused(datasets: Datasets) -> None:
    # Given a dataset waiting for its upload
    datasets.create(submitted("tickets"), T0)

    # Then the name is refused while its URL works, and free once it expired with no upload
    with pytest.raises(ConflictError):
        datasets.create(submitted("tickets", T0 + timedelta(minutes=30)), T0 + timedelta(minutes=30))
    later = datasets.create(submitted("tickets", T0 + 2 * HOUR), T0 + 2 * HOUR)
    assert datasets.get("tickets") == later


def test_an_imported_dataset_keeps_its_name_and_becomes_active_with_its_counts(datasets: Datasets) -> None:
    datasets.create(submitted("tickets"), T0)

    assert datasets.finish_import("tickets", imported()) is True

    active = datasets.get("tickets")
    assert active.status is DatasetStatus.ACTIVE
    assert active.counts == imported().counts
    assert active.rejections == imported().rejections
    assert datasets.active() == [active]
    with pytest.raises(ConflictError):
        datasets.create(submitted("tickets", T0 + 2 * HOUR), T0 + 2 * HOUR)


def test_an_import_is_recorded_once_and_never_for_a_dataset_not_waiting(datasets: Datasets) -> None:
    datasets.create(submitted("tickets"), T0)
    datasets.finish_import("tickets", imported(DatasetStatus.FAILED))

    # A duplicate event's import finds the first one recorded; a deleted or unknown dataset takes none
    assert datasets.finish_import("tickets", imported()) is False
    assert datasets.get("tickets").status is DatasetStatus.FAILED
    assert datasets.finish_import("never-submitted", imported()) is False


def test_a_deleted_dataset_is_gone_from_reads_and_from_what_runs_train_on(datasets: Datasets) -> None:
    datasets.create(submitted("tickets"), T0)
    datasets.finish_import("tickets", imported())

    deleted = datasets.delete("tickets")

    assert deleted.status is DatasetStatus.ACTIVE
    assert datasets.active() == []
    with pytest.raises(NotFoundError):
        datasets.get("tickets")
    with pytest.raises(NotFoundError):
        datasets.delete("tickets")


def test_datasets_are_listed_newest_first_a_page_at_a_time(datasets: Datasets) -> None:
    for hours, name in enumerate(("alpha", "beta", "gamma", "delta", "epsilon")):
        datasets.create(submitted(name, T0 + hours * HOUR), T0 + hours * HOUR)

    first, token = datasets.list(2, None)
    second, token2 = datasets.list(2, token)
    last, end = datasets.list(2, token2)

    assert [d.name for d in first + second + last] == ["epsilon", "delta", "gamma", "beta", "alpha"]
    assert end is None
    with pytest.raises(InvalidInputError):
        datasets.list(2, "not-a-token")


# ---- the datasets' files ----


@pytest.fixture(params=["s3", "fake"])
def files(request: pytest.FixtureRequest) -> tuple[DatasetFiles, dict[str, bytes] | None]:
    """The files, and the fake's objects (None on S3, read through boto3 instead)."""

    def on_moto() -> tuple[DatasetFiles, None]:
        boto3.client("s3").create_bucket(Bucket="data")
        return S3DatasetFiles("data"), None

    def fake() -> tuple[DatasetFiles, dict[str, bytes]]:
        objects: dict[str, bytes] = {}
        return FakeDatasetFiles(objects, bucket="data"), objects

    return implementation(request, fake, on_moto)


def test_deleting_a_datasets_files_leaves_every_other_object(
    files: tuple[DatasetFiles, dict[str, bytes] | None],
) -> None:
    store, objects = files
    keys = ["datasets/tickets/upload", "datasets/tickets/rows.csv", "datasets/tickets-2/upload", "data/base/a.csv"]
    for key in keys:
        if objects is None:
            boto3.client("s3").put_object(Bucket="data", Key=key, Body=b"x")
        else:
            objects[key] = b"x"

    deleted = store.delete_under("datasets/tickets/")

    left = (
        [item["Key"] for item in boto3.client("s3").list_objects_v2(Bucket="data").get("Contents", [])]
        if objects is None
        else sorted(objects)
    )
    assert deleted == 2
    assert sorted(left) == ["data/base/a.csv", "datasets/tickets-2/upload"]
    assert store.delete_under("datasets/none/") == 0


def test_a_signed_address_names_the_object_and_how_long_it_works(
    files: tuple[DatasetFiles, dict[str, bytes] | None],
) -> None:
    store, _ = files

    for url in (
        store.upload_url("datasets/tickets/upload", 3600),
        store.download_url("datasets/tickets/report.jsonl", 900),
    ):
        assert url.startswith("https://")
        assert "/datasets/tickets/" in url
    assert "X-Amz-Expires=3600" in store.upload_url("datasets/tickets/upload", 3600)
    # the same upload on the page's own origin: a path, the object's key, then the signed query
    path = store.upload_path("datasets/tickets/upload", 3600)
    assert path.startswith("/datasets/tickets/upload?")
    assert "X-Amz-Expires=3600" in path
