"""The permissions a person needs to deploy and take down the stack: the managed policies in
``deploy/deployer-policies/``, to attach to the deploying user (or a group, or a role they assume).

IAM caps a managed policy at 6,144 characters, white space not counted, and a user at 10 attached
managed policies by default (IAM user guide, "IAM and AWS STS quotas"): the permissions come as a few
policies, each under the cap. Two parts:
- **What ``sam deploy`` needs.** CloudFormation creates, updates and deletes each resource with the
  deployer's own credentials (no service role is assumed). Each resource type's handlers declare the
  actions they call (the CloudFormation registry's resource schemas, as cfn-lint ships them); the
  policy allows their union for every type the template becomes once SAM has translated it, under
  both backends. CloudFormation's own calls are scoped to stacks named ``sentiment-*``, and the SAM
  CLI's to its managed artifacts bucket and stack. A few schemas name API operations that are no IAM
  action (``s3:DeleteBucketCors``, ``s3:rest.put.object``): they could match nothing, and are left out.
- **What ``make deploy``, ``make destroy``, ``make publish-web`` and ``make train-on-sagemaker`` call
  afterwards**, written out here, scoped to the stack's resources (all named ``sentiment-*``); reading
  the stack is in the first part already. The local stack enforces these two on the deployer's key:
  a call they lack fails in the tests.

``python -m sentiment_deploy deployer-policies`` writes them; a test fails when the committed files drift."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from sentiment_deploy.stack import ROOT

POLICY_FOLDER = ROOT / "deploy" / "deployer-policies"
MAX_POLICY_CHARACTERS = 6144  # non-white-space characters in one managed policy
MAX_ATTACHED_POLICIES = 10
NAMES = "sentiment-*"  # every stack, bucket, table, repository and role here is named so
# Every way the template serves the model: a real-time endpoint brings its scaling resources.
BACKENDS = (
    {"InferenceBackend": "sagemaker"},
    {"InferenceBackend": "sagemaker", "SageMakerEndpointType": "realtime"},
    {"InferenceBackend": "ecs"},
)

AFTER_SAM_DEPLOY: list[dict[str, Any]] = [
    {"Sid": "LogInToTheRegistry", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
    {
        "Sid": "PushAndRemoveTheImage",
        "Effect": "Allow",
        "Action": [
            "ecr:DescribeImages",
            "ecr:ListImages",
            "ecr:BatchGetImage",
            "ecr:BatchCheckLayerAvailability",
            "ecr:InitiateLayerUpload",
            "ecr:UploadLayerPart",
            "ecr:CompleteLayerUpload",
            "ecr:PutImage",
            "ecr:BatchDeleteImage",
        ],
        "Resource": f"arn:aws:ecr:*:*:repository/{NAMES}",
    },
    {
        "Sid": "ListAndEmptyTheBuckets",
        "Effect": "Allow",
        "Action": ["s3:ListBucket", "s3:ListBucketVersions", "s3:DeleteBucket"],
        "Resource": f"arn:aws:s3:::{NAMES}",
    },
    {
        "Sid": "DataModelsAndPage",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
        "Resource": f"arn:aws:s3:::{NAMES}/*",
    },
    {
        "Sid": "RegisterTheFirstModel",
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteTable"],
        "Resource": f"arn:aws:dynamodb:*:*:table/{NAMES}",
    },
    {
        "Sid": "CleanUpAfterTheSmokeTest",
        "Effect": "Allow",
        "Action": "dynamodb:DeleteItem",
        "Resource": f"arn:aws:dynamodb:*:*:table/{NAMES}",
    },
    {
        "Sid": "ReadTheAdminKey",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "arn:aws:secretsmanager:*:*:secret:*AdminApiKeySecret*",
    },
    {
        "Sid": "RotateTheAdminKey",
        "Effect": "Allow",
        "Action": "secretsmanager:PutSecretValue",
        "Resource": "arn:aws:secretsmanager:*:*:secret:*AdminApiKeySecret*",
    },
    {
        "Sid": "TrainOnSageMaker",
        "Effect": "Allow",
        "Action": ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:AddTags"],
        "Resource": f"arn:aws:sagemaker:*:*:training-job/{NAMES}",
    },
    {
        "Sid": "PassTheTrainingRole",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": f"arn:aws:iam::*:role/{NAMES}",
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    },
    {
        "Sid": "WaitForTheModel",
        "Effect": "Allow",
        "Action": ["sagemaker:DescribeEndpoint", "ecs:DescribeServices"],
        "Resource": [f"arn:aws:sagemaker:*:*:endpoint/{NAMES}", f"arn:aws:ecs:*:*:service/{NAMES}/*"],
    },
    {
        "Sid": "FindWhatRunsDeployed",
        "Effect": "Allow",
        "Action": ["sagemaker:ListModels", "sagemaker:ListEndpointConfigs"],
        "Resource": "*",
    },
    {
        "Sid": "DeleteWhatRunsDeployed",
        "Effect": "Allow",
        "Action": ["sagemaker:DeleteModel", "sagemaker:DeleteEndpointConfig"],
        "Resource": [f"arn:aws:sagemaker:*:*:model/{NAMES}", f"arn:aws:sagemaker:*:*:endpoint-config/{NAMES}"],
    },
    {
        # make deploy's preflight and make reattach look for what make destroy KEEP_DATA=yes kept.
        "Sid": "FindKeptData",
        "Effect": "Allow",
        "Action": ["s3:ListAllMyBuckets", "dynamodb:ListTables"],
        "Resource": "*",
    },
    {
        "Sid": "RefreshThePage",
        "Effect": "Allow",
        "Action": "cloudfront:CreateInvalidation",
        "Resource": "arn:aws:cloudfront::*:distribution/*",
    },
]

# What a resource type's handlers call beyond their schema's list. Registering a scalable target also
# checks that the caller may act on what it scales (Application Auto Scaling user guide, "Application Auto
# Scaling identity-based policy examples", permissions for the target services; SageMaker developer guide,
# "Auto scaling prerequisites").
CALLER_ACTIONS: dict[str, set[str]] = {
    "AWS::ApplicationAutoScaling::ScalableTarget": {
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeEndpointConfig",
        "sagemaker:UpdateEndpointWeightsAndCapacities",
        "ecs:DescribeServices",
        "ecs:UpdateService",
    },
}

SAM_DEPLOY: list[dict[str, Any]] = [
    {
        "Sid": "DriveTheStack",
        "Effect": "Allow",
        "Action": [
            "cloudformation:CreateChangeSet",
            "cloudformation:DescribeChangeSet",
            "cloudformation:ExecuteChangeSet",
            "cloudformation:DeleteChangeSet",
            "cloudformation:DescribeStacks",
            "cloudformation:DescribeStackEvents",
            "cloudformation:DescribeStackResource",
            "cloudformation:DescribeStackResources",
            "cloudformation:ListStackResources",
            "cloudformation:GetTemplate",
            "cloudformation:GetTemplateSummary",
            "cloudformation:DeleteStack",
        ],
        "Resource": [
            f"arn:aws:cloudformation:*:*:stack/{NAMES}/*",
            "arn:aws:cloudformation:*:*:stack/aws-sam-cli-managed-default/*",
            "arn:aws:cloudformation:*:aws:transform/Serverless-2016-10-31",
        ],
    },
    {
        "Sid": "ValidateTemplates",
        "Effect": "Allow",
        "Action": ["cloudformation:ValidateTemplate"],
        "Resource": "*",
    },
    {
        "Sid": "SamArtifactsBucket",
        "Effect": "Allow",
        "Action": ["s3:*"],
        "Resource": ["arn:aws:s3:::aws-sam-cli-managed-default-*", "arn:aws:s3:::aws-sam-cli-managed-default-*/*"],
    },
]


def _cfnlint_data() -> Path:
    import cfnlint  # type: ignore[import-untyped]  # noqa: PLC0415 - only where the policies are generated

    return Path(cfnlint.__file__).parent / "data"


@functools.cache
def _schemas() -> tuple[dict[str, str], Path]:
    folder = _cfnlint_data() / "schemas"
    providers: dict[str, str] = json.loads((folder / "providers" / "us-east-1.json").read_text())
    return providers, folder / "resources"


@functools.cache
def _iam_actions() -> dict[str, set[str]]:
    """Service prefix -> its actions, lower case: IAM's Service Authorization Reference, as cfn-lint ships it."""
    services = json.loads((_cfnlint_data() / "AdditionalSpecs" / "Policies.json").read_text())
    return {prefix: set(service.get("Actions", {})) for prefix, service in services.items()}


def known_to_iam(action: str) -> bool:
    service, _, name = action.partition(":")
    return name.lower() in _iam_actions().get(service.lower(), set())


def handler_actions(resource_type: str) -> set[str]:
    """The actions CloudFormation's handlers for ``resource_type`` call, to create, read, update and delete it."""
    providers, folder = _schemas()
    if resource_type not in providers:
        raise KeyError(f"no CloudFormation resource schema for {resource_type}")
    schema = json.loads((folder / f"{providers[resource_type]}.json").read_text())
    handlers = schema.get("handlers", {})
    return {
        action
        for handler in ("create", "read", "update", "delete", "list")
        for action in handlers.get(handler, {}).get("permissions", [])
    }


def template_resource_types() -> set[str]:
    """Every resource type the template becomes, translated by SAM, under every backend with a model."""
    from sentiment_local.iam import translate  # noqa: PLC0415 - SAM's translator, as the local stack runs it
    from sentiment_local.template import Template  # noqa: PLC0415

    types: set[str] = set()
    for backend in BACKENDS:
        overrides = {**backend, "ModelImageUri": "image:tag", "NotificationEmail": "someone@example.org"}
        template = Template.read(ROOT / "template.yaml", overrides=overrides)
        translated = translate(template)
        types |= {str(resource["Type"]) for resource in translated["Resources"].values()}
    return types


def size(document: dict[str, Any]) -> int:
    """A policy's size as IAM counts it: its JSON without white space."""
    return len(json.dumps(document, separators=(",", ":")))


def _policy(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _resource_policies(actions: list[str]) -> list[dict[str, Any]]:
    """The resource-creating actions, in as few policies as fit under IAM's cap."""
    policies: list[dict[str, Any]] = []
    chunk: list[str] = []
    for action in actions:
        candidate = [*chunk, action]
        statement = {"Sid": "CreateTheStacksResources", "Effect": "Allow", "Action": candidate, "Resource": "*"}
        if chunk and size(_policy([statement])) > MAX_POLICY_CHARACTERS:
            policies.append(_policy([{**statement, "Action": chunk}]))
            chunk = [action]
        else:
            chunk = candidate
    if chunk:
        policies.append(
            _policy([{"Sid": "CreateTheStacksResources", "Effect": "Allow", "Action": chunk, "Resource": "*"}])
        )
    return policies


def deployer_policies() -> dict[str, dict[str, Any]]:
    """File name -> managed policy document."""
    created = sorted(
        {
            action
            for kind in template_resource_types()
            for action in handler_actions(kind) | CALLER_ACTIONS.get(kind, set())
            if known_to_iam(action)
        }
    )
    policies = {"sentiment-deploy-stack.json": _policy(SAM_DEPLOY)}
    for number, document in enumerate(_resource_policies(created), start=1):
        policies[f"sentiment-deploy-resources-{number}.json"] = document
    policies["sentiment-deploy-after.json"] = _policy(AFTER_SAM_DEPLOY)
    return policies


def rendered(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def write(folder: Path = POLICY_FOLDER) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.json"):
        stale.unlink()
    written = []
    for name, document in deployer_policies().items():
        (folder / name).write_text(rendered(document))
        written.append(folder / name)
    return written
