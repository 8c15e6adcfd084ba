"""DeployModel on the SageMaker backend, against moto with the local stack's SageMaker and Application Auto
Scaling rules plugged in: the template's endpoint (real-time and autoscaled, or serverless with its
concurrency), then the deploy step's new model and endpoint configuration."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from pipeline_function.adapters.sagemaker import SageMakerModelEndpoint
from pipeline_function.logic.rollout import start
from pipeline_function.settings import DeploySettings
from pipeline_function.steps import DeployInput
from sentiment_common.registry import ModelRecord, ModelStatus
from sentiment_local.moto.gaps import install
from sentiment_local.resources import create_sagemaker_endpoint
from sentiment_local.runtime.functions import Runner
from sentiment_template.reader import Template
from tests.conftest import ROOT
from tests.fakes.pipeline import model_archive, sha256
from tests.integration.pipeline.conftest import MotoPipeline

REALTIME = {"SageMakerEndpointType": "realtime", "SageMakerInstanceType": "ml.m5.large"}  # a type moto knows
SERVERLESS = {"SageMakerEndpointType": "serverless"}

Stack = Callable[..., str]


def _store_model(pipeline: MotoPipeline, version: str) -> str:
    archive = model_archive({"version": version})
    key = pipeline.put(f"models/{version}/model.tar.gz", archive, "application/gzip")
    pipeline.models.put_model(
        ModelRecord(
            version=version,
            status=ModelStatus.CANDIDATE,
            metrics={},
            reasons=[],
            dataset={},
            created_at=datetime.now(UTC),
            model_data_url=pipeline.store.uri(key),
            sha256=sha256(archive),
        )
    )
    return pipeline.store.uri(key)


@pytest.fixture
def sagemaker_stack(pipeline: MotoPipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """Builds the template's endpoint for the parameters given, serving model v1, and DeployModel's
    environment as the template gives it; returns the endpoint's name. SageMaker's and Application Auto
    Scaling's rules are the local stack's, plugged into moto."""
    runner = Runner([], endpoint="http://127.0.0.1:1", logs_dir=tmp_path / "logs")
    undo = install(runner, lambda: "http://127.0.0.1:1")

    def build(**parameters: str) -> str:
        champion = _store_model(pipeline, "v1")
        template = Template.read(
            ROOT / "template.yaml",
            prefix=pipeline.template.prefix,
            overrides={"ModelImageUri": "sentiment-model:local", "ModelDataUrl": champion, **parameters},
        )
        name = create_sagemaker_endpoint(template, boto3.client("sagemaker"), boto3.client("application-autoscaling"))
        assert name
        for variable, value in template.function_environment("DeployModelFunction", "").items():
            monkeypatch.setenv(variable, value)
        monkeypatch.setenv("DEPLOY_POLL_SECONDS", "1")
        return name

    try:
        yield build
    finally:
        undo()
        runner.close()


def _deploy(pipeline: MotoPipeline, endpoint_name: str, version: str = "v2") -> str:
    """DeployModel's start for ``version``; returns the endpoint configuration it made."""
    _store_model(pipeline, version)
    deployment = start(
        DeployInput(run_id="run-000001", version=version),
        pipeline.models,
        pipeline.runs,
        pipeline.store,
        endpoint=SageMakerModelEndpoint(endpoint_name),
        settings=DeploySettings.from_environment(),
    )
    assert deployment.endpoint_config_name
    return deployment.endpoint_config_name


def _in_service(endpoint_name: str) -> dict[str, Any]:
    """The endpoint once an update in flight has ended (the local stack swaps the model in a thread)."""
    sagemaker = boto3.client("sagemaker")
    deadline = time.monotonic() + 15
    while (described := sagemaker.describe_endpoint(EndpointName=endpoint_name))["EndpointStatus"] != "InService":
        assert time.monotonic() < deadline, f"endpoint {endpoint_name} still {described['EndpointStatus']}"
        time.sleep(0.05)
    return dict(described)


def _variant(described: dict[str, Any]) -> dict[str, Any]:
    (variant,) = described["ProductionVariants"]
    return dict(variant)


def test_a_deployment_keeps_the_instances_autoscaling_set_on_a_real_time_endpoint(
    pipeline: MotoPipeline, sagemaker_stack: Stack
) -> None:
    # Given the template's real-time endpoint, its variant registered with Application Auto Scaling as
    # CloudFormation registers it (2 to 4 instances), and autoscaling having scaled it out to 3
    endpoint_name = sagemaker_stack(**REALTIME, ModelMinCapacity="2", ModelMaxCapacity="4")
    autoscaling = boto3.client("application-autoscaling")
    (target,) = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert target["ResourceId"] == f"endpoint/{endpoint_name}/variant/champion"
    assert (target["ScalableDimension"], target["MinCapacity"], target["MaxCapacity"]) == (
        "sagemaker:variant:DesiredInstanceCount",
        2,
        4,
    )
    (policy,) = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    boto3.client("sagemaker").update_endpoint_weights_and_capacities(
        EndpointName=endpoint_name, DesiredWeightsAndCapacities=[{"VariantName": "champion", "DesiredInstanceCount": 3}]
    )

    # When a retraining run deploys model v2
    config_name = _deploy(pipeline, endpoint_name)

    # Then the endpoint serves v2's configuration on the same instance type, and keeps its 3 instances
    # instead of going back to the configuration's InitialInstanceCount
    described = _in_service(endpoint_name)
    assert described["EndpointConfigName"] == config_name
    assert "FailureReason" not in described
    assert (_variant(described)["DesiredInstanceCount"], _variant(described)["CurrentInstanceCount"]) == (3, 3)
    (new_variant,) = boto3.client("sagemaker").describe_endpoint_config(EndpointConfigName=config_name)[
        "ProductionVariants"
    ]
    assert new_variant["InstanceType"] == "ml.m5.large"
    assert new_variant["ModelName"] == "sentiment-v2"
    # and the variant is still autoscaled
    assert autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]


def test_registering_the_variant_brings_its_instances_into_the_targets_range(
    pipeline: MotoPipeline, sagemaker_stack: Stack
) -> None:
    # Given the real-time endpoint created with the by-stage defaults of dev (1 instance, 1 to 2)
    endpoint_name = sagemaker_stack(**REALTIME)
    assert _variant(_in_service(endpoint_name))["DesiredInstanceCount"] == 1

    # When its target is registered again with a higher minimum, as a stack update with ModelMinCapacity=2 does
    boto3.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="sagemaker",
        ResourceId=f"endpoint/{endpoint_name}/variant/champion",
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        MinCapacity=2,
        MaxCapacity=2,
    )

    # Then the endpoint runs 2 instances (RegisterScalableTarget moves the capacity into the range)
    assert _variant(_in_service(endpoint_name))["DesiredInstanceCount"] == 2


def test_an_update_that_changes_an_autoscaled_variants_instance_type_is_refused(
    pipeline: MotoPipeline, sagemaker_stack: Stack
) -> None:
    # Given the autoscaled real-time endpoint
    endpoint_name = sagemaker_stack(**REALTIME)
    sagemaker = boto3.client("sagemaker")
    current = sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
    (variant,) = sagemaker.describe_endpoint_config(EndpointConfigName=current)["ProductionVariants"]
    sagemaker.create_endpoint_config(
        EndpointConfigName="bigger", ProductionVariants=[{**variant, "InstanceType": "ml.m5.xlarge"}]
    )

    # When the endpoint is updated to another instance type, then Application Auto Scaling refuses it
    with pytest.raises(ClientError) as refused:
        sagemaker.update_endpoint(EndpointName=endpoint_name, EndpointConfigName="bigger")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "registered with Application Auto Scaling" in refused.value.response["Error"]["Message"]
    assert sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"] == current


def test_a_deployment_to_a_serverless_endpoint_carries_its_concurrency(
    pipeline: MotoPipeline, sagemaker_stack: Stack
) -> None:
    # Given the template's serverless endpoint with its concurrency set by the parameters
    endpoint_name = sagemaker_stack(**SERVERLESS, ServerlessMaxConcurrency="12", ServerlessProvisionedConcurrency="3")
    assert (
        boto3.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")[
            "ScalableTargets"
        ]
        == []
    )  # a serverless endpoint scales by itself

    # When a run deploys model v2
    config_name = _deploy(pipeline, endpoint_name)

    # Then the new configuration has the endpoint's memory, maximum and provisioned concurrency
    (variant,) = boto3.client("sagemaker").describe_endpoint_config(EndpointConfigName=config_name)[
        "ProductionVariants"
    ]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 12, "ProvisionedConcurrency": 3}
    assert "InstanceType" not in variant
    assert _in_service(endpoint_name)["EndpointConfigName"] == config_name
