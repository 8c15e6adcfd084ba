"""The retraining state machine: start a run under its deterministic name, ask how it is doing."""

from __future__ import annotations

from botocore.exceptions import ClientError

from sentiment_common.dal.aws import client
from sentiment_common.dal.transient import unavailable_when_transient
from sentiment_common.registry import RunRequest


class StepFunctionsRetrainWorkflow:
    _sfn = client("stepfunctions")

    def __init__(self, state_machine_arn: str) -> None:
        self._arn = state_machine_arn

    def execution_arn(self, run_id: str) -> str:
        prefix, name = self._arn.split(":stateMachine:", 1)
        return f"{prefix}:execution:{name}:{run_id}"

    def start(self, run_id: str, request: RunRequest) -> str:
        """Start the execution named ``run_id``. Starting it again is harmless: Step Functions keeps
        execution names unique, so the second start finds the first."""
        try:
            with unavailable_when_transient("Step Functions"):
                answer = self._sfn.start_execution(
                    stateMachineArn=self._arn, name=run_id, input=request.model_dump_json(exclude_none=True)
                )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return self.execution_arn(run_id)
            raise
        arn: str = answer["executionArn"]
        return arn

    def status(self, run_id: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED; None when there is no such execution."""
        try:
            with unavailable_when_transient("Step Functions"):
                answer = self._sfn.describe_execution(executionArn=self.execution_arn(run_id))
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return None
            raise
        status: str = answer["status"]
        return status
