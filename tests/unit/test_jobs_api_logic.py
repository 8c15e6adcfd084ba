"""The jobs routes' logic on fakes: what a job allows in each state, as an administrator sees it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api_function.job_schemas import JobRequest
from api_function.logic import jobs as logic
from api_function.logic.jobs import JobServices
from sentiment_common.errors import ConflictError
from sentiment_common.jobs import EXECUTION_GONE, UPLOAD_EXPIRED, JobCounts, JobFormat, JobStatus, JobSummary
from tests.fakes.jobs import FakeJobLinks, FakeJobs, FakeJobWorkflow

NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


@pytest.fixture
def services() -> JobServices:
    return JobServices(
        jobs=FakeJobs(),
        workflow=FakeJobWorkflow(),
        links=FakeJobLinks(),
        bucket="data",
        upload_expiry=timedelta(minutes=60),
        download_expiry_seconds=3600,
    )


def started(services: JobServices, at: datetime = NOW) -> str:
    job, _ = logic.submit(JobRequest(format=JobFormat.CSV, text_field="text"), services, at)
    arn = services.workflow.start(job.job_id, {})
    services.jobs.move(job.job_id, JobStatus.IN_PROGRESS, {JobStatus.SUBMITTED}, started_at=at, execution_arn=arn)
    return job.job_id


def test_a_submitted_job_waits_for_its_file_at_an_upload_url_to_its_input(services: JobServices) -> None:
    job, upload = logic.submit(JobRequest(format=JobFormat.JSONL, text_field="review"), services, NOW)
    assert job.status is JobStatus.SUBMITTED
    assert upload.url == f"https://data.example/jobs/{job.job_id}/input?put&expires=3600"
    assert upload.path == f"/jobs/{job.job_id}/input?put&expires=3600"
    assert job.upload_expires_at == NOW + timedelta(minutes=60)


def test_a_job_whose_upload_url_expired_reads_as_failed_with_the_reason(services: JobServices) -> None:
    job, _ = logic.submit(JobRequest(format=JobFormat.CSV, text_field="text"), services, NOW)
    seen, _ = logic.get_job(job.job_id, services, NOW + timedelta(minutes=61))
    assert (seen.status, seen.reason) == (JobStatus.FAILED, UPLOAD_EXPIRED)
    with pytest.raises(ConflictError, match="file never arrived"):
        logic.resume(job.job_id, services, NOW + timedelta(minutes=61))


def test_a_running_job_shows_its_map_runs_counts_and_rate(services: JobServices) -> None:
    job_id = started(services)
    services.jobs.record_counts(job_id, JobCounts(total=1000))
    assert isinstance(services.workflow, FakeJobWorkflow)
    services.workflow.counts[job_id] = (1000, 380, 20)
    job, rate = logic.get_job(job_id, services, NOW + timedelta(seconds=10))
    assert (job.counts.total, job.counts.succeeded, job.counts.failed) == (1000, 380, 20)
    assert rate == 40.0


def test_results_wait_for_the_job_then_come_as_a_download(services: JobServices) -> None:
    job_id = started(services)
    with pytest.raises(ConflictError, match="no results yet"):
        logic.results(job_id, services, NOW)
    services.jobs.record_counts(job_id, JobCounts(total=2, succeeded=2), JobSummary(labels={"positive": 2}))
    services.jobs.move(job_id, JobStatus.COMPLETED, {JobStatus.IN_PROGRESS}, results_key=f"jobs/{job_id}/results.csv")
    job, url = logic.results(job_id, services, NOW)
    assert url == f"https://data.example/jobs/{job_id}/results.csv?get&expires=3600"
    assert job.summary == JobSummary(labels={"positive": 2})


def test_cancelling_a_running_job_asks_its_execution_to_stop(services: JobServices) -> None:
    job_id = started(services)
    assert logic.cancel(job_id, services, NOW).status is JobStatus.STOP_REQUESTED
    assert isinstance(services.workflow, FakeJobWorkflow)
    assert services.workflow.status[job_id] == "ABORTED"


def test_cancelling_a_waiting_job_stops_it_at_once_and_a_finished_one_cannot_be(services: JobServices) -> None:
    job, _ = logic.submit(JobRequest(format=JobFormat.CSV, text_field="text"), services, NOW)
    assert logic.cancel(job.job_id, services, NOW).status is JobStatus.STOPPED
    with pytest.raises(ConflictError, match="cannot be stopped: it is STOPPED"):
        logic.cancel(job.job_id, services, NOW)


def test_a_stopped_job_resumes_by_redriving_its_execution(services: JobServices) -> None:
    job_id = started(services)
    logic.cancel(job_id, services, NOW)
    services.jobs.move(job_id, JobStatus.STOPPED, {JobStatus.STOP_REQUESTED})
    resumed = logic.resume(job_id, services, NOW)
    assert resumed.status is JobStatus.IN_PROGRESS
    assert isinstance(services.workflow, FakeJobWorkflow)
    assert services.workflow.redriven == [job_id]


def test_a_running_or_completed_job_cannot_be_resumed(services: JobServices) -> None:
    job_id = started(services)
    with pytest.raises(ConflictError, match="cannot be resumed: it is IN_PROGRESS"):
        logic.resume(job_id, services, NOW)


def test_jobs_are_listed_newest_first(services: JobServices) -> None:
    first = started(services, NOW)
    second = started(services, NOW + timedelta(minutes=1))
    listed, token = logic.list_jobs(services, 10, None, NOW)
    assert [job.job_id for job in listed] == [second, first] and token is None


def test_a_running_job_whose_execution_is_gone_has_failed_and_says_why(services: JobServices) -> None:
    # given a running job whose execution the local stack lost when it was stopped
    job_id = started(services)
    assert isinstance(services.workflow, FakeJobWorkflow)
    services.workflow.lose(job_id)
    # when it is looked at, then it has failed, with the reason and what to do
    job, _ = logic.get_job(job_id, services, NOW + timedelta(minutes=1))
    assert job.status is JobStatus.FAILED and job.reason == EXECUTION_GONE
    assert services.jobs.get(job_id).status is JobStatus.FAILED


def test_resuming_a_job_whose_execution_is_gone_runs_it_again_from_its_upload(services: JobServices) -> None:
    job_id = started(services)
    assert isinstance(services.workflow, FakeJobWorkflow)
    services.workflow.lose(job_id)
    logic.get_job(job_id, services, NOW)
    starts = services.workflow.starts
    resumed = logic.resume(job_id, services, NOW)
    assert resumed.status is JobStatus.IN_PROGRESS
    assert services.workflow.starts == starts + 1
    assert services.workflow.progress(services.workflow.execution_arn(job_id)).status == "RUNNING"
    assert services.workflow.inputs[-1] == (
        job_id,
        {"job_id": job_id, "bucket": "data", "key": f"jobs/{job_id}/input", "format": "csv", "text_field": "text",
         "id_field": None},
    )  # fmt: skip
