"""The retraining pipeline's handlers and adapters against moto, in-process: the registry table and the data bucket are
created from template.yaml's own definitions, and a real (trivial) Step Functions state machine stands
where the template's ``RetrainStateMachine`` is, under the same ARN, so executions can be looked up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pipeline_function.adapters.s3 import S3DataStore
from sentiment_common import observability
from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_common.dal.pipeline_state import DynamoDbPipelineStateStore
from sentiment_common.dal.run_ledger import DynamoDbRunLedger
from sentiment_common.dal.workflow import StepFunctionsRetrainWorkflow
from sentiment_local.resources import create_buckets, create_tables
from sentiment_template.reader import Template
from tests.conftest import ROOT
from tests.fakes.pipeline import Pipeline

# Never runs anything: an execution stays RUNNING until a test stops it, as a long training job would.
WAITING_STATE_MACHINE = {
    "StartAt": "Train",
    "States": {"Train": {"Type": "Wait", "Seconds": 60, "Next": "Done"}, "Done": {"Type": "Succeed"}},
}


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


@dataclass
class MotoPipeline(Pipeline):
    """The pipeline on the boto3 adapters, on moto, named as the template names them."""

    template: Template
    state_machine_arn: str

    def executions(self) -> dict[str, str]:
        """Execution name → status."""
        answer = boto3.client("stepfunctions").list_executions(stateMachineArn=self.state_machine_arn)
        return {execution["name"]: execution["status"] for execution in answer["executions"]}

    def execution_input(self, name: str) -> dict[str, Any]:
        answer = boto3.client("stepfunctions").describe_execution(executionArn=self.workflow.execution_arn(name))
        return dict(json.loads(answer["input"]))


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
def pipeline(aws: Template) -> MotoPipeline:
    state_machine_arn = create_state_machine(aws.arn("RetrainStateMachine"))
    return MotoPipeline(
        models=DynamoDbModelRegistry(aws.physical_name("RegistryTable")),
        runs=DynamoDbRunLedger(aws.physical_name("RegistryTable")),
        state_store=DynamoDbPipelineStateStore(aws.physical_name("RegistryTable")),
        store=S3DataStore(aws.physical_name("DataBucket")),
        workflow=StepFunctionsRetrainWorkflow(state_machine_arn),
        template=aws,
        state_machine_arn=state_machine_arn,
    )
