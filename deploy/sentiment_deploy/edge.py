"""The web ACL of a stack outside us-east-1: ``deploy/edge/template.yaml``, deployed there by ``make deploy``.

A web ACL for CloudFront has the scope CLOUDFRONT and is created in us-east-1 only (AWS WAF developer
guide, "Resources that you can protect with AWS WAF"): a stack in us-east-1 makes its own
(``ClientWebAcl``), and one elsewhere is given the ARN of this one as its ``WebAclArn`` parameter. It
is a stack of its own, ``<stack>-edge`` in us-east-1, with the stack's own limits; ``make destroy``
deletes it with the stack."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sentiment_deploy.stack import ROOT, DeployedStack, DeployError
from sentiment_template.reader import load

EDGE_TEMPLATE = ROOT / "deploy" / "edge" / "template.yaml"
WEB_ACL_REGION = "us-east-1"
LIMITS = ("ClientRateLimit", "ClientWriteRateLimit")


def edge_stack_name(stack_name: str) -> str:
    return f"{stack_name}-edge"


def _defaults() -> dict[str, str]:
    declared = load(ROOT / "template.yaml")["Parameters"]
    return {name: str(declared[name]["Default"]) for name in LIMITS}


def _exists(cloudformation: Any, name: str) -> bool:
    try:
        cloudformation.describe_stacks(StackName=name)
    except ClientError as error:
        if "does not exist" in str(error):
            return False
        raise
    return True


def web_acl_parameters(session: Any, stack: DeployedStack) -> dict[str, str]:
    """The ``WebAclArn`` the stack's second ``sam deploy`` takes: none in us-east-1, where the stack makes its
    own web ACL, or when ``ClientRateLimit`` is 0; elsewhere the ARN of ``<stack>-edge`` in us-east-1,
    created or brought to the stack's limits first."""
    if session.region_name == WEB_ACL_REGION:
        return {}
    limits = {name: stack.parameters.get(name) or default for name, default in _defaults().items()}
    if limits["ClientRateLimit"] == "0":
        return {}
    cloudformation = session.client("cloudformation", region_name=WEB_ACL_REGION)
    name = edge_stack_name(stack.name)
    request = {
        "StackName": name,
        "TemplateBody": EDGE_TEMPLATE.read_text(),
        "Parameters": [{"ParameterKey": key, "ParameterValue": value} for key, value in limits.items()],
        # CloudFormation makes the web ACL with the service role, as it makes the stack's resources: the
        # person deploying holds no wafv2 permission of their own.
        **({"RoleARN": stack.role_arn} if stack.role_arn else {}),
    }
    if not _exists(cloudformation, name):
        cloudformation.create_stack(**request)
        cloudformation.get_waiter("stack_create_complete").wait(StackName=name)
        print(f"created   stack {name} in {WEB_ACL_REGION}: the web ACL limiting each client")
    else:
        try:
            cloudformation.update_stack(**request)
        except ClientError as error:
            if "No updates are to be performed" not in str(error):
                raise
        else:
            cloudformation.get_waiter("stack_update_complete").wait(StackName=name)
            print(f"updated   stack {name} in {WEB_ACL_REGION} to {limits}")
    (described,) = cloudformation.describe_stacks(StackName=name)["Stacks"]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
    if not outputs.get("WebAclArn"):
        raise DeployError(f"stack {name} in {WEB_ACL_REGION} has no WebAclArn output")
    return {"WebAclArn": outputs["WebAclArn"]}


def delete_web_acl(session: Any, stack_name: str) -> str | None:
    """Delete ``<stack>-edge`` from us-east-1 once the stack (its distribution) is gone; what was done."""
    if session.region_name == WEB_ACL_REGION:
        return None
    cloudformation = session.client("cloudformation", region_name=WEB_ACL_REGION)
    name = edge_stack_name(stack_name)
    if not _exists(cloudformation, name):
        return None
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name)
    return f"deleted   stack {name} in {WEB_ACL_REGION}"
