"""Step Functions where moto 5.2.5's interpreter does otherwise:

- the optimised SageMaker integration runs ``sagemaker:createTrainingJob`` and ``.sync`` waits for the job
  (:mod:`sentiment_local.sagemaker.task`; developer guide, "Create and manage Amazon SageMaker AI jobs with
  Step Functions", https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html);
- a service's refusal fails a Lambda or SNS task under the name Step Functions gives it
  (:mod:`sentiment_local.moto.task_errors`; "Handling errors in Step Functions workflows",
  https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html): moto names a Lambda
  service error ``Exception``, and SNS's errors by their code rather than by the SDK's exception;
- the services are called with the state machine's role ("Creating a state machine role",
  https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html; moto's interpreter
  signs with a fixed key), so the local IAM check sees the role's calls as the role's;
- ``StartExecution`` without a name names the execution with a UUID (API reference, StartExecution,
  https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from sentiment_local.moto.patching import Patches


def plug_step_functions_sagemaker(patches: Patches) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (  # noqa: PLC0415
        state_task_factory,
    )

    from sentiment_local.sagemaker.task import StateTaskServiceSageMaker  # noqa: PLC0415 - imports moto's parser

    service_for = vars(state_task_factory)["state_task_service_for"]

    def state_task_service_for(service_name: str) -> Any:
        if service_name == "sagemaker":
            return StateTaskServiceSageMaker()
        return service_for(service_name=service_name)

    patches.set(state_task_factory, "state_task_service_for", state_task_service_for)


def plug_task_errors(patches: Patches) -> None:
    """The Lambda and SNS tasks name a refused call as Step Functions does (moto: ``Exception`` for any
    Lambda service error, ``SNS.<code>Exception`` for SNS)."""
    from botocore.exceptions import ClientError  # noqa: PLC0415
    from moto.stepfunctions.parser.api import (  # noqa: PLC0415
        HistoryEventType,
        LambdaFunctionFailedEventDetails,
        TaskFailedEventDetails,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (  # noqa: PLC0415
        CustomErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (  # noqa: PLC0415
        FailureEvent,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sns import (  # noqa: PLC0415
        StateTaskServiceSns,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (  # noqa: PLC0415
        StateTaskLambda,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails  # noqa: PLC0415

    from sentiment_local.moto.task_errors import task_error  # noqa: PLC0415

    lambda_from_error = StateTaskLambda._from_error
    sns_from_error = StateTaskServiceSns._from_error

    def lambda_failure(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return lambda_from_error(self, env, ex)
        name, cause = task_error("lambda", ex)
        details = LambdaFunctionFailedEventDetails(error=name, cause=cause)
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(name),
            event_type=HistoryEventType.LambdaFunctionFailed,
            event_details=EventDetails(lambdaFunctionFailedEventDetails=details),  # type: ignore[typeddict-item]  # one kind of details per event
        )

    def sns_failure(self: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return sns_from_error(self, env, ex)
        name, cause = task_error("sns", ex)
        details = TaskFailedEventDetails(
            error=name, cause=cause, resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type()
        )
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(name),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(taskFailedEventDetails=details),  # type: ignore[typeddict-item]  # one kind of details per event
        )

    patches.set(StateTaskLambda, "_from_error", lambda_failure)
    patches.set(StateTaskServiceSns, "_from_error", sns_failure)


def plug_state_machine_credentials(patches: Patches) -> None:
    """Each service call of an execution signed with its state machine role's key (the role's ARN is in
    the state's credentials: the task's ``Credentials``, else the state machine's role)."""
    import sys  # noqa: PLC0415

    import boto3  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.utils import boto_client  # noqa: PLC0415

    from sentiment_template.policies import credentials_for  # noqa: PLC0415

    original = boto_client.boto_client_for
    # One client per role, service and region, made once: a Distributed Map's children call Lambda once
    # a batch, and making a client (its endpoint rules, its TLS context) cost more than the call itself.
    # boto3's clients are safe to share between threads.
    made: dict[tuple[str, str, str], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role = getattr(state_credentials, "role_arn", None)
        if not role:
            return original(region=region, service=service, state_credentials=state_credentials)
        key = (region, service, str(role))
        with lock:
            if key not in made:
                client = original(region=region, service=service, state_credentials=state_credentials)
                keys = credentials_for(str(role))
                made[key] = boto3.client(
                    service,
                    region_name=region,
                    endpoint_url=client.meta.endpoint_url,
                    config=client.meta.config,
                    aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
                    aws_session_token=keys["AWS_SESSION_TOKEN"],
                )
            return made[key]

    # Modules that imported the function by name hold their own reference: replace each.
    holders = [
        module
        for module in list(sys.modules.values())
        if getattr(module, "__dict__", {}).get("boto_client_for") is original
    ]
    for module in {boto_client, *holders}:
        patches.set(module, "boto_client_for", boto_client_for)


def plug_execution_names(patches: Patches) -> None:
    """StartExecution without a name: Step Functions makes one up (a UUID); moto's interpreter names the
    execution ``None``, and ``$$.Execution.Name`` with it."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend  # noqa: PLC0415

    start = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: StepFunctionsParserBackend, state_machine_arn: str, name: Any = None, *rest: Any, **named: Any
    ) -> Any:
        return start(self, state_machine_arn, name or str(uuid.uuid4()), *rest, **named)

    patches.set(StepFunctionsParserBackend, "start_execution", start_execution)
