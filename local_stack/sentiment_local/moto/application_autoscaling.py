"""Application Auto Scaling refuses what AWS refuses of a scalable target or a target-tracking policy
(:mod:`sentiment_local.moto.scaling`; moto 5.2.5 accepts any), a policy needs its registered target, and
registering a SageMaker variant's instance count moves the count into the target's range, as AWS does
(API reference, RegisterScalableTarget,
https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html, and
PutScalingPolicy, https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PutScalingPolicy.html).
"""

from __future__ import annotations

import inspect
from typing import Any

from sentiment_local.moto import scaling
from sentiment_local.moto.patching import Patches


def scaled_variants(account: str, region: str, endpoint_name: str) -> list[str]:
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


def plug_application_autoscaling(patches: Patches) -> None:
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
