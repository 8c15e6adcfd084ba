"""Labelled files, as an admin manages them: record one and hand out its upload URL, list, inspect, delete.

The import itself runs on the upload's S3 event, in the pipeline function (``logic/datasets.py`` there).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from api_function.logic.uploads import Upload, sign_upload
from api_function.services import Services
from sentiment_common.datasets import (
    DATASETS_PREFIX,
    UPLOAD_URL_SECONDS,
    Dataset,
    DatasetFormat,
    DatasetStatus,
    report_key,
    upload_key,
)
from sentiment_common.observability import logger
from sentiment_common.records import utc_now

REPORT_URL_SECONDS = 900


@dataclass(frozen=True)
class SubmittedDataset:
    dataset: Dataset
    upload: Upload


@dataclass(frozen=True)
class DatasetView:
    """A dataset as read now, with the address of its full rejection report once it was imported."""

    dataset: Dataset
    report_url: str | None


def create_dataset(
    name: str, format: DatasetFormat, services: Services, now: datetime | None = None
) -> SubmittedDataset:
    """Record the dataset, then sign its upload URL: the record exists before any upload can arrive."""
    now = now or utc_now()
    dataset = Dataset(
        name=name,
        format=format,
        status=DatasetStatus.SUBMITTED,
        created_at=now,
        upload_expires_at=now + timedelta(seconds=UPLOAD_URL_SECONDS),
    )
    services.datasets.create(dataset, now)
    upload = sign_upload(services.dataset_files, upload_key(name), UPLOAD_URL_SECONDS)
    logger.info("dataset submitted", extra={"dataset": name, "format": format.value})
    return SubmittedDataset(dataset=dataset, upload=upload)


def view(dataset: Dataset, services: Services, now: datetime) -> DatasetView:
    seen = dataset.as_of(now)
    imported = seen.status in {DatasetStatus.ACTIVE, DatasetStatus.FAILED} and seen.counts is not None
    report = services.dataset_files.download_url(report_key(seen.name), REPORT_URL_SECONDS) if imported else None
    return DatasetView(dataset=seen, report_url=report)


def get_dataset(name: str, services: Services, now: datetime | None = None) -> DatasetView:
    return view(services.datasets.get(name), services, now or utc_now())


def list_datasets(
    services: Services, limit: int, token: str | None, now: datetime | None = None
) -> tuple[list[DatasetView], str | None]:
    datasets, next_token = services.datasets.list(limit, token)
    now = now or utc_now()
    return [view(dataset, services, now) for dataset in datasets], next_token


def delete_dataset(name: str, services: Services) -> Dataset:
    """The record goes first, so no run starting meanwhile reads a dataset whose rows are going; then its files."""
    dataset = services.datasets.delete(name)
    removed = services.dataset_files.delete_under(f"{DATASETS_PREFIX}{name}/")
    logger.info("dataset deleted", extra={"dataset": name, "objects": removed})
    return dataset
