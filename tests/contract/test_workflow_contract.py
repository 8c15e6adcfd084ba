"""The retraining workflow's contract, held by the Step Functions adapter (on moto) and by the fake."""

from __future__ import annotations

import pytest

from sentiment_common.dal.workflow import StepFunctionsRetrainWorkflow
from sentiment_common.ports import RetrainWorkflow
from sentiment_common.registry import RunRequest, Trigger
from tests.contract.conftest import create_state_machine, implementation
from tests.fakes.stores import FakeRetrainWorkflow

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:retrain"


@pytest.fixture(params=["stepfunctions", "fake"])
def workflow(request: pytest.FixtureRequest) -> RetrainWorkflow:
    def on_moto() -> StepFunctionsRetrainWorkflow:
        assert create_state_machine("retrain") == MACHINE
        return StepFunctionsRetrainWorkflow(MACHINE)

    return implementation(request, lambda: FakeRetrainWorkflow(MACHINE), on_moto)


def test_an_execution_is_named_by_its_run(workflow: RetrainWorkflow) -> None:
    arn = workflow.start("run-000001", RunRequest(trigger=Trigger.MANUAL))
    assert arn == workflow.execution_arn("run-000001")
    assert arn == "arn:aws:states:us-east-1:123456789012:execution:retrain:run-000001"
    assert workflow.status("run-000001") == "RUNNING"


def test_starting_a_run_again_finds_the_first_execution(workflow: RetrainWorkflow) -> None:
    first = workflow.start("run-000001", RunRequest(trigger=Trigger.MANUAL))
    assert workflow.start("run-000001", RunRequest(trigger=Trigger.FEEDBACK)) == first
    assert workflow.status("run-000001") == "RUNNING"


def test_an_unknown_run_has_no_status(workflow: RetrainWorkflow) -> None:
    workflow.start("run-000001", RunRequest(trigger=Trigger.MANUAL))
    assert workflow.status("run-000002") is None
