"""The upload's S3 notification → start the job's execution, once.

The execution is named by the job's id, so S3's duplicate deliveries of one event, and a second upload
of the same job, find the execution already there (``ExecutionAlreadyExists`` is success) and start
nothing twice. A file arriving after its upload URL expired starts nothing: the job has failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from sentiment_common.errors import NotFoundError
from sentiment_common.jobs import UPLOAD_EXPIRED, JobInput, JobStatus, job_of_key
from sentiment_common.observability import logger
from sentiment_common.ports import Jobs, JobWorkflow


@dataclass
class Started:
    started: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def on_upload(event: dict[str, Any], bucket: str, jobs: Jobs, workflow: JobWorkflow, now: datetime) -> Started:
    report = Started()
    for record in event.get("Records", []):
        key = unquote_plus(record.get("s3", {}).get("object", {}).get("key", ""))
        job_id = job_of_key(key)
        if job_id is None:
            report.ignored.append(key)
            continue
        try:
            job = jobs.get(job_id)
        except NotFoundError:
            logger.warning("an upload for no job", extra={"key": key})
            report.ignored.append(key)
            continue
        if job.expired(now):
            jobs.move(job_id, JobStatus.FAILED, {JobStatus.SUBMITTED}, reason=UPLOAD_EXPIRED, finished_at=now)
            report.ignored.append(key)
            continue
        if job.status is not JobStatus.SUBMITTED:
            logger.info("the job has started already", extra={"job_id": job_id, "status": job.status.value})
            report.ignored.append(key)
            continue
        arn = workflow.start(job_id, JobInput.of(job, bucket).model_dump(mode="json"))
        jobs.move(
            job_id,
            JobStatus.IN_PROGRESS,
            {JobStatus.SUBMITTED, JobStatus.IN_PROGRESS},
            execution_arn=arn,
            started_at=now,
        )
        report.started.append(job_id)
    return report
