"""The jobs routes' requests and responses, mapped explicitly from the job record."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api_function.schemas import UploadPath
from sentiment_common.jobs import Job, JobFormat, JobStatus

FieldName = Annotated[str, Field(min_length=1, max_length=200)]


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Annotated[JobFormat, Field(description="csv (with a header row) or jsonl (one JSON object per line)")]
    text_field: Annotated[FieldName, Field(description="The column (csv) or key (jsonl) holding each row's text")]
    id_field: Annotated[
        FieldName | None,
        Field(description="The column or key whose value names each result row; without it, rows count from 0"),
    ] = None
    store: Annotated[
        StrictBool,
        Field(description="Also store classified rows as comments (the first JobStoreLimit of them), for review"),
    ] = False


class JobOut(BaseModel):
    job_id: str
    status: Annotated[
        JobStatus, Field(description="SUBMITTED, IN_PROGRESS, STOP_REQUESTED, STOPPED, COMPLETED or FAILED")
    ]
    format: JobFormat
    text_field: str
    id_field: str | None
    store: bool
    total: Annotated[int | None, Field(description="Rows in the file; null until it has been checked")]
    succeeded: Annotated[int, Field(description="Rows classified so far")]
    failed: Annotated[int, Field(description="Rows with an error so far")]
    rows_per_second: Annotated[float | None, Field(description="Rows done per second since the job started")]
    submitted_at: datetime
    upload_expires_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    reason: Annotated[str | None, Field(description="Why the job failed")]
    stored: Annotated[int, Field(description="Rows stored as comments")]
    results_ready: Annotated[
        bool,
        Field(
            description="The results file is written and GET /jobs/{job_id}/results answers. A stopped or failed "
            "job takes its status a moment before the results of its rows done so far are written"
        ),
    ]

    @classmethod
    def of(cls, job: Job, rows_per_second: float | None = None) -> JobOut:
        return cls(
            **job.model_dump(
                include={
                    "job_id",
                    "status",
                    "format",
                    "text_field",
                    "id_field",
                    "store",
                    "submitted_at",
                    "upload_expires_at",
                    "started_at",
                    "finished_at",
                    "reason",
                    "stored",
                }
            ),
            total=job.counts.total,
            succeeded=job.counts.succeeded,
            failed=job.counts.failed,
            rows_per_second=rows_per_second if rows_per_second is not None else job.rows_per_second,
            results_ready=job.results_key is not None,
        )


class JobCreated(BaseModel):
    job_id: Annotated[str, Field(description="Follow it with GET /jobs/{job_id}")]
    upload_url: Annotated[
        str, Field(description="PUT the file here with no header (curl -T file URL); it starts the job")
    ]
    upload_path: UploadPath
    upload_expires_at: Annotated[datetime, Field(description="After this the URL refuses the upload and the job fails")]
    job: JobOut


class JobPage(BaseModel):
    items: Annotated[list[JobOut], Field(description="Newest first")]
    next_token: Annotated[str | None, Field(description="Pass back to get the next page; null on the last")]


class JobResults(BaseModel):
    job_id: str
    status: JobStatus
    download_url: Annotated[str, Field(description="GET the results file here (csv or jsonl, as the upload)")]
    download_expires_in: Annotated[int, Field(description="Seconds the URL works")]
    total: int | None
    succeeded: int
    failed: int
    labels: Annotated[dict[str, int], Field(description="Rows per sentiment")]
    errors: Annotated[dict[str, int], Field(description="Rows per error code (DOCUMENT_SIZE_EXCEEDED…)")]
