"""Kept data, and a new stack: what ``make destroy KEEP_DATA=yes`` kept, imported into the stack again.

The tables and the data and access-log buckets have ``DeletionPolicy: RetainExceptOnCreate``: a failed
first creation deletes them (so a retry is not blocked by what it made), a deletion after a completed
creation keeps them. A kept data bucket keeps its fixed name, so a new stack of the same stage cannot
create it ("already exists"). CloudFormation's resource import adopts existing resources into a stack
(CloudFormation user guide, "Import AWS resources into a CloudFormation stack"):

1. :func:`preflight` (the first step of ``make deploy``): when the stack does not exist and its data
   bucket does, stop before ``sam deploy`` and say what to do, rather than let the creation fail;
2. :func:`plan` / :func:`run` (``make reattach``): find the kept resources, write an import template
   holding only them (SAM's translation of ``template.yaml``, with what refers to resources not yet
   created left out: the bucket's notifications and its ``DependsOn``), and create the stack from it
   with an ``IMPORT`` change set; ``make deploy`` then updates it to the whole template.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sentiment_deploy.stack import ROOT, DeployError
from sentiment_template.cloudformation import translate
from sentiment_template.reader import load

KEPT = ("DataBucket", "AccessLogBucket", "CommentsTable", "MonitoringTable", "RegistryTable", "JobsTable")
IDENTIFIERS = {"AWS::S3::Bucket": "BucketName", "AWS::DynamoDB::Table": "TableName"}
# What an imported resource may not name: resources the import does not create (they come with the
# update that follows).
LEFT_OUT = {"DataBucket": ("NotificationConfiguration",)}
TERMINAL = {"CREATE_COMPLETE", "FAILED"}


def data_bucket_name(stage: str, account: str, region: str) -> str:
    """The data bucket's fixed name, as template.yaml spells it."""
    return f"sentiment-{stage}-data-{account}-{region}"


def _stack_status(cloudformation: Any, stack_name: str) -> str | None:
    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if error.response["Error"]["Code"] == "ValidationError" and "does not exist" in str(error):
            return None
        raise
    return str(stack["StackStatus"])


def _bucket_exists(s3: Any, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        if error.response["Error"]["Code"] in {"404", "NoSuchBucket"}:  # HEAD answers have no body: 404
            return False
        raise
    return True


def preflight(session: Any, stack_name: str, stage: str) -> str:
    """Before the first ``sam deploy``: refuse what CloudFormation would refuse on the way, and say why."""
    status = _stack_status(session.client("cloudformation"), stack_name)
    if status == "ROLLBACK_COMPLETE":
        raise DeployError(
            f"stack {stack_name} failed its creation and was rolled back (ROLLBACK_COMPLETE): CloudFormation "
            "cannot update it. Delete it (make destroy) and deploy again; its tables and buckets went with the "
            "rollback (RetainExceptOnCreate)"
        )
    if status is not None:
        return f"stack {stack_name}: {status}"
    account = session.client("sts").get_caller_identity()["Account"]
    bucket = data_bucket_name(stage, account, session.region_name)
    if _bucket_exists(session.client("s3"), bucket):
        raise DeployError(
            f"stack {stack_name} does not exist, but its data bucket {bucket} does (kept by make destroy "
            "KEEP_DATA=yes?): CloudFormation cannot create it again. Re-attach the kept data first: "
            "make reattach (docs/aws.md, 'Keeping the data, and re-attaching it'), or delete the bucket"
        )
    return f"stack {stack_name}: new"


@dataclass(frozen=True)
class Plan:
    template: dict[str, Any]
    resources_to_import: list[dict[str, Any]]


def _named(names: list[str], prefix: str) -> str | None:
    """The one name CloudFormation gave (``<stack>-<LogicalId>-<random>``), or None; several: refused."""
    found = [name for name in names if name.lower().startswith(prefix.lower())]
    if len(found) > 1:
        raise DeployError(f"more than one resource is named {prefix}…: {', '.join(found)}; import by hand")
    return found[0] if found else None


def kept_resources(session: Any, stack_name: str, stage: str) -> dict[str, str]:
    """Logical id -> name of each kept resource found (the data bucket by its fixed name, the others by the
    name CloudFormation gave them)."""
    s3, dynamodb = session.client("s3"), session.client("dynamodb")
    account = session.client("sts").get_caller_identity()["Account"]
    buckets = [bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])]
    tables = [name for page in dynamodb.get_paginator("list_tables").paginate() for name in page["TableNames"]]
    found: dict[str, str] = {}
    data = data_bucket_name(stage, account, session.region_name)
    if data in buckets:
        found["DataBucket"] = data
    for logical_id, names in (
        ("AccessLogBucket", buckets),
        ("CommentsTable", tables),
        ("MonitoringTable", tables),
        ("RegistryTable", tables),
        ("JobsTable", tables),
    ):
        name = _named(names, f"{stack_name}-{logical_id}-")
        if name is not None:
            found[logical_id] = name
    return found


def _refers_to(value: Any, names: set[str]) -> bool:
    if isinstance(value, list):
        return any(_refers_to(item, names) for item in value)
    if not isinstance(value, dict):
        return False
    if value.get("Ref") in names:
        return True
    attribute = value.get("Fn::GetAtt")
    if (
        attribute is not None
        and (attribute[0] if isinstance(attribute, list) else str(attribute).split(".")[0]) in names
    ):
        return True
    substituted = value.get("Fn::Sub")
    if substituted is not None:
        text = substituted if isinstance(substituted, str) else substituted[0]
        if any(f"${{{name}}}" in text or f"${{{name}." in text for name in names):
            return True
    return any(_refers_to(item, names) for item in value.values())


def _names(value: Any, refs: set[str], conditions: set[str]) -> None:
    """Collect the names ``value`` refers to (``Ref``, ``Fn::Sub``) and the conditions it uses."""
    if isinstance(value, list):
        for item in value:
            _names(item, refs, conditions)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key == "Ref" and isinstance(item, str):
            refs.add(item)
        elif key == "Fn::Sub":
            text = item if isinstance(item, str) else item[0]
            refs.update(name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text))
            _names(item if isinstance(item, str) else item[1], refs, conditions)
        elif key == "Fn::If":
            conditions.add(str(item[0]))
            _names(item[1:], refs, conditions)
        elif key == "Condition" and isinstance(item, str):
            conditions.add(item)
        else:
            _names(item, refs, conditions)


def _used(translated: Mapping[str, Any], chosen: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters and conditions the chosen resources use, directly or through a condition (CloudFormation
    lets a template declare more, but cfn-lint's W2001/W8001 say so)."""
    refs: set[str] = set()
    conditions: set[str] = set()
    _names(list(chosen.values()), refs, conditions)
    declared = translated.get("Conditions", {})
    done: set[str] = set()
    while conditions - done:
        name = sorted(conditions - done)[0]
        done.add(name)
        _names(declared[name], refs, conditions)
    used: dict[str, Any] = {}
    parameters = {name: spec for name, spec in translated.get("Parameters", {}).items() if name in refs}
    if parameters:
        used["Parameters"] = parameters
    if conditions:
        used["Conditions"] = {name: declared[name] for name in sorted(conditions)}
    return used


def plan(translated: Mapping[str, Any], kept: Mapping[str, str]) -> Plan:
    """The import template (only the kept resources, with what names resources not imported left out) and
    the ``ResourcesToImport`` naming each one."""
    resources = translated["Resources"]
    absent = set(resources) - set(kept)
    chosen: dict[str, Any] = {}
    for logical_id in kept:
        resource = json.loads(json.dumps(resources[logical_id]))
        resource.pop("DependsOn", None)
        properties = resource.get("Properties", {})
        for name in LEFT_OUT.get(logical_id, ()):
            properties.pop(name, None)
        for name in [name for name, value in properties.items() if _refers_to(value, absent)]:
            properties.pop(name)  # logging to a bucket that is not imported: set by the update that follows
        chosen[logical_id] = resource
    template = {"AWSTemplateFormatVersion": "2010-09-09", **_used(translated, chosen), "Resources": chosen}
    to_import = [
        {
            "ResourceType": chosen[logical_id]["Type"],
            "LogicalResourceId": logical_id,
            "ResourceIdentifier": {IDENTIFIERS[chosen[logical_id]["Type"]]: name},
        }
        for logical_id, name in kept.items()
    ]
    return Plan(template, to_import)


def translated_template(overrides: Mapping[str, str]) -> dict[str, Any]:
    return translate(load(ROOT / "template.yaml"), overrides)


def run(session: Any, stack_name: str, overrides: Mapping[str, str], found: Plan, *, role_arn: str) -> str:
    """Create the stack from the import template with an ``IMPORT`` change set, and wait for it; CloudFormation
    reads the kept resources with the service role ``role_arn``, which the stack keeps from then on."""
    cloudformation = session.client("cloudformation")
    parameters = [
        {"ParameterKey": key, "ParameterValue": value}
        for key, value in overrides.items()
        if key in found.template.get("Parameters", {})
    ]
    cloudformation.create_change_set(
        StackName=stack_name,
        ChangeSetName="reattach-kept-data",
        ChangeSetType="IMPORT",
        TemplateBody=json.dumps(found.template),
        Parameters=parameters,
        ResourcesToImport=found.resources_to_import,
        RoleARN=role_arn,
    )
    cloudformation.get_waiter("change_set_create_complete").wait(
        StackName=stack_name, ChangeSetName="reattach-kept-data"
    )
    cloudformation.execute_change_set(StackName=stack_name, ChangeSetName="reattach-kept-data")
    cloudformation.get_waiter("stack_import_complete").wait(StackName=stack_name)
    return f"stack {stack_name} created with {', '.join(found.template['Resources'])}: now run make deploy"
