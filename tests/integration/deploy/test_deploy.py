"""``make deploy``'s steps after ``sam deploy``, and ``make destroy``, against a stack played by moto,
each call signed with the deployer's key and checked against ``deploy/deployer-policies/``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sentiment_common.artifacts import model_file_sha256
from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_deploy import destroy, policy, release, service_role
from sentiment_deploy.__main__ import main
from sentiment_deploy.bootstrap import CHAMPION_KEY
from sentiment_deploy.image import content_tag
from sentiment_deploy.stack import DeployedStack, find_stack
from tests.integration.deploy.conftest import STACK, Deployed

# Deploys whole stacks on moto: make check leaves it out.
pytestmark = pytest.mark.processes

MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "size": 2,
        "digest": "sha256:" + "0" * 64,
    },
    "layers": [],
}


class ContainerCli:
    """Stands in for docker, which this machine does not run: records each command, and on the push
    puts an image under the tag into the repository, as a push does."""

    def __init__(self, deployed: Deployed) -> None:
        self.deployed = deployed
        self.commands: list[list[str]] = []

    def __call__(self, command: Sequence[str], stdin: bytes | None) -> None:
        self.commands.append(list(command))
        output = next((part for part in command if part.startswith("type=image,name=")), None)
        if output and "push=true" in output:
            uri = output.removeprefix("type=image,name=").split(",", 1)[0]
            repository, _, tag = uri.partition("/")[2].rpartition(":")
            self.deployed.setup("ecr").put_image(
                repositoryName=repository, imageManifest=json.dumps(MANIFEST), imageTag=tag
            )


def stack() -> DeployedStack:
    return find_stack(boto3.client("cloudformation"), STACK)


def keys(deployed: Deployed, bucket: str, prefix: str = "") -> list[str]:
    listed = deployed.setup("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


@pytest.mark.slow
def test_a_first_deploy_pushes_the_image_uploads_the_data_and_registers_a_champion(
    deployed: Deployed, model_archive: tuple[Path, str], model_version: str
) -> None:
    # Given a stack just created by sam deploy: no image, no data, an empty registry
    archive, digest = model_archive
    docker = ContainerCli(deployed)

    # When make deploy prepares the model, twice
    first = release.prepare(boto3.Session(), stack(), release.Options(archive=archive), run=docker)
    built = list(docker.commands)
    second = release.prepare(boto3.Session(), stack(), release.Options(archive=archive), run=docker)

    # Then the image for the current sources is in the stack's repository, built once for x86_64
    repository = deployed.output("ModelImageRepositoryUri")
    assert first["ModelImageUri"] == f"{repository}:{content_tag()}"
    assert built[0][:2] == ["docker", "login"]
    assert "--platform" in built[1] and built[1][built[1].index("--platform") + 1] == "linux/amd64"
    assert docker.commands == built  # the second run built and pushed nothing
    # the bundled data is where retraining reads it
    bucket = deployed.output("DataBucketName")
    assert keys(deployed, bucket, "data/") == [
        *(f"data/base/{name}.csv" for name in ("plots", "reviews", "tweets")),
        *(f"data/golden/{name}.csv" for name in ("reviews", "tweets")),
    ]
    # the model is stored, hashed and registered as champion; the ECS pointer names it
    champion = DynamoDbModelRegistry(deployed.output("RegistryTableName")).champion()
    assert champion is not None and champion.version == model_version and champion.sha256 == digest
    stored = deployed.setup("s3").get_object(Bucket=bucket, Key=f"models/{model_version}/model.tar.gz")["Body"]
    assert hashlib.sha256(stored.read()).hexdigest() == digest
    pointer = json.loads(deployed.setup("s3").get_object(Bucket=bucket, Key=CHAMPION_KEY)["Body"].read())
    assert pointer["version"] == model_version
    # and the second sam deploy gets the same parameters both times: nothing changes the second time
    assert (
        first
        == second
        == {
            "ModelImageUri": f"{repository}:{content_tag()}",
            "ModelDataUrl": f"s3://{bucket}/models/{model_version}/model.tar.gz",
            "ModelSha256": digest,
            "ModelJoblibSha256": model_file_sha256(archive.read_bytes()),
        }
    )
    assert deployed.enforcer.refusals == []


def test_a_champion_promoted_since_is_what_the_stack_keeps_serving(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a stack whose registry's champion is a model a retraining run promoted
    bucket = deployed.output("DataBucketName")
    url = f"s3://{bucket}/training-jobs/run-7/output/model.tar.gz"
    DynamoDbModelRegistry(deployed.output("RegistryTableName")).ensure_champion(
        "v7", url, "ab" * 32, {}, model_sha256="cd" * 32
    )

    def no_training(*args: Any) -> None:
        raise AssertionError("a stack with a champion trains no first model")

    monkeypatch.setattr(release, "train_first_model", no_training)
    image = f"{deployed.output('ModelImageRepositoryUri')}:{content_tag()}"
    ContainerCli(deployed)(["docker", "buildx", "--output", f"type=image,name={image},push=true"], None)

    # When make deploy runs again
    model = release.prepare(boto3.Session(), stack(), release.Options(archive=tmp_path / "none.tar.gz"))

    # Then the second sam deploy serves that champion, not a first model
    assert model["ModelDataUrl"] == url and model["ModelSha256"] == "ab" * 32
    assert model["ModelJoblibSha256"] == "cd" * 32
    assert deployed.enforcer.refusals == []


def test_a_champion_registered_without_its_model_files_hash_gets_it_from_its_checked_archive(
    deployed: Deployed, model_archive: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a champion registered before the registry kept model.joblib's hash, its archive in the bucket
    archive, digest = model_archive
    bucket = deployed.output("DataBucketName")
    key = "training-jobs/run-8/output/model.tar.gz"
    deployed.setup("s3").put_object(Bucket=bucket, Key=key, Body=archive.read_bytes())
    DynamoDbModelRegistry(deployed.output("RegistryTableName")).ensure_champion(
        "v8", f"s3://{bucket}/{key}", digest, {}
    )
    image = f"{deployed.output('ModelImageRepositoryUri')}:{content_tag()}"
    ContainerCli(deployed)(["docker", "buildx", "--output", f"type=image,name={image},push=true"], None)

    # When make deploy runs again, Then the SageMaker model gets the hash of the model.joblib in that archive
    model = release.prepare(boto3.Session(), stack(), release.Options(archive=tmp_path / "none.tar.gz"))
    assert model["ModelJoblibSha256"] == model_file_sha256(archive.read_bytes())

    # And an archive that no longer matches the registry's hash is refused, not hashed
    deployed.setup("s3").put_object(Bucket=bucket, Key=key, Body=b"another archive")
    with pytest.raises(release.DeployError, match="does not match the SHA-256 the registry records"):
        release.prepare(boto3.Session(), stack(), release.Options(archive=tmp_path / "none.tar.gz"))


def test_the_command_writes_the_second_sam_deploys_parameters_after_samconfigs_own(
    deployed: Deployed, model_archive: tuple[Path, str], tmp_path: Path
) -> None:
    # Given an image already pushed, and a samconfig.toml environment with its own parameters
    image = f"{deployed.output('ModelImageRepositoryUri')}:v1"
    ContainerCli(deployed)(["docker", "buildx", "--output", f"type=image,name={image},push=true"], None)
    config = tmp_path / "samconfig.toml"
    config.write_text(
        f'version = 0.1\n[dev.global.parameters]\nstack_name = "{STACK}"\n'
        '[dev.deploy.parameters]\nparameter_overrides = "Stage=\\"dev\\" AllowedOrigin=\\"https://example.org\\""\n'
    )
    parameters = tmp_path / "parameters"

    # When make deploy ENV=dev prepares the model with that image
    where = ["--config-env", "dev", "--config-file", str(config), "--parameters-file", str(parameters)]
    code = main(["prepare", *where, "--archive", str(model_archive[0]), "--image-uri", image])

    # Then the parameters keep samconfig's and add the model's
    assert code == 0
    written = parameters.read_text().split()
    assert written[:2] == ["Stage=dev", "AllowedOrigin=https://example.org"]
    assert written[2] == f"ModelImageUri={image}"
    assert written[3].startswith("ModelDataUrl=s3://") and written[4] == f"ModelSha256={model_archive[1]}"


def test_an_image_not_in_the_repository_is_refused(deployed: Deployed, model_archive: tuple[Path, str]) -> None:
    image = f"{deployed.output('ModelImageRepositoryUri')}:never-pushed"
    with pytest.raises(release.DeployError, match="is not in the stack's repository"):
        release.prepare(boto3.Session(), stack(), release.Options(archive=model_archive[0], image_uri=image))


@pytest.mark.parametrize(
    "statement", ["DriveTheStack", "PushAndRemoveTheImage", "DataModelsAndPage", "RegisterTheFirstModel"]
)
def test_each_statement_of_the_deployers_policy_is_needed(
    deployed: Deployed, model_archive: tuple[Path, str], statement: str
) -> None:
    # Given the deployer's policies with one statement taken out
    deployed.without(statement)

    # When make deploy prepares the model, then AWS refuses it, as it would on AWS
    with pytest.raises(ClientError) as refused:
        release.prepare(boto3.Session(), stack(), release.Options(archive=model_archive[0]), run=ContainerCli(deployed))
    assert refused.value.response["Error"]["Code"] in {"AccessDenied", "AccessDeniedException"}
    assert [refusal.principal.logical_id for refusal in deployed.enforcer.refusals] == ["Deployer"]


# ---- make destroy ----


def deployed_with_runs(deployed: Deployed, model_archive: tuple[Path, str], model_version: str) -> DeployedStack:
    """A stack after make deploy, a page published, and a run that deployed its model on SageMaker."""
    release.prepare(boto3.Session(), stack(), release.Options(archive=model_archive[0]), run=ContainerCli(deployed))
    s3 = deployed.setup("s3")
    s3.put_object(Bucket=deployed.output("WebBucketName"), Key="index.html", Body=b"<!doctype html>")
    data = deployed.output("DataBucketName")
    # moto's CloudFormation leaves VersioningConfiguration out; the template versions the data bucket
    versioning = deployed.template.resources["DataBucket"]["Properties"]["VersioningConfiguration"]
    s3.put_bucket_versioning(Bucket=data, VersioningConfiguration=versioning)
    s3.put_object(Bucket=data, Key="feedback/dt=2026-12-03/1.json", Body=b"{}")
    s3.put_object(Bucket=data, Key="feedback/dt=2026-12-03/1.json", Body=b'{"again": 1}')  # a second version
    s3.put_object(Bucket=deployed.resource("AccessLogBucket"), Key="logs/1", Body=b"GET /")
    sagemaker = deployed.setup("sagemaker")
    name = f"sentiment-{model_version}"
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=deployed.template.role_arn("SageMakerExecutionRole"),
        PrimaryContainer={"Image": "image:tag", "ModelDataUrl": f"s3://{data}/models/x/model.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-run-000001",
        ProductionVariants=[
            {"VariantName": "champion", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
    )
    return find_stack(boto3.client("cloudformation"), STACK, with_resources=True)


def resource_types(deployed: Deployed) -> dict[str, str]:
    summaries = deployed.setup("cloudformation").list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    return {item["LogicalResourceId"]: item["ResourceType"] for item in summaries if item["LogicalResourceId"]}


def sam_delete(deployed: Deployed, found: DeployedStack, types: dict[str, str]) -> Any:
    """What sam delete does, as CloudFormation does it: a bucket it deletes must be empty, and the
    stack deletion is the deployer's call."""

    def delete() -> None:
        retained = destroy.retained_resources()
        for logical_id, name in found.resources.items():
            if types.get(logical_id) == "AWS::S3::Bucket" and logical_id not in retained:
                versions = deployed.setup("s3").list_object_versions(Bucket=name)
                assert not versions.get("Versions") and not versions.get("DeleteMarkers"), (
                    f"CloudFormation cannot delete {name}: the bucket you tried to delete is not empty"
                )
        boto3.client("cloudformation").delete_stack(StackName=STACK)

    return delete


@pytest.mark.slow
def test_destroy_leaves_nothing_of_the_stack(
    deployed: Deployed, model_archive: tuple[Path, str], model_version: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a deployed stack with data, a page, images and a run's SageMaker model
    found = deployed_with_runs(deployed, model_archive, model_version)
    types = resource_types(deployed)
    names = dict(found.resources)

    # When make destroy runs
    said = destroy.destroy(boto3.Session(), found, types, sam_delete(deployed, found, types), keep_data=False)

    # Then no bucket, table, repository, stack, model or endpoint configuration of the stack is left
    buckets = {bucket["Name"] for bucket in deployed.setup("s3").list_buckets()["Buckets"]}
    assert not buckets & {names[key] for key, kind in types.items() if kind == "AWS::S3::Bucket"}
    assert deployed.setup("dynamodb").list_tables()["TableNames"] == []
    assert deployed.setup("ecr").describe_repositories()["repositories"] == []
    assert deployed.setup("sagemaker").list_models()["Models"] == []
    assert deployed.setup("sagemaker").list_endpoint_configs()["EndpointConfigs"] == []
    with pytest.raises(ClientError, match="does not exist"):
        deployed.setup("cloudformation").describe_stacks(StackName=STACK)
    # and it says what stays, none of it the stack's
    assert not any("KEEP_DATA" in line for line in said)
    assert any("training jobs" in line for line in said)
    assert deployed.enforcer.refusals == []
    assert f"deleted   model sentiment-{model_version}" in capsys.readouterr().out


@pytest.mark.slow
def test_destroy_keeping_the_data_keeps_the_tables_and_the_data_bucket_whole(
    deployed: Deployed, model_archive: tuple[Path, str], model_version: str
) -> None:
    found = deployed_with_runs(deployed, model_archive, model_version)
    types = resource_types(deployed)

    said = destroy.destroy(boto3.Session(), found, types, sam_delete(deployed, found, types), keep_data=True)

    data = found.resources["DataBucket"]
    versions = deployed.setup("s3").list_object_versions(Bucket=data, Prefix="feedback/")["Versions"]
    assert len(versions) == 2
    tables = set(deployed.setup("dynamodb").list_tables()["TableNames"])
    assert {found.resources["CommentsTable"], found.resources["RegistryTable"]} <= tables
    web = found.resources["WebBucket"]
    assert web not in {bucket["Name"] for bucket in deployed.setup("s3").list_buckets()["Buckets"]}
    assert any(data in line for line in said) and any("KEEP_DATA=yes" in line for line in said)


# ---- the deployer's policies ----


def test_the_committed_deployer_policies_are_current_and_within_iams_quotas() -> None:
    expected = policy.deployer_policies()
    committed = {path.name: json.loads(path.read_text()) for path in policy.POLICY_FOLDER.glob("*.json")}
    assert committed == expected, "run: python -m sentiment_deploy deployer-policies"
    assert len(committed) <= policy.MAX_ATTACHED_POLICIES
    assert all(policy.size(document) <= policy.MAX_POLICY_CHARACTERS for document in committed.values())


def test_what_cloudformation_calls_to_create_the_stack_is_the_service_roles_and_not_the_deployers() -> None:
    # Given the service role's policies and the deployer's, as committed
    role = {a for d in service_role.committed_policies().values() for s in d["Statement"] for a in _as_list(s)}
    person = {a for d in policy.deployer_policies().values() for s in d["Statement"] for a in _as_list(s)}
    creating = {"sagemaker:CreateEndpoint", "ecs:CreateService", "lambda:CreateFunction", "iam:CreateRole"}
    # Then CloudFormation may create the endpoint, the service, the functions and their roles; the person may not
    assert creating <= role
    assert not creating & person
    # and the model's autoscaling, with the service-linked role Application Auto Scaling creates on first use
    # and what it checks the caller may do to the endpoint or service it scales
    assert {
        "application-autoscaling:RegisterScalableTarget",
        "application-autoscaling:PutScalingPolicy",
        "iam:CreateServiceLinkedRole",
        "sagemaker:UpdateEndpointWeightsAndCapacities",
        "ecs:UpdateService",
    } <= role


def _as_list(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return list(actions) if isinstance(actions, list) else [actions]
