"""What each step of the state machine takes and returns (its ``Parameters`` and ``ResultPath``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from sentiment_common.registry import Metrics, RunRequest


class Step(BaseModel):
    model_config = ConfigDict(frozen=True, protected_namespaces=())


class StepInput(Step):
    """What every Lambda step is handed besides its own fields."""

    request: Annotated[
        RunRequest, Field(description="The execution's input: what started the run (each step logs it)")
    ] = RunRequest()


class PrepareInput(StepInput):
    run_id: str
    execution_arn: str | None = None


class PreparedDataset(Step):
    candidate_version: str
    training_job_name: Annotated[str, Field(max_length=63)]
    train_uri: str
    feedback_uri: str
    champion_uri: str
    champion_version: str | None
    champion_sha256: Annotated[str, Field(description="Empty when there is no champion to compare with")]
    output_uri: str
    manifest_uri: str
    manifest_sha256: str
    feedback_rows: int


class EvaluateInput(StepInput):
    run_id: str
    candidate_version: str
    model_data_url: str
    training_job_name: str


class Evaluation(Step):
    promote: bool
    held: Annotated[bool, Field(description="Neither promoted nor rejected: a person decides")] = False
    version: str
    reasons: list[str]
    metrics: Metrics
    champion_metrics: Metrics | None
    model_data_url: str
    sha256: str


class DeployInput(StepInput):
    run_id: str
    version: str


class Deployment(Step):
    run_id: str
    version: str
    backend: str
    poll_seconds: int
    max_checks: int
    checks: int = 0
    ready: bool = False
    endpoint_config_name: str | None = None
    metrics: Metrics
    reasons: list[str]


class CheckInput(StepInput):
    deployment: Deployment


class Outcome(Step):
    """Built by the state machine's Promoted, Rejected and Failed states."""

    status: str
    decision: str | None = None
    version: str | None = None
    metrics: Metrics | None = None
    reasons: list[str] = []
    error: dict[str, Any] | None = None


class RecordInput(StepInput):
    run_id: str
    outcome: Outcome
