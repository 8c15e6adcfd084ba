"""Application Auto Scaling through moto's API with the local stack's rules plugged in: what AWS refuses is
refused with AWS's error code, what it accepts is registered (the deploy step's endpoint update on an
autoscaled variant is in tests/integration/pipeline/test_deploy_endpoint.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.integration.local.conftest import moto_with_gaps

ROLE = "arn:aws:iam::123456789012:role/scaling-sagemaker"


@pytest.fixture
def aws(aws_credentials: None, tmp_path: Path) -> Iterator[None]:
    with moto_with_gaps(tmp_path):
        yield


def client(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1")


def endpoint(name: str, variant: dict[str, Any]) -> str:
    sagemaker = client("sagemaker")
    sagemaker.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "sentiment-model:local", "ModelDataUrl": "s3://scaling/model.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[{"VariantName": "champion", "ModelName": f"{name}-model", **variant}],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    return f"endpoint/{name}/variant/champion"


REALTIME = {"InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
SERVERLESS = {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}


def register(resource_id: str, least: int = 1, most: int = 2) -> None:
    client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=resource_id,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=least,
        MaxCapacity=most,
    )


def refusal(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return str(error["Code"]), str(error["Message"])


def test_a_minimum_above_the_maximum_is_refused_as_aws_refuses_it(aws: None) -> None:
    resource_id = endpoint("realtime", REALTIME)
    with pytest.raises(ClientError) as raised:
        register(resource_id, least=3, most=2)
    assert refusal(raised) == ("ValidationException", "Maximum capacity cannot be less than minimum capacity")
    assert (
        client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        == []
    )
    register(resource_id, least=2, most=2)  # equal is fine


def test_a_serverless_variant_has_no_instance_count_to_scale(aws: None) -> None:
    resource_id = endpoint("serverless", SERVERLESS)
    with pytest.raises(ClientError) as raised:
        register(resource_id)
    code, message = refusal(raised)
    assert code == "ValidationException"
    assert "is serverless and has no instance count to scale" in message


def test_a_variant_that_does_not_exist_cannot_be_scaled(aws: None) -> None:
    with pytest.raises(ClientError) as raised:
        register("endpoint/nowhere/variant/champion")
    assert refusal(raised) == (
        "ValidationException",
        "No SageMaker endpoint variant found for resource ID endpoint/nowhere/variant/champion",
    )


def put_policy(resource_id: str, metric: str, target: float) -> None:
    client("application-autoscaling").put_scaling_policy(
        PolicyName="invocations",
        ServiceNamespace="sagemaker",
        ResourceId=resource_id,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "PredefinedMetricSpecification": {"PredefinedMetricType": metric},
            "TargetValue": target,
        },
    )


def test_a_policy_needs_its_target_a_fitting_metric_and_a_target_in_range(aws: None) -> None:
    resource_id = endpoint("realtime", REALTIME)
    with pytest.raises(ClientError) as raised:
        put_policy(resource_id, "SageMakerVariantInvocationsPerInstance", 15000)
    assert refusal(raised)[0] == "ObjectNotFoundException"

    register(resource_id)
    with pytest.raises(ClientError) as raised:
        put_policy(resource_id, "ECSServiceAverageCPUUtilization", 50)
    assert refusal(raised) == (
        "ValidationException",
        "Scalable dimension sagemaker:variant:DesiredInstanceCount only supports the following predefined metric "
        "types: SageMakerVariantInvocationsPerInstance, SageMakerVariantConcurrentRequestsPerModelHighResolution",
    )
    with pytest.raises(ClientError) as raised:
        put_policy(resource_id, "SageMakerVariantInvocationsPerInstance", 0)
    assert refusal(raised)[0] == "ValidationException"
    assert "out of range" in refusal(raised)[1]

    put_policy(resource_id, "SageMakerVariantInvocationsPerInstance", 15000)
    (policy,) = client("application-autoscaling").describe_scaling_policies(ServiceNamespace="sagemaker")[
        "ScalingPolicies"
    ]
    assert policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 15000
