"""What ``make deploy`` does between and after its two ``sam deploy`` runs.

``prepare`` (after the first, which creates or updates everything but the model):
  the model image in the stack's repository, for the platform the stack runs it on; the bundled
  data where retraining reads it; a first model, trained on this machine or as a SageMaker training
  job, stored and registered as champion with its SHA-256 (only when the registry has none). It
  writes the parameters the second ``sam deploy`` gives the stack: the image, and the model the
  registry's champion names, so a model promoted since stays served; outside us-east-1, the web ACL
  made there for the stack's CloudFront distribution (``edge``).
``finish`` (after the second): waits until the endpoint or service serves, until the API's
  ``/health`` answers with the champion through CloudFront (WebUrl), publishes the web page and prints
  where everything is.

Every step checks before it acts, so running ``make deploy`` again changes nothing that is right."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiment_common.artifacts import model_file_sha256
from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_common.registry import Champion
from sentiment_deploy import edge, image, training
from sentiment_deploy.bootstrap import (
    read_champion_pointer,
    read_s3_object,
    register_champion,
    seed_embedding_cache,
    store_model,
    train_first_model,
    upload_training_data,
    write_champion_pointer,
)
from sentiment_deploy.stack import ROOT, DeployedStack, DeployError
from sentiment_template.reader import load

ARCHIVE = ROOT / "build" / "model.tar.gz"
ECS_TASK = "ModelTaskDefinition"
SERVING_TIMEOUT_S = 45 * 60  # a real-time endpoint takes 5-15 minutes to come up
HEALTH_TIMEOUT_S = 10 * 60  # a serverless endpoint's first request is a cold start


@dataclass(frozen=True)
class Options:
    train_on: str = "local"  # or "sagemaker"
    kind: str = "encoder"
    archive: Path = ARCHIVE
    image_uri: str | None = None  # an image already in the repository: nothing is built


def ecs_architecture(template: Path = ROOT / "template.yaml") -> str:
    resource = load(template)["Resources"][ECS_TASK]
    return str(resource["Properties"]["RuntimePlatform"]["CpuArchitecture"])


def _repository(stack: DeployedStack) -> image.Repository:
    uri = stack.output("ModelImageRepositoryUri")
    return image.Repository(name=uri.split("/", 1)[1], uri=uri)


def model_image(session: Any, stack: DeployedStack, options: Options, run: image.Run | None = None) -> str:
    ecr = session.client("ecr")
    repository = _repository(stack)
    if options.image_uri:
        tag = options.image_uri.rpartition(":")[2]
        if options.image_uri.startswith(repository.uri + ":"):
            if not image.image_exists(ecr, repository, tag):
                raise DeployError(f"{options.image_uri} is not in the stack's repository")
            image.check_media_type(ecr, repository, tag)
        return options.image_uri
    platform = image.platform(stack.parameters, ecs_architecture())
    return image.ensure_image(ecr, repository, platform, run=run or image.run_command)


def first_model(
    session: Any, stack: DeployedStack, options: Options, image_uri: str
) -> tuple[Champion, dict[str, Any]]:
    """A model for a registry with no champion: trained here (or the archive given), or on SageMaker."""
    s3 = session.client("s3")
    bucket = stack.output("DataBucketName")
    if options.train_on == "sagemaker":
        request = training.request_for(
            DeployedStack(stack.name, stack.outputs, {**stack.parameters, "ModelImageUri": image_uri}),
            name=training.job_name("sentiment-first"),
            hyperparameters={"kind": options.kind, "data-set": stack.parameters.get("TrainingDataSet") or "all"},
            with_feedback=False,
        )
        job = training.launch(request, session=session, region=session.region_name)
        bucket_name, _, key = training.artifact_of(job).removeprefix("s3://").partition("/")
        archive = s3.get_object(Bucket=bucket_name, Key=key)["Body"].read()
    else:
        if not options.archive.exists():
            train_first_model(options.archive, options.kind)
        archive = options.archive.read_bytes()
    return store_model(s3, bucket, archive)


def prepare(session: Any, stack: DeployedStack, options: Options, run: image.Run | None = None) -> dict[str, str]:
    """Everything the model (and, outside us-east-1, the web ACL) needs before the second ``sam deploy``;
    the parameters that deploy takes."""
    s3 = session.client("s3")
    bucket = stack.output("DataBucketName")
    image_uri = model_image(session, stack, options, run)
    for key in upload_training_data(s3, bucket):
        print(f"uploaded  s3://{bucket}/{key}")
    registry = DynamoDbModelRegistry(stack.output("RegistryTableName"))
    current = registry.champion()
    if current is None:
        champion, metadata = first_model(session, stack, options, image_uri)
        if register_champion(stack.output("RegistryTableName"), champion, metadata):
            print(f"registered {champion.version} as champion (sha256 {champion.sha256})")
        for key in seed_embedding_cache(s3, bucket):
            print(f"uploaded  s3://{bucket}/{key}")
        current = registry.champion()
        if current is None:
            raise DeployError("the registry has no champion after registering the first model")
    else:
        print(f"champion: {current.version} (already registered)")
    if read_champion_pointer(s3, bucket) is None:
        write_champion_pointer(s3, bucket, current)  # what the ECS service follows
    return {
        "ModelImageUri": image_uri,
        "ModelDataUrl": current.model_data_url,
        "ModelSha256": current.sha256,
        "ModelJoblibSha256": current.model_sha256 or model_file_hash(s3, current),
        **edge.web_acl_parameters(session, stack),
    }


def model_file_hash(s3: Any, champion: Champion) -> str:
    """The model.joblib hash of a champion registered before the registry kept it, read from its archive
    once the archive matches the hash the registry does keep."""
    data = read_s3_object(s3, champion.model_data_url)
    if hashlib.sha256(data).hexdigest() != champion.sha256.lower():
        raise DeployError(
            f"{champion.model_data_url} does not match the SHA-256 the registry records for {champion.version}"
        )
    return model_file_sha256(data)


def parameter_overrides(samconfig: Mapping[str, str], model: Mapping[str, str]) -> str:
    """``--parameter-overrides`` for the second ``sam deploy``: samconfig.toml's own, then the model's."""
    return " ".join(f"{key}={value}" for key, value in {**samconfig, **model}.items())


# ---- finish ----


def wait_until_serving(
    session: Any, stack: DeployedStack, *, timeout_s: float = SERVING_TIMEOUT_S, poll_s: float = 15
) -> str:
    """Until the endpoint is InService or the ECS service has all its tasks on its latest deployment."""
    deadline = time.monotonic() + timeout_s
    backend = stack.parameters.get("InferenceBackend", "sagemaker")
    while True:
        if backend == "ecs":
            ecs = session.client("ecs")
            cluster, service = stack.output("ModelClusterName"), stack.output("ModelServiceName")
            (described,) = ecs.describe_services(cluster=cluster, services=[service])["services"]
            deployments = described.get("deployments", [])
            state = f"{described.get('runningCount', 0)}/{described.get('desiredCount', 0)} tasks running"
            if len(deployments) == 1 and described.get("runningCount") == described.get("desiredCount", -1) > 0:
                return f"ECS service {service}: {state}"
        else:
            endpoint = stack.output("SageMakerEndpointName")
            described = session.client("sagemaker").describe_endpoint(EndpointName=endpoint)
            state = described["EndpointStatus"]
            if state == "InService":
                return f"SageMaker endpoint {endpoint}: InService"
            if state == "Failed":
                raise DeployError(f"endpoint {endpoint} failed: {described.get('FailureReason', 'no reason given')}")
        if time.monotonic() > deadline:
            raise DeployError(f"the model is not serving after {timeout_s:.0f} s ({state})")
        print(f"waiting for the model: {state}", flush=True)
        time.sleep(poll_s)


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - the stack's own https URL
        return dict(json.loads(answer.read()))


def wait_until_healthy(
    api_url: str,
    version: str,
    *,
    timeout_s: float = HEALTH_TIMEOUT_S,
    poll_s: float = 10,
    get_json: Callable[[str], dict[str, Any]] = _get_json,
) -> dict[str, Any]:
    """Until the API's ``/health`` says the model is reachable and serves ``version``."""
    deadline = time.monotonic() + timeout_s
    url = api_url.rstrip("/") + "/health"
    while True:
        try:
            health = get_json(url)
            model = health.get("model") or {}
            if model.get("reachable") and model.get("model_version") == version:
                return health
            seen = f"{model.get('model_version')} reachable={model.get('reachable')} ({model.get('reason')})"
        except (urllib.error.URLError, OSError, ValueError) as error:
            seen = str(error)
        if time.monotonic() > deadline:
            raise DeployError(f"{url} does not serve the champion {version} after {timeout_s:.0f} s: {seen}")
        print(f"waiting for {url}: {seen}", flush=True)
        time.sleep(poll_s)


def summary(stack: DeployedStack, region: str | None) -> str:
    region_flag = f" --region {region}" if region else ""
    secret = stack.outputs.get("AdminApiKeySecretArn", "<AdminApiKeySecretArn>")
    lines = [
        f"stack {stack.name} is deployed and serving its champion.",
        f"  the page and the API: {stack.outputs.get('WebUrl', '(no WebUrl output)')}",
        f"  the API's own address (admin routes only; the public ones answer what comes through the page's "
        f"address): {stack.outputs.get('ApiUrl', '(no ApiUrl output)')}",
        f"  the dashboard: {stack.outputs.get('DashboardUrl', '(no DashboardUrl output)')}",
        "  the admin key (for POST /training and POST /models/{version}/promote):",
        f"    aws secretsmanager get-secret-value{region_flag} --secret-id {secret} --query SecretString --output text",
    ]
    return "\n".join(lines)
