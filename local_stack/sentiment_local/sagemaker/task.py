"""Step Functions' optimised SageMaker integration, which moto 5.2.5 does not have (it lists
``sagemaker`` as unsupported and refuses ``.sync``).

``arn:aws:states:::sagemaker:createTrainingJob`` creates the job and answers with its ARN, and
``arn:aws:states:::sagemaker:createTrainingJob.sync`` then waits for the job to end, as Step Functions
does: the task's result is the job's ``DescribeTrainingJob`` answer (times as epoch milliseconds);
a job that ends ``Failed`` or ``Stopped`` fails the task with ``States.TaskFailed``, its cause the
job's description as JSON (``FailureReason`` included). A refused request fails it as Step Functions
names SageMaker's errors (:mod:`sentiment_local.moto.task_errors`): ``SageMaker.AmazonSageMakerException``
for throttling and validation errors, ``SageMaker.ResourceLimitExceededException`` for a quota, the
error code in the cause. Modelled on moto's own Batch integration (``state_task_service_batch.py``).

Every call is made with the state machine's role, so the local IAM check applies, and ``.sync`` makes
the calls AWS documents for it (Step Functions developer guide, "IAM policies for calling Amazon
SageMaker AI"): the managed EventBridge rule that reports the job's end
(``events:PutRule``/``PutTargets``/``DescribeRule`` on ``StepFunctionsGetEventsForSageMakerTrainingJobsRule``)
and ``sagemaker:ListTags`` on the job.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import StateCredentials
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
    ResourceRuntimePart,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from sentiment_local.moto.task_errors import task_error

# CreateTrainingJob's request members, as Step Functions accepts them.
_SUPPORTED_API_PARAM_BINDINGS: Final[dict[str, set[str]]] = {
    "createtrainingjob": {
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "EnableInterContainerTrafficEncryption",
        "EnableManagedSpotTraining",
        "EnableNetworkIsolation",
        "Environment",
        "ExperimentConfig",
        "HyperParameters",
        "InputDataConfig",
        "OutputDataConfig",
        "ProfilerConfig",
        "ProfilerRuleConfigurations",
        "ResourceConfig",
        "RetryStrategy",
        "RoleArn",
        "StoppingCondition",
        "Tags",
        "TensorBoardOutputConfig",
        "TrainingJobName",
        "VpcConfig",
    }
}
_ENDED: Final[set[str]] = {"Completed", "Failed", "Stopped"}
SYNC_RULE: Final[str] = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"
_SYNC_EVENTS: Final[dict[str, Any]] = {
    "source": ["aws.sagemaker"],
    "detail-type": ["SageMaker Training Job State Change"],
}
# moto's callback base class needs a task token to tidy up after any integration pattern, so
# waitForTaskToken is listed; _validate_service_integration_is_supported refuses it.
_PATTERNS: Final[set[Any]] = {ResourceCondition.Sync, ResourceCondition.WaitForTaskToken}


def _epoch_millis(value: Any) -> Any:
    """Step Functions hands SageMaker's timestamps on as epoch milliseconds."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, dict):
        return {key: _epoch_millis(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_epoch_millis(item) for item in value]
    return value


class StateTaskServiceSageMaker(StateTaskServiceCallback):
    def __init__(self) -> None:
        super().__init__(supported_integration_patterns=_PATTERNS)

    def _get_supported_parameters(self) -> set[str] | None:
        return _SUPPORTED_API_PARAM_BINDINGS.get(self.resource.api_action.lower())

    def _validate_service_integration_is_supported(self) -> None:
        super()._validate_service_integration_is_supported()  # type: ignore[no-untyped-call]
        if self.resource.condition not in {None, ResourceCondition.Sync}:
            raise ValueError(
                f"The resource provided {self.resource.resource_arn} not recognized: SageMaker's "
                "createTrainingJob supports request-response and .sync only."
            )

    def _client(self, resource_runtime_part: ResourceRuntimePart, state_credentials: StateCredentials) -> Any:
        return boto_client_for(
            region=resource_runtime_part.region, service="sagemaker", state_credentials=state_credentials
        )

    def _from_error(self, env: Environment, ex: Exception) -> FailureEvent:
        if isinstance(ex, ClientError):
            error_name, cause = task_error("sagemaker", ex)
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(error_name),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(  # type: ignore[typeddict-item]  # one kind of details per event
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=error_name,
                        cause=cause,
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )
        return super()._from_error(env=env, ex=ex)

    def _eval_service_task(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: StateCredentials,
    ) -> None:
        client = self._client(resource_runtime_part, state_credentials)
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(response)

    @staticmethod
    def _watch_job(
        resource_runtime_part: ResourceRuntimePart,
        state_credentials: StateCredentials,
        sagemaker: Any,
        job_arn: str,
        state_machine_arn: str,
    ) -> None:
        """What Step Functions does to learn when the job ends, with the state machine's role."""
        events = boto_client_for(
            region=resource_runtime_part.region, service="events", state_credentials=state_credentials
        )
        events.put_rule(Name=SYNC_RULE, EventPattern=json.dumps(_SYNC_EVENTS), State="ENABLED")
        events.put_targets(Rule=SYNC_RULE, Targets=[{"Id": "StepFunctions", "Arn": state_machine_arn}])
        events.describe_rule(Name=SYNC_RULE)
        sagemaker.list_tags(ResourceArn=job_arn)

    def _build_sync_resolver(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: StateCredentials,
    ) -> Callable[[], Any] | None:
        client = self._client(resource_runtime_part, state_credentials)
        created = env.stack.pop()  # CreateTrainingJob's answer; the job is named in the request
        name = normalised_parameters["TrainingJobName"]
        state_machine = str(env.states.context_object.context_object_data["StateMachine"]["Id"])
        self._watch_job(resource_runtime_part, state_credentials, client, str(created["TrainingJobArn"]), state_machine)

        def _sync_resolver() -> dict[str, Any] | None:
            description: dict[str, Any] = client.describe_training_job(TrainingJobName=name)
            description.pop("ResponseMetadata", None)
            if description["TrainingJobStatus"] not in _ENDED:
                return None
            description = _epoch_millis(description)
            if description["TrainingJobStatus"] == "Completed":
                return description
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(  # type: ignore[typeddict-item]  # one kind of details per event
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=StatesErrorNameType.StatesTaskFailed.to_name(),
                            cause=to_json_str(description),
                        )
                    ),
                )
            )

        return _sync_resolver
