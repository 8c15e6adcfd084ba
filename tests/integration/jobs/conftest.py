"""The job functions' handlers in-process on moto, as Lambda calls them: the jobs table and the data bucket
created from template.yaml's own definitions, each function's environment as the template gives it, the
real model server for the batches, and a waiting state machine where ``ClassifyJobStateMachine`` is, under
its ARN, so executions can be looked up (the map itself is the local stack's to run)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sentiment_common import dependencies, observability
from sentiment_common.dal.jobs import DynamoDbJobs
from sentiment_common.jobs import Job, JobFormat, input_key
from sentiment_common.records import utc_now
from sentiment_local.resources import create_buckets, create_tables
from sentiment_template.reader import Template
from tests.conftest import ROOT, fake_credentials
from tests.integration.api.conftest import LambdaContext, ModelServer
from tests.integration.pipeline.conftest import create_state_machine

FUNCTIONS = (
    "JobStartFunction",
    "CheckFileFunction",
    "ClassifyBatchFunction",
    "MergeResultsFunction",
    "JobStatusFunction",
)


@dataclass
class JobStack:
    template: Template
    state_machine_arn: str

    @property
    def bucket(self) -> str:
        return self.template.physical_name("DataBucket")

    @property
    def jobs(self) -> DynamoDbJobs:
        return DynamoDbJobs(self.template.physical_name("JobsTable"))

    def submit(self, job_id: str, file_format: JobFormat, text_field: str = "text", **options: Any) -> Job:
        now = utc_now()
        job = Job(
            job_id=job_id,
            format=file_format,
            text_field=text_field,
            submitted_at=now,
            upload_expires_at=now + timedelta(hours=1),
            **options,
        )
        self.jobs.put_new(job, now + timedelta(days=1))
        return job

    def upload(self, job_id: str, body: bytes) -> dict[str, Any]:
        """Put the file where the upload URL puts it; the S3 notification the bucket then sends."""
        boto3.client("s3").put_object(Bucket=self.bucket, Key=input_key(job_id), Body=body)
        record = {
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": self.bucket}, "object": {"key": input_key(job_id)}},
        }
        return {"Records": [record]}

    def read(self, key: str) -> bytes:
        body: bytes = boto3.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def write(self, key: str, body: Any) -> None:
        boto3.client("s3").put_object(Bucket=self.bucket, Key=key, Body=json.dumps(body).encode())

    def comments(self) -> list[dict[str, Any]]:
        """The comments table's items: what ``store: true`` stored."""
        table = boto3.resource("dynamodb").Table(self.template.physical_name("CommentsTable"))
        return list(table.scan()["Items"])

    def executions(self) -> dict[str, dict[str, Any]]:
        sfn = boto3.client("stepfunctions")
        listing = sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
        described = (sfn.describe_execution(executionArn=item["executionArn"]) for item in listing)
        return {item["name"]: {"status": item["status"], "input": json.loads(item["input"])} for item in described}


@pytest.fixture(scope="session")
def job_model_server(model_dir: Path) -> Iterator[ModelServer]:
    server = ModelServer(model_dir)
    server.launch()
    yield server
    server.shut_down()


@pytest.fixture
def job_stack(monkeypatch: pytest.MonkeyPatch, job_model_server: ModelServer) -> Iterator[JobStack]:
    fake_credentials(monkeypatch, POWERTOOLS_TRACE_DISABLED="1", POWERTOOLS_DEV="false")
    template = Template.read(ROOT / "template.yaml", prefix="test")
    environment: dict[str, str] = {}
    for function in FUNCTIONS:
        environment |= template.function_environment(function, "")
    # What the local stack sets when the model runs as a plain server (the ECS contract).
    environment |= {"INFERENCE_BACKEND": "ecs", "MODEL_URL": job_model_server.url, "MODEL_READ_TIMEOUT": "5"}
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(observability.metrics, "namespace", environment["POWERTOOLS_METRICS_NAMESPACE"])
    with mock_aws():
        create_tables(template, boto3.client("dynamodb"))
        create_buckets(template, boto3.client("s3"))
        arn = create_state_machine(environment["JOB_STATE_MACHINE_ARN"])
        dependencies.reset()
        yield JobStack(template, arn)
        dependencies.reset()
    observability.metrics.clear_metrics()


def context(function: str) -> LambdaContext:
    return LambdaContext(function)
