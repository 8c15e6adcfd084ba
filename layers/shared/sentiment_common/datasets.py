"""Labelled files (datasets): rows of ``text,label`` an admin uploads to teach the model a domain.

A dataset's life: ``POST /datasets`` records it as ``SUBMITTED`` and hands out a presigned PUT URL for
``datasets/<name>/upload``. The upload's S3 event runs the import (the pipeline function's
``logic/datasets.py``): every row is validated, and only once the whole file was read are the accepted
rows written, as one object (``datasets/<name>/rows.csv``), with the report of rejected rows
(``datasets/<name>/report.jsonl``); then the record becomes ``ACTIVE`` with its counts. A file that cannot
be read as its format, lacks the columns or is too large is refused whole: ``FAILED``, with the reason.
An upload that never arrives leaves the record ``SUBMITTED`` until the URL expires: from then on it reads
as ``EXPIRED``, its name may be taken again, and the table's TTL removes the item a day later.

Every retraining run's prepare step trains on the rows of every ``ACTIVE`` dataset (never evaluates on
them); deleting a dataset removes its record and its objects, so the next run no longer sees it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from sentiment_common.records import LABELS

DATASETS_PREFIX = "datasets/"
NAME_PATTERN = r"^[a-z0-9-]{1,64}$"
MAX_TEXT_CHARS = 5000  # as POST /comments: a longer text is not one the model is asked about
# The largest upload the import reads: 50 MB of short rows (552,000 rows measured) is validated and written
# in about 30 s at under 700 MB, inside the import function's 300 s and 1,769 MB (docs/api.md, "Labelled files").
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
REJECTIONS_INLINE = 20  # rejected rows a dataset's record carries; the full report is a download
UPLOAD_URL_SECONDS = 3600


class DatasetFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


class DatasetStatus(StrEnum):
    SUBMITTED = "SUBMITTED"  # waiting for its upload
    ACTIVE = "ACTIVE"  # imported: the next run trains on its accepted rows
    FAILED = "FAILED"  # the file was refused whole (``failure_reason``); nothing was imported
    EXPIRED = "EXPIRED"  # the upload URL expired before any upload arrived


class Rejection(BaseModel):
    """One rejected row: where it is in the file and why."""

    model_config = ConfigDict(frozen=True)

    line: Annotated[int, Field(ge=1, description="The row's first line in the file, counting from 1")]
    reason: Annotated[str, Field(description="A code: EMPTY_TEXT, TEXT_TOO_LONG, UNKNOWN_LABEL, ...")]
    message: Annotated[str, Field(description="What is wrong with the row, in words")]


class ImportCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    rows: Annotated[int, Field(ge=0, description="Data rows read (the header not counted)")]
    accepted: Annotated[int, Field(ge=0, description="Rows that train")]
    rejected: Annotated[int, Field(ge=0, description="Rows refused, each in the report")]
    labels: Annotated[dict[str, int], Field(description="Accepted rows per label")]

    @classmethod
    def empty(cls) -> ImportCounts:
        return cls(rows=0, accepted=0, rejected=0, labels=dict.fromkeys(LABELS, 0))


class ImportOutcome(BaseModel):
    """What an import made of a dataset's upload: ACTIVE with counts, or FAILED with the reason."""

    model_config = ConfigDict(frozen=True)

    status: DatasetStatus
    counts: ImportCounts
    rejections: Annotated[list[Rejection], Field(description=f"The first {REJECTIONS_INLINE} rejected rows")]
    failure_reason: str | None = None
    rows_sha256: Annotated[str | None, Field(description="Of the accepted rows' object")] = None
    imported_at: datetime


class Dataset(BaseModel):
    """A dataset's record."""

    model_config = ConfigDict(frozen=True)

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    format: DatasetFormat
    status: DatasetStatus
    created_at: datetime
    upload_expires_at: Annotated[datetime, Field(description="When the upload URL stops working")]
    counts: ImportCounts | None = None
    rejections: list[Rejection] = []
    failure_reason: str | None = None
    rows_sha256: str | None = None
    imported_at: datetime | None = None

    def as_of(self, now: datetime) -> Dataset:
        """The record as a reader sees it at ``now``: a dataset still waiting past its URL's expiry has expired."""
        if self.status is DatasetStatus.SUBMITTED and now >= self.upload_expires_at:
            return self.model_copy(update={"status": DatasetStatus.EXPIRED})
        return self

    def imported(self, outcome: ImportOutcome) -> Dataset:
        return self.model_copy(update=dict(outcome))


def upload_key(name: str) -> str:
    return f"{DATASETS_PREFIX}{name}/upload"


def rows_key(name: str) -> str:
    """The accepted rows, ``text,label`` CSV with a header: the form the training job reads base data in."""
    return f"{DATASETS_PREFIX}{name}/rows.csv"


def report_key(name: str) -> str:
    """Every rejected row, one JSON object per line (a :class:`Rejection`)."""
    return f"{DATASETS_PREFIX}{name}/report.jsonl"


def dataset_of(key: str) -> str | None:
    """``datasets/<name>/upload`` → ``<name>``; None for any other key."""
    parts = key.split("/")
    if len(parts) == 3 and f"{parts[0]}/" == DATASETS_PREFIX and parts[2] == "upload" and parts[1]:
        return parts[1]
    return None
