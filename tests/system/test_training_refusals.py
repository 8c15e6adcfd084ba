"""SageMaker refusing a run's training job, on ``make up`` as a user starts it: SageMaker throttles the
first two CreateTrainingJob calls and allows one ml.m5.large at a time (``LOCAL_TRAINING_THROTTLE=2``,
``LOCAL_TRAINING_QUOTA=1``), then, after a restart, none (``LOCAL_TRAINING_QUOTA=0``). Each refusal
reaches the state machine named as Step Functions names it; throttling and a quota in use are
waited out, a quota of 0 fails the run at once with a reason that says which quota to raise."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.system.conftest import LocalStack, module_stack, notifications, wait_for_run

HOLDER = "holder-of-the-instance"
HOLD_S = 20  # the holder's MaxRuntimeInSeconds: it holds the one instance that long, then is stopped


local_stack = module_stack(
    "training-refusals",
    BACKEND="ecs",
    RETRAIN_THRESHOLD="1000000",
    LOCAL_TRAINING_QUOTA="1",
    LOCAL_TRAINING_THROTTLE="2",
)


@pytest.fixture(scope="module")
def admin(local_stack: LocalStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {(local_stack.data / 'admin-api-key').read_text().strip()}"}


def _execution(stack: LocalStack, run_id: str) -> dict[str, Any]:
    sfn = stack.client("stepfunctions")
    (machine,) = [m for m in sfn.list_state_machines()["stateMachines"] if m["name"].endswith("RetrainStateMachine")]
    (execution,) = [e for e in sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
                    if e["name"] == run_id]  # fmt: skip
    described: dict[str, Any] = sfn.describe_execution(executionArn=execution["executionArn"])
    return described


def _refusals(stack: LocalStack, run_id: str) -> list[tuple[str, str]]:
    """(error, cause) of each time the run's training task failed, as the execution's history has it."""
    sfn = stack.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=_execution(stack, run_id)["executionArn"], maxResults=1000)
    return [
        (event["taskFailedEventDetails"]["error"], event["taskFailedEventDetails"]["cause"])
        for event in events["events"]
        if event["type"] == "TaskFailed" and event["taskFailedEventDetails"].get("resourceType") == "sagemaker"
    ]


def _start(api: httpx.Client, admin: dict[str, str]) -> str:
    started = api.post("/training", headers=admin)
    assert started.status_code == 202, started.text
    run_id: str = started.json()["run_id"]
    return run_id


def test_a_throttled_training_job_is_asked_for_again_and_the_run_succeeds(
    api: httpx.Client, admin: dict[str, str], local_stack: LocalStack
) -> None:
    # Given SageMaker throttling the next two CreateTrainingJob calls (the stack's settings)
    # When a run starts
    run = wait_for_run(api, _start(api, admin))

    # Then it trained and finished, after two refusals named as Step Functions names them
    assert run["status"] == "SUCCEEDED", run
    assert run["decision"] in {"promoted", "rejected"}
    refusals = _refusals(local_stack, run["run_id"])
    assert [error for error, _ in refusals] == ["SageMaker.AmazonSageMakerException"] * 2
    assert all(
        "(Service: AmazonSageMaker; Status Code: 400; Error Code: ThrottlingException;" in c for _, c in refusals
    )


def test_a_training_job_over_the_quota_waits_while_another_job_holds_the_only_instance(
    api: httpx.Client, admin: dict[str, str], local_stack: LocalStack
) -> None:
    # Given another training job holding the account's one ml.m5.large (the last run's job, again)
    sagemaker = local_stack.client("sagemaker")
    (last,) = [job for job in sagemaker.list_training_jobs()["TrainingJobSummaries"]]
    job = sagemaker.describe_training_job(TrainingJobName=last["TrainingJobName"])
    sagemaker.create_training_job(
        TrainingJobName=HOLDER,
        AlgorithmSpecification=job["AlgorithmSpecification"],
        RoleArn=job["RoleArn"],
        HyperParameters=job["HyperParameters"],
        InputDataConfig=job["InputDataConfig"],
        OutputDataConfig=job["OutputDataConfig"],
        ResourceConfig=job["ResourceConfig"],
        StoppingCondition={"MaxRuntimeInSeconds": HOLD_S},
    )

    # When a run starts
    run = wait_for_run(api, _start(api, admin))

    # Then its job was refused while the other held the instance, and trained once it was free
    assert run["status"] == "SUCCEEDED", run
    refusals = _refusals(local_stack, run["run_id"])
    assert refusals, "the run's job was never refused: did the holder end before the run asked?"
    assert {error for error, _ in refusals} == {"SageMaker.ResourceLimitExceededException"}
    assert all(
        "The account-level service limit 'ml.m5.large for training job usage' is 1 Instances, with current "
        "utilization of 1 Instances and a request delta of 1 Instances." in cause
        for _, cause in refusals
    )
    holder = sagemaker.describe_training_job(TrainingJobName=HOLDER)
    output = json.loads(_execution(local_stack, run["run_id"])["output"])
    trained = sagemaker.describe_training_job(TrainingJobName=output["training"]["training_job_name"])
    assert trained["CreationTime"] >= holder["TrainingEndTime"]


def test_a_quota_of_zero_fails_the_run_at_once_and_says_which_quota_to_raise(
    api: httpx.Client, admin: dict[str, str], local_stack: LocalStack
) -> None:
    # Given the same stack started again on an account with no ml.m5.large for training
    champion = api.get("/models").json()["champion"]
    local_stack.stop()
    local_stack.env["LOCAL_TRAINING_QUOTA"] = "0"
    local_stack.env.pop("LOCAL_TRAINING_THROTTLE")
    local_stack.start()

    # When a run starts
    started = time.monotonic()
    run = wait_for_run(api, _start(api, admin), timeout=120)

    # Then it failed without waiting, the champion stays, and the record and notification say why
    assert run["status"] == "FAILED", run
    assert time.monotonic() - started < 60
    ((error, cause),) = _refusals(local_stack, run["run_id"])
    assert error == "SageMaker.ResourceLimitExceededException"
    assert "'ml.m5.large for training job usage' is 0 Instances" in cause
    assert run["error"].startswith(
        "SageMaker.ResourceLimitExceededException: No training job can start: the SageMaker quota "
        '"ml.m5.large for training job usage" of this account is 0 instances. Request an increase of that quota '
        "(Service Quotas, Amazon SageMaker), then start the run again. SageMaker said: The account-level service "
        "limit 'ml.m5.large for training job usage' is 0 Instances"
    ), run["error"]
    assert api.get("/models").json()["champion"] == champion
    assert any(
        run["run_id"] in str(message) and "FAILED" in str(message) and "is 0 instances" in str(message)
        for message in notifications(local_stack)
    )
