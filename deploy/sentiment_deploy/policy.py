"""Who may do what when the stack is deployed: the trust is split in two, as CloudFormation's service
roles allow (CloudFormation user guide, "CloudFormation service role").

- **The service role** (``sentiment-cloudformation``), which an account administrator creates once with
  ``deploy/service-role/template.yaml``. CloudFormation assumes it to create, update and delete the
  stack's resources: it holds the actions each resource type's handlers declare (the CloudFormation
  registry's resource schemas, as cfn-lint ships them) for every type the template becomes once SAM
  has translated it, under every backend. Each action is scoped to the stack's resources by name where
  IAM lets it be (an action with a resource type of :data:`NAMED`), else granted on ``*`` (resources
  named by ids AWS makes up: distributions, APIs, VPCs, keys, scalable targets). Its IAM actions reach
  only roles named ``sentiment-*``, and a role it creates, or whose policies it changes, must carry the
  permissions boundary :data:`BOUNDARY`, which allows only what the stack's roles are granted.
- **The person who deploys** (the managed policies in ``deploy/deployer-policies/``): CloudFormation on
  the ``sentiment-*`` stacks, ``iam:PassRole`` on the service role alone and only to CloudFormation, the
  SAM CLI's artifacts bucket, and what ``make deploy``, ``make destroy``, ``make publish-web``, ``make
  smoke`` and ``make train-on-sagemaker`` call themselves, on the stack's resources. No IAM write, and
  no write on ``*``: :func:`broad_grants` lists any, and a test fails on one.

IAM caps a managed policy at 6,144 characters, white space not counted, and a role or user at 10
attached managed policies by default (IAM user guide, "IAM and AWS STS quotas"): each part comes as a
few policies under the cap. A few schemas name API operations that are no IAM action
(``s3:DeleteBucketCors``, ``s3:rest.put.object``): they could match nothing, and are left out.

``python -m sentiment_deploy deployer-policies`` writes them all; a test fails when what is committed drifts."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from sentiment_deploy.stack import ROOT
from sentiment_template import policies
from sentiment_template.reader import Template

POLICY_FOLDER = ROOT / "deploy" / "deployer-policies"
MAX_POLICY_CHARACTERS = 6144  # non-white-space characters in one managed policy
MAX_ATTACHED_POLICIES = 10
NAMES = "sentiment-*"  # every stack, bucket, table, repository and role here is named so
SERVICE_ROLE = "sentiment-cloudformation"
BOUNDARY = f"{SERVICE_ROLE}-boundary"
SERVICE_ROLE_ARN = f"arn:aws:iam::*:role/{SERVICE_ROLE}"  # in the deploying account, whichever it is
BOUNDARY_ARN = f"arn:aws:iam::*:policy/{BOUNDARY}"
CLOUDFORMATION = "cloudformation.amazonaws.com"
# Every way the template serves the model: a real-time endpoint brings its scaling resources.
BACKENDS = (
    {"InferenceBackend": "sagemaker"},
    {"InferenceBackend": "sagemaker", "SageMakerEndpointType": "realtime"},
    {"InferenceBackend": "ecs"},
)
# CloudFormation's calls are tagged with the stack's name on every resource that takes tags; a key has no
# name to scope it by, so its management is allowed on the stack's keys by that tag.
STACK_TAG = "aws:ResourceTag/aws:cloudformation:stack-name"
_WITH_A_MODEL = {"ModelImageUri": "image:tag", "NotificationEmail": "someone@example.org"}

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
        "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
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
        "Action": ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"],
        "Resource": f"arn:aws:dynamodb:*:*:table/{NAMES}",
    },
    {
        "Sid": "CleanUpAfterTheSmokeTest",
        "Effect": "Allow",
        "Action": "dynamodb:DeleteItem",
        "Resource": f"arn:aws:dynamodb:*:*:table/{NAMES}",
    },
    {
        # What the template keeps when the stack is deleted (DeletionPolicy) is no longer CloudFormation's:
        # make destroy deletes it itself, unless KEEP_DATA=yes.
        "Sid": "DeleteWhatTheStackKept",
        "Effect": "Allow",
        "Action": ["s3:DeleteBucket", "dynamodb:DeleteTable"],
        "Resource": [f"arn:aws:s3:::{NAMES}", f"arn:aws:dynamodb:*:*:table/{NAMES}"],
    },
    {
        # make smoke without ADMIN_API_KEY: the stack's own secret only. A secret CloudFormation creates
        # without a Name is named after its logical id.
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
        # A distribution's ARN holds an id CloudFront makes up: the stacks' own by the tag CloudFormation gives.
        "Sid": "RefreshThePage",
        "Effect": "Allow",
        "Action": "cloudfront:CreateInvalidation",
        "Resource": "arn:aws:cloudfront::*:distribution/*",
        "Condition": {"StringLike": {STACK_TAG: NAMES}},
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
            # The web ACL's own stack in us-east-1 (edge.py), made and changed directly, not by sam deploy.
            "cloudformation:CreateStack",
            "cloudformation:UpdateStack",
        ],
        "Resource": [
            f"arn:aws:cloudformation:*:*:stack/{NAMES}/*",
            "arn:aws:cloudformation:*:*:stack/aws-sam-cli-managed-default/*",
            "arn:aws:cloudformation:*:aws:transform/Serverless-2016-10-31",
        ],
    },
    {
        # CloudFormation acts with the service role, and only for CloudFormation may the person pass it.
        "Sid": "PassTheServiceRole",
        "Effect": "Allow",
        "Action": "iam:PassRole",
        "Resource": SERVICE_ROLE_ARN,
        "Condition": {"StringEquals": {"iam:PassedToService": CLOUDFORMATION}},
    },
    {
        # make deploy's preflight: is the service role there, and which boundary does it require.
        "Sid": "FindTheServiceRole",
        "Effect": "Allow",
        "Action": "iam:GetRole",
        "Resource": SERVICE_ROLE_ARN,
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
    return {str(resource["Type"]) for translated in _translations() for resource in translated["Resources"].values()}


def size(document: dict[str, Any]) -> int:
    """A policy's size as IAM counts it: its JSON without white space."""
    return len(json.dumps(document, separators=(",", ":")))


def _policy(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def deployer_policies() -> dict[str, dict[str, Any]]:
    """File name -> managed policy document: what the person who deploys attaches."""
    return {
        "sentiment-deploy-stack.json": _policy(SAM_DEPLOY),
        "sentiment-deploy-after.json": _policy(AFTER_SAM_DEPLOY),
    }


# ---- the service role ----

_TABLE = f"arn:aws:dynamodb:*:*:table/{NAMES}"
_FUNCTION = [f"arn:aws:lambda:*:*:function:{NAMES}", f"arn:aws:lambda:*:*:function:{NAMES}:*"]
# The log groups the template names (/aws/lambda/<stack>/..., /aws/vendedlogs/<stack>/...) and the one
# CloudFormation names (<stack>-<logical id>-<suffix>); IAM names a log group's ARN with a trailing ":*".
_LOG_GROUPS = [f"{NAMES}", f"/aws/lambda/{NAMES}", f"/aws/vendedlogs/{NAMES}"]
# Service prefix -> IAM resource type (the Service Authorization Reference's) -> the ARNs the stack's
# resources of that type have: named by the template, or by CloudFormation after the stack
# (<stack name>-<logical id>-<suffix>; CloudFormation user guide, "Name type"), so ``sentiment-*``.
# The rest have ids AWS makes up (distributions, APIs, VPCs, keys, scalable targets, event source
# mappings) or names without the stack's (SageMaker's, Step Functions'): their actions are on ``*``.
NAMED: dict[str, dict[str, list[str]]] = {
    "dynamodb": {"table": [_TABLE], "index": [f"{_TABLE}/index/*"], "stream": [f"{_TABLE}/stream/*"]},
    "s3": {"bucket": [f"arn:aws:s3:::{NAMES}"], "object": [f"arn:aws:s3:::{NAMES}/*"]},
    "sqs": {"queue": [f"arn:aws:sqs:*:*:{NAMES}"]},
    "sns": {"topic": [f"arn:aws:sns:*:*:{NAMES}"]},
    "lambda": {"function": _FUNCTION, "function alias": _FUNCTION, "function version": _FUNCTION},
    "logs": {
        "log-group": [f"arn:aws:logs:*:*:log-group:{group}{end}" for group in _LOG_GROUPS for end in ("", ":*")],
        "log-stream": [f"arn:aws:logs:*:*:log-group:{group}:log-stream:*" for group in _LOG_GROUPS],
    },
    "cloudwatch": {
        "alarm": [f"arn:aws:cloudwatch:*:*:alarm:{NAMES}"],
        "dashboard": [f"arn:aws:cloudwatch::*:dashboard/{NAMES}"],
    },
    "events": {"rule-on-default-event-bus": [f"arn:aws:events:*:*:rule/{NAMES}"]},
    "ecr": {"repository": [f"arn:aws:ecr:*:*:repository/{NAMES}"]},
    "ecs": {
        "cluster": [f"arn:aws:ecs:*:*:cluster/{NAMES}"],
        "service": [f"arn:aws:ecs:*:*:service/{NAMES}/*"],
        "task-definition": [f"arn:aws:ecs:*:*:task-definition/{NAMES}:*"],
    },
    # A secret CloudFormation creates without a Name is named after its logical id.
    "secretsmanager": {
        "Secret": [
            f"arn:aws:secretsmanager:*:*:secret:{NAMES}",
            "arn:aws:secretsmanager:*:*:secret:AdminApiKeySecret-*",
        ]
    },
}
# A key's management, which could disable or delete it, only on the stack's own key (by its tag).
KEY_MANAGEMENT = {
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
}
# The service-linked roles CloudFormation's handlers create on first use: the ECS service's and the
# scaling of an endpoint or service (Application Auto Scaling user guide, "Service-linked roles").
SERVICE_LINKED = [
    "ecs.amazonaws.com",
    "ecs.application-autoscaling.amazonaws.com",
    "sagemaker.application-autoscaling.amazonaws.com",
]
_ROLES = f"arn:aws:iam::*:role/{NAMES}"
# Roles' actions that take the iam:PermissionsBoundary condition key: the role they change must have the
# boundary (IAM user guide, "Permissions boundaries for IAM entities", delegating responsibility).
BOUNDED_ROLE_ACTIONS = [
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
]
ROLE_ACTIONS = [
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "iam:UpdateAssumeRolePolicy",
    "iam:DeleteRole",
]


@functools.cache
def _resource_types_of_actions() -> dict[str, dict[str, list[str]]]:
    """Service prefix -> action (lower case) -> the IAM resource types it acts on."""
    services = json.loads((_cfnlint_data() / "AdditionalSpecs" / "Policies.json").read_text())
    return {
        prefix: {name: list(action.get("Resources", [])) for name, action in service.get("Actions", {}).items()}
        for prefix, service in services.items()
    }


def scope_of(action: str) -> list[str]:
    """The ARNs ``action`` is allowed on for the stack: its resource types' names, else ``*``."""
    service, _, name = action.partition(":")
    named = NAMED.get(service, {})
    types = _resource_types_of_actions().get(service, {}).get(name.lower(), [])
    arns = [arn for kind in types for arn in named.get(kind, [])]
    return sorted(dict.fromkeys(arns)) if arns else ["*"]


@functools.cache
def _translations() -> list[dict[str, Any]]:
    """SAM's translation of the template under each backend, with a model, as sam deploy makes it."""
    return [
        policies.translate(Template.read(ROOT / "template.yaml", overrides={**backend, **_WITH_A_MODEL}))
        for backend in BACKENDS
    ]


def _layer_names() -> list[str]:
    """SAM names a layer after its logical id, not the stack: the layers' ARNs by those names."""
    names = {
        str(resource["Properties"]["LayerName"])
        for translated in _translations()
        for resource in translated["Resources"].values()
        if resource["Type"] == "AWS::Lambda::LayerVersion"
    }
    return sorted(f"arn:aws:lambda:*:*:layer:{name}{end}" for name in names for end in ("", ":*"))


def _role_services() -> list[str]:
    """The services the stack's roles are for, which CloudFormation passes them to."""
    services: set[str] = set()
    for translated in _translations():
        for resource in translated["Resources"].values():
            if resource["Type"] != "AWS::IAM::Role":
                continue
            for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                service = statement.get("Principal", {}).get("Service", [])
                services.update([service] if isinstance(service, str) else service)
    return sorted(services)


def _service_role_iam() -> list[dict[str, Any]]:
    return [
        {
            "Sid": "CreateTheStacksRolesWithinTheBoundary",
            "Effect": "Allow",
            "Action": BOUNDED_ROLE_ACTIONS,
            "Resource": _ROLES,
            "Condition": {"ArnLike": {"iam:PermissionsBoundary": BOUNDARY_ARN}},
        },
        {"Sid": "KeepTheStacksRoles", "Effect": "Allow", "Action": ROLE_ACTIONS, "Resource": _ROLES},
        {
            "Sid": "PassTheStacksRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": _ROLES,
            "Condition": {"StringEquals": {"iam:PassedToService": _role_services()}},
        },
        {
            "Sid": "CreateServiceLinkedRoles",
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": "arn:aws:iam::*:role/aws-service-role/*",
            "Condition": {"StringEquals": {"iam:AWSServiceName": SERVICE_LINKED}},
        },
        {"Sid": "ListRoles", "Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"},
        {
            # The role must not widen itself, nor lift a boundary: IAM's own rules are enforced by its
            # permissions, and these two by an explicit deny, which no allow outweighs.
            "Sid": "NeverItselfNorABoundary",
            "Effect": "Deny",
            "Action": ["iam:*"],
            "Resource": SERVICE_ROLE_ARN,
        },
        {"Sid": "NeverLiftABoundary", "Effect": "Deny", "Action": "iam:DeleteRolePermissionsBoundary", "Resource": "*"},
        {
            # CloudFormation reads the functions' code and the layer from where sam deploy uploaded them.
            "Sid": "ReadTheUploadedCode",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": "arn:aws:s3:::aws-sam-cli-managed-default-*/*",
        },
    ]


def service_role_actions() -> list[str]:
    """What CloudFormation calls to create, update and delete the stack's resources, IAM's aside."""
    return sorted(
        {
            action
            for kind in template_resource_types()
            for action in handler_actions(kind) | CALLER_ACTIONS.get(kind, set())
            if known_to_iam(action) and not action.startswith("iam:")
        }
    )


def _resource_statements() -> list[dict[str, Any]]:
    """Per service, a statement on the stack's names (each action applies only to ARNs of its own
    resource types, so one list serves them all), one on the stack's key, one on ``*``."""
    grouped: dict[tuple[str, str], tuple[list[str], set[str]]] = {}
    for action in service_role_actions():
        service = action.split(":", 1)[0]
        if action in KEY_MANAGEMENT:
            kind, arns = "Key", ["*"]
        elif action.startswith("lambda:") and "layer" in action.lower():
            kind, arns = "Names", _layer_names()
        else:
            arns = scope_of(action)
            kind = "AnyName" if arns == ["*"] else "Names"
        actions, resources = grouped.setdefault((service, kind), ([], set()))
        actions.append(action)
        resources.update(arns)
    statements = []
    for (service, kind), (actions, resources) in sorted(grouped.items()):
        words = "".join(word.capitalize() for word in re.split(r"[^a-z0-9]+", service))
        sid = {"Names": "OnTheStacksNames", "Key": "OnTheStacksKey", "AnyName": "OnAnyName"}[kind]
        listed = sorted(resources)
        statement: dict[str, Any] = {
            "Sid": words + sid,
            "Effect": "Allow",
            "Action": actions,
            "Resource": listed if len(listed) > 1 else listed[0],
        }
        if kind == "Key":
            statement["Condition"] = {"StringLike": {STACK_TAG: NAMES}}
        statements.append(statement)
    return statements


def service_role_policies() -> dict[str, dict[str, Any]]:
    """Policy name suffix -> document: the service role's, each under IAM's cap."""
    policies = {"iam": _policy(_service_role_iam())}
    chunk: list[dict[str, Any]] = []
    for statement in _resource_statements():
        if chunk and size(_policy([*chunk, statement])) > MAX_POLICY_CHARACTERS:
            policies[f"resources-{len(policies)}"] = _policy(chunk)
            chunk = []
        chunk.append(statement)
    if chunk:
        policies[f"resources-{len(policies)}"] = _policy(chunk)
    return policies


# IAM writes a role under the boundary may never make, whatever its own policies say.
BOUNDARY_DENIES = [
    "iam:Add*",
    "iam:Attach*",
    "iam:Change*",
    "iam:Create*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:Put*",
    "iam:Remove*",
    "iam:Set*",
    "iam:Tag*",
    "iam:Untag*",
    "iam:Update*",
    "iam:Upload*",
    "organizations:*",
    "account:*",
]


def stack_role_actions() -> list[str]:
    """Every action a role of the stack is granted, under every backend (SAM's managed policies too)."""
    actions: set[str] = set()
    for backend, translated in zip(BACKENDS, _translations(), strict=True):
        template = Template.read(ROOT / "template.yaml", overrides={**backend, **_WITH_A_MODEL})
        for principal in policies.principals(template, translated).values():
            actions.update(principal.granted_actions())
    return sorted(actions)


# Where a role under the boundary keeps data or passes roles, it reaches only the stacks' own (by their
# names, as the service role does): a role the service role were made to create for someone else could
# otherwise read any table, bucket or secret of the account. The rest (logs, metrics, traces, network
# interfaces, image pulls, SageMaker, Step Functions) is allowed on ``*``, the roles' own policies naming
# what they use.
BOUNDARY_SCOPED = {"dynamodb", "s3", "secretsmanager", "sqs", "sns", "lambda", "iam"}


def boundary_policy() -> dict[str, Any]:
    """The boundary every role the service role creates must have: what the stack's roles use, on the
    stacks' data, and no IAM write."""
    grouped: dict[tuple[str, ...], list[str]] = {}
    for action in stack_role_actions():
        service = action.split(":", 1)[0]
        scope: tuple[str, ...]
        if service == "iam":
            scope = (_ROLES,)
        elif service in BOUNDARY_SCOPED:
            scope = tuple(scope_of(action))
        else:
            scope = ("*",)
        grouped.setdefault(scope, []).append(action)
    everywhere = grouped.pop(("*",), [])
    allowed = [{"Sid": "WhatTheStacksRolesUse", "Effect": "Allow", "Action": everywhere, "Resource": "*"}]
    allowed += [
        {
            "Sid": f"OnTheStacksOwn{number}",
            "Effect": "Allow",
            "Action": actions,
            "Resource": list(scope) if len(scope) > 1 else scope[0],
        }
        for number, (scope, actions) in enumerate(sorted(grouped.items()), start=1)
    ]
    return _policy([*allowed, {"Sid": "NoIamWrites", "Effect": "Deny", "Action": BOUNDARY_DENIES, "Resource": "*"}])


# ---- what a person's policy must never hold ----

# Access levels IAM calls List and Read, by the verbs that start their actions' names.
READ_VERBS = ("Get", "List", "Describe", "BatchGet", "BatchCheck", "Query", "Scan", "Validate", "Head")
_ANY_OF_A_KIND = re.compile(r"^arn:aws:[a-z0-9-]*:[^:]*:[^:]*:(?:[a-z-]+[:/])?\*$")


def is_read(action: str) -> bool:
    return action.split(":", 1)[1].startswith(READ_VERBS)


def _any_name(resource: str) -> bool:
    """``*``, or every resource of a kind (``arn:aws:cloudfront::*:distribution/*``)."""
    return resource == "*" or bool(_ANY_OF_A_KIND.match(resource))


def _as_list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _broad(action: str, resources: list[str], conditions: set[str]) -> str | None:
    """Why ``action`` on ``resources`` is more than a person may hold, or None."""
    wide = [resource for resource in resources if _any_name(resource)]
    name = action.lower()
    if name == "iam:passrole":
        return None if "iam:PassedToService" in conditions else "iam:PassRole without iam:PassedToService"
    if name.startswith("iam:") and not is_read(action):
        return f"{action} is an IAM write"
    if name == "kms:schedulekeydeletion":
        return "kms:ScheduleKeyDeletion"
    if name == "secretsmanager:getsecretvalue" and any(resource.endswith(":secret:*") for resource in resources):
        return "secretsmanager:GetSecretValue on every secret"
    narrowed = STACK_TAG in conditions
    if wide and not narrowed and (action == "*" or action.endswith(":*") or not is_read(action)):
        return f"{action} on {', '.join(wide)}"
    return None


def broad_grants(document: dict[str, Any]) -> list[str]:
    """What a person's policy must not allow, each said: an IAM write, a write on any name without a
    condition that narrows it to the stacks', kms:ScheduleKeyDeletion, every secret's value, or iam:PassRole
    to any service."""
    found = []
    for statement in document["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        conditions = {key for keys in statement.get("Condition", {}).values() for key in keys}
        for action in _as_list(statement["Action"]):
            why = _broad(action, _as_list(statement["Resource"]), conditions)
            if why:
                found.append(f"{statement.get('Sid', '?')}: {why}")
    return found


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
