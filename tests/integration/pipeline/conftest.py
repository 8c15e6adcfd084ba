"""The retraining pipeline's logic against moto, in-process: the registry table and the data bucket are
created from template.yaml's own definitions, and a real (trivial) Step Functions state machine stands
where the template's ``RetrainStateMachine`` is, under the same ARN, so executions can be looked up."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from moto import mock_aws

from pipeline_function.adapters.store import DataStore
from pipeline_function.logic.trigger import TriggerReport, on_feedback
from sentiment_common import observability
from sentiment_common.dal.feedback import S3FeedbackArchive
from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_common.dal.pipeline_state import DynamoDbPipelineStateStore
from sentiment_common.dal.run_ledger import DynamoDbRunLedger
from sentiment_common.dal.workflow import StepFunctionsRetrainWorkflow
from sentiment_common.records import FeedbackRecord, Label, LabelSource, PublicLabels, new_id
from sentiment_common.runs import RunGuard
from sentiment_local.resources import create_buckets, create_tables
from sentiment_template.reader import Template
from tests.conftest import ROOT

THRESHOLD = 10  # the template's RetrainThreshold default; test_trigger checks that it still is
# Runs from feedback as often as the threshold allows; the guard's own tests give theirs.
UNGUARDED = RunGuard(min_interval=timedelta(0), max_per_day=1_000_000)
# Never runs anything: an execution stays RUNNING until a test stops it, as a long training job would.
WAITING_STATE_MACHINE = {
    "StartAt": "Train",
    "States": {"Train": {"Type": "Wait", "Seconds": 60, "Next": "Done"}, "Done": {"Type": "Succeed"}},
}
S3_EVENT = json.loads((ROOT / "events" / "s3-feedback-object-created.json").read_text())


def create_state_machine(arn: str) -> str:
    """A state machine whose ARN is ``arn`` (moto's account and region are the template's)."""
    name = arn.split(":stateMachine:", 1)[1]
    created: str = boto3.client("stepfunctions").create_state_machine(
        name=name,
        definition=json.dumps(WAITING_STATE_MACHINE),
        roleArn="arn:aws:iam::123456789012:role/retrain-state-machine",
    )["stateMachineArn"]
    if created != arn:
        raise RuntimeError(f"moto made {created}, not the template's {arn}")
    return created


def model_archive(metadata: dict[str, Any], model: bytes = b"\x80\x04 any bytes stand for the model") -> bytes:
    """A model.tar.gz as training writes it: metadata.json and model.joblib."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("metadata.json", json.dumps(metadata).encode()), ("model.joblib", model)):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Pipeline:
    template: Template
    models: DynamoDbModelRegistry
    runs: DynamoDbRunLedger
    state_store: DynamoDbPipelineStateStore
    store: DataStore
    workflow: StepFunctionsRetrainWorkflow
    state_machine_arn: str

    @property
    def bucket(self) -> str:
        return self.store.bucket

    # ---- feedback, as the API writes it, and S3's notification of it ----

    def feedback(
        self,
        label: Label = "positive",
        *,
        text: str = "A fine film",
        comment_id: str | None = None,
        created_at: datetime | None = None,
        feedback_id: str | None = None,
        reviewer: str | None = None,
    ) -> tuple[str, FeedbackRecord]:
        record = FeedbackRecord(
            feedback_id=feedback_id or new_id(),
            comment_id=comment_id,
            text=text,
            label=label,
            predicted_label="neutral",
            model_version="v1",
            created_at=created_at or datetime.now(UTC),
            source=LabelSource.REVIEWER if reviewer else LabelSource.PUBLIC,
            reviewer=reviewer,
        )
        return S3FeedbackArchive(self.bucket).put(record), record

    def put(self, key: str, body: bytes, content_type: str = "application/json") -> str:
        self.store.write(key, body, content_type)
        return key

    def event(self, *keys: str, bucket: str | None = None) -> dict[str, Any]:
        """The bucket's notification for ``keys``, shaped like events/s3-feedback-object-created.json."""
        (template,) = S3_EVENT["Records"]
        records = []
        for key in keys:
            record = json.loads(json.dumps(template))
            record["s3"]["bucket"] |= {"name": bucket or self.bucket, "arn": f"arn:aws:s3:::{bucket or self.bucket}"}
            record["s3"]["object"]["key"] = quote_plus(key, safe="/")
            records.append(record)
        return {"Records": records}

    def notify(
        self,
        *keys: str,
        guard: RunGuard = UNGUARDED,
        bucket: str | None = None,
        public_labels: PublicLabels = PublicLabels.TRAIN,
    ) -> TriggerReport:
        """The trigger function's work for one notification naming ``keys`` (in ``bucket``, this one's unless
        given). Public labels train unless the test says otherwise: most tests here count labels."""
        return on_feedback(
            self.event(*keys, bucket=bucket),
            self.state_store,
            self.runs,
            self.store,
            self.workflow,
            threshold=THRESHOLD,
            guard=guard,
            public_labels=public_labels,
        )

    # ---- Step Functions ----

    def executions(self) -> dict[str, str]:
        """Execution name → status."""
        answer = boto3.client("stepfunctions").list_executions(stateMachineArn=self.state_machine_arn)
        return {execution["name"]: execution["status"] for execution in answer["executions"]}

    def execution_input(self, name: str) -> dict[str, Any]:
        answer = boto3.client("stepfunctions").describe_execution(executionArn=self.workflow.execution_arn(name))
        return dict(json.loads(answer["input"]))

    def stop(self, name: str) -> None:
        boto3.client("stepfunctions").stop_execution(executionArn=self.workflow.execution_arn(name))


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Template]:
    """A fresh moto account per test, with the template's tables and buckets."""
    template = Template.read(ROOT / "template.yaml", prefix="test")
    environment = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": template.function_environment("FeedbackTriggerFunction", "")[
            "POWERTOOLS_METRICS_NAMESPACE"
        ],
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        create_tables(template, boto3.client("dynamodb"))
        create_buckets(template, boto3.client("s3"))
        yield template
    # The steps count business events into the shared Metrics; no handler flushes them here.
    observability.metrics.clear_metrics()


@pytest.fixture
def pipeline(aws: Template) -> Pipeline:
    state_machine_arn = create_state_machine(aws.arn("RetrainStateMachine"))
    return Pipeline(
        template=aws,
        models=DynamoDbModelRegistry(aws.physical_name("RegistryTable")),
        runs=DynamoDbRunLedger(aws.physical_name("RegistryTable")),
        state_store=DynamoDbPipelineStateStore(aws.physical_name("RegistryTable")),
        store=DataStore(aws.physical_name("DataBucket")),
        workflow=StepFunctionsRetrainWorkflow(state_machine_arn),
        state_machine_arn=state_machine_arn,
    )
