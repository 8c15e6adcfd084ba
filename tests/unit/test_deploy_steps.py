"""The parts of make deploy that need no AWS: which platforms the image is built for, how each
container CLI builds and pushes it, its content tag, and the wait for /health."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from sentiment_deploy import image, local, release, smoke, training
from sentiment_deploy.stack import DeployedStack, DeployError

SERVERLESS = {
    "InferenceBackend": "sagemaker",
    "SageMakerEndpointType": "serverless",
    "TrainingInstanceType": "ml.m5.large",
}


def test_the_image_is_built_for_the_one_platform_the_stack_runs_it_on() -> None:
    # The template's defaults: training on ml.m5.large, a serverless endpoint (x86_64), or ml.c6i.large
    assert image.platform(SERVERLESS, "X86_64") == "linux/amd64"
    realtime = {**SERVERLESS, "SageMakerEndpointType": "realtime", "SageMakerInstanceType": "ml.c6i.large"}
    assert image.platform(realtime, "X86_64") == "linux/amd64"
    assert image.platform({**SERVERLESS, "InferenceBackend": "ecs"}, "X86_64") == "linux/amd64"
    graviton_everywhere = {**realtime, "SageMakerInstanceType": "ml.c7g.large", "TrainingInstanceType": "ml.m6g.xlarge"}
    assert image.platform(graviton_everywhere, "X86_64") == "linux/arm64"


def test_instance_types_of_two_architectures_are_refused_before_anything_is_built() -> None:
    # One tag serves the training jobs and the endpoint, and SageMaker takes no manifest list
    graviton_endpoint = {**SERVERLESS, "SageMakerEndpointType": "realtime", "SageMakerInstanceType": "ml.c7g.large"}
    with pytest.raises(DeployError, match=r"linux/amd64 and linux/arm64: training jobs on ml.m5.large"):
        image.platform(graviton_endpoint, "X86_64")
    with pytest.raises(DeployError, match=r"the ECS task \(ARM64\) \(linux/arm64\)"):
        image.platform({**SERVERLESS, "InferenceBackend": "ecs"}, "ARM64")


def test_the_templates_ecs_task_names_its_architecture() -> None:
    assert release.ecs_architecture() in image.ECS_PLATFORMS


def test_docker_pushes_one_single_platform_image_manifest_with_no_attestation(tmp_path: Path) -> None:
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment-dev-model:model-1"
    # When the image is built for the template's defaults with Docker
    (docker,) = image.build_commands("docker", uri, image.platform(SERVERLESS, "X86_64"), context=tmp_path)

    # Then it is one buildx build for linux/amd64 only, with no provenance or SBOM attestation (either
    # would make the push an image index), pushed with Docker's media types rather than OCI's
    assert docker == [
        "docker", "buildx", "build",
        "--platform", "linux/amd64",
        "--provenance=false", "--sbom=false",
        "--output", f"type=image,name={uri},push=true,oci-mediatypes=false",
        str(tmp_path),
    ]  # fmt: skip


def test_podman_and_finch_push_one_platform_in_docker_format(tmp_path: Path) -> None:
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:model-1"
    assert image.build_commands("podman", uri, "linux/amd64", context=tmp_path) == [
        ["podman", "build", "--platform", "linux/amd64", "--format", "docker", "-t", uri, str(tmp_path)],
        ["podman", "push", "--format", "v2s2", uri],
    ]
    assert image.build_commands("finch", uri, "linux/amd64", context=tmp_path) == [
        ["finch", "build", "--platform", "linux/amd64", "-t", uri, str(tmp_path)],
        ["finch", "push", "--platform", "linux/amd64", uri],
    ]


class Ecr:
    """ECR as DescribeImages answers about a tag that holds an image of ``media_type``."""

    def __init__(self, media_type: str) -> None:
        self.media_type = media_type

    def describe_images(self, repositoryName: str, imageIds: list[dict[str, str]]) -> dict[str, Any]:
        return {"imageDetails": [{"imageTags": [imageIds[0]["imageTag"]], "imageManifestMediaType": self.media_type}]}


def test_an_image_index_or_manifest_list_in_the_repository_is_refused_with_how_to_replace_it() -> None:
    registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    repository = image.Repository("sentiment-dev-model", f"{registry}/sentiment-dev-model")
    image.check_media_type(Ecr(image.SAGEMAKER_MEDIA_TYPE), repository, "model-1")
    for refused in (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ):
        with pytest.raises(DeployError, match=r"which SageMaker refuses .*aws ecr batch-delete-image"):
            image.check_media_type(Ecr(refused), repository, "model-1")


def test_the_tag_follows_the_build_context_and_nothing_else(tmp_path: Path) -> None:
    context = tmp_path / "model_training"
    (context / "pkg" / "__pycache__").mkdir(parents=True)
    (context / "Dockerfile").write_text("FROM python:3.12-slim\n")
    (context / "pkg" / "a.py").write_text("x = 1\n")
    first = image.content_tag(context)
    (context / "pkg" / "__pycache__" / "a.cpython-312.pyc").write_bytes(b"bytecode")  # .dockerignore'd
    assert image.content_tag(context) == first
    (context / "pkg" / "a.py").write_text("x = 2\n")
    assert image.content_tag(context) != first
    assert first.startswith("model-") and len(first) == len("model-") + 16


def test_the_container_cli_is_the_one_asked_for_or_the_first_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}" if name in {"podman", "finch"} else None)
    assert image.container_cli({}) == "finch"
    assert image.container_cli({"CONTAINER_CLI": "podman"}) == "podman"
    with pytest.raises(DeployError, match="CONTAINER_CLI=docker is not on PATH"):
        image.container_cli({"CONTAINER_CLI": "docker"})
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DeployError, match="no container CLI found"):
        image.container_cli({})


def test_health_is_awaited_until_the_champion_answers() -> None:
    answers = iter(
        [
            {"model": {"reachable": False, "model_version": None, "reason": "cold start"}},
            {"model": {"reachable": True, "model_version": "v0", "reason": None}},
            {"model": {"reachable": True, "model_version": "v1", "reason": None}},
        ]
    )
    seen: list[str] = []

    def get_json(url: str) -> dict[str, Any]:
        seen.append(url)
        return next(answers)

    health = release.wait_until_healthy("https://api.example.org/", "v1", poll_s=0, get_json=get_json)
    assert health["model"]["model_version"] == "v1"
    assert seen == ["https://api.example.org/health"] * 3


def test_a_champion_never_served_fails_the_deploy_with_what_was_seen() -> None:
    def get_json(url: str) -> dict[str, Any]:
        return {"model": {"reachable": False, "model_version": None, "reason": "endpoint Failed"}}

    with pytest.raises(DeployError, match=r"does not serve the champion v1.*endpoint Failed"):
        release.wait_until_healthy("https://api.example.org", "v1", timeout_s=0, poll_s=0, get_json=get_json)


class Listing:
    """S3's ListObjectsV2 over ``keys``."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def list_objects_v2(self, Bucket: str, Prefix: str, MaxKeys: int) -> dict[str, Any]:
        found = [key for key in self.keys if key.startswith(Prefix)][:MaxKeys]
        return {"KeyCount": len(found), "Contents": [{"Key": key} for key in found]}


def test_a_job_launched_by_hand_reads_the_feedback_channel_only_when_there_is_feedback() -> None:
    request = training.JobRequest("job", "image", "role", "sentiment-dev-data", "ml.m5.large", {})
    # SageMaker refuses a channel whose prefix holds no object: a stack with no feedback yet trains without it
    assert not training.without_an_empty_feedback_channel(request, Listing(["data/base/reviews.csv"])).with_feedback
    with_feedback = Listing(["data/base/reviews.csv", "feedback/dt=2026-12-03/1.json"])
    assert training.without_an_empty_feedback_channel(request, with_feedback).with_feedback


# ---- make smoke ----


def test_smoke_waits_for_a_run_already_active_then_starts_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a stack where feedback started run-000001, which ends after three polls
    polls = {"run-000001": 0}
    posted: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path == "/training":
            if polls["run-000001"] < 3:
                posted.append(409)
                details = [{"run_id": "run-000001"}]
                return httpx.Response(409, json={"message": "run run-000001 is still active", "details": details})
            posted.append(202)
            return httpx.Response(202, json={"run_id": "run-000002", "status": "RUNNING"})
        if path == "/training/run-000001":
            polls["run-000001"] += 1
            status = "SUCCEEDED" if polls["run-000001"] >= 3 else "RUNNING"
            steps = [{"step": "prepare"}] if polls["run-000001"] >= 2 else []
            return httpx.Response(
                200, json={"run_id": "run-000001", "status": status, "trigger": "feedback", "steps": steps}
            )
        if path == "/models":
            return httpx.Response(200, json={"items": [{"version": "v1", "status": "champion"}]})
        return httpx.Response(404, json={"message": "Not Found"})

    # When smoke starts its run
    with httpx.Client(base_url="https://api.example.org", transport=httpx.MockTransport(answer)) as api:
        run_id, champion = smoke.start_run(api, poll_s=0)

    # Then it waited for the active run, saying so, and started its own once that had ended
    assert (run_id, champion) == ("run-000002", "v1")
    assert posted == [409, 202]
    said = capsys.readouterr().out
    assert "run run-000001 (started by feedback) is still running: waiting for it to end" in said
    assert "run-000001: RUNNING for" in said and "steps done: prepare" in said
    assert "run run-000001 ended: SUCCEEDED" in said


def test_smoke_waits_for_an_active_run_no_longer_than_it_may_take() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(409, json={"message": "active", "details": [{"run_id": "run-000001"}]})
        if request.url.path == "/models":
            return httpx.Response(200, json={"items": []})
        return httpx.Response(200, json={"run_id": "run-000001", "status": "RUNNING", "trigger": "feedback"})

    with (
        httpx.Client(base_url="https://api.example.org", transport=httpx.MockTransport(answer)) as api,
        pytest.raises(DeployError, match="run run-000001 is still RUNNING after 0 s"),
    ):
        smoke.start_run(api, poll_s=0, wait_s=0.01)


def test_the_url_make_up_serves_is_found_with_its_endpoint_region_and_stack(tmp_path: Path) -> None:
    # Given the state file make up writes while it runs
    state = {"pid": os.getpid(), "api": "http://127.0.0.1:3001", "aws": "http://127.0.0.1:5001"}
    (tmp_path / "stack.json").write_text(json.dumps({**state, "stack_name": "sentiment-local", "region": "us-east-1"}))
    environ = {"LOCAL_DATA": str(tmp_path)}

    # Then its URL, however the host is spelled, is the local stack's, and any other URL is not
    found = local.serving("http://localhost:3001/", environ)
    assert found == local.LocalStack(
        "http://127.0.0.1:3001", "http://127.0.0.1:5001", "us-east-1", "sentiment-local", tmp_path / "admin-api-key"
    )
    assert found.environment()["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5001"
    assert found.environment()["AWS_REGION"] == "us-east-1"
    assert local.serving("http://127.0.0.1:3000", environ) is None
    assert local.serving("https://abc.execute-api.eu-west-1.amazonaws.com", environ) is None
    assert local.serving("http://127.0.0.1:3001", {"LOCAL_DATA": str(tmp_path / "elsewhere")}) is None
    # and a stack that stopped without removing its state file (kill -9) says so
    (tmp_path / "stack.json").write_text(json.dumps({**state, "pid": 2**22 + 1}))
    with pytest.raises(DeployError, match="no longer running"):
        local.serving("http://127.0.0.1:3001", environ)


# ---- make smoke's address ----

WEB, API = "https://d111.cloudfront.net", "https://abc.execute-api.eu-west-1.amazonaws.com"


def test_smoke_checks_a_deployed_stack_at_its_web_url() -> None:
    stack = DeployedStack("sentiment-dev", {"WebUrl": WEB, "ApiUrl": API}, {})
    smoke.check_target(stack, WEB + "/")


def test_smoke_refuses_the_apis_own_address_and_names_the_one_to_use() -> None:
    # Its public routes answer only what comes through CloudFront, so every check there would be a 401.
    stack = DeployedStack("sentiment-dev", {"WebUrl": WEB, "ApiUrl": API}, {})
    with pytest.raises(
        DeployError,
        match=f"ApiUrl, whose public routes answer only what comes through CloudFront: give its WebUrl, {WEB}",
    ):
        smoke.check_target(stack, API)


def test_smoke_takes_the_one_address_make_up_serves() -> None:
    stack = DeployedStack("sentiment-local", {"WebUrl": "http://127.0.0.1:3000", "ApiUrl": "http://127.0.0.1:3000"}, {})
    smoke.check_target(stack, "http://127.0.0.1:3000")
