"""The model image, built for the architecture the stack runs it on and pushed to the stack's
repository, once per content: the tag is a hash of everything the build reads, and the repository's
tags are immutable, so a second ``make deploy`` with nothing changed builds and pushes nothing.

SageMaker runs one single-platform image manifest in Docker's v2 schema 2 format: it refuses OCI
manifests and image indexes ("Unsupported manifest media type …"), and Docker's buildx turns even a
one-platform build into an index when it adds its default provenance attestation. So the image is
built for exactly one platform, buildx is told to write Docker media types and no provenance or SBOM
attestation, Podman to push ``v2s2``, and the pushed tag's media type is checked in ECR."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiment_deploy.stack import ROOT, DeployError

BUILD_CONTEXT = ROOT / "model_training"
CONTAINER_CLIS = ("docker", "finch", "podman")
# The template's ECS task definition names its CPU architecture; ECS's words for it, as platforms.
ECS_PLATFORMS = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
# What SageMaker's CreateTrainingJob and CreateModel run: one image manifest, Docker's v2 schema 2.
SAGEMAKER_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"

Run = Callable[[Sequence[str], bytes | None], None]


def run_command(command: Sequence[str], stdin: bytes | None) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, input=stdin, check=True)  # noqa: S603 - the user's own container CLI


def _ignored(relative: Path) -> bool:
    """model_training/.dockerignore: bytecode stays out of the build context."""
    return "__pycache__" in relative.parts or relative.suffix == ".pyc"


def content_tag(context: Path = BUILD_CONTEXT) -> str:
    """``model-<hash>`` of every file the build reads (paths and bytes): the same sources, the same tag."""
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        relative = path.relative_to(context)
        if _ignored(relative):
            continue
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"model-{digest.hexdigest()[:16]}"


def graviton(instance_type: str) -> bool:
    """Whether a SageMaker instance type runs on Graviton (arm64), as the SageMaker Python SDK knows it."""
    from sagemaker.core.common_utils import get_instance_type_family  # noqa: PLC0415 - the SDK loads slowly
    from sagemaker.core.fw_utils import GRAVITON_ALLOWED_TARGET_INSTANCE_FAMILY  # noqa: PLC0415

    return get_instance_type_family(instance_type) in GRAVITON_ALLOWED_TARGET_INSTANCE_FAMILY


def _sagemaker_platform(instance_type: str) -> str:
    return "linux/arm64" if graviton(instance_type) else "linux/amd64"


def platform(parameters: Mapping[str, str], ecs_architecture: str) -> str:
    """The one platform the image runs on in this stack: its training jobs, and its endpoint or ECS
    service (a serverless endpoint has no instance type; it runs x86_64 images). One tag serves them
    all and SageMaker takes no manifest list, so instance types of two architectures are refused."""
    training = parameters["TrainingInstanceType"]
    needed = {f"training jobs on {training}": _sagemaker_platform(training)}
    if parameters.get("InferenceBackend") == "ecs":
        needed[f"the ECS task ({ecs_architecture})"] = ECS_PLATFORMS[ecs_architecture]
    elif parameters.get("SageMakerEndpointType") == "realtime":
        endpoint = parameters["SageMakerInstanceType"]
        needed[f"the endpoint on {endpoint}"] = _sagemaker_platform(endpoint)
    else:
        needed["the serverless endpoint"] = "linux/amd64"
    found = sorted(set(needed.values()))
    if len(found) > 1:
        runs = ", ".join(f"{where} ({platform})" for where, platform in needed.items())
        raise DeployError(
            f"the model image would run as {' and '.join(found)}: {runs}. SageMaker takes a single-platform "
            "image, not a manifest list, and the stack names one image: choose instance types of one architecture "
            "(TrainingInstanceType, SageMakerInstanceType)"
        )
    return found[0]


def container_cli(environ: Mapping[str, str] = os.environ) -> str:
    """``CONTAINER_CLI`` if set, else the first of docker, finch and podman on PATH."""
    chosen = environ.get("CONTAINER_CLI")
    if chosen:
        if shutil.which(chosen) is None:
            raise DeployError(f"CONTAINER_CLI={chosen} is not on PATH")
        return chosen
    for name in CONTAINER_CLIS:
        if shutil.which(name):
            return name
    raise DeployError(
        "no container CLI found (docker, finch or podman) to build the model image: install one, or pass "
        "MODEL_IMAGE_URI=<an image already in the stack's repository>"
    )


def build_commands(cli: str, uri: str, platform: str, context: Path = BUILD_CONTEXT) -> list[list[str]]:
    """The commands that build ``uri`` for ``platform`` and push it as one Docker v2 schema 2 image
    manifest, the form SageMaker accepts."""
    name = Path(cli).name
    if name == "docker":
        # No attestation: buildx's default provenance turns a single-platform image into an index.
        output = f"type=image,name={uri},push=true,oci-mediatypes=false"
        flags = ["--platform", platform, "--provenance=false", "--sbom=false", "--output", output]
        return [[cli, "buildx", "build", *flags, str(context)]]
    if name == "podman":
        return [
            [cli, "build", "--platform", platform, "--format", "docker", "-t", uri, str(context)],
            [cli, "push", "--format", "v2s2", uri],
        ]
    # finch (nerdctl and BuildKit): Docker media types unless asked for OCI, and no attestation by default.
    return [
        [cli, "build", "--platform", platform, "-t", uri, str(context)],
        [cli, "push", "--platform", platform, uri],
    ]


@dataclass(frozen=True)
class Repository:
    name: str
    uri: str  # <account>.dkr.ecr.<region>.amazonaws.com/<name>

    @property
    def registry(self) -> str:
        return self.uri.split("/", 1)[0]


def image_exists(ecr: Any, repository: Repository, tag: str) -> bool:
    try:
        ecr.describe_images(repositoryName=repository.name, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return False
    return True


def check_media_type(ecr: Any, repository: Repository, tag: str) -> None:
    """A DeployError unless the tag is one Docker v2 schema 2 image manifest, as SageMaker needs."""
    (details,) = ecr.describe_images(repositoryName=repository.name, imageIds=[{"imageTag": tag}])["imageDetails"]
    media_type = details.get("imageManifestMediaType")
    if media_type != SAGEMAKER_MEDIA_TYPE:
        raise DeployError(
            f'{repository.uri}:{tag} is a {media_type}, which SageMaker refuses ("Unsupported manifest media '
            f'type"): it runs one {SAGEMAKER_MEDIA_TYPE}. Delete it (aws ecr batch-delete-image '
            f"--repository-name {repository.name} --image-ids imageTag={tag}) and make deploy builds it again"
        )


def login(ecr: Any, cli: str, repository: Repository, run: Run) -> None:
    """``<cli> login`` to the stack's registry with a token from ECR (valid 12 hours)."""
    (authorization,) = ecr.get_authorization_token()["authorizationData"]
    user, _, password = base64.b64decode(authorization["authorizationToken"]).decode().partition(":")
    run([cli, "login", "--username", user, "--password-stdin", repository.registry], password.encode())


def ensure_image(
    ecr: Any, repository: Repository, platform: str, *, cli: str | None = None, run: Run = run_command
) -> str:
    """The image for the current sources in the stack's repository, built and pushed only when missing."""
    tag = content_tag()
    uri = f"{repository.uri}:{tag}"
    if image_exists(ecr, repository, tag):
        check_media_type(ecr, repository, tag)
        print(f"image {uri} is already in the repository")
        return uri
    cli = cli or container_cli()
    print(f"building {uri} for {platform} with {cli}")
    login(ecr, cli, repository, run)
    for command in build_commands(cli, uri, platform):
        run(command, None)
    if not image_exists(ecr, repository, tag):
        raise DeployError(f"{uri} is not in the repository after the push")
    check_media_type(ecr, repository, tag)
    return uri
