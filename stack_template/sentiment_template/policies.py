"""The roles and policies the template grants, as IAM reads them: SAM's translation of ``template.yaml``
gives every role (:func:`principals`), each a :class:`Principal` whose statements decide a request as IAM's
policy evaluation does (IAM user guide, "Policy evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html). The deployer
(``deploy/deployer-policies/``) and the CloudFormation service role (``deploy/service-role/template.yaml``)
are principals too. Locally each principal signs with an access key derived from its ARN
(:func:`access_key_for`), which is how the local stack's IAM check knows who is calling.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment_template import cloudformation
from sentiment_template.reader import ACCOUNT, ROOT, Template, load


@dataclass(frozen=True)
class Authorization:
    """One thing IAM must allow: an action on a resource, with the request's condition keys."""

    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


SECRET_ACCESS_KEY = "local-role-credentials"  # noqa: S105 - moto checks no signature

# The AWS managed policies SAM attaches to the roles it makes, as AWS publishes them (IAM console,
# "AWS managed policies"; the versions current when this was written).
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": "*",
        }
    ],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        },
    ],
    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy": [
        {
            "Effect": "Allow",
            "Action": [
                "ecr:GetAuthorizationToken",
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ],
}


def access_key_for(role_arn: str) -> str:
    """The access key a principal running with ``role_arn`` signs with (temporary keys start ASIA)."""
    digest = base64.b32encode(hashlib.sha256(role_arn.encode()).digest()).decode()
    return "ASIA" + digest[:16]


def credentials_for(role_arn: str) -> dict[str, str]:
    """The environment variables that give a process the role's credentials."""
    return {
        "AWS_ACCESS_KEY_ID": access_key_for(role_arn),
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_SESSION_TOKEN": f"local-session-{role_arn.rsplit('/', 1)[-1]}",
    }


# ---- policies ----


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(item) for item in (value if isinstance(value, list) else [value]))


@functools.cache
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if part == "*" else "." if part == "?" else re.escape(part) for part in re.split(r"([*?])", pattern))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _matches(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` any one character; nothing else is special."""
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


_STRING_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda expected, actual: expected == actual,
    "StringLike": _matches,
    "StringEqualsIgnoreCase": lambda expected, actual: expected.lower() == actual.lower(),
    "ArnEquals": lambda expected, actual: expected == actual,
    "ArnLike": _matches,
    "Bool": lambda expected, actual: expected.lower() == actual.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


class UnsupportedPolicy(ValueError):
    """A policy element the local check cannot evaluate; refused when the roles are read, never guessed."""


def _condition_holds(operator: str, key: str, expected: tuple[str, ...], context: Mapping[str, str]) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    lowered = {name.lower(): value for name, value in context.items()}
    actual = lowered.get(key.lower())
    if actual is None:
        # A key missing from the request: negated operators match, the others do not (IfExists: both match).
        return if_exists or base in _NEGATED
    if base in _NEGATED:
        return not any(_STRING_OPERATORS[_NEGATED[base]](value, actual) for value in expected)
    return any(_STRING_OPERATORS[base](value, actual) for value in expected)


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    sid: str = ""
    policy: str = ""  # the name of the policy holding it

    @classmethod
    def parse(cls, raw: Mapping[str, Any], policy: str) -> Statement:
        conditions = []
        for operator, keys in raw.get("Condition", {}).items():
            base = operator.removesuffix("IfExists")
            if base not in _STRING_OPERATORS and base not in _NEGATED:
                raise UnsupportedPolicy(f"{policy}: condition operator {operator} is not evaluated locally")
            for key, values in keys.items():
                conditions.append((operator, str(key), _as_list(values)))
        statement = cls(
            effect=str(raw["Effect"]),
            actions=_as_list(raw.get("Action")),
            not_actions=_as_list(raw.get("NotAction")),
            resources=_as_list(raw.get("Resource")),
            not_resources=_as_list(raw.get("NotResource")),
            conditions=tuple(conditions),
            sid=str(raw.get("Sid", "")),
            policy=policy,
        )
        if statement.effect not in {"Allow", "Deny"}:
            raise UnsupportedPolicy(f"{policy}: Effect must be Allow or Deny, not {statement.effect!r}")
        return statement

    def applies_to(self, request: Authorization) -> bool:
        if self.actions and not any(_matches(pattern, request.action, ignore_case=True) for pattern in self.actions):
            return False
        if self.not_actions and any(
            _matches(pattern, request.action, ignore_case=True) for pattern in self.not_actions
        ):
            return False
        if self.resources and not any(_matches(pattern, request.resource) for pattern in self.resources):
            return False
        if self.not_resources and any(_matches(pattern, request.resource) for pattern in self.not_resources):
            return False
        return all(
            _condition_holds(operator, key, values, request.context) for operator, key, values in self.conditions
        )

    @property
    def label(self) -> str:
        return f"{self.policy}/{self.sid}" if self.sid else self.policy


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit_deny: bool = False
    statement: Statement | None = None


@dataclass(frozen=True)
class Principal:
    """A role, and who runs with it."""

    logical_id: str  # the role's logical id in the translated template
    arn: str
    statements: tuple[Statement, ...]

    @property
    def name(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def access_key(self) -> str:
        return access_key_for(self.arn)

    @property
    def session_arn(self) -> str:
        if ":user/" in self.arn:  # a person's own credentials, not a role's session
            return self.arn
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/{self.name}/{self.logical_id.removesuffix('Role')}"

    def decide(self, request: Authorization) -> Decision:
        allowed_by = None
        for statement in self.statements:
            if statement.applies_to(request):
                if statement.effect == "Deny":
                    return Decision(False, explicit_deny=True, statement=statement)
                allowed_by = allowed_by or statement
        return Decision(allowed_by is not None, statement=allowed_by)

    def without(self, sid: str) -> Principal:
        """The same role with one statement (by Sid, or ``policy/Sid``) taken out: what a test removes."""
        kept = tuple(statement for statement in self.statements if sid not in {statement.sid, statement.label})
        if len(kept) == len(self.statements):
            raise KeyError(f"{self.logical_id} has no statement {sid!r}")
        return Principal(self.logical_id, self.arn, kept)

    def granted_actions(self) -> list[str]:
        return sorted(
            {action for statement in self.statements if statement.effect == "Allow" for action in statement.actions}
        )


# ---- the roles, from the template ----


def translate(template: Template) -> dict[str, Any]:
    """``template.yaml`` as CloudFormation, by SAM's translator (the roles SAM makes included)."""
    return cloudformation.translate(template.document, template.overrides)


def principals(template: Template, translated: dict[str, Any] | None = None) -> dict[str, Principal]:
    """Every role the deployed stack would have, by logical id, with its policies resolved."""
    translated = translated if translated is not None else translate(template)
    found = {}
    for logical_id, resource in translated["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        condition = resource.get("Condition")
        if condition and not template.condition_holds(condition):
            continue
        properties = template.resolve(resource.get("Properties", {}))
        statements: list[Statement] = []
        for policy in properties.get("Policies", []):
            for raw in _as_statements(policy["PolicyDocument"]):
                statements.append(Statement.parse(raw, str(policy["PolicyName"])))
        for arn in properties.get("ManagedPolicyArns", []):
            if arn not in MANAGED_POLICIES:
                raise UnsupportedPolicy(f"{logical_id}: the managed policy {arn} is not known locally")
            statements.extend(Statement.parse(raw, arn.rsplit("/", 1)[-1]) for raw in MANAGED_POLICIES[arn])
        found[logical_id] = Principal(logical_id, template.role_arn(logical_id), tuple(statements))
    return found


DEPLOYER_POLICIES = ROOT / "deploy" / "deployer-policies"
DEPLOYER_ARN = f"arn:aws:iam::{ACCOUNT}:user/sentiment-deployer"
SERVICE_ROLE_TEMPLATE = ROOT / "deploy" / "service-role" / "template.yaml"
SERVICE_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/sentiment-cloudformation"


def deployer(folder: Path = DEPLOYER_POLICIES, only: Iterable[str] = ()) -> Principal:
    """The person who deploys, with the policies docs/aws.md tells them to attach (``only`` these files,
    if named): the deploy and destroy steps' calls are checked against them when signed with
    :func:`credentials_for` ``(DEPLOYER_ARN)``."""
    chosen = set(only)
    statements = tuple(
        Statement.parse(raw, path.stem)
        for path in sorted(folder.glob("*.json"))
        if not chosen or path.name in chosen
        for raw in _as_statements(json.loads(path.read_text()))
    )
    return Principal("Deployer", DEPLOYER_ARN, statements)


def service_role(template: Path = SERVICE_ROLE_TEMPLATE) -> Principal:
    """The CloudFormation service role, with the managed policies its template attaches to it: the local
    stack acts with it where CloudFormation would, on a stack it is associated with (CloudFormation user
    guide, "CloudFormation service role": CloudFormation uses the role for every operation on the stack)."""
    statements: list[Statement] = []
    for resource in load(template)["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": "ServiceRole"} in properties.get("Roles", []):
            name = str(properties["ManagedPolicyName"])
            statements.extend(Statement.parse(raw, name) for raw in _as_statements(properties["PolicyDocument"]))
    return Principal("CloudFormation", SERVICE_ROLE_ARN, tuple(statements))


def _as_statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement", [])
    return list(statements) if isinstance(statements, list) else [statements]
