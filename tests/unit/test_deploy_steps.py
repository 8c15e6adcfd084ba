"""The parts of make deploy that need no AWS: which platforms the image is built for, how each
container CLI builds and pushes it, its content tag, and the wait for /health."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sentiment_deploy import deploy, image
from sentiment_deploy.stack import DeployError

SERVERLESS = {
    "InferenceBackend": "sagemaker",
    "SageMakerEndpointType": "serverless",
    "TrainingInstanceType": "ml.m5.large",
}


def test_the_image_is_built_for_every_platform_the_stack_runs_it_on() -> None:
    assert image.platforms(SERVERLESS, "X86_64") == ["linux/amd64"]
    graviton_endpoint = {**SERVERLESS, "SageMakerEndpointType": "realtime", "SageMakerInstanceType": "ml.c7g.large"}
    assert image.platforms(graviton_endpoint, "X86_64") == ["linux/amd64", "linux/arm64"]
    graviton_everywhere = {**graviton_endpoint, "TrainingInstanceType": "ml.m6g.xlarge"}
    assert image.platforms(graviton_everywhere, "X86_64") == ["linux/arm64"]
    assert image.platforms({**SERVERLESS, "InferenceBackend": "ecs"}, "ARM64") == ["linux/amd64", "linux/arm64"]
    assert image.platforms({**SERVERLESS, "InferenceBackend": "ecs"}, "X86_64") == ["linux/amd64"]


def test_the_templates_ecs_task_names_its_architecture() -> None:
    assert deploy.ecs_architecture() in image.ECS_PLATFORMS


def test_each_cli_pushes_a_manifest_sagemaker_accepts() -> None:
    uri = "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:model-1"
    (docker,) = image.build_commands("docker", uri, ["linux/amd64"])
    assert docker[:3] == ["docker", "buildx", "build"]
    assert "--provenance=false" in docker and "--sbom=false" in docker
    assert f"type=image,name={uri},push=true,oci-mediatypes=false" in docker
    podman_build, podman_push = image.build_commands("podman", uri, ["linux/amd64"])
    assert podman_build[4:6] == ["--format", "docker"] and podman_push[2:4] == ["--format", "v2s2"]
    podman_multi = image.build_commands("podman", uri, ["linux/amd64", "linux/arm64"])
    assert "--manifest" in podman_multi[0] and podman_multi[1][1:3] == ["manifest", "push"]
    finch_build, finch_push = image.build_commands("finch", uri, ["linux/amd64"])
    assert finch_build[:2] == ["finch", "build"] and finch_push[:2] == ["finch", "push"]


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

    health = deploy.wait_until_healthy("https://api.example.org/", "v1", poll_s=0, get_json=get_json)
    assert health["model"]["model_version"] == "v1"
    assert seen == ["https://api.example.org/health"] * 3


def test_a_champion_never_served_fails_the_deploy_with_what_was_seen() -> None:
    def get_json(url: str) -> dict[str, Any]:
        return {"model": {"reachable": False, "model_version": None, "reason": "endpoint Failed"}}

    with pytest.raises(DeployError, match=r"does not serve the champion v1.*endpoint Failed"):
        deploy.wait_until_healthy("https://api.example.org", "v1", timeout_s=0, poll_s=0, get_json=get_json)
