"""The few things moto 5.2.5 does not do without Docker, plugged in one place.

- A Lambda invocation (the Lambda API, a Step Functions task) runs the real handler through the
  local :class:`~sentiment_local.runtime.functions.Runner` instead of a container.
- An S3 notification to a function is delivered asynchronously, as S3 does, instead of inside the
  ``PutObject`` call.
- ``InvokeEndpoint`` is forwarded to the local model server instead of returning canned bodies, after
  a serverless endpoint's cold start when the stack plays one, and within SageMaker's 60 s.
- Step Functions runs ``sagemaker:createTrainingJob`` and ``.sync`` waits for the job
  (:mod:`sentiment_local.sagemaker.task`).
- A service's refusal fails a task under the name Step Functions gives it
  (:mod:`sentiment_local.moto.task_errors`): moto names a Lambda service error ``Exception``, and SNS's errors
  by their code rather than by the SDK's exception.
- ``CreateTrainingJob`` can be throttled, and is refused beyond the account's training-instance quota
  (:class:`sentiment_local.sagemaker.training_jobs.TrainingLimits`), with SageMaker's codes and wording.
- A training job really trains (:mod:`sentiment_local.sagemaker.training_jobs`) instead of completing at once,
  and ``CreateTrainingJob`` refuses a channel whose S3 prefix the job's role finds empty, as SageMaker does.
- ``StartExecution`` without a name names the execution, as Step Functions does.
- ``UpdateEndpoint`` exists: the endpoint is ``Updating`` while the stack swaps the model served,
  then ``InService``; a failed swap leaves the previous configuration and a ``FailureReason``.
- Step Functions calls services with the state machine's role (moto's interpreter signs with a fixed
  key), so the local IAM check sees the role's calls as the role's.
- SageMaker's documented rules for endpoint configurations and updates that this project could break
  are enforced (:func:`_plug_sagemaker_rules`); moto accepts any. ``UpdateEndpoint`` keeps the variants'
  instance counts and weights when asked to (``RetainAllVariantProperties``), and refuses to change the
  instance type of a variant that Application Auto Scaling scales.
- Application Auto Scaling refuses what AWS refuses of a scalable target or a target-tracking policy
  (:mod:`sentiment_local.moto.scaling`), and registering a SageMaker variant moves its instance count into the
  target's range, as AWS does.
- DynamoDB writes are isolated from each other: moto undoes a failed transaction by putting back a
  copy of each table it touched, which would also undo any write another request made meanwhile
  (a concurrent ``PutItem``, or half of another transaction), so writes and transactions take turns.
- A DynamoDB ``Query`` refuses an ``ExclusiveStartKey`` that is not a key of the table or index queried,
  or that lies in another partition than the key condition's, as DynamoDB does (:func:`_check_start_key`).
- DynamoDB requests cost what they touch, not what the table holds: a failed transaction puts back
  its own items instead of a deep copy of each table, and a ``Query`` or a paged ``Scan`` reads its
  page from indexes kept in order (:mod:`sentiment_local.moto.dynamodb_order`) instead of sorting the table.
- Every change to a table, an object or a queue is reported (:class:`ChangeSink`), so the local
  stack can journal it (:mod:`sentiment_local.persistence.journal`); the saved data is loaded back directly.
- Pending SQS messages can be read without receiving them, to keep them across restarts.

These touch moto's internals, so they refuse any other moto version.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from importlib.metadata import version
from typing import Any, Protocol

from sentiment_local.moto import scaling
from sentiment_local.moto.dynamodb_order import TableOrder
from sentiment_local.runtime.functions import Runner
from sentiment_local.sagemaker.training_jobs import TrainingJobs, instances_in_use
from sentiment_template.reader import ACCOUNT, REGION

log = logging.getLogger(__name__)

MOTO_VERSION = "5.2.5"
# "A customer's model containers must respond to requests within 60 seconds" (SageMaker API reference,
# InvokeEndpoint); SageMaker then answers ModelError.
INVOCATION_LIMIT_S = 60.0

EndpointUpdate = Callable[[str, str, dict[str, str]], None]
"""``(endpoint name, model data URL, the container's environment)``: serve that model behind that endpoint,
its container started with that environment; raise if it cannot be."""

InstanceWait = Callable[[str], float]
"""``(endpoint name)``: seconds an invocation waits before the container sees it (a cold start)."""

_MISSING = object()

# SageMaker's answer when the container has not answered within INVOCATION_LIMIT_S.
TIMED_OUT = {
    "__type": "ModelError",
    "message": 'Received server error (0) from primary with message "Your invocation timed out while waiting for a '
    'response from container primary."',
    "OriginalStatusCode": 0,
}


class _Patches:
    """Attributes set on moto's classes and modules, and how to put them back."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        # A class's own attribute, not one it inherits: undoing must not copy the parent's onto it.
        original = vars(owner).get(name, _MISSING)
        self._saved.append((owner, name, original))
        setattr(owner, name, value)

    def undo(self) -> None:
        for owner, name, original in reversed(self._saved):
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._saved.clear()


class MotoVersionError(RuntimeError):
    pass


def check_version() -> None:
    found = version("moto")
    if found != MOTO_VERSION:
        raise MotoVersionError(f"the local stack is written against moto {MOTO_VERSION}; {found} is installed")


def install(
    runner: Runner,
    model_url: Callable[[], str],
    *,
    training: TrainingJobs | None = None,
    on_endpoint_update: EndpointUpdate | None = None,
    changes: ChangeSink | None = None,
    instance_wait: InstanceWait | None = None,
) -> Callable[[], None]:
    """Patch moto; returns the function that undoes it. Without ``training``, training jobs complete at
    once as moto has them; without ``on_endpoint_update``, an endpoint update swaps nothing; ``changes``
    is told of every change to tables, objects and queues; ``instance_wait`` says how long an invocation
    waits for an instance (none without it)."""
    check_version()
    from moto.awslambda.models import LambdaFunction  # noqa: PLC0415 - patched only when a stack runs
    from moto.s3 import notifications  # noqa: PLC0415

    patches = _Patches()

    def invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        # moto hands over the parsed payload, or the text "{}" when there was none: Lambda's event is {}.
        outcome = runner.invoke(self.function_name, {} if event is None or event == "{}" else event)
        body = outcome.payload if outcome.payload is not None else json.dumps(outcome.error)
        return body, outcome.failed, "\n".join(outcome.logs)

    def invoke_from_s3(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        del account_id, region_name
        runner.invoke_async(fn_arn.rsplit(":", 1)[-1], event_body)

    patches.set(LambdaFunction, "_invoke_lambda", invoke_lambda)
    patches.set(notifications, "_invoke_awslambda", invoke_from_s3)
    _plug_invoke_endpoint(patches, model_url, instance_wait)
    _plug_step_functions_sagemaker(patches)
    _plug_task_errors(patches)
    _plug_state_machine_credentials(patches)
    _plug_execution_names(patches)
    if training is not None:
        _plug_training_jobs(patches, training)
    _plug_update_endpoint(patches, on_endpoint_update or (lambda name, url, environment: None))
    _plug_sagemaker_rules(patches)
    _plug_application_autoscaling(patches)
    _plug_dynamodb(patches, changes)
    _plug_instance_tracking(patches)
    if changes is not None:
        _plug_change_feed(patches, changes)
    return patches.undo


def _plug_invoke_endpoint(patches: _Patches, model_url: Callable[[], str], instance_wait: InstanceWait | None) -> None:
    """``InvokeEndpoint`` reaches the local model server, as SageMaker reaches the container: after the
    wait for an instance (a serverless endpoint's cold start), and within SageMaker's 60 s."""
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse  # noqa: PLC0415

    def invoke_endpoint(self: Any) -> tuple[int, dict[str, str], str | bytes]:
        from moto.sagemaker.models import sagemaker_backends  # noqa: PLC0415

        def answer_with(status: int, content_type: str, body: str | bytes) -> tuple[int, dict[str, str], str | bytes]:
            # moto takes a response's status from its "status" header, not from the tuple.
            return status, {"Content-Type": content_type, "status": str(status)}, body

        name = self._get_param("EndpointName") or self.path.split("/")[2]
        if name not in sagemaker_backends[self.current_account][self.region].endpoints:
            error = {"__type": "ValidationError", "message": f"Endpoint {name} of account {ACCOUNT} not found."}
            return answer_with(400, "application/json", json.dumps(error))
        waited = instance_wait(name) if instance_wait else 0.0
        time.sleep(min(waited, INVOCATION_LIMIT_S))
        if waited >= INVOCATION_LIMIT_S:
            return answer_with(424, "application/json", json.dumps(TIMED_OUT))
        request = urllib.request.Request(  # noqa: S310 - the local model server
            f"{model_url()}/invocations",
            data=self.raw_body if isinstance(self.raw_body, bytes) else str(self.raw_body).encode(),
            headers={
                "Content-Type": self.headers.get("Content-Type", "application/json"),
                "Accept": self.headers.get("Accept", "application/json"),
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=INVOCATION_LIMIT_S - waited) as answer:  # noqa: S310
                return answer_with(200, answer.headers.get("Content-Type", "application/json"), answer.read())
        except TimeoutError:
            return answer_with(424, "application/json", json.dumps(TIMED_OUT))
        except urllib.error.HTTPError as error:
            # What SageMaker answers when the container refuses: ModelError carrying its status.
            message = {
                "__type": "ModelError",
                "message": f"Received client error ({error.code}) from primary: "
                f"{error.read().decode(errors='replace')}",
                "OriginalStatusCode": error.code,
            }
            return answer_with(424, "application/json", json.dumps(message))
        except OSError as error:
            message = {"__type": "ServiceUnavailable", "message": f"the model container is unreachable: {error}"}
            return answer_with(503, "application/json", json.dumps(message))

    patches.set(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)


def _plug_step_functions_sagemaker(patches: _Patches) -> None:
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


def _plug_task_errors(patches: _Patches) -> None:
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


def _plug_state_machine_credentials(patches: _Patches) -> None:
    """Each service call of an execution signed with its state machine role's key (the role's ARN is in
    the state's credentials: the task's ``Credentials``, else the state machine's role)."""
    import sys  # noqa: PLC0415

    import boto3  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.utils import boto_client  # noqa: PLC0415

    from sentiment_template.policies import credentials_for  # noqa: PLC0415

    original = boto_client.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = original(region=region, service=service, state_credentials=state_credentials)
        role = getattr(state_credentials, "role_arn", None)
        if not role:
            return client
        keys = credentials_for(str(role))
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=client.meta.endpoint_url,
            config=client.meta.config,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=keys["AWS_SESSION_TOKEN"],
        )

    # Modules that imported the function by name hold their own reference: replace each.
    holders = [
        module
        for module in list(sys.modules.values())
        if getattr(module, "__dict__", {}).get("boto_client_for") is original
    ]
    for module in {boto_client, *holders}:
        patches.set(module, "boto_client_for", boto_client_for)


def _plug_execution_names(patches: _Patches) -> None:
    """StartExecution without a name: Step Functions makes one up (a UUID); moto's interpreter names the
    execution ``None``, and ``$$.Execution.Name`` with it."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend  # noqa: PLC0415

    start = StepFunctionsParserBackend.start_execution

    def start_execution(
        self: StepFunctionsParserBackend, state_machine_arn: str, name: Any = None, *rest: Any, **named: Any
    ) -> Any:
        return start(self, state_machine_arn, name or str(uuid.uuid4()), *rest, **named)

    patches.set(StepFunctionsParserBackend, "start_execution", start_execution)


def _plug_training_jobs(patches: _Patches, training: TrainingJobs) -> None:
    from moto.core import errors as moto_errors  # noqa: PLC0415
    from moto.sagemaker.exceptions import ResourceInUseException, SagemakerClientError, ValidationError  # noqa: PLC0415
    from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend  # noqa: PLC0415
    from moto.sagemaker.responses import SageMakerResponse  # noqa: PLC0415

    class ThrottlingException(SagemakerClientError):
        """SageMaker API reference, "Common Errors": ThrottlingException, HTTP 400
        (https://docs.aws.amazon.com/sagemaker/latest/APIReference/CommonErrors.html); its message "Rate
        exceeded" (https://repost.aws/knowledge-center/sagemaker-python-throttlingexception)."""

        code = "ThrottlingException"

    class ResourceLimitExceeded(SagemakerClientError):
        """SageMaker API reference, CreateTrainingJob, "Errors": ResourceLimitExceeded, HTTP 400
        (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html)."""

        code = "ResourceLimitExceeded"

    # moto warns of an error its SageMaker model does not declare; ThrottlingException is one of the
    # errors common to every AWS API (SageMaker API reference, "Common Errors").
    patches.set(moto_errors, "COMMON_ERROR_CODES", [*moto_errors.COMMON_ERROR_CODES, ThrottlingException.code])

    create = SageMakerModelBackend.create_training_job
    create_action = SageMakerResponse.create_training_job
    # moto's request handler drops the request's Environment; it reaches the backend through this.
    request_environment = threading.local()

    def create_training_job_action(self: SageMakerResponse) -> Any:
        request_environment.value = self._get_param("Environment") or {}
        try:
            return create_action(self)
        finally:
            request_environment.value = {}

    def create_training_job(self: SageMakerModelBackend, **request: Any) -> FakeTrainingJob:
        limits = training.limits
        if limits.throttled():
            raise ThrottlingException("Rate exceeded")
        name = request["training_job_name"]
        if name in self.training_jobs:
            arn = FakeTrainingJob.arn_formatter(name, self.account_id, self.region_name)
            raise ResourceInUseException(
                f"Training job names must be unique within an AWS account and region, and a training job "
                f"with this name already exists ({arn})"
            )
        refused = training.refusal(request["input_data_config"], request["role_arn"], self.region_name)
        if refused is not None:
            raise ValidationError(message=refused)
        resources = request.get("resource_config") or {}
        instance_type = str(resources.get("InstanceType", ""))
        with limits.turn:  # the check and the job it lets in, before another request counts again
            refusal = limits.refusal(
                instance_type,
                int(resources.get("InstanceCount", 1)),
                instances_in_use(self.training_jobs.values(), instance_type),
            )
            if refusal is not None:
                raise ResourceLimitExceeded(refusal)
            return create_job(self, **request)

    def create_job(self: SageMakerModelBackend, **request: Any) -> FakeTrainingJob:
        asked_metrics = request["algorithm_specification"].get("MetricDefinitions")
        job = create(self, **request)
        # moto puts made-up metric definitions on every job; keep what was asked for.
        job.algorithm_specification.pop("MetricDefinitions", None)
        if asked_metrics is not None:
            job.algorithm_specification["MetricDefinitions"] = asked_metrics
        # Every attribute exists before moto may serialise the job while the runner changes it.
        job.failure_reason = None  # type: ignore[attr-defined]
        job.environment = dict(getattr(request_environment, "value", {}) or {})  # type: ignore[attr-defined]
        training.submit(job)
        return job

    patches.set(SageMakerModelBackend, "create_training_job", create_training_job)
    patches.set(SageMakerResponse, "create_training_job", create_training_job_action)


def _plug_update_endpoint(patches: _Patches, on_endpoint_update: EndpointUpdate) -> None:
    from moto.core.responses import ActionResult  # noqa: PLC0415
    from moto.core.utils import utcnow  # noqa: PLC0415
    from moto.sagemaker.exceptions import ValidationError  # noqa: PLC0415
    from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend  # noqa: PLC0415
    from moto.sagemaker.responses import SageMakerResponse  # noqa: PLC0415

    def update_endpoint(
        self: SageMakerModelBackend,
        endpoint_name: str,
        endpoint_config_name: str,
        retain_all_variant_properties: bool = False,
    ) -> str:
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f"Could not find endpoint '{arn}'.")
        config = self.endpoint_configs.get(endpoint_config_name)
        if config is None:
            arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, self.account_id, self.region_name)
            raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
        if endpoint.endpoint_status != "InService":
            raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
        previous = (endpoint.endpoint_config_name, endpoint.production_variants)
        model = self._models.get(config.production_variants[0]["ModelName"])
        containers = [model.primary_container, *model.containers] if model else []
        container = next((c for c in containers if c and c.get("ModelDataUrl")), {})
        model_data_url = str(container.get("ModelDataUrl", ""))
        environment = {str(key): str(value) for key, value in (container.get("Environment") or {}).items()}
        endpoint.endpoint_config_name = endpoint_config_name
        endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
        if retain_all_variant_properties:
            _retain_variant_properties(endpoint.production_variants, previous[1])
        endpoint.endpoint_status = "Updating"
        endpoint.failure_reason = None
        endpoint.last_modified_time = utcnow()

        def swap() -> None:
            try:
                on_endpoint_update(endpoint_name, model_data_url, environment)
            except Exception as error:
                # What SageMaker does when an update fails: back to the previous configuration, in service.
                log.warning("updating endpoint %s to %s failed: %s", endpoint_name, endpoint_config_name, error)
                endpoint.endpoint_config_name, endpoint.production_variants = previous
                endpoint.failure_reason = str(error) or type(error).__name__  # type: ignore[assignment]
            endpoint.endpoint_status = "InService"
            endpoint.last_modified_time = utcnow()

        threading.Thread(target=swap, name=f"update-{endpoint_name}", daemon=True).start()
        return str(endpoint.arn)

    def update_endpoint_action(self: SageMakerResponse) -> ActionResult:
        arn = self.sagemaker_backend.update_endpoint(  # type: ignore[attr-defined]
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
            retain_all_variant_properties=bool(self._get_param("RetainAllVariantProperties", False)),
        )
        return ActionResult({"EndpointArn": arn})

    patches.set(SageMakerModelBackend, "update_endpoint", update_endpoint)
    patches.set(SageMakerResponse, "update_endpoint", update_endpoint_action)


RETAINED_VARIANT_PROPERTIES = ("CurrentInstanceCount", "DesiredInstanceCount", "CurrentWeight", "DesiredWeight")


def _retain_variant_properties(variants: list[dict[str, Any]], previous: list[dict[str, Any]]) -> None:
    """``RetainAllVariantProperties``: a variant of the same name keeps the instance count and weight it had
    (``DescribeEndpoint``'s), whatever the new configuration's ``InitialInstanceCount`` and
    ``InitialVariantWeight`` (SageMaker API reference, UpdateEndpoint; developer guide, "Update endpoints
    that use auto scaling")."""
    kept = {variant["VariantName"]: variant for variant in previous}
    for variant in variants:
        before = kept.get(variant["VariantName"], {})
        variant.update({key: before[key] for key in RETAINED_VARIANT_PROPERTIES if key in before})


def _plug_sagemaker_rules(patches: _Patches) -> None:
    from moto.sagemaker.exceptions import ValidationError  # noqa: PLC0415
    from moto.sagemaker.models import SageMakerModelBackend  # noqa: PLC0415
    from moto.sagemaker.responses import SageMakerResponse  # noqa: PLC0415

    create_model = SageMakerResponse.create_model

    def create_model_action(self: SageMakerResponse) -> Any:
        # moto drops the request's EnableNetworkIsolation (every model reads as not isolated).
        answer = create_model(self)
        model = self.sagemaker_backend._models[self._get_param("ModelName")]
        model.enable_network_isolation = bool(self._get_param("EnableNetworkIsolation", False))
        return answer

    validate = SageMakerModelBackend.validate_production_variants
    update = vars(SageMakerModelBackend)["update_endpoint"]  # the plugged one: install patches it first

    def validate_production_variants(self: SageMakerModelBackend, production_variants: list[dict[str, Any]]) -> None:
        validate(self, production_variants)
        for variant in production_variants:
            model = self._models.get(variant["ModelName"])
            refusals = scaling.serverless_variant_refusals(variant, bool(model and model.enable_network_isolation))
            if refusals:
                messages = "; ".join(refusal.message for refusal in refusals)
                raise ValidationError(message=f"Variant {variant.get('VariantName')}: {messages}.")

    def update_endpoint(
        self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str, **options: Any
    ) -> str:
        endpoint = self.endpoints.get(endpoint_name)
        config = self.endpoint_configs.get(endpoint_config_name)
        current = self.endpoint_configs.get(endpoint.endpoint_config_name) if endpoint is not None else None
        if current is not None and config is not None:
            # "You can't convert an instance-based, real-time endpoint to a serverless endpoint" (SageMaker
            # developer guide, serverless endpoints, feature exclusions).
            was_serverless = all("ServerlessConfig" in variant for variant in current.production_variants)
            goes_serverless = any("ServerlessConfig" in variant for variant in config.production_variants)
            if goes_serverless and not was_serverless:
                raise ValidationError(
                    message=f"Endpoint {endpoint_name} is instance-based and cannot be updated to a serverless "
                    f"configuration ({endpoint_config_name})."
                )
            refusals = scaling.update_refusals(
                endpoint_name,
                _scaled_variants(self.account_id, self.region_name, endpoint_name),
                current.production_variants,
                config.production_variants,
            )
            if refusals:
                raise ValidationError(message=refusals[0].message)
        result: str = update(self, endpoint_name, endpoint_config_name, **options)
        return result

    patches.set(SageMakerResponse, "create_model", create_model_action)
    patches.set(SageMakerModelBackend, "validate_production_variants", validate_production_variants)
    patches.set(SageMakerModelBackend, "update_endpoint", update_endpoint)


def _scaled_variants(account: str, region: str, endpoint_name: str) -> list[str]:
    """The variants of an endpoint whose instance count Application Auto Scaling scales."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends  # noqa: PLC0415

    targets = applicationautoscaling_backends[account][region].targets.get(scaling.INSTANCE_COUNT, {})
    prefix = f"endpoint/{endpoint_name}/variant/"
    return [resource_id.removeprefix(prefix) for resource_id in targets if resource_id.startswith(prefix)]


def _endpoint_variant(account: str, region: str, target: scaling.ScalableTarget) -> dict[str, Any] | None:
    """The production variant a SageMaker target names, as its endpoint's current configuration has it, with
    the endpoint's own view of it (``DesiredInstanceCount``…) under ``"endpoint"``."""
    from moto.sagemaker.models import sagemaker_backends  # noqa: PLC0415

    names = target.endpoint_variant
    backend = sagemaker_backends[account][region]
    endpoint = backend.endpoints.get(names[0]) if names else None
    config = backend.endpoint_configs.get(endpoint.endpoint_config_name) if endpoint is not None else None
    if names is None or endpoint is None or config is None:
        return None
    declared = next((v for v in config.production_variants if v.get("VariantName") == names[1]), None)
    live = next((v for v in endpoint.production_variants if v.get("VariantName") == names[1]), None)
    return None if declared is None else {**declared, "endpoint": live}


def _plug_application_autoscaling(patches: _Patches) -> None:
    """RegisterScalableTarget and PutScalingPolicy refuse what AWS refuses (:mod:`sentiment_local.moto.scaling`);
    a policy needs its registered target; registering a SageMaker variant's instance count moves the count
    into the target's range ("it changes the resource's current capacity to a value that is inside of this
    range", API reference, RegisterScalableTarget)."""
    from moto.applicationautoscaling.exceptions import AWSValidationException  # noqa: PLC0415
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend  # noqa: PLC0415
    from moto.core.exceptions import JsonRESTError  # noqa: PLC0415

    register = ApplicationAutoscalingBackend.register_scalable_target
    put_policy = ApplicationAutoscalingBackend.put_scaling_policy
    register_signature = inspect.signature(register)
    policy_signature = inspect.signature(put_policy)

    def register_scalable_target(self: ApplicationAutoscalingBackend, *args: Any, **kwargs: Any) -> Any:
        asked = register_signature.bind(self, *args, **kwargs).arguments
        namespace, resource_id, dimension = asked["namespace"], asked["r_id"], asked["dimension"]
        existing = self.targets.get(dimension, {}).get(resource_id)
        least, most = asked.get("min_capacity"), asked.get("max_capacity")
        target = scaling.ScalableTarget(
            namespace,
            resource_id,
            dimension,
            least if least is not None else getattr(existing, "min_capacity", 0) or 0,
            most if most is not None else getattr(existing, "max_capacity", 0) or 0,
        )
        variant = _endpoint_variant(self.account_id, self.region_name, target) if namespace == "sagemaker" else None
        refusals = scaling.target_refusals(target, variant)
        if refusals:
            raise AWSValidationException(refusals[0].message)
        registered = register(self, *args, **kwargs)
        live = (variant or {}).get("endpoint")
        if dimension == scaling.INSTANCE_COUNT and live and live.get("DesiredInstanceCount") is not None:
            count = min(max(int(live["DesiredInstanceCount"]), target.min_capacity), target.max_capacity)
            live["DesiredInstanceCount"] = live["CurrentInstanceCount"] = count
        return registered

    def put_scaling_policy(self: ApplicationAutoscalingBackend, *args: Any, **kwargs: Any) -> Any:
        asked = policy_signature.bind(self, *args, **kwargs).arguments
        namespace, resource_id, dimension = (
            asked["service_namespace"],
            asked["resource_id"],
            asked["scalable_dimension"],
        )
        if not self._scalable_target_exists(resource_id, dimension):
            raise JsonRESTError(
                "ObjectNotFoundException",
                f"No scalable target registered for service namespace: {namespace}, resource ID: {resource_id}, "
                f"scalable dimension: {dimension}",
            )
        refusals = scaling.policy_refusals(dimension, str(asked["policy_type"]), asked["policy_body"])
        if refusals:
            raise AWSValidationException(refusals[0].message)
        return put_policy(self, *args, **kwargs)

    patches.set(ApplicationAutoscalingBackend, "register_scalable_target", register_scalable_target)
    patches.set(ApplicationAutoscalingBackend, "put_scaling_policy", put_scaling_policy)


DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")
ORDER_ATTRIBUTE = "_local_stack_order"  # a table's TableOrder, kept on moto's table itself
DYNAMODB_STATEMENTS = ("execute_statement", "execute_transaction", "batch_execute_statement")


class ChangeSink(Protocol):
    """Told of every change moto makes to the data the local stack keeps
    (:mod:`sentiment_local.persistence.journal`)."""

    def items_changed(self, table: str, changes: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> None:
        """Items after a write, as ``(key, item or None)`` in DynamoDB JSON; a transaction's items come
        in one call. Called while the write still holds its turn, so calls come in the writes' order."""

    def table_changed(self, table: str) -> None:
        """Any item of the table may have changed (a PartiQL statement)."""

    def object_changed(self, bucket: str, key: str) -> None:
        """An object was written or deleted; it is read once the request has finished with it."""

    def queue_changed(self, queue: str) -> None:
        """Messages were sent to, deleted from or moved out of a queue."""


class _KeepTables:
    """``copy`` as moto's DynamoDB backend sees it: a table is not deep-copied. moto copies each table a
    transaction touches, to put the whole table back if the transaction fails; the gap below puts back
    the items the transaction touched instead."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table  # noqa: PLC0415

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


class _Window:
    """A moto table as one request sees it: only the items the request may read (moto sorts them)."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table = table
        self._items = items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list[Any]:
        return list(self._items)

    def has_idx_items(self, index_name: str) -> list[Any]:
        del index_name
        return list(self._items)


def _written_key(table: Any, attributes: Any) -> tuple[Any, Any] | None:
    """The primary key a write names (an item's or a key's attributes), as moto's key values."""
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    if not isinstance(attributes, dict) or table.hash_key_attr not in attributes:
        return None
    if table.range_key_attr is None:
        return DynamoType(attributes[table.hash_key_attr]), None
    if table.range_key_attr not in attributes:
        return None
    return DynamoType(attributes[table.hash_key_attr]), DynamoType(attributes[table.range_key_attr])


class _DynamoDBGaps:
    """Three gaps of moto's DynamoDB, and its change feed.

    - Isolation: DynamoDB's transactions are isolated from other writes (DynamoDB developer guide,
      "Isolation levels for DynamoDB transactions"). moto's rollback is not, so writes take turns, and
      reads take turns with them (moto iterates a table's dicts while another request may change them).
    - A failed transaction puts back the items it touched, not a deep copy of every table it touched:
      its cost is that of its own items, not of the tables.
    - ``Query`` and paged ``Scan`` read only the page they return (:mod:`sentiment_local.moto.dynamodb_order`).
    """

    def __init__(self, changes: ChangeSink | None) -> None:
        from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
        from moto.dynamodb.models.table import Table  # noqa: PLC0415

        self.changes = changes
        self.turn = threading.RLock()
        self.transaction = threading.local()  # its items are reported together, once it succeeded or was undone
        self._transact = DynamoDBBackend.transact_write_items
        self._query = Table.query
        self._scan = Table.scan
        self._query_signature = inspect.signature(Table.query)
        self._scan_signature = inspect.signature(Table.scan)

    @staticmethod
    def order_of(table: Any) -> TableOrder:
        order: TableOrder | None = vars(table).get(ORDER_ATTRIBUTE)
        if order is None:
            order = TableOrder(table)
            setattr(table, ORDER_ATTRIBUTE, order)
        return order

    def report(self, table: Any, keys: list[tuple[Any, Any]]) -> None:
        order = self.order_of(table)
        found = []
        for hash_key, range_key in keys:
            item = order.refresh(hash_key, range_key)
            key = {table.hash_key_attr: hash_key.to_json()}
            if range_key is not None:
                key[table.range_key_attr] = range_key.to_json()
            found.append((key, None if item is None else item.to_json()["Attributes"]))
        if self.changes is not None and found:
            self.changes.items_changed(table.name, found)

    def report_whole(self, table: Any) -> None:
        """Any item may have changed: order the table again on first use, and say so."""
        vars(table).pop(ORDER_ATTRIBUTE, None)
        if self.changes is not None:
            self.changes.table_changed(table.name)

    @staticmethod
    def table_of(backend: Any, name: Any) -> Any:
        try:
            return backend.get_table(str(name))
        except Exception:  # moto answers the request with its own error
            return None

    def single_write(self, write: Callable[..., Any], attributes_name: str) -> Callable[..., Any]:
        """``put_item``, ``update_item`` or ``delete_item``: ``(table_name, attributes or key, ...)``."""

        def written(backend: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
            with self.turn:
                table = self.table_of(backend, table_name)
                attributes = args[0] if args else kwargs.get(attributes_name)
                key = None if table is None else _written_key(table, attributes)
                try:
                    return write(backend, table_name, *args, **kwargs)
                finally:
                    if getattr(self.transaction, "open", False):
                        pass
                    elif key is not None:
                        self.report(table, [key])
                    elif table is not None:  # a key moto reads its own way
                        self.report_whole(table)

        return written

    def transact_write_items(self, backend: Any, transact_items: list[dict[str, Any]]) -> None:
        with self.turn:
            touched: dict[str, tuple[Any, list[tuple[Any, Any]]]] = {}
            before: list[tuple[Any, Any, Any, Any]] = []
            for entry in transact_items:
                for operation, request in entry.items():
                    table = self.table_of(backend, request.get("TableName"))
                    named = request.get("Item" if operation == "Put" else "Key")
                    key = None if table is None else _written_key(table, named)
                    if key is None:
                        continue
                    touched.setdefault(table.name, (table, []))[1].append(key)
                    before.append((table, *key, copy.deepcopy(table.get_item(*key))))
            self.transaction.open = True
            try:
                self._transact(backend, transact_items)
            except BaseException:
                for table, hash_key, range_key, item in reversed(before):
                    _put_back(table, hash_key, range_key, item)
                raise
            finally:
                self.transaction.open = False
                for table, keys in touched.values():
                    self.report(table, keys)

    def statement(self, run: Callable[..., Any]) -> Callable[..., Any]:
        """A PartiQL call, which names its tables in its own text: every table may have changed."""

        def ran(backend: Any, *args: Any, **kwargs: Any) -> Any:
            with self.turn:
                try:
                    return run(backend, *args, **kwargs)
                finally:
                    for table in list(backend.tables.values()):
                        self.report_whole(table)

        return ran

    def query(self, table: Any, *args: Any, **kwargs: Any) -> Any:
        """moto's ``Table.query`` on the query's window when the table's order can give it."""
        asked = self._query_signature.bind(table, *args, **kwargs)
        asked.apply_defaults()
        given = asked.arguments
        hash_conditions = given["hash_key_conditions"] or []
        range_conditions = given["range_key_conditions"] or []
        if given["exclusive_start_key"]:
            _check_start_key(table, given["index_name"], given["exclusive_start_key"], hash_conditions)
        with self.turn:
            window = None
            if len(hash_conditions) == 1 and not given["filter_kwargs"] and len(range_conditions) <= 1:
                window = self.order_of(table).query_window(
                    given["index_name"],
                    hash_name=hash_conditions[0][0],
                    hash_key=hash_conditions[0][1],
                    condition=range_conditions[0] if range_conditions and given["range_comparison"] else None,
                    start_key=given["exclusive_start_key"],
                    forward=given["scan_index_forward"] is not False,
                    limit=given["limit"],
                )
            return self._query(table if window is None else _Window(table, window), *args, **kwargs)  # type: ignore[arg-type]

    def scan(self, table: Any, *args: Any, **kwargs: Any) -> Any:
        """moto's ``Table.scan`` on the page's window when the table's order can give it."""
        asked = self._scan_signature.bind(table, *args, **kwargs)
        asked.apply_defaults()
        given = asked.arguments
        with self.turn:
            window = None
            if not given["filters"] and tuple(given["segments"]) == (None, None):
                window = self.order_of(table).scan_window(
                    given["index_name"], start_key=given["exclusive_start_key"], limit=given["limit"]
                )
            return self._scan(table if window is None else _Window(table, window), *args, **kwargs)  # type: ignore[arg-type]


# What DynamoDB answers a Query whose ExclusiveStartKey is not a key of the table or index queried, or lies
# in another partition than the key condition's (moto 5.2.5 ignores both and starts from the first item).
# The Query API reference, ExclusiveStartKey: "The primary key of the first item that this operation will
# evaluate. Use the value that was returned for LastEvaluatedKey in the previous operation."
# (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html); the messages are DynamoDB's.
START_KEY_INVALID = "The provided starting key is invalid"
START_KEY_OUTSIDE = "The provided starting key is outside query boundaries based on provided conditions"


def _check_start_key(
    table: Any, index_name: str | None, start_key: dict[str, Any], hash_conditions: list[tuple[str, Any]]
) -> None:
    """Refuse, as DynamoDB does, a start key that names other attributes than the table's key and the
    index's, or whose partition key is not the one the key condition asks for."""
    from moto.dynamodb.exceptions import MockValidationException  # noqa: PLC0415
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    expected = set(table.table_key_attrs)
    if index_name:
        expected |= set(table.get_index(index_name).schema_key_attrs)
    if set(start_key) != expected:
        raise MockValidationException(START_KEY_INVALID)
    for name, value in hash_conditions:
        if DynamoType(start_key[name]) != value:
            raise MockValidationException(START_KEY_OUTSIDE)


def _plug_dynamodb(patches: _Patches, changes: ChangeSink | None) -> None:
    from moto.dynamodb import models as dynamodb_models  # noqa: PLC0415
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    gaps = _DynamoDBGaps(changes)
    # Functions, not the bound methods: set on a class, a function binds to the backend or the table.
    patches.set(dynamodb_models, "copy", _KeepTables())
    for name, attributes in (("put_item", "item_attrs"), ("update_item", "key"), ("delete_item", "key")):
        patches.set(DynamoDBBackend, name, gaps.single_write(getattr(DynamoDBBackend, name), attributes))
    transact = gaps.transact_write_items
    patches.set(DynamoDBBackend, "transact_write_items", lambda backend, items: transact(backend, items))  # noqa: PLW0108
    for name in DYNAMODB_STATEMENTS:
        patches.set(DynamoDBBackend, name, gaps.statement(getattr(DynamoDBBackend, name)))
    patches.set(Table, "query", lambda table, *args, **kwargs: gaps.query(table, *args, **kwargs))  # noqa: PLW0108
    patches.set(Table, "scan", lambda table, *args, **kwargs: gaps.scan(table, *args, **kwargs))  # noqa: PLW0108


def _put_back(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    """One item as it was before a failed transaction (None: it did not exist)."""
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items[hash_key].pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


class _Untracked(list[Any]):
    """moto's record of every instance of a model class, which keeps each one alive until moto is reset."""

    def append(self, instance: Any) -> None:
        del instance


UNTRACKED_MODELS = (
    ("moto.dynamodb.models.dynamo_type", "Item"),  # every write, and the copy each read answers with
    ("moto.s3.models", "FakeKey"),  # every object written, bytes and all
    ("moto.sqs.models", "Message"),  # every message sent
)


def _plug_instance_tracking(patches: _Patches) -> None:
    """moto appends each model instance it makes to a class-wide list (for its dashboard and its reset),
    so memory grows with every request, not with the data: an item read is an item kept. The models
    made on every request are not tracked here; the data itself is held by the backends as before."""
    import importlib  # noqa: PLC0415

    for module, name in UNTRACKED_MODELS:
        patches.set(getattr(importlib.import_module(module), name), "instances_tracked", _Untracked())


def _plug_change_feed(patches: _Patches, changes: ChangeSink) -> None:
    """S3 and SQS tell ``changes`` which object or queue a call changed (DynamoDB does in
    :func:`_plug_dynamodb`)."""
    from moto.s3.models import S3Backend  # noqa: PLC0415
    from moto.sqs.models import SQSBackend  # noqa: PLC0415

    def after(method: Callable[..., Any], report: Callable[..., None]) -> Callable[..., Any]:
        def reporting(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            finally:
                report(self, *args, **kwargs)

        return reporting

    def object_changed(self: S3Backend, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> None:
        changes.object_changed(bucket_name, key_name)

    def queue_changed(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> None:
        changes.queue_changed(queue_name)
        queue = self.queues.get(queue_name)
        if queue is not None and queue.dead_letter_queue is not None:  # a receive may move messages there
            changes.queue_changed(queue.dead_letter_queue.name)

    for name in ("put_object", "delete_object"):
        patches.set(S3Backend, name, after(getattr(S3Backend, name), object_changed))
    for name in ("send_message", "send_message_batch", "delete_message", "delete_message_batch", "receive_message",
                 "purge_queue"):  # fmt: skip
        patches.set(SQSBackend, name, after(getattr(SQSBackend, name), queue_changed))


def queue_messages(queue_name: str) -> list[tuple[str, str]]:
    """``(message id, body)`` of each message a queue holds, in flight or not, oldest first; none when
    the queue does not exist."""
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    queue = sqs_backends[ACCOUNT][REGION].queues.get(queue_name)
    return [] if queue is None else [(str(message.id), str(message.body)) for message in list(queue._messages)]


def stored_object(bucket: str, key: str) -> tuple[bytes, dict[str, str]] | None:
    """An object's bytes and its headers (``Content-Type`` and ``x-amz-meta-*`` among them); None when
    there is none (or its latest version is a delete marker)."""
    from moto.s3.models import FakeKey, s3_backends  # noqa: PLC0415

    found = s3_backends[ACCOUNT]["aws"].buckets.get(bucket)
    current = None if found is None else found.keys.get(key)
    if not isinstance(current, FakeKey):
        return None
    return bytes(current.value), {str(name): str(value) for name, value in current.metadata.items()}


class NoSuchTable(KeyError):
    """The table is not there (the stack's deletion removed it)."""


def table_items(table_name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every item of a table as ``(key, item)`` in DynamoDB JSON. Read while writes go on: each item is
    read whole or read again (a write changing it meanwhile is journaled after it anyway)."""
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    table: Any = dynamodb_backends[ACCOUNT][REGION].tables.get(table_name)
    if table is None:
        raise NoSuchTable(table_name)
    keys = [name for name in (table.hash_key_attr, table.range_key_attr) if name]
    stored = list(table.items.values())  # one C-level copy: no write can interleave
    items = [item for group in stored for item in list(group.values())] if table.range_key_attr else stored
    found = []
    for item in items:
        while True:
            try:
                attributes = item.to_json()["Attributes"]
                break
            except RuntimeError:  # changed while read: "dictionary changed size during iteration"
                continue
        found.append(({name: attributes[name] for name in keys}, attributes))
    return found


def load_items(table_name: str, items: list[dict[str, Any]]) -> None:
    """Saved items (DynamoDB JSON) straight into a table. They were checked when first written, so the
    per-attribute size sums moto makes for every new item (quadratic in its attributes) are skipped."""
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict  # noqa: PLC0415

    table: Any = dynamodb_backends[ACCOUNT][REGION].get_table(table_name)
    for attributes in items:
        item: Any = Item.__new__(Item)
        item.hash_key = DynamoType(attributes[table.hash_key_attr])
        item.range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
        item.attrs = LimitedSizeDict()
        dict.update(item.attrs, {name: DynamoType(value) for name, value in attributes.items()})
        if item.range_key is None:
            table.items[item.hash_key] = item
        else:
            table.items[item.hash_key][item.range_key] = item
    vars(table).pop(ORDER_ATTRIBUTE, None)  # ordered again on first use


def load_object(bucket: str, key: str, data: bytes, headers: dict[str, str]) -> None:
    """A saved object straight into its bucket, with its headers, notifying nothing."""
    from moto.s3.models import s3_backends  # noqa: PLC0415

    stored = s3_backends[ACCOUNT]["aws"].put_object(bucket, key, data, disable_notification=True)
    stored.set_metadata(dict(headers), replace=True)


def load_messages(queue_name: str, bodies: list[str]) -> list[str]:
    """Saved messages sent again, oldest first and at once (their delay was served before); returns their
    new ids."""
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    backend = sqs_backends[ACCOUNT][REGION]
    return [str(backend.send_message(queue_name, body, delay_seconds=0).id) for body in bodies]


def secret_arn(secret_id: str) -> str:
    """A secret's ARN, which IAM checks, from the name or ARN a request gives (moto makes up its suffix,
    as Secrets Manager does)."""
    from moto.secretsmanager.models import secretsmanager_backends  # noqa: PLC0415

    secret = secretsmanager_backends[ACCOUNT][REGION].secrets.get(secret_id)
    if secret is not None:
        return str(secret.arn)
    return (
        secret_id if secret_id.startswith("arn:") else f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret_id}"
    )


def resource_tags(arn: str) -> dict[str, str]:
    """The tags of the resource ``arn`` names, where a policy's ``aws:ResourceTag`` condition reads them:
    a CloudFront distribution (the page's, tagged with its stack's name as CloudFormation tags it)."""
    if not arn.startswith("arn:aws:cloudfront::"):
        return {}
    from moto.cloudfront.models import cloudfront_backends  # noqa: PLC0415

    backend = cloudfront_backends[ACCOUNT]["global"]
    distribution = backend.distributions.get(arn.rsplit("/", 1)[-1])
    if distribution is None:
        return {}
    listed = backend.list_tags_for_resource(distribution.arn)
    return {str(tag["Key"]): str(tag["Value"]) for tag in listed.get("Tags", [])}
