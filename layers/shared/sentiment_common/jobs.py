"""Bulk classification jobs: a file in, one result per row out, as Comprehend's asynchronous sentiment
jobs do (``StartSentimentDetectionJob``; statuses are its ``JobStatus`` names, per-row errors its codes).

A job is submitted (``POST /jobs``), its file uploaded to ``jobs/{job_id}/input``, and the upload's S3
event starts the classify state machine under the job's id. Everything the API, the job's steps and the
status listener share about a job lives here.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from sentiment_common.records import MAX_COMMENT_CHARS

JOBS_PREFIX = "jobs/"
INPUT_NAME = "input"


class JobStatus(StrEnum):
    """Comprehend's ``JobStatus`` values (DescribeSentimentDetectionJob)."""

    SUBMITTED = "SUBMITTED"
    IN_PROGRESS = "IN_PROGRESS"
    STOP_REQUESTED = "STOP_REQUESTED"
    STOPPED = "STOPPED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        return self in {JobStatus.STOPPED, JobStatus.COMPLETED, JobStatus.FAILED}


class JobFormat(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


class RowError(StrEnum):
    """Why a row has no sentiment. The first two are Comprehend's per-line codes (its asynchronous jobs'
    output, "Sentiment analysis output"); the others say what became of rows it has no code for."""

    DOCUMENT_SIZE_EXCEEDED = "DOCUMENT_SIZE_EXCEEDED"
    UNSUPPORTED_ENCODING = "UNSUPPORTED_ENCODING"
    EMPTY_TEXT = "EMPTY_TEXT"
    NOT_PROCESSED = "NOT_PROCESSED"

    @property
    def message(self) -> str:
        return ROW_ERROR_MESSAGES[self]


ROW_ERROR_MESSAGES = {
    RowError.DOCUMENT_SIZE_EXCEEDED: f"the text is longer than {MAX_COMMENT_CHARS} characters",
    RowError.UNSUPPORTED_ENCODING: "the row is not valid UTF-8",
    RowError.EMPTY_TEXT: "the text is empty",
    RowError.NOT_PROCESSED: "the row was not classified (the job was stopped or failed first); resume the job",
}

# The results file's columns (CSV) or keys (JSONL), in this order.
RESULT_FIELDS = (
    "id",
    "sentiment",
    "negative",
    "neutral",
    "positive",
    "model_version",
    "language",
    "supported",
    "error",
    "error_message",
)


def job_prefix(job_id: str) -> str:
    return f"{JOBS_PREFIX}{job_id}/"


def input_key(job_id: str) -> str:
    """Where the upload goes; the bucket's notification (prefix ``jobs/``, suffix ``/input``) starts the job."""
    return f"{job_prefix(job_id)}{INPUT_NAME}"


def map_prefix(job_id: str) -> str:
    """The Distributed Map's ResultWriter prefix."""
    return f"{job_prefix(job_id)}map/"


def results_key(job_id: str, file_format: JobFormat) -> str:
    return f"{job_prefix(job_id)}results.{file_format.value}"


def job_of_key(key: str) -> str | None:
    """The job id of an upload's key (``jobs/{job_id}/input``); None for any other key."""
    parts = key.split("/")
    if len(parts) == 3 and parts[0] + "/" == JOBS_PREFIX and parts[2] == INPUT_NAME and parts[1]:
        return parts[1]
    return None


class JobCounts(BaseModel):
    """Rows so far: the classified ones (with a sentiment), the ones with an error, and all of them."""

    model_config = ConfigDict(frozen=True)

    total: Annotated[int | None, Field(ge=0, description="Rows in the file; None until it is checked")] = None
    succeeded: Annotated[int, Field(ge=0)] = 0
    failed: Annotated[int, Field(ge=0)] = 0


class JobSummary(BaseModel):
    """The results file's counts: per label, and per row error."""

    model_config = ConfigDict(frozen=True)

    labels: dict[str, int] = {}
    errors: dict[str, int] = {}


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    job_id: str
    format: JobFormat
    text_field: str
    id_field: str | None = None
    store: bool = False
    status: JobStatus = JobStatus.SUBMITTED
    submitted_at: datetime
    upload_expires_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    counts: JobCounts = JobCounts()
    summary: JobSummary | None = None
    reason: str | None = None
    execution_arn: str | None = None
    results_key: str | None = None
    stored: Annotated[int, Field(ge=0, description="Rows stored as comments (store: true)")] = 0

    def expired(self, now: datetime) -> bool:
        """Submitted, and the upload URL has expired with no file: the job will never start."""
        return self.status is JobStatus.SUBMITTED and now >= self.upload_expires_at

    def as_seen(self, now: datetime) -> Job:
        """The job as a caller sees it: a submission whose upload URL expired has failed."""
        if self.expired(now):
            return self.model_copy(update={"status": JobStatus.FAILED, "reason": UPLOAD_EXPIRED})
        return self

    @property
    def rows_per_second(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        seconds = (self.finished_at - self.started_at).total_seconds()
        done = self.counts.succeeded + self.counts.failed
        return round(done / seconds, 1) if seconds > 0 else None


UPLOAD_EXPIRED = "the upload URL expired before a file arrived"
EXECUTION_GONE = (
    "the execution that ran it no longer exists (the local stack was stopped without its executions); "
    "resume the job to run it again"
)


class JobInput(BaseModel):
    """What a job's execution starts with: the upload's listener starts it, and resuming a job whose
    execution is gone starts it again."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    job_id: str
    bucket: str
    key: str
    format: JobFormat
    text_field: str
    id_field: str | None = None

    @classmethod
    def of(cls, job: Job, bucket: str) -> JobInput:
        return cls(
            job_id=job.job_id,
            bucket=bucket,
            key=input_key(job.job_id),
            format=job.format,
            text_field=job.text_field,
            id_field=job.id_field,
        )


class JobProgress(BaseModel):
    """What the map run says while it runs (DescribeMapRun's ``itemCounts``)."""

    model_config = ConfigDict(frozen=True)

    status: Annotated[str, Field(description="The execution's: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED")]
    total: int | None = None
    succeeded: int = 0
    failed: int = 0
    redrivable: bool = False
