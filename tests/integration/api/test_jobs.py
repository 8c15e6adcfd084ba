"""Bulk classification jobs through the API: admin-only, an upload URL a plain PUT can use, the job
followed as it moves, its results only once it has them, cancel and resume as each state allows."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import boto3

from sentiment_common.jobs import JobCounts, JobStatus, JobSummary
from tests.integration.api.conftest import Stack

ADMIN = "Authorization"


def admin(stack: Stack) -> dict[str, str]:
    return {ADMIN: f"Bearer {stack.admin_key}"}


def submit(api: Stack, **body: object) -> dict[str, object]:
    answer = api.call("POST", "/jobs", {"format": "csv", "text_field": "comment", **body}, headers=admin(api))
    assert answer.status == 201, answer.body
    return dict(answer.body)


def test_only_an_admin_submits_jobs(api: Stack) -> None:
    assert api.call("POST", "/jobs", {"format": "csv", "text_field": "comment"}).status in {401, 403}
    assert api.call("GET", "/jobs").status in {401, 403}


def test_a_submitted_job_answers_an_upload_url_that_signs_no_header(api: Stack) -> None:
    created = submit(api, id_field="ticket")
    url = urlparse(str(created["upload_url"]))
    assert url.path.endswith(f"/jobs/{created['job_id']}/input")
    # a presigned PUT whose signature covers the host only: curl -T sends no other header it would need
    assert parse_qs(url.query)["X-Amz-SignedHeaders"] == ["host"]
    # and the same PUT as a path on the page's origin, which CloudFront forwards to the bucket
    path = urlparse(str(created["upload_path"]))
    assert (path.scheme, path.netloc, path.path) == ("", "", f"/jobs/{created['job_id']}/input")
    assert parse_qs(path.query)["X-Amz-SignedHeaders"] == ["host"]
    job = api.call("GET", f"/jobs/{created['job_id']}", headers=admin(api)).body
    assert (job["status"], job["id_field"], job["total"], job["results_ready"]) == ("SUBMITTED", "ticket", None, False)
    assert api.call("GET", "/jobs", headers=admin(api)).body["items"][0]["job_id"] == created["job_id"]


def test_the_same_idempotency_key_submits_one_job(api: Stack) -> None:
    headers = {**admin(api), "Idempotency-Key": "export-2026-12-07"}
    first = api.call("POST", "/jobs", {"format": "jsonl", "text_field": "review"}, headers=headers).body
    again = api.call("POST", "/jobs", {"format": "jsonl", "text_field": "review"}, headers=headers).body
    assert first["job_id"] == again["job_id"]
    assert len(api.call("GET", "/jobs", headers=admin(api)).body["items"]) == 1


def test_a_bad_request_names_the_field(api: Stack) -> None:
    answer = api.call("POST", "/jobs", {"format": "xlsx", "text_field": "comment"}, headers=admin(api))
    assert answer.status == 422 and "format" in answer.body["message"]


def test_results_wait_for_the_job_and_then_come_as_a_download(api: Stack) -> None:
    job_id = str(submit(api)["job_id"])
    early = api.call("GET", f"/jobs/{job_id}/results", headers=admin(api))
    assert early.status == 409 and "no results yet" in early.body["message"]
    jobs = api.table("JobsTable")
    assert jobs.get_item(Key={"job_id": job_id})["Item"]["status"] == "SUBMITTED"
    # when the merge has written them
    from sentiment_common.dal.jobs import DynamoDbJobs  # noqa: PLC0415 - the store the merge step writes with

    store = DynamoDbJobs(api.template.physical_name("JobsTable"))
    store.move(job_id, JobStatus.IN_PROGRESS, {JobStatus.SUBMITTED})
    store.record_counts(
        job_id, JobCounts(total=3, succeeded=2, failed=1), JobSummary(labels={"positive": 2}, errors={"EMPTY_TEXT": 1})
    )
    key = f"jobs/{job_id}/results.csv"
    boto3.client("s3").put_object(Bucket=api.bucket, Key=key, Body=b"id,sentiment\n")
    store.move(job_id, JobStatus.COMPLETED, {JobStatus.IN_PROGRESS}, results_key=key)
    results = api.call("GET", f"/jobs/{job_id}/results", headers=admin(api))
    assert results.status == 200
    assert urlparse(results.body["download_url"]).path.endswith(key)
    assert (results.body["labels"], results.body["errors"]) == ({"positive": 2}, {"EMPTY_TEXT": 1})


def test_a_waiting_job_cancels_at_once_and_then_cannot_be_cancelled_or_resumed(api: Stack) -> None:
    job_id = submit(api)["job_id"]
    cancelled = api.call("POST", f"/jobs/{job_id}/cancel", headers=admin(api))
    assert (cancelled.status, cancelled.body["status"]) == (200, "STOPPED")
    again = api.call("POST", f"/jobs/{job_id}/cancel", headers=admin(api))
    assert again.status == 409 and "cannot be stopped" in again.body["message"]
    resumed = api.call("POST", f"/jobs/{job_id}/resume", headers=admin(api))
    assert resumed.status == 409 and "file never arrived" in resumed.body["message"]


def test_a_running_job_is_asked_to_stop_and_its_execution_aborts(api: Stack) -> None:
    job_id = str(submit(api)["job_id"])
    sfn = boto3.client("stepfunctions")
    machine = api.template.function_environment("ApiFunction", "")["JOB_STATE_MACHINE_ARN"]
    arn = sfn.start_execution(stateMachineArn=machine, name=job_id, input="{}")["executionArn"]
    from sentiment_common.dal.jobs import DynamoDbJobs  # noqa: PLC0415

    DynamoDbJobs(api.template.physical_name("JobsTable")).move(
        job_id, JobStatus.IN_PROGRESS, {JobStatus.SUBMITTED}, execution_arn=arn
    )
    answer = api.call("POST", f"/jobs/{job_id}/cancel", headers=admin(api))
    assert (answer.status, answer.body["status"]) == (200, "STOP_REQUESTED")
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    assert api.call("GET", "/jobs/nope", headers=admin(api)).status == 404
