"""Bulk classification jobs: submit one (an upload URL), follow it, fetch its results, cancel, resume.

What each state allows follows Comprehend's asynchronous jobs: a job can be stopped while it waits or
runs (StopSentimentDetectionJob), and, as Step Functions' redrive allows, a stopped or failed job can be
resumed, running again only what did not succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from api_function.job_schemas import JobRequest
from api_function.logic.uploads import Upload, sign_upload
from sentiment_common.errors import ConflictError, NotFoundError
from sentiment_common.jobs import EXECUTION_GONE, Job, JobCounts, JobInput, JobStatus, input_key
from sentiment_common.ports import JobLinks, Jobs, JobWorkflow
from sentiment_common.records import new_id

# A job whose file never came is kept this long after its upload URL expired, so that asking about it
# says why it failed; then the table's TTL forgets it.
KEPT_AFTER_EXPIRY = timedelta(days=1)
LIVE = {JobStatus.IN_PROGRESS, JobStatus.STOP_REQUESTED}


@dataclass(frozen=True)
class JobServices:
    jobs: Jobs
    workflow: JobWorkflow
    links: JobLinks
    bucket: str
    upload_expiry: timedelta
    download_expiry_seconds: int


def submit(request: JobRequest, services: JobServices, now: datetime) -> tuple[Job, Upload]:
    """A new job waiting for its file, and where to upload it."""
    job = Job(
        job_id=new_id(),
        format=request.format,
        text_field=request.text_field,
        id_field=request.id_field,
        store=request.store,
        submitted_at=now,
        upload_expires_at=now + services.upload_expiry,
    )
    services.jobs.put_new(job, job.upload_expires_at + KEPT_AFTER_EXPIRY)
    return job, sign_upload(services.links, input_key(job.job_id), int(services.upload_expiry.total_seconds()))


def list_jobs(services: JobServices, limit: int, token: str | None, now: datetime) -> tuple[list[Job], str | None]:
    jobs, following = services.jobs.list(limit, token)
    return [job.as_seen(now) for job in jobs], following


def get_job(job_id: str, services: JobServices, now: datetime) -> tuple[Job, float | None]:
    """The job, with its map run's counts while it runs, and its rows per second so far."""
    job = services.jobs.get(job_id).as_seen(now)
    if job.status not in LIVE or job.execution_arn is None:
        return job, job.rows_per_second
    try:
        progress = services.workflow.progress(job.execution_arn)
    except NotFoundError:
        # Step Functions keeps an execution for 90 days after it ends; a running one is gone only when the
        # local stack was stopped without its executions. The job has failed, and resume starts it again.
        gone = services.jobs.move(job_id, JobStatus.FAILED, LIVE, reason=EXECUTION_GONE, finished_at=now)
        job = gone or services.jobs.get(job_id)
        return job, job.rows_per_second
    counts = JobCounts(total=job.counts.total or progress.total, succeeded=progress.succeeded, failed=progress.failed)
    job = job.model_copy(update={"counts": counts})
    seconds = (now - job.started_at).total_seconds() if job.started_at else 0
    done = counts.succeeded + counts.failed
    return job, round(done / seconds, 1) if seconds > 0 else None


def results(job_id: str, services: JobServices, now: datetime) -> tuple[Job, str]:
    """The job and a URL to its results file; ``ConflictError`` before it has one."""
    job = services.jobs.get(job_id).as_seen(now)
    if job.results_key is None or job.status in LIVE:
        raise ConflictError(f"job {job_id} has no results yet: it is {job.status.value}")
    return job, services.links.download_url(job.results_key, services.download_expiry_seconds)


def cancel(job_id: str, services: JobServices, now: datetime) -> Job:
    """A waiting job stops at once; a running one is asked to stop (its map run is aborted), and the rows
    done so far stay in its results."""
    job = services.jobs.get(job_id).as_seen(now)
    if job.status is JobStatus.SUBMITTED:
        stopped = services.jobs.move(job_id, JobStatus.STOPPED, {JobStatus.SUBMITTED}, finished_at=now)
        if stopped is not None:
            return stopped
        job = services.jobs.get(job_id)
    if job.status is JobStatus.IN_PROGRESS and job.execution_arn is not None:
        asked = services.jobs.move(job_id, JobStatus.STOP_REQUESTED, {JobStatus.IN_PROGRESS})
        services.workflow.stop(job.execution_arn, "stopped through POST /jobs/{job_id}/cancel")
        return asked or services.jobs.get(job_id)
    raise ConflictError(f"job {job_id} cannot be stopped: it is {job.status.value}")


def resume(job_id: str, services: JobServices, now: datetime) -> Job:
    """Run again what a stopped or failed job did not finish; ``ConflictError`` with the reason otherwise."""
    job = services.jobs.get(job_id).as_seen(now)
    if job.status not in {JobStatus.STOPPED, JobStatus.FAILED}:
        raise ConflictError(f"job {job_id} cannot be resumed: it is {job.status.value}")
    if job.execution_arn is None:
        raise ConflictError(f"job {job_id} cannot be resumed: its file never arrived ({job.reason or 'stopped'})")
    try:
        services.workflow.redrive(job.execution_arn)
    except NotFoundError:
        # Nothing to redrive: its execution is gone (see get_job). Every row runs again under the same name,
        # and the merge writes each row once whatever ran before.
        services.workflow.start(job_id, JobInput.of(job, services.bucket).model_dump(mode="json"))
    resumed = services.jobs.move(
        job_id, JobStatus.IN_PROGRESS, {JobStatus.STOPPED, JobStatus.FAILED}, finished_at=None, reason=None
    )
    return resumed or services.jobs.get(job_id)
