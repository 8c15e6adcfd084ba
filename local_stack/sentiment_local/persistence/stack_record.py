"""The local stack as CloudFormation would describe it: a stack named after the prefix
(``sentiment-local``), whose parameters are the ones in force, whose outputs are the template's,
resolved to the local names and URLs, and whose resources are the ones the local stack created. Tools
that find a deployed stack by its outputs and resources (``python -m sentiment_deploy``, ``make smoke``,
``make env-vars``, ``make destroy``) then work against ``make up`` as they do on AWS.

moto's CloudFormation cannot create the template's resources (they are created from SAM's translation
elsewhere, :func:`sentiment_local.resources.create_in_order`), so the record is made with a placeholder
and then given those resources. Deleting the stack deletes them as CloudFormation does, by their
``DeletionPolicy``: ``Retain`` and, once the stack's creation has completed, ``RetainExceptOnCreate``
keep the resource; any other is deleted (CloudFormation user guide, "DeletionPolicy attribute"), with
the stack's service role, as CloudFormation deletes them (CloudFormation user guide, "CloudFormation
service role"): each deletion is checked against that role's policies. The image repository, the page's
CloudFront distribution (tagged with the stack's name, as CloudFormation tags it) and the service role,
which nothing else here needs, are made for it."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sentiment_deploy.destroy import KEPT_ON_DELETE
from sentiment_template.reader import ACCOUNT, REGION, Template

log = logging.getLogger(__name__)


def repository_uri(name: str) -> str:
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}"


def _outputs(template: Template, queue_endpoint: str) -> dict[str, str]:
    outputs = {}
    for name, output in template.document.get("Outputs", {}).items():
        if not template.condition_holds(output.get("Condition")):
            continue
        try:
            outputs[name] = str(template.resolve(output["Value"], queue_endpoint))
        except (NotImplementedError, KeyError) as error:
            log.debug("output %s is not resolved locally: %s", name, error)
    return outputs


def _distribution(cloudfront: Any, bucket: str, stack_name: str) -> dict[str, Any]:
    config = {
        "CallerReference": f"{bucket}-page",
        "Comment": "the local stack's page",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "WebBucket", "DomainName": f"{bucket}.s3.amazonaws.com"}]},
        "DefaultCacheBehavior": {"TargetOriginId": "WebBucket", "ViewerProtocolPolicy": "redirect-to-https"},
    }
    # CloudFormation tags what it creates with the stack's name: the deployer may refresh only its stacks' pages.
    tags = {"Items": [{"Key": "aws:cloudformation:stack-name", "Value": stack_name}]}
    created = cloudfront.create_distribution_with_tags(
        DistributionConfigWithTags={"DistributionConfig": config, "Tags": tags}
    )
    distribution: dict[str, Any] = created["Distribution"]
    return distribution


def create_service_role(iam: Any, role_arn: str) -> None:
    """What the account's administrator made once (deploy/service-role/template.yaml): the role CloudFormation
    assumes, which make deploy's preflight looks for. Its policies are enforced from that template."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName=role_arn.rsplit("/", 1)[-1], AssumeRolePolicyDocument=json.dumps(trust))


@dataclass
class LocalResource:
    """One created resource as moto's CloudFormation lists it, and deletes it: by calling ``remove``."""

    logical_resource_id: str
    physical_resource_id: str
    cf_resource_type: str
    remove: Callable[[], None]

    def delete(self, account_id: str, region_name: str) -> None:
        del account_id, region_name
        self.remove()


def physical_id(template: Template, logical_id: str, kind: str, queue_endpoint: str) -> str:
    """The resource's physical id as CloudFormation lists it (a queue's URL, a topic's or state machine's
    ARN, a secret's ARN, else its name)."""
    if kind == "AWS::SQS::Queue":
        return template.queue_url(logical_id, queue_endpoint)
    if kind in {"AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"}:
        return template.arn(logical_id)
    if kind == "AWS::SecretsManager::Secret":
        return template.pinned.get(logical_id, template.physical_name(logical_id))
    if kind == "AWS::IAM::Role":
        return template.role_arn(logical_id).rsplit("/", 1)[-1]
    return template.physical_name(logical_id)


def _remover(kind: str, physical: str, client: Any, deleted: Callable[[str, str], None]) -> Callable[[], None]:
    """What CloudFormation calls to delete a resource of ``kind`` (``deleted`` is told afterwards)."""
    calls: dict[str, Callable[[], Any]] = {
        "AWS::DynamoDB::Table": lambda: client("dynamodb").delete_table(TableName=physical),
        # S3 refuses to delete a bucket that holds objects; CloudFormation's deletion then fails too.
        "AWS::S3::Bucket": lambda: client("s3").delete_bucket(Bucket=physical),
        "AWS::SQS::Queue": lambda: client("sqs").delete_queue(QueueUrl=physical),
        "AWS::SNS::Topic": lambda: client("sns").delete_topic(TopicArn=physical),
        "AWS::SecretsManager::Secret": lambda: client("secretsmanager").delete_secret(
            SecretId=physical, ForceDeleteWithoutRecovery=True
        ),
        "AWS::IAM::Role": lambda: client("iam").delete_role(RoleName=physical),
        "AWS::Lambda::Function": lambda: client("lambda").delete_function(FunctionName=physical),
        "AWS::StepFunctions::StateMachine": lambda: client("stepfunctions").delete_state_machine(
            stateMachineArn=physical
        ),
        # EmptyOnDelete: CloudFormation deletes the repository with its images.
        "AWS::ECR::Repository": lambda: client("ecr").delete_repository(repositoryName=physical, force=True),
    }

    def remove() -> None:
        calls[kind]()
        deleted(kind, physical)

    return remove


def attach_resources(
    stack_name: str,
    created: list[tuple[str, str, str | None]],
    template: Template,
    *,
    client: Any,
    queue_endpoint: str,
    deleted: Callable[[str, str], None],
) -> None:
    """Give moto's record of the stack the resources the local stack created (``(logical id, type,
    DeletionPolicy)``), so that it lists them and deletes them by their deletion policies."""
    from moto.cloudformation.models import cloudformation_backends  # noqa: PLC0415 - only where a stack runs

    backend = cloudformation_backends[ACCOUNT][REGION]
    (stack,) = [stack for stack in backend.stacks.values() if stack.name == stack_name]
    resource_map: Any = stack.resource_map
    for logical_id, kind, policy in created:
        physical = physical_id(template, logical_id, kind, queue_endpoint)
        # moto keeps a resource on deletion only when its policy is Retain; the record is made once the
        # stack's creation has completed, so RetainExceptOnCreate keeps it too.
        kept = "Retain" if policy in KEPT_ON_DELETE else "Delete"
        resource_map._resource_json_map[logical_id] = {"Type": kind, "DeletionPolicy": kept}
        resource_map._parsed_resources[logical_id] = LocalResource(
            logical_id, physical, kind, _remover(kind, physical, client, deleted)
        )


def record_stack(
    template: Template,
    client: Any,
    *,
    api_url: str,
    queue_endpoint: str,
    endpoint_name: str | None,
    role_arn: str,
) -> dict[str, str]:
    """Create the record (once per start: moto keeps no CloudFormation state across restarts), deployed with
    the service role ``role_arn`` as make deploy deploys it; its outputs."""
    repository = template.physical_name("ModelImageRepository")
    ecr = client("ecr")
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=repository, imageTagMutability="IMMUTABLE")
    distribution = _distribution(client("cloudfront"), template.physical_name("WebBucket"), template.prefix)
    create_service_role(client("iam"), role_arn)
    outputs = {
        **_outputs(template, queue_endpoint),
        "ApiUrl": api_url,
        "WebUrl": api_url,  # the gateway serves the page and the API from one origin, as CloudFront does
        "WebDistributionId": str(distribution["Id"]),
        "ModelImageRepositoryUri": repository_uri(repository),
        **({"SageMakerEndpointName": endpoint_name} if endpoint_name else {}),
    }
    parameters = {name: template.parameter(name) for name in template.document.get("Parameters", {})}
    body = {
        "Parameters": {name: {"Type": "String", "Default": value} for name, value in parameters.items()},
        "Resources": {"LocalStack": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    cloudformation = client("cloudformation")
    with contextlib.suppress(cloudformation.exceptions.ClientError):
        cloudformation.delete_stack(StackName=template.prefix)
    cloudformation.create_stack(StackName=template.prefix, TemplateBody=json.dumps(body), RoleARN=role_arn)
    return outputs
