"""make deploy outside us-east-1: the web ACL for the stack's CloudFront distribution is made there, as a
stack of its own from deploy/edge/template.yaml, and its ARN given to the stack; make destroy removes it."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sentiment_deploy import edge
from sentiment_deploy.stack import DeployedStack
from sentiment_template.reader import load
from tests.conftest import ROOT

ARN = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/sentiment-dev-edge-clients/abc"


class Waiter:
    def __init__(self, log: list[Any], name: str) -> None:
        self.log, self.name = log, name

    def wait(self, **kwargs: Any) -> None:
        self.log.append(("wait", self.name, kwargs["StackName"]))


class FakeCloudFormation:
    """CloudFormation in us-east-1, holding the edge stacks by name."""

    def __init__(self, existing: dict[str, dict[str, str]] | None = None) -> None:
        self.stacks = dict(existing or {})
        self.log: list[Any] = []

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        if StackName not in self.stacks:
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}},
                "DescribeStacks",
            )
        return {"Stacks": [{"Outputs": [{"OutputKey": "WebAclArn", "OutputValue": ARN}]}]}

    def create_stack(self, **request: Any) -> None:
        self.log.append(("create", request["StackName"], request["Parameters"]))
        self.stacks[request["StackName"]] = {p["ParameterKey"]: p["ParameterValue"] for p in request["Parameters"]}

    def update_stack(self, **request: Any) -> None:
        wanted = {p["ParameterKey"]: p["ParameterValue"] for p in request["Parameters"]}
        if self.stacks[request["StackName"]] == wanted:
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": "No updates are to be performed."}}, "UpdateStack"
            )
        self.log.append(("update", request["StackName"], request["Parameters"]))
        self.stacks[request["StackName"]] = wanted

    def delete_stack(self, StackName: str) -> None:
        self.log.append(("delete", StackName))
        del self.stacks[StackName]

    def get_waiter(self, name: str) -> Waiter:
        return Waiter(self.log, name)


class Session:
    def __init__(self, region: str, cloudformation: FakeCloudFormation) -> None:
        self.region_name = region
        self.cloudformation = cloudformation
        self.asked: list[tuple[str, str | None]] = []

    def client(self, service: str, region_name: str | None = None) -> FakeCloudFormation:
        self.asked.append((service, region_name))
        return self.cloudformation


def stack(**parameters: str) -> DeployedStack:
    return DeployedStack("sentiment-dev", {}, parameters)


def test_a_stack_in_us_east_1_makes_its_own_web_acl_and_needs_no_other() -> None:
    session = Session("us-east-1", FakeCloudFormation())
    assert edge.web_acl_parameters(session, stack()) == {}
    assert session.asked == []


def test_a_stack_elsewhere_gets_a_web_acl_made_in_us_east_1_with_its_limits() -> None:
    cloudformation = FakeCloudFormation()
    session = Session("eu-west-1", cloudformation)
    assert edge.web_acl_parameters(session, stack(ClientRateLimit="900")) == {"WebAclArn": ARN}
    assert session.asked == [("cloudformation", "us-east-1")]
    assert cloudformation.log[0] == (
        "create",
        "sentiment-dev-edge",
        [
            {"ParameterKey": "ClientRateLimit", "ParameterValue": "900"},
            {"ParameterKey": "ClientWriteRateLimit", "ParameterValue": "60"},
        ],
    )
    assert ("wait", "stack_create_complete", "sentiment-dev-edge") in cloudformation.log


def test_deploying_again_changes_nothing_that_is_right_and_follows_a_changed_limit() -> None:
    cloudformation = FakeCloudFormation(
        {"sentiment-dev-edge": {"ClientRateLimit": "600", "ClientWriteRateLimit": "60"}}
    )
    session = Session("eu-west-1", cloudformation)
    assert edge.web_acl_parameters(session, stack()) == {"WebAclArn": ARN}
    assert cloudformation.log == []
    edge.web_acl_parameters(session, stack(ClientWriteRateLimit="30"))
    assert [entry[0] for entry in cloudformation.log] == ["update", "wait"]


def test_no_web_acl_is_made_when_the_limit_is_off() -> None:
    session = Session("eu-west-1", FakeCloudFormation())
    assert edge.web_acl_parameters(session, stack(ClientRateLimit="0")) == {}
    assert session.asked == []


def test_destroy_deletes_the_edge_stack_after_the_stack() -> None:
    cloudformation = FakeCloudFormation({"sentiment-dev-edge": {}})
    assert (
        edge.delete_web_acl(Session("eu-west-1", cloudformation), "sentiment-dev")
        == "deleted   stack sentiment-dev-edge in us-east-1"
    )
    assert cloudformation.stacks == {}
    assert edge.delete_web_acl(Session("eu-west-1", cloudformation), "sentiment-dev") is None


# ---- the companion template is the stack's own web ACL ----


def test_the_edge_template_holds_the_stacks_own_web_acl_and_limits() -> None:
    stack_template, edge_template = load(ROOT / "template.yaml"), load(edge.EDGE_TEMPLATE)
    own = dict(stack_template["Resources"]["ClientWebAcl"])
    assert own.pop("Condition") == "CreateClientWebAcl"
    assert edge_template["Resources"]["ClientWebAcl"] == own
    for parameter in edge.LIMITS:
        expected = dict(stack_template["Parameters"][parameter])
        if parameter == "ClientRateLimit":
            expected["MinValue"] = 10  # with 0 no edge stack is made at all
        assert edge_template["Parameters"][parameter] == expected
    assert (
        edge_template["Conditions"]["HasClientWriteRateLimit"]
        == stack_template["Conditions"]["HasClientWriteRateLimit"]
    )
