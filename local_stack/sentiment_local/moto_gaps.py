"""The few things moto 5.2.5 does not do without Docker, plugged in one place.

- A Lambda invocation (the Lambda API, a Step Functions task) runs the real handler through the
  local :class:`~sentiment_local.functions.Runner` instead of a container.
- An S3 notification to a function is delivered asynchronously, as S3 does, instead of inside the
  ``PutObject`` call.
- ``InvokeEndpoint`` is forwarded to the local model server instead of returning canned bodies.
- Step Functions runs ``sagemaker:createTrainingJob`` and ``.sync`` waits for the job
  (:mod:`sentiment_local.sagemaker_task`).
- A training job really trains (:mod:`sentiment_local.training_jobs`) instead of completing at once.
- ``StartExecution`` without a name names the execution, as Step Functions does.
- ``UpdateEndpoint`` exists: the endpoint is ``Updating`` while the stack swaps the model served,
  then ``InService``; a failed swap leaves the previous configuration and a ``FailureReason``.
- Step Functions calls services with the state machine's role (moto's interpreter signs with a fixed
  key), so the local IAM check sees the role's calls as the role's.
- SageMaker's documented rules for endpoint configurations and updates that this project could break
  are enforced (:func:`_plug_sagemaker_rules`); moto accepts any.
- DynamoDB writes are isolated from each other: moto undoes a failed transaction by putting back a
  copy of each table it touched, which would also undo any write another request made meanwhile
  (a concurrent ``PutItem``, or half of another transaction), so writes and transactions take turns.
- Pending SQS messages can be read without receiving them, to keep them across restarts.

These touch moto's internals, so they refuse any other moto version.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from sentiment_local.functions import Runner
from sentiment_local.template import ACCOUNT, REGION
from sentiment_local.training_jobs import TrainingJobs

log = logging.getLogger(__name__)

MOTO_VERSION = "5.2.5"
MODEL_TIMEOUT_S = 10

EndpointUpdate = Callable[[str, str], None]
"""``(endpoint name, model data URL)``: serve that model behind that endpoint; raise if it cannot be."""

_MISSING = object()


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
) -> Callable[[], None]:
    """Patch moto; returns the function that undoes it. Without ``training``, training jobs complete at
    once as moto has them; without ``on_endpoint_update``, an endpoint update swaps nothing."""
    check_version()
    from moto.awslambda.models import LambdaFunction  # noqa: PLC0415 - patched only when a stack runs
    from moto.s3 import notifications  # noqa: PLC0415
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse  # noqa: PLC0415

    patches = _Patches()

    def invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        # moto hands over the parsed payload, or the text "{}" when there was none: Lambda's event is {}.
        outcome = runner.invoke(self.function_name, {} if event is None or event == "{}" else event)
        body = outcome.payload if outcome.payload is not None else json.dumps(outcome.error)
        return body, outcome.failed, "\n".join(outcome.logs)

    def invoke_from_s3(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        del account_id, region_name
        runner.invoke_async(fn_arn.rsplit(":", 1)[-1], event_body)

    def invoke_endpoint(self: Any) -> tuple[int, dict[str, str], str | bytes]:
        from moto.sagemaker.models import sagemaker_backends  # noqa: PLC0415

        def answer_with(status: int, content_type: str, body: str | bytes) -> tuple[int, dict[str, str], str | bytes]:
            # moto takes a response's status from its "status" header, not from the tuple.
            return status, {"Content-Type": content_type, "status": str(status)}, body

        name = self._get_param("EndpointName") or self.path.split("/")[2]
        if name not in sagemaker_backends[self.current_account][self.region].endpoints:
            error = {"__type": "ValidationError", "message": f"Endpoint {name} of account {ACCOUNT} not found."}
            return answer_with(400, "application/json", json.dumps(error))
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
            with urllib.request.urlopen(request, timeout=MODEL_TIMEOUT_S) as answer:  # noqa: S310
                return answer_with(200, answer.headers.get("Content-Type", "application/json"), answer.read())
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

    patches.set(LambdaFunction, "_invoke_lambda", invoke_lambda)
    patches.set(notifications, "_invoke_awslambda", invoke_from_s3)
    patches.set(SageMakerRuntimeResponse, "invoke_endpoint", invoke_endpoint)
    _plug_step_functions_sagemaker(patches)
    _plug_state_machine_credentials(patches)
    _plug_execution_names(patches)
    if training is not None:
        _plug_training_jobs(patches, training)
    _plug_update_endpoint(patches, on_endpoint_update or (lambda name, url: None))
    _plug_sagemaker_rules(patches)
    _plug_dynamodb_isolation(patches)
    return patches.undo


def _plug_step_functions_sagemaker(patches: _Patches) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (  # noqa: PLC0415
        state_task_factory,
    )

    from sentiment_local.sagemaker_task import StateTaskServiceSageMaker  # noqa: PLC0415 - imports moto's parser

    service_for = vars(state_task_factory)["state_task_service_for"]

    def state_task_service_for(service_name: str) -> Any:
        if service_name == "sagemaker":
            return StateTaskServiceSageMaker()
        return service_for(service_name=service_name)

    patches.set(state_task_factory, "state_task_service_for", state_task_service_for)


def _plug_state_machine_credentials(patches: _Patches) -> None:
    """Each service call of an execution signed with its state machine role's key (the role's ARN is in
    the state's credentials: the task's ``Credentials``, else the state machine's role)."""
    import sys  # noqa: PLC0415

    import boto3  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.utils import boto_client  # noqa: PLC0415

    from sentiment_local.iam import credentials_for  # noqa: PLC0415

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
    from moto.sagemaker.exceptions import ResourceInUseException  # noqa: PLC0415
    from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend  # noqa: PLC0415
    from moto.sagemaker.responses import SageMakerResponse  # noqa: PLC0415

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
        name = request["training_job_name"]
        if name in self.training_jobs:
            arn = FakeTrainingJob.arn_formatter(name, self.account_id, self.region_name)
            raise ResourceInUseException(
                f"Training job names must be unique within an AWS account and region, and a training job "
                f"with this name already exists ({arn})"
            )
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

    def update_endpoint(self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str) -> str:
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
        model_data_url = next((str(c["ModelDataUrl"]) for c in containers if c and c.get("ModelDataUrl")), "")
        endpoint.endpoint_config_name = endpoint_config_name
        endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
        endpoint.endpoint_status = "Updating"
        endpoint.failure_reason = None
        endpoint.last_modified_time = utcnow()

        def swap() -> None:
            try:
                on_endpoint_update(endpoint_name, model_data_url)
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
        )
        return ActionResult({"EndpointArn": arn})

    patches.set(SageMakerModelBackend, "update_endpoint", update_endpoint)
    patches.set(SageMakerResponse, "update_endpoint", update_endpoint_action)


SERVERLESS_MEMORY_MB = frozenset({1024, 2048, 3072, 4096, 5120, 6144})
SERVERLESS_MAX_CONCURRENCY = 200


def serverless_variant_problems(variant: dict[str, Any], isolated_model: bool) -> list[str]:
    """What SageMaker refuses in a serverless production variant: the memory sizes and concurrency of
    ``ProductionVariantServerlessConfig`` (SageMaker API reference), instance settings beside it, and
    network isolation, which serverless endpoints do not support (SageMaker developer guide, "Deploy
    models with Amazon SageMaker Serverless Inference", feature exclusions)."""
    config = variant.get("ServerlessConfig")
    if not config:
        return []
    problems = []
    if int(config.get("MemorySizeInMB", 0)) not in SERVERLESS_MEMORY_MB:
        problems.append(f"ServerlessConfig.MemorySizeInMB must be one of {sorted(SERVERLESS_MEMORY_MB)}")
    if not 1 <= int(config.get("MaxConcurrency", 0)) <= SERVERLESS_MAX_CONCURRENCY:
        problems.append(f"ServerlessConfig.MaxConcurrency must be from 1 to {SERVERLESS_MAX_CONCURRENCY}")
    if "ProvisionedConcurrency" in config and int(config["ProvisionedConcurrency"]) > int(config["MaxConcurrency"]):
        problems.append("ServerlessConfig.ProvisionedConcurrency must not exceed MaxConcurrency")
    instance_settings = sorted({"InstanceType", "InitialInstanceCount"} & set(variant))
    if instance_settings:
        problems.append(f"a serverless variant takes no {' or '.join(instance_settings)}")
    if isolated_model:
        problems.append(
            f"model {variant.get('ModelName')} has EnableNetworkIsolation, which serverless endpoints do not support"
        )
    return problems


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
            problems = serverless_variant_problems(variant, bool(model and model.enable_network_isolation))
            if problems:
                raise ValidationError(message=f"Variant {variant.get('VariantName')}: {'; '.join(problems)}.")

    def update_endpoint(self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str) -> str:
        # "You can't convert an instance-based, real-time endpoint to a serverless endpoint" (SageMaker
        # developer guide, serverless endpoints, feature exclusions).
        endpoint = self.endpoints.get(endpoint_name)
        config = self.endpoint_configs.get(endpoint_config_name)
        current = self.endpoint_configs.get(endpoint.endpoint_config_name) if endpoint is not None else None
        if current is not None and config is not None:
            was_serverless = all("ServerlessConfig" in variant for variant in current.production_variants)
            goes_serverless = any("ServerlessConfig" in variant for variant in config.production_variants)
            if goes_serverless and not was_serverless:
                raise ValidationError(
                    message=f"Endpoint {endpoint_name} is instance-based and cannot be updated to a serverless "
                    f"configuration ({endpoint_config_name})."
                )
        result: str = update(self, endpoint_name, endpoint_config_name)
        return result

    patches.set(SageMakerResponse, "create_model", create_model_action)
    patches.set(SageMakerModelBackend, "validate_production_variants", validate_production_variants)
    patches.set(SageMakerModelBackend, "update_endpoint", update_endpoint)


DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")


def _plug_dynamodb_isolation(patches: _Patches) -> None:
    """DynamoDB's transactions are isolated from other writes (DynamoDB developer guide, "Isolation
    levels for DynamoDB transactions"); moto's rollback is not, so its writes take turns here."""
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415

    turn = threading.RLock()

    def taking_turns(write: Callable[..., Any]) -> Callable[..., Any]:
        def locked(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
            with turn:
                return write(self, *args, **kwargs)

        return locked

    for name in DYNAMODB_WRITES:
        patches.set(DynamoDBBackend, name, taking_turns(getattr(DynamoDBBackend, name)))


def queued_messages(queue_name: str) -> list[str]:
    """The bodies of the messages a queue holds, in flight or not, without receiving them (a receive
    would count towards the redrive limit)."""
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    queue = sqs_backends[ACCOUNT][REGION].queues[queue_name]
    return [str(message.body) for message in list(queue._messages)]


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
