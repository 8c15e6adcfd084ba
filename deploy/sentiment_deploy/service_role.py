"""``deploy/service-role/template.yaml``: the CloudFormation service role the stacks are deployed with,
and the permissions boundary every role it creates must carry, which an account administrator deploys
once (docs/aws.md, "Who may deploy").

The template is written by hand but for one block of its ``Resources``: the boundary and the role's
managed policies, as :mod:`sentiment_deploy.policy` makes them from the template the stacks are made of.
``python -m sentiment_deploy deployer-policies`` writes the block between its two marker lines; a test
fails when it differs from what they would be now. The local stack reads the role's policies from here
(:func:`committed_policies`), so that what it enforces is what the administrator deploys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from botocore.exceptions import ClientError

from sentiment_deploy import github_role, policy
from sentiment_deploy.stack import ROOT, DeployError

TEMPLATE = ROOT / "deploy" / "service-role" / "template.yaml"
ROLE = "ServiceRole"
BOUNDARY = "BoundaryPolicy"
BEGIN = "  # ---- begin: the service role's policies and the boundary"
END = "  # ---- end: the service role's policies and the boundary ----"

_BY_ID_OR_SERVICE = "CloudFormation's handlers name these actions for resources whose ARNs hold ids AWS makes up"
# checkov's findings on the service role's policies, each what the policy is for: CloudFormation creates the
# stack's resources with it, and some of them can only be named by ids made when they are created.
CHECKOV_SKIPS = [
    {"id": "CKV_AWS_107", "comment": f"{_BY_ID_OR_SERVICE}; no action reads credentials"},
    {"id": "CKV_AWS_108", "comment": f"{_BY_ID_OR_SERVICE}; data reads are on the stack's names"},
    {"id": "CKV_AWS_109", "comment": f"{_BY_ID_OR_SERVICE}: the distributions' and keys' policies"},
    {"id": "CKV_AWS_110", "comment": "Roles only named sentiment-*, only under the boundary, never this role"},
    {"id": "CKV_AWS_111", "comment": f"{_BY_ID_OR_SERVICE}: creating and deleting them is the policy's purpose"},
    {"id": "CKV_AWS_356", "comment": f"{_BY_ID_OR_SERVICE}, or that IAM allows only on *"},
]
BOUNDARY_SKIPS = [
    {"id": "CKV_AWS_107", "comment": "A boundary grants nothing: the roles' own policies name their resources"},
    {"id": "CKV_AWS_108", "comment": "A boundary grants nothing: the roles' own policies name their resources"},
    {"id": "CKV_AWS_109", "comment": "The state machine's role passes the training role; its own policy names it"},
    {"id": "CKV_AWS_111", "comment": "A boundary grants nothing: the roles' own policies name their resources"},
    {"id": "CKV_AWS_356", "comment": "A boundary grants nothing: the roles' own policies name their resources"},
]


def resources() -> dict[str, dict[str, Any]]:
    """The boundary, then the role's managed policies, as the template's resources."""
    found: dict[str, dict[str, Any]] = {
        BOUNDARY: {
            "Type": "AWS::IAM::ManagedPolicy",
            "Metadata": {"checkov": {"skip": BOUNDARY_SKIPS}},
            "Properties": {
                "ManagedPolicyName": policy.BOUNDARY,
                "Description": "The most a role of a sentiment stack may do: what the stacks' roles use, no IAM write",
                "PolicyDocument": policy.boundary_policy(),
            },
        }
    }
    for suffix, document in policy.service_role_policies().items():
        logical_id = "ServiceRole" + "".join(part.capitalize() for part in suffix.split("-")) + "Policy"
        found[logical_id] = {
            "Type": "AWS::IAM::ManagedPolicy",
            "Metadata": {"checkov": {"skip": CHECKOV_SKIPS}},
            "Properties": {
                "ManagedPolicyName": f"{policy.SERVICE_ROLE}-{suffix}",
                "Description": f"What CloudFormation does with {policy.SERVICE_ROLE} ({suffix})",
                "Roles": [{"Ref": ROLE}],
                "PolicyDocument": document,
            },
        }
    return found


def with_policies(template: str) -> str:
    return github_role.between_markers(template, BEGIN, END, github_role.render(resources()))


def write(template: Path = TEMPLATE) -> Path:
    template.write_text(with_policies(template.read_text()))
    return template


class _Loader(yaml.SafeLoader):
    """Reads the template's short-form intrinsic functions (``!Ref``…) as plain tagged values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def committed(template: Path = TEMPLATE) -> dict[str, Any]:
    return dict(yaml.load(template.read_text(), Loader=_Loader))  # noqa: S506 - a safe loader's subclass


def committed_policies(template: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    """Managed policy name -> document, of every policy attached to the role, as committed."""
    found = {}
    for resource in committed(template)["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": ROLE} in properties.get("Roles", []):
            found[str(properties["ManagedPolicyName"])] = dict(properties["PolicyDocument"])
    return found


def committed_boundary(template: Path = TEMPLATE) -> dict[str, Any]:
    return dict(committed(template)["Resources"][BOUNDARY]["Properties"]["PolicyDocument"])


# ---- in the deploying account ----

STACK = "cloudformation-sentiment-deploy"  # the administrator's stack: outside sentiment-*, on purpose
CREATE_IT = (
    "an account administrator creates it once, with the boundary it requires: aws cloudformation deploy "
    f"--template-file deploy/service-role/template.yaml --stack-name {STACK} --capabilities CAPABILITY_NAMED_IAM "
    "(docs/aws.md, 'Who may deploy')"
)


@dataclass(frozen=True)
class ServiceRole:
    """The role CloudFormation deploys the stack with, and the boundary it requires of the stack's roles."""

    arn: str
    boundary_arn: str


def find(session: Any) -> ServiceRole:
    """The account's service role, or a DeployError saying who makes it and how."""
    iam = session.client("iam")
    try:
        arn = str(iam.get_role(RoleName=policy.SERVICE_ROLE)["Role"]["Arn"])
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code == "NoSuchEntity":
            raise DeployError(
                f"this account has no CloudFormation service role {policy.SERVICE_ROLE}: {CREATE_IT}"
            ) from None
        if code in {"AccessDenied", "AccessDeniedException"}:
            raise DeployError(
                f"you may not read the role {policy.SERVICE_ROLE} (iam:GetRole): attach the policies of "
                "deploy/deployer-policies/ to whoever deploys (docs/aws.md, 'Who may deploy')"
            ) from None
        raise
    partition, account = arn.split(":")[1], arn.split(":")[4]
    return ServiceRole(arn, f"arn:{partition}:iam::{account}:policy/{policy.BOUNDARY}")
