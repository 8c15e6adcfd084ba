"""``make deploy``'s steps after ``sam deploy`` and ``make train-on-sagemaker``, run as a user runs them
(``python -m sentiment_deploy``) against ``make up``, which describes itself as CloudFormation would
(stack ``sentiment-local``), with the deployer's key checked against ``deploy/deployer-policies/``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sentiment_local import iam
from tests.conftest import ROOT
from tests.system.conftest import LocalStack, running_stack

STACK = "sentiment-local"


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(tmp_path_factory, "deploy-steps") as stack:
        yield stack


def deployer(stack: LocalStack, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m sentiment_deploy <args>`` with the deployer's credentials, on the local stack."""
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("AWS_")},
        **iam.credentials_for(iam.DEPLOYER_ARN),
        "AWS_ENDPOINT_URL": stack.aws,
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": os.pathsep.join(
            str(ROOT / part) for part in ("deploy", "layers/shared", "local_stack", "functions/pipeline")
        ),
    }
    return subprocess.run(
        [sys.executable, "-m", "sentiment_deploy", *args, "--stack-name", STACK],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def refusals(stack: LocalStack) -> list[str]:
    log = stack.output()
    return [
        line for line in log.splitlines() if "is not authorized to perform" in line and "sentiment-deployer" in line
    ]


def test_the_steps_after_sam_deploy_find_the_champion_serve_it_and_publish_the_page(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    # Given make up, which registered its first model and serves it
    with httpx.Client(base_url=local_stack.api, timeout=30) as api:
        champion = api.get("/models").json()
    version = next(model["version"] for model in champion["items"] if model["status"] == "champion")

    # When the deployer prepares the model (the image is the local one) and finishes the deploy
    parameters = tmp_path / "parameters"
    prepared = deployer(
        local_stack, "prepare", "--image-uri", "sentiment-model:local", "--parameters-file", str(parameters)
    )
    finished = deployer(local_stack, "finish")

    # Then the second sam deploy would keep serving the registered champion, with its hash
    assert prepared.returncode == 0, prepared.stderr
    written = dict(item.split("=", 1) for item in parameters.read_text().split())
    assert written["ModelImageUri"] == "sentiment-model:local"
    assert f"/models/{version}/model.tar.gz" in written["ModelDataUrl"] and len(written["ModelSha256"]) == 64
    # and finish saw the endpoint in service and /health answer with the champion, then published the page
    assert finished.returncode == 0, finished.stderr
    assert f"answers with the champion {version}" in finished.stdout
    assert "uploaded  index.html" in finished.stdout
    assert f"the API:       {local_stack.api}" in finished.stdout
    assert "aws secretsmanager get-secret-value --secret-id" in finished.stdout
    assert refusals(local_stack) == []


def test_a_training_job_launched_by_hand_with_the_sdk_trains_on_the_stacks_data(local_stack: LocalStack) -> None:
    # When a person launches a training job with the stack's image, role and data, through the SageMaker SDK
    launched = deployer(
        local_stack,
        "train",
        "--name",
        "sentiment-manual-test",
        "--no-feedback",
        "--hyperparameter",
        "kind=tfidf",
        "--hyperparameter",
        "sample=300",
        timeout=600,
    )

    # Then the job ran for real (the local stack runs SageMaker's jobs) and its model is in the data bucket
    assert launched.returncode == 0, launched.stderr + launched.stdout
    assert "training job sentiment-manual-test: Completed" in launched.stdout
    artifact = launched.stdout.rsplit("model at ", 1)[1].split()[0]
    assert artifact.startswith("s3://") and artifact.endswith("/sentiment-manual-test/output/model.tar.gz")
    config = json.loads(
        (
            local_stack.data / "training-jobs" / "sentiment-manual-test" / "input" / "config" / "hyperparameters.json"
        ).read_text()
    )
    assert config == {"kind": "tfidf", "sample": "300"}
    # and what SageMaker knows of it can be looked up through the SDK
    described = deployer(local_stack, "job", "sentiment-manual-test")
    assert described.returncode == 0 and "Completed" in described.stdout
    assert refusals(local_stack) == []
