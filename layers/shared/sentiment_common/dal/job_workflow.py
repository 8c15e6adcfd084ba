"""The classify state machine and the data bucket's presigned URLs, as the jobs see them.

Step Functions rules followed here:
- Execution names are unique per state machine: starting one again answers ``ExecutionAlreadyExists``
  (StartExecution, "Errors": https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
- StopExecution of an execution with a Distributed Map aborts its map run
  (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html).
- RedriveExecution restarts a FAILED, ABORTED or TIMED_OUT standard execution from its unsuccessful
  states, and a redriven map run runs only its children that did not succeed ("Redriving Map Runs",
  https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html).
- DescribeMapRun's ``itemCounts`` say how many items succeeded and failed while the run goes on
  (https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeMapRun.html).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from sentiment_common.dal.aws import client
from sentiment_common.dal.presigned import PresignedLinks
from sentiment_common.dal.transient import unavailable_when_transient
from sentiment_common.errors import ConflictError, NotFoundError
from sentiment_common.jobs import JobProgress

REDRIVE_REFUSED = {"ExecutionNotRedrivable", "ExecutionLimitExceeded"}
GONE = "ExecutionDoesNotExist"


class StepFunctionsJobWorkflow:
    """:class:`~sentiment_common.ports.JobWorkflow` on Step Functions."""

    _sfn = client("stepfunctions")

    def __init__(self, state_machine_arn: str) -> None:
        self._arn = state_machine_arn

    def execution_arn(self, job_id: str) -> str:
        prefix, name = self._arn.split(":stateMachine:", 1)
        return f"{prefix}:execution:{name}:{job_id}"

    def start(self, job_id: str, job_input: dict[str, Any]) -> str:
        try:
            with unavailable_when_transient("Step Functions"):
                answer = self._sfn.start_execution(stateMachineArn=self._arn, name=job_id, input=json.dumps(job_input))
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return self.execution_arn(job_id)
            raise
        arn: str = answer["executionArn"]
        return arn

    def stop(self, execution_arn: str, cause: str) -> None:
        with unavailable_when_transient("Step Functions"):
            self._sfn.stop_execution(executionArn=execution_arn, cause=cause)

    def redrive(self, execution_arn: str) -> None:
        try:
            with unavailable_when_transient("Step Functions"):
                self._sfn.redrive_execution(executionArn=execution_arn)
        except ClientError as error:
            if error.response["Error"]["Code"] == GONE:
                raise NotFoundError(f"no execution {execution_arn}") from error
            if error.response["Error"]["Code"] in REDRIVE_REFUSED:
                raise ConflictError(
                    f"the job cannot be resumed: {error.response['Error'].get('Message', '')}"
                ) from error
            raise

    def progress(self, execution_arn: str) -> JobProgress:
        try:
            with unavailable_when_transient("Step Functions"):
                execution = self._sfn.describe_execution(executionArn=execution_arn)
                runs = self._sfn.list_map_runs(executionArn=execution_arn).get("mapRuns", [])
                counts = self._sfn.describe_map_run(mapRunArn=runs[0]["mapRunArn"])["itemCounts"] if runs else {}
        except ClientError as error:
            if error.response["Error"]["Code"] == GONE:
                raise NotFoundError(f"no execution {execution_arn}") from error
            raise
        return JobProgress(
            status=execution["status"],
            total=counts.get("total"),
            succeeded=counts.get("succeeded", 0),
            failed=counts.get("failed", 0) + counts.get("timedOut", 0) + counts.get("aborted", 0),
            redrivable=execution.get("redriveStatus") == "REDRIVABLE",
        )


class S3JobLinks(PresignedLinks):
    """:class:`~sentiment_common.ports.JobLinks` on the data bucket."""
