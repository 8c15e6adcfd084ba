"""Who may deploy, and with what: the trust split between the person who deploys and the CloudFormation
service role an account administrator creates once.

- The person's policies (``deploy/deployer-policies/``) hold no IAM write, no write on every resource of
  a kind, no key deletion, no secret but the stack's admin key, and pass only the service role, only to
  CloudFormation: a static check (:func:`sentiment_deploy.policy.broad_grants`) names any such grant.
- The service role (``deploy/service-role/template.yaml``) may be assumed by CloudFormation alone; its IAM
  permissions reach only roles named ``sentiment-*``, create or change one only under the boundary, and
  never itself; the boundary allows what the stack's roles use and no IAM write.
- Every role ``template.yaml`` makes carries the boundary when the stack is given one.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sentiment_deploy import policy, service_role
from sentiment_template import policies
from sentiment_template.policies import Authorization, Principal, Statement
from sentiment_template.policies import translate as sam_translate
from sentiment_template.reader import Template
from tests.conftest import ROOT

BOUNDARY = "arn:aws:iam::123456789012:policy/sentiment-cloudformation-boundary"
STACK_ROLE = "arn:aws:iam::123456789012:role/sentiment-feedback-dev-ApiFunctionRole-AB12CD"


def committed_deployer_policies() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(policy.POLICY_FOLDER.glob("*.json"))}


def allows(principal: Principal, action: str, resource: str, **context: str) -> bool:
    return principal.decide(Authorization(action, resource, context)).allowed


def secret(name: str) -> str:
    return f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}"


# ---- the person's policies ----


def test_no_deployer_policy_grants_an_iam_write_a_write_on_any_name_or_a_secret() -> None:
    # Given the policies docs/aws.md tells the person who deploys to attach
    policies = committed_deployer_policies()

    # Then none grants more than driving the stacks and what make deploy and make destroy call themselves
    assert policies
    for name, document in policies.items():
        assert policy.broad_grants(document) == [], name


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ({"Action": "iam:CreateRole", "Resource": "arn:aws:iam::*:role/sentiment-*"}, "iam:CreateRole is an IAM write"),
        ({"Action": "iam:AttachRolePolicy", "Resource": "*"}, "IAM write"),
        ({"Action": "s3:PutBucketPolicy", "Resource": "*"}, "s3:PutBucketPolicy on *"),
        ({"Action": "lambda:CreateFunction", "Resource": "*"}, "lambda:CreateFunction on *"),
        (
            {"Action": "cloudfront:CreateInvalidation", "Resource": "arn:aws:cloudfront::*:distribution/*"},
            "on arn:aws:cloudfront::*:distribution/*",
        ),
        ({"Action": "kms:ScheduleKeyDeletion", "Resource": "arn:aws:kms:*:*:key/1234"}, "kms:ScheduleKeyDeletion"),
        (
            {"Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:*"},
            "every secret",
        ),
        ({"Action": "iam:PassRole", "Resource": policy.SERVICE_ROLE_ARN}, "without iam:PassedToService"),
        ({"Action": "s3:*", "Resource": "*"}, "s3:* on *"),
    ],
)
def test_the_static_check_names_each_grant_too_broad_for_a_person(statement: dict[str, Any], named: str) -> None:
    # Given a policy with one statement that would let its holder escape the stacks
    document = {"Version": "2012-10-17", "Statement": [{"Sid": "TooMuch", "Effect": "Allow", **statement}]}

    # Then the check names the statement and why
    (found,) = policy.broad_grants(document)
    assert found.startswith("TooMuch: ") and named in found


def test_reads_and_writes_narrowed_to_the_stacks_pass_the_static_check() -> None:
    document = policy._policy(
        [
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::sentiment-*/*"},
            {
                "Effect": "Allow",
                "Action": "cloudfront:CreateInvalidation",
                "Resource": "arn:aws:cloudfront::*:distribution/*",
                "Condition": {"StringLike": {policy.STACK_TAG: "sentiment-*"}},
            },
            {"Effect": "Deny", "Action": "iam:*", "Resource": "*"},
        ]
    )
    assert policy.broad_grants(document) == []


def test_the_person_passes_only_the_service_role_to_cloudformation_and_the_training_role_to_sagemaker() -> None:
    person = policies.deployer()

    # The service role, to CloudFormation only
    service_role_arn = policies.SERVICE_ROLE_ARN
    assert allows(person, "iam:PassRole", service_role_arn, **{"iam:PassedToService": "cloudformation.amazonaws.com"})
    assert not allows(person, "iam:PassRole", service_role_arn, **{"iam:PassedToService": "lambda.amazonaws.com"})
    # No other role to CloudFormation (an administrator's role would make CloudFormation an administrator)
    admin = "arn:aws:iam::123456789012:role/Admin"
    assert not allows(person, "iam:PassRole", admin, **{"iam:PassedToService": "cloudformation.amazonaws.com"})
    # and no resource of the stack made by the person: CloudFormation makes them
    assert not allows(person, "lambda:CreateFunction", "arn:aws:lambda:us-east-1:123456789012:function:sentiment-x")
    assert not allows(person, "iam:CreateRole", "arn:aws:iam::123456789012:role/sentiment-x")
    assert not allows(person, "sqs:DeleteQueue", "arn:aws:sqs:us-east-1:123456789012:sentiment-x")


# ---- the service role ----


def test_the_service_roles_template_holds_the_policies_deployer_policies_writes() -> None:
    text = service_role.TEMPLATE.read_text()
    assert service_role.with_policies(text) == text, "run: python -m sentiment_deploy deployer-policies"
    documents = list(service_role.committed_policies().values())
    assert len(documents) <= policy.MAX_ATTACHED_POLICIES
    assert all(policy.size(document) <= policy.MAX_POLICY_CHARACTERS for document in documents)
    assert policy.size(service_role.committed_boundary()) <= policy.MAX_POLICY_CHARACTERS


def test_only_cloudformation_may_assume_the_service_role() -> None:
    role = service_role.committed()["Resources"][service_role.ROLE]["Properties"]
    assert role["RoleName"] == policy.SERVICE_ROLE
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "cloudformation.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert not {"Policies", "ManagedPolicyArns"} & set(role)


def test_the_service_role_makes_or_changes_a_role_only_under_the_boundary_and_never_itself() -> None:
    role = policies.service_role()
    bounded = {"iam:PermissionsBoundary": BOUNDARY}

    # A stack's role, with the boundary: created, given policies
    assert allows(role, "iam:CreateRole", STACK_ROLE, **bounded)
    assert allows(role, "iam:PutRolePolicy", STACK_ROLE, **bounded)
    assert allows(role, "iam:AttachRolePolicy", STACK_ROLE, **bounded)
    # without it, or with another, or a role not named sentiment-*: refused
    assert not allows(role, "iam:CreateRole", STACK_ROLE)
    other = "arn:aws:iam::123456789012:policy/AdministratorAccess"
    assert not allows(role, "iam:CreateRole", STACK_ROLE, **{"iam:PermissionsBoundary": other})
    assert not allows(role, "iam:CreateRole", "arn:aws:iam::123456789012:role/Admin", **bounded)
    # itself: never, whatever the request says
    assert not allows(role, "iam:PutRolePolicy", policies.SERVICE_ROLE_ARN, **bounded)
    assert not allows(role, "iam:UpdateAssumeRolePolicy", policies.SERVICE_ROLE_ARN)
    assert not allows(
        role, "iam:PassRole", policies.SERVICE_ROLE_ARN, **{"iam:PassedToService": "lambda.amazonaws.com"}
    )
    # nor lift a boundary, nor touch a policy (the boundary's included)
    assert not allows(role, "iam:DeleteRolePermissionsBoundary", STACK_ROLE)
    assert not allows(role, "iam:CreatePolicyVersion", BOUNDARY)
    # and it passes the stack's roles only to the services they are for
    assert allows(role, "iam:PassRole", STACK_ROLE, **{"iam:PassedToService": "lambda.amazonaws.com"})
    assert not allows(role, "iam:PassRole", STACK_ROLE, **{"iam:PassedToService": "ec2.amazonaws.com"})


def test_the_service_role_reads_no_secret_and_deletes_no_key_but_the_stacks() -> None:
    role = policies.service_role()
    assert allows(role, "secretsmanager:GetSecretValue", secret("AdminApiKeySecret-aB3dE5"))
    assert allows(role, "secretsmanager:DeleteSecret", secret("sentiment-local-AdminApiKeySecret-x1"))
    assert not allows(role, "secretsmanager:GetSecretValue", secret("production/database-aB3dE5"))
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    tagged = {"aws:ResourceTag/aws:cloudformation:stack-name": "sentiment-feedback-dev"}
    assert allows(role, "kms:ScheduleKeyDeletion", key, **tagged)
    assert not allows(role, "kms:ScheduleKeyDeletion", key)
    assert not allows(role, "kms:ScheduleKeyDeletion", key, **{"aws:ResourceTag/aws:cloudformation:stack-name": "x"})
    assert not allows(role, "dynamodb:DeleteTable", "arn:aws:dynamodb:us-east-1:123456789012:table/orders")
    assert allows(role, "dynamodb:DeleteTable", "arn:aws:dynamodb:us-east-1:123456789012:table/sentiment-dev-X-1")


def test_the_boundary_allows_what_the_stacks_roles_use_and_no_iam_write() -> None:
    statements = [Statement.parse(raw, "boundary") for raw in service_role.committed_boundary()["Statement"]]
    boundary = Principal("Boundary", BOUNDARY, tuple(statements))

    # Every action any role of the stack is granted, under every backend (on what: the next test)
    used = policy.stack_role_actions()
    assert "sagemaker:CreateTrainingJob" in used and "iam:PassRole" in used
    granted = {action for statement in statements if statement.effect == "Allow" for action in statement.actions}
    assert set(used) == granted
    # and no IAM write, however a role's own policy were widened
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:CreateAccessKey"):
        assert boundary.decide(Authorization(action, STACK_ROLE)).explicit_deny, action
    assert not allows(boundary, "s3:PutBucketPolicy", "arn:aws:s3:::sentiment-x")


@pytest.mark.parametrize("backend", policy.BACKENDS)
def test_everything_each_role_of_the_stack_is_granted_is_within_the_boundary(backend: dict[str, str]) -> None:
    statements = [Statement.parse(raw, "boundary") for raw in service_role.committed_boundary()["Statement"]]
    boundary = Principal("Boundary", BOUNDARY, tuple(statements))
    overrides = {**backend, "ModelImageUri": "image:tag", "NotificationEmail": "someone@example.org"}
    template = Template.read(ROOT / "template.yaml", overrides=overrides)

    # Every action on every resource a role's own policies allow, the boundary allows too
    outside = [
        (role.logical_id, action, resource)
        for role in policies.principals(template).values()
        for statement in role.statements
        if statement.effect == "Allow"
        for action in statement.actions
        for resource in statement.resources
        if not allows(boundary, action, as_requested(action, resource))
    ]
    assert outside == []
    # while a role under it reads no table, bucket or secret but the stacks'
    assert not allows(boundary, "dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/orders")
    assert not allows(boundary, "s3:GetObject", "arn:aws:s3:::payroll/2026.csv")
    assert not allows(boundary, "secretsmanager:GetSecretValue", secret("production/database-aB3dE5"))


@pytest.mark.parametrize("backend", policy.BACKENDS)
def test_every_role_of_the_stack_carries_the_boundary_it_is_given(backend: dict[str, str]) -> None:
    overrides = {**backend, "ModelImageUri": "image:tag", "NotificationEmail": "someone@example.org"}

    # Given the boundary make deploy passes, every role SAM translates the template into carries it
    bounded = Template.read(ROOT / "template.yaml", overrides={**overrides, "PermissionsBoundary": BOUNDARY})
    roles = principal_roles(bounded)
    assert roles
    assert {name: role.get("PermissionsBoundary") for name, role in roles.items()} == dict.fromkeys(roles, BOUNDARY)

    # Without one (make up, an administrator's own deploy), none does
    unbounded = Template.read(ROOT / "template.yaml", overrides=overrides)
    assert all("PermissionsBoundary" not in role for role in principal_roles(unbounded).values())


# What a grant on * is used on: the stack's own queue (Lambda's SQS poller, SAM's managed policy).
STACKS_OWN = {"sqs": "arn:aws:sqs:us-east-1:123456789012:sentiment-feedback-dev-PendingQueue-AB12CD"}


def as_requested(action: str, resource: str) -> str:
    """The ARN a request names for ``resource`` as a role's policy has it: a secret's (its name, locally, as
    its ARN is made up on creation; Secrets Manager appends six characters), or the stack's own for ``*``."""
    if resource == "*":
        return STACKS_OWN.get(action.split(":", 1)[0], "*")
    if not resource.startswith("arn:"):
        return secret(f"{resource}-aB3dE5")
    return resource


def principal_roles(template: Template) -> dict[str, dict[str, Any]]:
    translated = sam_translate(template)
    return {
        logical_id: dict(template.resolve(resource["Properties"]))
        for logical_id, resource in translated["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role" and template.condition_holds(resource.get("Condition"))
    }
