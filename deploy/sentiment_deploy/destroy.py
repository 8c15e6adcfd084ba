"""``make destroy``: everything the stack made, gone, and a word on what stays.

1. Before the stack goes: the buckets it owns are emptied (every version and delete marker: the
   data bucket is versioned), the images in its repository deleted, and the SageMaker models and
   endpoint configurations its retraining runs made (named after the registry's versions) noted.
2. The stack is deleted (``sam delete``).
3. After: those models and configurations, and the resources the template keeps on delete
   (``DeletionPolicy: RetainExceptOnCreate``: the tables and the data and access-log buckets) are
   deleted, unless ``keep_data``: then they stay, and the names are printed.

What SageMaker and the SAM CLI keep is said at the end: training jobs cannot be deleted (their records
expire), SageMaker's own log groups, and the SAM CLI's artifacts bucket shared by every stack."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_deploy.stack import ROOT, DeployedStack, DeployError
from sentiment_template.reader import load

DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes
BUCKET = "AWS::S3::Bucket"
TABLE = "AWS::DynamoDB::Table"
REPOSITORY = "AWS::ECR::Repository"


# What CloudFormation keeps when a stack whose creation completed is deleted (CloudFormation user guide,
# "DeletionPolicy attribute"); RetainExceptOnCreate also deletes them when the stack's creation fails.
KEPT_ON_DELETE = {"Retain", "RetainExceptOnCreate"}


def retained_resources(template_path: Any = ROOT / "template.yaml") -> dict[str, str]:
    """Logical id -> type of every resource the template keeps when the stack is deleted."""
    return {
        logical_id: str(resource["Type"])
        for logical_id, resource in load(template_path)["Resources"].items()
        if resource.get("DeletionPolicy") in KEPT_ON_DELETE
    }


@dataclass
class Plan:
    buckets: dict[str, str] = field(default_factory=dict)  # logical id -> name, to empty
    repositories: list[str] = field(default_factory=list)
    retained: dict[str, tuple[str, str]] = field(default_factory=dict)  # logical id -> (type, name)
    models: list[str] = field(default_factory=list)
    endpoint_configs: list[str] = field(default_factory=list)


def _sagemaker_name(*parts: str) -> str:
    from pipeline_function.adapters.sagemaker import resource_name  # noqa: PLC0415 - the names runs give

    return resource_name(*parts)


def _listed(pages: Iterator[dict[str, Any]], key: str, name: str) -> list[str]:
    return [str(item[name]) for page in pages for item in page.get(key, [])]


def plan(session: Any, stack: DeployedStack, resource_types: dict[str, str], keep_data: bool) -> Plan:
    retained = retained_resources()
    found = Plan()
    for logical_id, physical in stack.resources.items():
        kind = resource_types.get(logical_id, "")
        if logical_id in retained:
            found.retained[logical_id] = (retained[logical_id], physical)
            if keep_data:
                continue
        if kind == BUCKET:
            found.buckets[logical_id] = physical
        elif kind == REPOSITORY:
            found.repositories.append(physical)
    registry_table = stack.outputs.get("RegistryTableName")
    if registry_table:
        versions = [model.version for model in DynamoDbModelRegistry(registry_table).list_models()]
        sagemaker = session.client("sagemaker")
        models = set(
            _listed(sagemaker.get_paginator("list_models").paginate(NameContains="sentiment-"), "Models", "ModelName")
        )
        configs = _listed(
            sagemaker.get_paginator("list_endpoint_configs").paginate(NameContains="sentiment-"),
            "EndpointConfigs",
            "EndpointConfigName",
        )
        for version in versions:
            name = _sagemaker_name("sentiment", version)
            if name in models:
                found.models.append(name)
            found.endpoint_configs.extend(config for config in configs if config.startswith(f"{name}-"))
    return found


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker; the number deleted."""
    deleted = 0
    try:
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket))
    except s3.exceptions.NoSuchBucket:
        return 0
    keys = [
        {"Key": item["Key"], "VersionId": item["VersionId"]}
        for page in pages
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
    ]
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise DeployError(f"could not delete s3://{bucket}/{first['Key']}: {first['Message']}")
        deleted += len(batch)
    return deleted


def empty_repository(ecr: Any, repository: str) -> int:
    ids = _listed(ecr.get_paginator("list_images").paginate(repositoryName=repository), "imageIds", "imageDigest")
    unique = sorted(set(ids))
    for start in range(0, len(unique), 100):  # BatchDeleteImage takes at most 100 image ids
        ecr.batch_delete_image(
            repositoryName=repository, imageIds=[{"imageDigest": d} for d in unique[start : start + 100]]
        )
    return len(unique)


def _ignore_missing(call: Callable[..., Any], **request: Any) -> bool:
    """``call(**request)``; False if what it deletes is already gone."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    try:
        call(**request)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        message = error.response["Error"].get("Message", "").lower()
        if code in {"ResourceNotFoundException", "NoSuchBucket"} or "could not find" in message:
            return False
        raise
    return True


def _delete_run_models(sagemaker: Any, found: Plan) -> None:
    for config in found.endpoint_configs:
        if _ignore_missing(sagemaker.delete_endpoint_config, EndpointConfigName=config):
            print(f"deleted   endpoint configuration {config}")
    for model in found.models:
        if _ignore_missing(sagemaker.delete_model, ModelName=model):
            print(f"deleted   model {model}")


def _delete_retained(session: Any, found: Plan) -> None:
    s3, dynamodb = session.client("s3"), session.client("dynamodb")
    # The access-log bucket last: the other buckets log to it until they are gone.
    for logical_id, (kind, name) in sorted(found.retained.items(), key=lambda item: item[0] == "AccessLogBucket"):
        if kind == TABLE:
            if _ignore_missing(dynamodb.delete_table, TableName=name):
                print(f"deleted   table {name} ({logical_id})")
        elif kind == BUCKET:
            empty_bucket(s3, name)  # what arrived since (access logs)
            if _ignore_missing(s3.delete_bucket, Bucket=name):
                print(f"deleted   bucket {name} ({logical_id})")


def destroy(
    session: Any,
    stack: DeployedStack,
    resource_types: dict[str, str],
    delete_stack: Callable[[], None],
    *,
    keep_data: bool,
) -> list[str]:
    """Take the stack and what it made down; the lines to tell the user what stays."""
    found = plan(session, stack, resource_types, keep_data)
    s3, ecr = session.client("s3"), session.client("ecr")
    for logical_id, bucket in found.buckets.items():
        print(f"emptied   {bucket} ({logical_id}): {empty_bucket(s3, bucket)} objects and versions")
    for repository in found.repositories:
        print(f"emptied   {repository}: {empty_repository(ecr, repository)} images")
    delete_stack()
    print(f"deleted   stack {stack.name}")
    _delete_run_models(session.client("sagemaker"), found)
    kept = []
    if keep_data:
        kept = [f"  {logical_id} ({kind}): {name}" for logical_id, (kind, name) in found.retained.items()]
    else:
        _delete_retained(session, found)
    return [
        *(["kept on purpose (KEEP_DATA=yes): delete them by hand when you are done with them", *kept] if kept else []),
        "kept by AWS: the SageMaker training jobs' records (SageMaker cannot delete them) and the log groups "
        "SageMaker writes (/aws/sagemaker/TrainingJobs, /aws/sagemaker/Endpoints/...)",
        "kept by the SAM CLI: its artifacts bucket (aws-sam-cli-managed-default-*), shared by every SAM stack "
        "in the region",
    ]
