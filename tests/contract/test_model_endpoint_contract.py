"""The SageMaker endpoint's contract as a deployment uses it (a release served under a configuration named
for its version and run, what the endpoint says of itself), held by the SageMaker adapter and by the fake
the pipeline's unit tests use. Moto has no UpdateEndpoint: the adapter runs on the local stack's, which
updates in the background as SageMaker does (``Updating``, then ``InService``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from pipeline_function.adapters.sagemaker import SageMakerModelEndpoint
from pipeline_function.ports import EndpointStatus, ModelEndpoint, ModelRelease
from sentiment_local.moto.gaps import install
from sentiment_local.runtime.functions import Runner
from tests.contract.conftest import ACCOUNT, implementation
from tests.fakes.pipeline import FakeModelEndpoint

ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-model"
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/sentiment-model:7"


def release(version: str, run_id: str = "run-000001") -> ModelRelease:
    return ModelRelease(
        version=version,
        run_id=run_id,
        image=IMAGE,
        role_arn=ROLE,
        model_data_url=f"s3://data/models/{version}/model.tar.gz",
        model_sha256="cd" * 32,
        network_isolation=False,
    )


@pytest.fixture
def sagemaker_updates(tmp_path: Path) -> Iterator[None]:
    runner = Runner([], endpoint="http://127.0.0.1:1", logs_dir=tmp_path / "logs")
    undo = install(runner, lambda: "http://127.0.0.1:1")
    yield
    undo()
    runner.close()


def settled(endpoint: ModelEndpoint) -> EndpointStatus:
    """What the endpoint says once an update in flight has ended."""
    deadline = time.monotonic() + 15
    while (described := endpoint.describe()).status == "Updating":
        assert time.monotonic() < deadline, f"endpoint {endpoint.name} still updating"
        time.sleep(0.05)
    return described


@pytest.fixture(params=["sagemaker", "fake"])
def endpoint(request: pytest.FixtureRequest) -> ModelEndpoint:
    """The endpoint ``sentiment`` in service on ``sentiment-v1``, as the stack creates it."""

    def on_moto() -> SageMakerModelEndpoint:
        request.getfixturevalue("sagemaker_updates")
        sagemaker = boto3.client("sagemaker")
        sagemaker.create_model(
            ModelName="sentiment-v1",
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://data/models/v1/model.tar.gz"},
        )
        variant = {"VariantName": "champion", "ModelName": "sentiment-v1", "InitialInstanceCount": 1}
        sagemaker.create_endpoint_config(
            EndpointConfigName="sentiment-v1", ProductionVariants=[variant | {"InstanceType": "ml.m5.large"}]
        )
        sagemaker.create_endpoint(EndpointName="sentiment", EndpointConfigName="sentiment-v1")
        return SageMakerModelEndpoint("sentiment")

    return implementation(request, lambda: FakeModelEndpoint("sentiment", "sentiment-v1"), on_moto)


def test_the_endpoint_says_which_configuration_it_serves(endpoint: ModelEndpoint) -> None:
    described = endpoint.describe()

    assert (endpoint.name, described.status, described.config_name) == ("sentiment", "InService", "sentiment-v1")
    assert described.failure_reason is None


def test_a_release_is_served_under_a_configuration_named_for_its_version_and_run(endpoint: ModelEndpoint) -> None:
    config_name = endpoint.deploy(release("v2"))

    assert config_name == "sentiment-v2-run-000001"
    described = settled(endpoint)
    assert (described.status, described.config_name, described.failure_reason) == ("InService", config_name, None)


def test_deploying_the_same_release_again_is_harmless(endpoint: ModelEndpoint) -> None:
    first = endpoint.deploy(release("v2"))

    assert endpoint.deploy(release("v2")) == first
    assert settled(endpoint).config_name == first
