"""What Application Auto Scaling refuses of the scalable targets and target-tracking policies this project
declares, and what SageMaker refuses of a serverless variant's concurrency: one set of rules, applied to
moto's API (:mod:`sentiment_local.moto.application_autoscaling` and :mod:`sentiment_local.moto.sagemaker`;
moto 5.2.5 accepts any target and any policy) and to the template before ``make up`` creates anything
(:func:`sentiment_local.resources.check_scaling`).

Each refusal is AWS's ``ValidationException``. Where AWS's own message is known it is used word for word
(the capacities, and a policy whose metric does not fit its dimension); the others say the rule in AWS's
manner and name the page that documents it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

VALIDATION = "ValidationException"

REGISTER_SCALABLE_TARGET = (
    "https://docs.aws.amazon.com/autoscaling/application/APIReference/API_RegisterScalableTarget.html"
)
TARGET_TRACKING_CONFIGURATION = (
    "https://docs.aws.amazon.com/autoscaling/application/APIReference/API_TargetTrackingScalingPolicyConfiguration.html"
)
PREDEFINED_METRICS = (
    "https://docs.aws.amazon.com/autoscaling/application/APIReference/API_PredefinedMetricSpecification.html"
)
SAGEMAKER_TARGETS = (
    "https://docs.aws.amazon.com/autoscaling/application/userguide/services-that-can-integrate-sagemaker.html"
)
SERVERLESS_AUTOSCALING = "https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-autoscale.html"
SERVERLESS_CONFIG = (
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html"
)
SERVERLESS_EXCLUSIONS = "https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html"
UPDATE_SCALED_ENDPOINT = "https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html"

INSTANCE_COUNT = "sagemaker:variant:DesiredInstanceCount"
PROVISIONED_CONCURRENCY = "sagemaker:variant:DesiredProvisionedConcurrency"
TASK_COUNT = "ecs:service:DesiredCount"

# The predefined metrics each scalable dimension accepts (PredefinedMetricSpecification).
METRICS = {
    INSTANCE_COUNT: (
        "SageMakerVariantInvocationsPerInstance",
        "SageMakerVariantConcurrentRequestsPerModelHighResolution",
    ),
    PROVISIONED_CONCURRENCY: ("SageMakerVariantProvisionedConcurrencyUtilization",),
    TASK_COUNT: (
        "ECSServiceAverageCPUUtilization",
        "ECSServiceAverageMemoryUtilization",
        "ECSServiceAverageCPUUtilizationHighResolution",
        "ECSServiceAverageMemoryUtilizationHighResolution",
        "ALBRequestCountPerTarget",
    ),
}
# "If the metric is CPU utilization, then the target value is a percent value"
# (TargetTrackingScalingPolicyConfiguration).
PERCENT_METRICS = frozenset(
    {
        "ECSServiceAverageCPUUtilization",
        "ECSServiceAverageMemoryUtilization",
        "ECSServiceAverageCPUUtilizationHighResolution",
        "ECSServiceAverageMemoryUtilizationHighResolution",
    }
)
# "Values must be in the range of 8.515920e-109 to 1.174271e+108 (Base 10) or 2e-360 to 2e360 (Base 2)."
TARGET_VALUE_RANGE = (8.515920e-109, 1.174271e108)

SERVERLESS_MEMORY_MB = frozenset({1024, 2048, 3072, 4096, 5120, 6144})
SERVERLESS_MAX_CONCURRENCY = 200


@dataclass(frozen=True)
class Refusal:
    """One request AWS refuses: its error code, AWS's message (or the rule in AWS's manner), and the page."""

    message: str
    page: str
    code: str = VALIDATION

    def __str__(self) -> str:
        return f"{self.code}: {self.message} ({self.page})"


@dataclass(frozen=True)
class ScalableTarget:
    namespace: str
    resource_id: str
    dimension: str
    min_capacity: int
    max_capacity: int

    @property
    def endpoint_variant(self) -> tuple[str, str] | None:
        """``(endpoint, variant)`` of a SageMaker ``endpoint/<endpoint>/variant/<variant>`` resource."""
        parts = self.resource_id.split("/")
        if self.namespace == "sagemaker" and len(parts) == 4 and parts[0] == "endpoint" and parts[2] == "variant":
            return parts[1], parts[3]
        return None


def target_refusals(target: ScalableTarget, variant: Mapping[str, Any] | None = None) -> list[Refusal]:
    """What RegisterScalableTarget refuses. ``variant`` is the SageMaker production variant the target names,
    as its endpoint's configuration declares it (None: there is none)."""
    refusals = []
    if target.min_capacity < 0:
        refusals.append(Refusal("Minimum capacity cannot be less than 0", REGISTER_SCALABLE_TARGET))
    if target.max_capacity < target.min_capacity:
        refusals.append(Refusal("Maximum capacity cannot be less than minimum capacity", REGISTER_SCALABLE_TARGET))
    if target.namespace == "sagemaker":
        refusals.extend(_variant_refusals(target, variant))
    return refusals


def _variant_refusals(target: ScalableTarget, variant: Mapping[str, Any] | None) -> list[Refusal]:
    names = target.endpoint_variant
    if names is None or variant is None:
        return [Refusal(f"No SageMaker endpoint variant found for resource ID {target.resource_id}", SAGEMAKER_TARGETS)]
    endpoint, name = names
    serverless = variant.get("ServerlessConfig")
    if target.dimension == INSTANCE_COUNT and serverless:
        return [
            Refusal(
                f"Variant {name} of endpoint {endpoint} is serverless and has no instance count to scale: "
                f"a serverless variant scales its provisioned concurrency ({PROVISIONED_CONCURRENCY})",
                SAGEMAKER_TARGETS,
            )
        ]
    if target.dimension == PROVISIONED_CONCURRENCY:
        if not serverless or not serverless.get("ProvisionedConcurrency"):
            return [
                Refusal(
                    f"Variant {name} of endpoint {endpoint} has no provisioned concurrency to scale: only a serverless "
                    "variant deployed with ProvisionedConcurrency has",
                    SERVERLESS_AUTOSCALING,
                )
            ]
        if target.max_capacity > int(serverless["MaxConcurrency"]):
            return [
                Refusal(
                    f"Maximum capacity {target.max_capacity} exceeds the MaxConcurrency "
                    f"{serverless['MaxConcurrency']} of variant {name} of endpoint {endpoint}: provisioned concurrency "
                    "must be less than or equal to MaxConcurrency",
                    SERVERLESS_CONFIG,
                )
            ]
    return []


def policy_refusals(dimension: str, policy_type: str, configuration: Mapping[str, Any] | None) -> list[Refusal]:
    """What PutScalingPolicy refuses of a target-tracking policy on a target of ``dimension``."""
    if policy_type != "TargetTrackingScaling" or configuration is None:
        return []
    refusals = []
    metric = configuration.get("PredefinedMetricSpecification", {}).get("PredefinedMetricType")
    accepted = METRICS.get(dimension, ())
    if metric is not None and accepted and metric not in accepted:
        # AWS's own words (reported for sagemaker:variant:DesiredProvisionedConcurrency).
        refusals.append(
            Refusal(
                f"Scalable dimension {dimension} only supports the following predefined metric types: "
                f"{', '.join(accepted)}",
                PREDEFINED_METRICS,
            )
        )
    value = float(configuration.get("TargetValue", 0))
    low, high = TARGET_VALUE_RANGE
    if not low <= value <= high:
        refusals.append(
            Refusal(
                f"The target value {value:g} is out of range: it must be from {low:e} to {high:e}",
                TARGET_TRACKING_CONFIGURATION,
            )
        )
    elif metric in PERCENT_METRICS and value > 100:  # a percent
        refusals.append(
            Refusal(
                f"The target value {value:g} of {metric} is a percent and must not exceed 100",
                TARGET_TRACKING_CONFIGURATION,
            )
        )
    return refusals


def serverless_variant_refusals(variant: Mapping[str, Any], isolated_model: bool) -> list[Refusal]:
    """What SageMaker refuses in a serverless production variant: the memory sizes and concurrency of
    ``ProductionVariantServerlessConfig``, instance settings beside it, and network isolation, which
    serverless endpoints do not support (SageMaker developer guide, "Deploy models with Amazon SageMaker
    Serverless Inference", feature exclusions)."""
    config = variant.get("ServerlessConfig")
    if not config:
        return []
    refusals = []
    if int(config.get("MemorySizeInMB", 0)) not in SERVERLESS_MEMORY_MB:
        refusals.append(
            Refusal(f"ServerlessConfig.MemorySizeInMB must be one of {sorted(SERVERLESS_MEMORY_MB)}", SERVERLESS_CONFIG)
        )
    if not 1 <= int(config.get("MaxConcurrency", 0)) <= SERVERLESS_MAX_CONCURRENCY:
        refusals.append(
            Refusal(
                f"ServerlessConfig.MaxConcurrency must be from 1 to {SERVERLESS_MAX_CONCURRENCY}", SERVERLESS_CONFIG
            )
        )
    if "ProvisionedConcurrency" in config:
        provisioned = int(config["ProvisionedConcurrency"])
        if not 1 <= provisioned <= SERVERLESS_MAX_CONCURRENCY:
            refusals.append(
                Refusal(
                    f"ServerlessConfig.ProvisionedConcurrency must be from 1 to {SERVERLESS_MAX_CONCURRENCY}",
                    SERVERLESS_CONFIG,
                )
            )
        elif provisioned > int(config.get("MaxConcurrency", 0)):
            refusals.append(
                Refusal(
                    f"ServerlessConfig.ProvisionedConcurrency ({provisioned}) must not exceed MaxConcurrency "
                    f"({config.get('MaxConcurrency')})",
                    SERVERLESS_CONFIG,
                )
            )
    instance_settings = sorted({"InstanceType", "InitialInstanceCount"} & set(variant))
    if instance_settings:
        refusals.append(Refusal(f"a serverless variant takes no {' or '.join(instance_settings)}", SERVERLESS_CONFIG))
    if isolated_model:
        refusals.append(
            Refusal(
                f"model {variant.get('ModelName')} has EnableNetworkIsolation, which serverless endpoints do not "
                "support",
                SERVERLESS_EXCLUSIONS,
            )
        )
    return refusals


def update_refusals(
    endpoint: str,
    scaled_variants: Iterable[str],
    current: Iterable[Mapping[str, Any]],
    new: Iterable[Mapping[str, Any]],
) -> list[Refusal]:
    """What UpdateEndpoint refuses while variants of the endpoint are scalable targets: a configuration that
    changes such a variant's instance type, or drops the variant. Changing its model is allowed."""
    before = {str(variant["VariantName"]): variant for variant in current}
    after = {str(variant["VariantName"]): variant for variant in new}
    blocked = sorted(
        name
        for name in scaled_variants
        if name in before and (name not in after or after[name].get("InstanceType") != before[name].get("InstanceType"))
    )
    if not blocked:
        return []
    return [
        Refusal(
            f"The variant(s) {blocked} of endpoint {endpoint} are registered with Application Auto Scaling: an update "
            "may not change their instance type or remove them. Deregister them (DeregisterScalableTarget) first",
            UPDATE_SCALED_ENDPOINT,
        )
    ]
