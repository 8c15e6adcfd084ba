"""Bulk classification jobs (admin): a file in, one result per row out."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from api_function.dependencies import job_services
from api_function.idempotency import once
from api_function.job_schemas import JobCreated, JobOut, JobPage, JobRequest, JobResults
from api_function.logic import jobs
from api_function.routes import admin_only, answers, documented
from api_function.routes.comments import IdempotencyKey
from sentiment_common.records import utc_now

router = Router()

JobId = Annotated[str, Path(min_length=1, max_length=64, description="A job id")]
NOT_FOUND: dict[int, OpenAPIResponse] = {404: documented("No such job")}
UNAVAILABLE: dict[int, OpenAPIResponse] = {503: documented("The jobs table or Step Functions is unavailable")}


@admin_only(
    router.post,
    "/jobs",
    "Submit a bulk classification job: answers the URL to upload its file to, which starts it; admin",
    {
        **answers(201, "Submitted: upload the file to upload_url", JobCreated),
        409: documented("Idempotency-Key still in use by a running request"),
        422: documented("Invalid field, or Idempotency-Key reused with another body"),
        **UNAVAILABLE,
    },
)
def submit_job(request: JobRequest, idempotency_key: IdempotencyKey = None) -> Response[str]:
    def work() -> JobCreated:
        job, upload = jobs.submit(request, job_services(), utc_now())
        return JobCreated(
            job_id=job.job_id,
            upload_url=upload.url,
            upload_path=upload.path,
            upload_expires_at=job.upload_expires_at,
            job=JobOut.of(job),
        )

    created = once(idempotency_key, "POST /jobs", request, work, JobCreated)
    return Response(
        status_code=HTTPStatus.CREATED,
        content_type="application/json",
        body=created.model_dump_json(),
        headers={"Location": f"/jobs/{created.job_id}"},
    )


@admin_only(
    router.get,
    "/jobs",
    "Bulk classification jobs, newest first; admin",
    {**answers(200, "A page of jobs", JobPage), 400: documented("A next_token this API did not issue")},
)
def list_jobs(
    limit: Annotated[int, Query(ge=1, le=100, description="Jobs per page")] = 20,
    next_token: Annotated[str | None, Query(max_length=2048, description="From the previous page")] = None,
) -> JobPage:
    found, token = jobs.list_jobs(job_services(), limit, next_token, utc_now())
    return JobPage(items=[JobOut.of(job) for job in found], next_token=token)


@admin_only(
    router.get,
    "/jobs/<job_id>",
    "One job: status, rows done (live while it runs), rows per second, the reason when it failed; admin",
    {**answers(200, "The job", JobOut), **NOT_FOUND, **UNAVAILABLE},
)
def get_job(job_id: JobId) -> JobOut:
    job, rate = jobs.get_job(job_id, job_services(), utc_now())
    return JobOut.of(job, rate)


@admin_only(
    router.get,
    "/jobs/<job_id>/results",
    "A job's results file (a download URL) and its counts per label and per error; admin",
    {**answers(200, "The results", JobResults), **NOT_FOUND, 409: documented("The job has no results yet")},
)
def get_results(job_id: JobId) -> JobResults:
    services = job_services()
    job, url = jobs.results(job_id, services, utc_now())
    summary = job.summary
    return JobResults(
        job_id=job.job_id,
        status=job.status,
        download_url=url,
        download_expires_in=services.download_expiry_seconds,
        total=job.counts.total,
        succeeded=job.counts.succeeded,
        failed=job.counts.failed,
        labels=summary.labels if summary else {},
        errors=summary.errors if summary else {},
    )


@admin_only(
    router.post,
    "/jobs/<job_id>/cancel",
    "Stop a job; the rows done so far stay in its results; admin",
    {
        **answers(200, "Stopped, or asked to stop (STOP_REQUESTED)", JobOut),
        **NOT_FOUND,
        409: documented("The job has finished"),
        **UNAVAILABLE,
    },
)
def cancel_job(job_id: JobId) -> JobOut:
    return JobOut.of(jobs.cancel(job_id, job_services(), utc_now()))


@admin_only(
    router.post,
    "/jobs/<job_id>/resume",
    "Resume a stopped or failed job: only the rows not yet done run again; admin",
    {
        **answers(200, "Running again", JobOut),
        **NOT_FOUND,
        409: documented("The job cannot be resumed (the reason says why)"),
        **UNAVAILABLE,
    },
)
def resume_job(job_id: JobId) -> JobOut:
    return JobOut.of(jobs.resume(job_id, job_services(), utc_now()))
