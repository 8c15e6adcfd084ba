"""The jobs' stores and workflow, held to one contract by their AWS adapters (on moto, with the jobs table
built from the template) and by the fakes: the jobs table, the classify state machine, the job files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from jobs_function.adapters.s3 import S3JobFiles
from jobs_function.ports import JobFiles
from sentiment_common.dal.job_workflow import StepFunctionsJobWorkflow
from sentiment_common.dal.jobs import DynamoDbJobs
from sentiment_common.errors import ConflictError, InvalidInputError, NotFoundError
from sentiment_common.jobs import Job, JobCounts, JobFormat, JobStatus, JobSummary
from sentiment_common.ports import Jobs, JobWorkflow
from tests.contract.conftest import create_state_machine, create_table, implementation
from tests.fakes.jobs import FakeJobFiles, FakeJobs, FakeJobWorkflow

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:classify"
AT = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


def a_job(job_id: str, minutes: int = 0) -> Job:
    submitted = AT + timedelta(minutes=minutes)
    return Job(
        job_id=job_id,
        format=JobFormat.CSV,
        text_field="text",
        submitted_at=submitted,
        upload_expires_at=submitted + timedelta(hours=1),
    )


@pytest.fixture(params=["dynamodb", "fake"])
def jobs(request: pytest.FixtureRequest) -> Jobs:
    return implementation(request, FakeJobs, lambda: DynamoDbJobs(create_table("JobsTable")))


@pytest.fixture(params=["stepfunctions", "fake"])
def workflow(request: pytest.FixtureRequest) -> JobWorkflow:
    def on_moto() -> StepFunctionsJobWorkflow:
        assert create_state_machine("classify") == MACHINE
        return StepFunctionsJobWorkflow(MACHINE)

    return implementation(request, lambda: FakeJobWorkflow(MACHINE), on_moto)


@pytest.fixture(params=["s3", "fake"])
def files(request: pytest.FixtureRequest) -> JobFiles:
    def on_moto() -> S3JobFiles:
        boto3.client("s3").create_bucket(Bucket="data")
        return S3JobFiles("data")

    return implementation(request, lambda: FakeJobFiles("data"), on_moto)


def test_a_job_is_stored_once_and_read_back(jobs: Jobs) -> None:
    jobs.put_new(a_job("j1"), AT + timedelta(days=1))
    assert jobs.get("j1") == a_job("j1")
    with pytest.raises(ConflictError):
        jobs.put_new(a_job("j1"), AT + timedelta(days=1))
    with pytest.raises(NotFoundError):
        jobs.get("j2")


def test_jobs_are_listed_newest_first_page_by_page(jobs: Jobs) -> None:
    for minutes, job_id in enumerate(["a", "b", "c"]):
        jobs.put_new(a_job(job_id, minutes), AT + timedelta(days=1))
    first, token = jobs.list(2, None)
    assert [job.job_id for job in first] == ["c", "b"] and token
    rest, last = jobs.list(2, token)
    assert [job.job_id for job in rest] == ["a"] and last is None
    with pytest.raises(InvalidInputError):
        jobs.list(2, "not-a-token")


def test_a_status_changes_only_from_an_allowed_one(jobs: Jobs) -> None:
    jobs.put_new(a_job("j1"), AT + timedelta(days=1))
    moved = jobs.move("j1", JobStatus.IN_PROGRESS, {JobStatus.SUBMITTED}, started_at=AT, execution_arn="arn:x")
    assert moved is not None and moved.status is JobStatus.IN_PROGRESS and moved.execution_arn == "arn:x"
    # a late, repeated event finds the job moved on and changes nothing
    assert jobs.move("j1", JobStatus.IN_PROGRESS, {JobStatus.SUBMITTED}, started_at=AT + timedelta(hours=1)) is None
    assert jobs.get("j1").started_at == AT


def test_counts_and_the_summary_are_recorded(jobs: Jobs) -> None:
    jobs.put_new(a_job("j1"), AT + timedelta(days=1))
    jobs.record_counts("j1", JobCounts(total=3, succeeded=2, failed=1), JobSummary(labels={"positive": 2}), stored=2)
    job = jobs.get("j1")
    assert job.counts == JobCounts(total=3, succeeded=2, failed=1)
    assert job.summary == JobSummary(labels={"positive": 2}) and job.stored == 2


def test_an_execution_is_named_by_its_job_and_starting_it_again_finds_it(workflow: JobWorkflow) -> None:
    first = workflow.start("j1", {"job_id": "j1"})
    assert first == workflow.execution_arn("j1") == "arn:aws:states:us-east-1:123456789012:execution:classify:j1"
    assert workflow.start("j1", {"job_id": "j1"}) == first
    assert workflow.progress(first).status == "RUNNING"


def test_a_stopped_execution_is_aborted(workflow: JobWorkflow) -> None:
    arn = workflow.start("j1", {"job_id": "j1"})
    workflow.stop(arn, "cancelled")
    assert workflow.progress(arn).status == "ABORTED"


def test_an_execution_that_does_not_exist_is_not_found(workflow: JobWorkflow) -> None:
    with pytest.raises(NotFoundError):
        workflow.progress(workflow.execution_arn("never-started"))


def test_files_are_streamed_listed_and_missing_ones_say_so(files: JobFiles, tmp_path: object) -> None:
    files.write("jobs/j1/input", b"text\n" + b"row\n" * 1000, "text/csv")
    assert b"".join(files.stream("jobs/j1/input")) == b"text\n" + b"row\n" * 1000
    assert files.read("jobs/j1/input").startswith(b"text\n")
    assert list(files.keys("jobs/j1/")) == ["jobs/j1/input"]
    with pytest.raises(FileNotFoundError):
        files.read("jobs/j1/results.csv")
    with pytest.raises(FileNotFoundError):
        b"".join(files.stream("jobs/j1/results.csv"))
