"""The model scales with its traffic: a real-time endpoint's instances and the ECS service's tasks follow
target-tracking policies, a serverless endpoint's concurrency is the stack's to set; and ``make up`` refuses,
before it creates anything, what AWS would refuse of them (Application Auto Scaling API reference,
RegisterScalableTarget and TargetTrackingScalingPolicyConfiguration; SageMaker API reference,
ProductionVariantServerlessConfig; Application Auto Scaling user guide, "Amazon SageMaker AI and Application
Auto Scaling")."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from sentiment_local.resources import LimitExceeded, check_scaling
from sentiment_template.reader import Template
from tests.conftest import ROOT

TARGET = "AWS::ApplicationAutoScaling::ScalableTarget"
POLICY = "AWS::ApplicationAutoScaling::ScalingPolicy"


def template(**overrides: str) -> Template:
    return Template.read(ROOT / "template.yaml", overrides={"ModelImageUri": "image:1", **overrides})


def scaling(found: Template) -> dict[str, tuple[str, dict[str, Any]]]:
    """Logical id -> (type, resolved properties) of each scalable target and policy that the settings create."""
    resources = {**found.of_type(TARGET), **found.of_type(POLICY)}
    return {
        logical_id: (
            resource["Type"],
            found.resolve({k: v for k, v in resource["Properties"].items() if k != "PolicyName"}),
        )
        for logical_id, resource in resources.items()
    }


SETTINGS = list(itertools.product(["dev", "prod"], ["sagemaker", "ecs"], ["serverless", "realtime"]))


@pytest.mark.parametrize(("stage", "backend", "endpoint_type"), SETTINGS)
def test_what_scales_exists_under_each_setting_and_only_where_it_applies(
    stage: str, backend: str, endpoint_type: str
) -> None:
    found = scaling(template(Stage=stage, InferenceBackend=backend, SageMakerEndpointType=endpoint_type))
    if backend == "ecs":
        expected = {"ModelServiceScalableTarget", "ModelServiceScalingPolicy"}
    elif endpoint_type == "realtime":
        expected = {"ModelEndpointScalableTarget", "ModelEndpointScalingPolicy"}
    else:  # a serverless endpoint scales by itself, up to its MaxConcurrency
        expected = set()
    assert set(found) == expected
    check_scaling(template(Stage=stage, InferenceBackend=backend, SageMakerEndpointType=endpoint_type))


def test_no_model_image_nothing_scales() -> None:
    bare = Template.read(ROOT / "template.yaml", overrides={"InferenceBackend": "ecs"})
    assert scaling(bare) == {}


@pytest.mark.parametrize(("stage", "least", "most", "serverless"), [("dev", 1, 2, 5), ("prod", 2, 8, 20)])
def test_the_endpoints_instances_follow_its_invocations_per_instance(
    stage: str, least: int, most: int, serverless: int
) -> None:
    realtime = template(Stage=stage, SageMakerEndpointType="realtime")
    found = scaling(realtime)
    _, target = found["ModelEndpointScalableTarget"]
    endpoint = realtime.physical_name("ModelEndpoint")
    assert target == {
        "ServiceNamespace": "sagemaker",
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "ResourceId": f"endpoint/{endpoint}/variant/champion",
        "MinCapacity": least,
        "MaxCapacity": most,
    }
    assert "RoleARN" not in target  # Application Auto Scaling's service-linked role
    _, policy = found["ModelEndpointScalingPolicy"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    # half the 497 requests a second one model server measured (docs/benchmarks.md), per minute
    assert tracking["TargetValue"] == 15000 == round(497 * 0.5 * 60, -3)
    (config,) = realtime.of_type("AWS::SageMaker::EndpointConfig").values()
    (variant,) = realtime.resolve(config["Properties"])["ProductionVariants"]
    assert variant["InitialInstanceCount"] == least
    # a stack update keeps the instances autoscaling set
    (endpoint_resource,) = realtime.of_type("AWS::SageMaker::Endpoint").values()
    assert realtime.resolve(endpoint_resource["Properties"])["RetainAllVariantProperties"] is True
    # and a serverless endpoint of the same stage runs up to its stage's concurrency, none provisioned
    (config,) = template(Stage=stage).of_type("AWS::SageMaker::EndpointConfig").values()
    (variant,) = template(Stage=stage).resolve(config["Properties"])["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": serverless}


@pytest.mark.parametrize(("stage", "least", "most"), [("dev", 1, 2), ("prod", 2, 8)])
def test_the_services_tasks_follow_their_cpu(stage: str, least: int, most: int) -> None:
    ecs = template(Stage=stage, InferenceBackend="ecs")
    found = scaling(ecs)
    _, target = found["ModelServiceScalableTarget"]
    assert target == {
        "ServiceNamespace": "ecs",
        "ScalableDimension": "ecs:service:DesiredCount",
        "ResourceId": f"service/{ecs.physical_name('ModelCluster')}/{ecs.physical_name('ModelService')}",
        "MinCapacity": least,
        "MaxCapacity": most,
    }
    _, policy = found["ModelServiceScalingPolicy"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
    assert tracking["TargetValue"] == 50
    # a stack update does not set the task count back: the service declares none
    (service,) = ecs.of_type("AWS::ECS::Service").values()
    assert "DesiredCount" not in service["Properties"]


def test_the_parameters_set_the_capacity_and_concurrency() -> None:
    found = scaling(
        template(
            SageMakerEndpointType="realtime",
            ModelMinCapacity="3",
            ModelMaxCapacity="6",
            ModelTargetInvocationsPerInstance="9000",
        )
    )
    assert (
        found["ModelEndpointScalableTarget"][1]["MinCapacity"],
        found["ModelEndpointScalableTarget"][1]["MaxCapacity"],
    ) == (
        3,
        6,
    )
    assert found["ModelEndpointScalingPolicy"][1]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 9000
    ecs = scaling(template(InferenceBackend="ecs", ModelTargetCpuUtilization="70"))
    assert ecs["ModelServiceScalingPolicy"][1]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 70
    serverless = template(ServerlessMaxConcurrency="40", ServerlessProvisionedConcurrency="4")
    (config,) = serverless.of_type("AWS::SageMaker::EndpointConfig").values()
    (variant,) = serverless.resolve(config["Properties"])["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 40, "ProvisionedConcurrency": 4}


@pytest.mark.parametrize(
    ("name", "bounds"),
    [
        # AWS's own bounds: ProductionVariantServerlessConfig (1-200), with 0 for "by stage" and "none"
        ("ServerlessMaxConcurrency", {"Type": "Number", "Default": 0, "MinValue": 0, "MaxValue": 200}),
        ("ServerlessProvisionedConcurrency", {"Type": "Number", "Default": 0, "MinValue": 0, "MaxValue": 200}),
        # RegisterScalableTarget: capacities from 0; 0 here picks by stage
        ("ModelMinCapacity", {"Type": "Number", "Default": 0, "MinValue": 0}),
        ("ModelMaxCapacity", {"Type": "Number", "Default": 0, "MinValue": 0}),
        ("ModelTargetInvocationsPerInstance", {"Type": "Number", "Default": 15000, "MinValue": 1}),
        # a percent of the task's CPU
        ("ModelTargetCpuUtilization", {"Type": "Number", "Default": 50, "MinValue": 1, "MaxValue": 100}),
    ],
)
def test_the_scaling_parameters_are_bounded(name: str, bounds: dict[str, Any]) -> None:
    parameter = template().document["Parameters"][name]
    assert {key: parameter.get(key) for key in bounds} == bounds
    assert parameter["Description"]


# ---- what make up refuses, as AWS would ----


@pytest.mark.parametrize(
    ("overrides", "resource", "says"),
    [
        (
            {"SageMakerEndpointType": "realtime", "ModelMinCapacity": "5", "ModelMaxCapacity": "2"},
            "ModelEndpointScalableTarget",
            "ValidationException: Maximum capacity cannot be less than minimum capacity",
        ),
        (  # a minimum above the stage's maximum (dev: 2)
            {"InferenceBackend": "ecs", "ModelMinCapacity": "3"},
            "ModelServiceScalableTarget",
            "ValidationException: Maximum capacity cannot be less than minimum capacity",
        ),
        (  # more provisioned than the stage's maximum concurrency (dev: 5)
            {"ServerlessProvisionedConcurrency": "6"},
            "ModelEndpointConfig",
            "ValidationException: ServerlessConfig.ProvisionedConcurrency (6) must not exceed MaxConcurrency (5)",
        ),
        (
            {"ServerlessMaxConcurrency": "201"},
            "ModelEndpointConfig",
            "ValidationException: ServerlessConfig.MaxConcurrency must be from 1 to 200",
        ),
        (
            {"SageMakerEndpointType": "realtime", "ModelTargetInvocationsPerInstance": "0"},
            "ModelEndpointScalingPolicy",
            "ValidationException: The target value 0 is out of range",
        ),
        (
            {"InferenceBackend": "ecs", "ModelTargetCpuUtilization": "150"},
            "ModelServiceScalingPolicy",
            "ValidationException: The target value 150 of ECSServiceAverageCPUUtilization is a percent",
        ),
    ],
)
def test_make_up_refuses_scaling_aws_would_refuse(overrides: dict[str, str], resource: str, says: str) -> None:
    with pytest.raises(LimitExceeded) as refused:
        check_scaling(template(**overrides))
    assert f"{resource}: {says}" in str(refused.value)
    assert "https://docs.aws.amazon.com/" in str(refused.value)


def test_make_up_refuses_an_instance_count_target_on_a_serverless_variant() -> None:
    # Given the template's serverless endpoint with the real-time endpoint's scalable target attached to it
    serverless = template()
    serverless.resources["ModelEndpointScalableTarget"]["Condition"] = "DeploySageMaker"
    serverless.resources["ModelEndpointScalingPolicy"]["Condition"] = "DeploySageMaker"

    with pytest.raises(LimitExceeded) as refused:
        check_scaling(serverless)

    assert "ModelEndpointScalableTarget: ValidationException: Variant champion of endpoint" in str(refused.value)
    assert "is serverless and has no instance count to scale" in str(refused.value)
    assert "sagemaker:variant:DesiredProvisionedConcurrency" in str(refused.value)


def test_make_up_refuses_a_policy_whose_metric_does_not_fit_its_target() -> None:
    ecs = template(InferenceBackend="ecs")
    tracking = ecs.resources["ModelServiceScalingPolicy"]["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] = "SageMakerVariantInvocationsPerInstance"

    with pytest.raises(LimitExceeded, match="Scalable dimension ecs:service:DesiredCount only supports the following"):
        check_scaling(ecs)
