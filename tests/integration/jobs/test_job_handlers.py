"""A job's handlers on moto: the upload's S3 event starts exactly one execution, then its steps run by hand
as the classify state machine runs them (CheckFile, a batch per map child against the real model server,
ResultWriter's files, MergeResults), and the execution's end is recorded."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import boto3
import pytest

import jobs_function.check
import jobs_function.classify
import jobs_function.merge
import jobs_function.start
import jobs_function.status
from jobs_function.errors import MissingFieldError
from sentiment_common.jobs import UPLOAD_EXPIRED, JobFormat, JobStatus
from sentiment_common.records import utc_now
from tests.integration.jobs.conftest import JobStack, context

# Each test runs the model server, a process of its own.
pytestmark = pytest.mark.processes


def started_input(stack: JobStack, job_id: str) -> dict[str, Any]:
    execution = stack.executions()[job_id]
    assert execution["status"] == "RUNNING"
    return execution["input"]


def run_map(stack: JobStack, checked: dict[str, Any], batch_size: int = 2) -> None:
    """What the Distributed Map does with the checked file: its items, batched, one child each, and
    ResultWriter's manifest and SUCCEEDED file under the map prefix."""
    text = stack.read(checked["read_key"]).decode("utf-8")
    if checked["format"] == "csv":
        rows: list[Any] = list(csv.DictReader(io.StringIO(text)))
    else:
        rows = [json.loads(line) for line in text.splitlines()]
    children = []
    for start in range(0, len(rows), batch_size):
        batch = {
            "Items": [{"index": i, "row": rows[i]} for i in range(start, min(start + batch_size, len(rows)))],
            "BatchInput": {"job_id": checked["job_id"], "text_field": checked["text_field"]},
        }
        output = jobs_function.classify.lambda_handler(batch, context("ClassifyBatchFunction"))
        children.append({"Status": "SUCCEEDED", "Input": json.dumps(batch), "Output": json.dumps(output)})
    run = f"{checked['map_prefix']}run-1/"
    stack.write(f"{run}SUCCEEDED_0.json", children)
    stack.write(f"{run}manifest.json", {"ResultFiles": {"SUCCEEDED": [{"Key": f"{run}SUCCEEDED_0.json"}]}})


def test_duplicate_upload_events_start_the_job_once(job_stack: JobStack) -> None:
    # given a submitted job whose file arrives, and S3 delivering its event twice
    job_stack.submit("job-1", JobFormat.CSV)
    event = job_stack.upload("job-1", b"text\ngreat\n")
    # when the start function hears both
    first = jobs_function.start.lambda_handler(event, context("JobStartFunction"))
    again = jobs_function.start.lambda_handler(event, context("JobStartFunction"))
    # then one execution runs, named by the job, and the job is in progress
    assert first["started"] == ["job-1"] and again["started"] == []
    assert list(job_stack.executions()) == ["job-1"]
    job = job_stack.jobs.get("job-1")
    assert job.status is JobStatus.IN_PROGRESS and job.execution_arn and job.execution_arn.endswith(":job-1")
    # and the started job is no longer due to expire (it has no value under the table's TTL attribute)
    ttl = job_stack.template.resources["JobsTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"]
    table = boto3.resource("dynamodb").Table(job_stack.template.physical_name("JobsTable"))
    assert ttl not in table.get_item(Key={"job_id": "job-1"})["Item"]


def test_a_file_after_the_upload_url_expired_starts_nothing(job_stack: JobStack) -> None:
    job = job_stack.submit("job-2", JobFormat.CSV)
    job_stack.jobs.move(
        "job-2", JobStatus.SUBMITTED, {JobStatus.SUBMITTED}, upload_expires_at=utc_now() - timedelta(seconds=1)
    )
    jobs_function.start.lambda_handler(job_stack.upload(job.job_id, b"text\nfine\n"), context("JobStartFunction"))
    assert job_stack.executions() == {}
    assert (job_stack.jobs.get("job-2").status, job_stack.jobs.get("job-2").reason) == (
        JobStatus.FAILED,
        UPLOAD_EXPIRED,
    )


def test_a_jobs_steps_classify_every_row_once_in_input_order(job_stack: JobStack) -> None:
    # given a CSV with ids, an empty text, a row too long and a row that is not UTF-8
    job_stack.submit("job-3", JobFormat.CSV, "comment", id_field="ticket")
    body = (
        b'ticket,comment\nT1,"I love it, truly"\nT2,\nT3,' + b"y" * 6000 + b"\nT4,ol\xe9\nT5,terrible awful service\n"
    )
    jobs_function.start.lambda_handler(job_stack.upload("job-3", body), context("JobStartFunction"))
    # when its steps run
    checked = jobs_function.check.lambda_handler(started_input(job_stack, "job-3"), context("CheckFileFunction"))
    assert (checked["total"], checked["unreadable"]) == (5, 1)
    run_map(job_stack, checked)
    merged = jobs_function.merge.lambda_handler(
        {
            "checked": checked,
            "map": {"MapRunArn": "arn:m", "ResultWriterDetails": {"Bucket": job_stack.bucket, "Key": "k"}},
        },
        context("MergeResultsFunction"),
    )
    # then the results file holds every row in order, with a sentiment or Comprehend's error
    results = list(csv.DictReader(io.StringIO(job_stack.read(merged["results_key"]).decode())))
    assert [row["id"] for row in results] == ["T1", "T2", "T3", "T4", "T5"]
    assert [row["error"] for row in results] == ["", "EMPTY_TEXT", "DOCUMENT_SIZE_EXCEEDED", "UNSUPPORTED_ENCODING", ""]
    assert results[0]["sentiment"] == "positive" and results[4]["sentiment"] == "negative"
    assert [row["supported"] for row in results] == ["True", "", "", "", "True"]
    assert [bool(row["language"]) for row in results] == [True, False, False, False, True]
    job = job_stack.jobs.get("job-3")
    assert job.status is JobStatus.COMPLETED and (job.counts.succeeded, job.counts.failed) == (2, 3)


def test_each_row_of_a_job_carries_its_language_and_a_stored_one_keeps_it(job_stack: JobStack) -> None:
    job_stack.submit("job-5", JobFormat.JSONL, "text", store=True)
    lines = [{"text": "Das ist das schlechteste Handy, das ich je hatte."}, {"text": "The worst phone I ever had."}]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    jobs_function.start.lambda_handler(job_stack.upload("job-5", body), context("JobStartFunction"))
    checked = jobs_function.check.lambda_handler(started_input(job_stack, "job-5"), context("CheckFileFunction"))
    run_map(job_stack, checked)
    merged = jobs_function.merge.lambda_handler(
        {
            "checked": checked,
            "map": {"MapRunArn": "arn:m", "ResultWriterDetails": {"Bucket": job_stack.bucket, "Key": "k"}},
        },
        context("MergeResultsFunction"),
    )
    results = [json.loads(line) for line in job_stack.read(merged["results_key"]).decode().splitlines()]
    assert [(row["language"], row["supported"]) for row in results] == [("de", False), ("en", True)]
    stored = {item["text"]: (item["language"], item["supported"]) for item in job_stack.comments()}
    assert stored == {lines[0]["text"]: ("de", False), lines[1]["text"]: ("en", True)}


def test_a_file_without_the_column_fails_before_any_row_is_classified(job_stack: JobStack) -> None:
    job_stack.submit("job-4", JobFormat.CSV, "comment")
    jobs_function.start.lambda_handler(
        job_stack.upload("job-4", b"ticket,text\nT1,fine\n"), context("JobStartFunction")
    )
    with pytest.raises(MissingFieldError, match="no column 'comment'"):
        jobs_function.check.lambda_handler(started_input(job_stack, "job-4"), context("CheckFileFunction"))
    # and the execution's end, as EventBridge delivers it, fails the job with the reason
    event = {
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "detail": {
            "name": "job-4",
            "status": "FAILED",
            "error": "MissingFieldError",
            "cause": "the header has no column 'comment'",
        },
    }
    assert jobs_function.status.lambda_handler(event, context("JobStatusFunction")) == {"status": "FAILED"}
    job = job_stack.jobs.get("job-4")
    assert job.status is JobStatus.FAILED and job.reason == "MissingFieldError: the header has no column 'comment'"
