"""SageMaker's API where moto 5.2.5 answers otherwise:

- ``InvokeEndpoint`` reaches the local model server, as SageMaker reaches the container, after a serverless
  endpoint's cold start when the stack plays one, and within SageMaker's 60 s (SageMaker API reference,
  InvokeEndpoint, https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html);
- ``CreateTrainingJob`` can be throttled, is refused beyond the account's training-instance quota
  (:class:`~sentiment_local.sagemaker.training_jobs.TrainingLimits`) and for a channel whose S3 prefix the
  job's role finds empty, and the job really trains (:mod:`sentiment_local.sagemaker.training_jobs`) instead
  of completing at once (CreateTrainingJob,
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html);
- ``UpdateEndpoint`` exists: the endpoint is ``Updating`` while the stack swaps the model served, then
  ``InService``; a failed swap leaves the previous configuration and a ``FailureReason``; it keeps the
  variants' instance counts and weights when asked to (``RetainAllVariantProperties``) (UpdateEndpoint,
  https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateEndpoint.html);
- the documented rules for endpoint configurations and updates that this project could break: a serverless
  variant's limits (:mod:`sentiment_local.moto.scaling`), no update from instances to serverless
  (developer guide, "Deploy models with Amazon SageMaker Serverless Inference", feature exclusions,
  https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html), no change of instance type on
  a variant Application Auto Scaling scales; and ``CreateModel`` keeps ``EnableNetworkIsolation``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from sentiment_local.moto import scaling
from sentiment_local.moto.application_autoscaling import scaled_variants
from sentiment_local.moto.patching import Patches
from sentiment_local.sagemaker.training_jobs import TrainingJobs, instances_in_use
from sentiment_template.reader import ACCOUNT

log = logging.getLogger(__name__)


# "A customer's model containers must respond to requests within 60 seconds" (SageMaker API reference,
# InvokeEndpoint); SageMaker then answers ModelError.
INVOCATION_LIMIT_S = 60.0


EndpointUpdate = Callable[[str, str, dict[str, str]], None]
"""``(endpoint name, model data URL, the container's environment)``: serve that model behind that endpoint,
its container started with that environment; raise if it cannot be."""


InstanceWait = Callable[[str], float]
"""``(endpoint name)``: seconds an invocation waits before the container sees it (a cold start)."""


# SageMaker's answer when the container has not answered within INVOCATION_LIMIT_S.
TIMED_OUT = {
    "__type": "ModelError",
    "message": 'Received server error (0) from primary with message "Your invocation timed out while waiting for a '
    'response from container primary."',
    "OriginalStatusCode": 0,
}


def plug_invoke_endpoint(patches: Patches, model_url: Callable[[], str], instance_wait: InstanceWait | None) -> None:
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


def plug_training_jobs(patches: Patches, training: TrainingJobs) -> None:
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


def plug_update_endpoint(patches: Patches, on_endpoint_update: EndpointUpdate) -> None:
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


def plug_sagemaker_rules(patches: Patches) -> None:
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
                scaled_variants(self.account_id, self.region_name, endpoint_name),
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
