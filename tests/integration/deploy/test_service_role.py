"""``make deploy`` and ``make destroy`` with the CloudFormation service role, against a stack played by moto
with the deployer's key: preflight finds the role and writes what both ``sam deploy`` runs pass
(``--role-arn``, the ``PermissionsBoundary`` parameter), or says who makes the role and how; make destroy
refuses a stack CloudFormation would delete with the person's own credentials."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from sentiment_deploy.__main__ import main
from sentiment_deploy.service_role import find
from sentiment_deploy.stack import DeployError
from sentiment_template import policies
from tests.integration.deploy.conftest import STACK, Deployed

BOUNDARY = "arn:aws:iam::123456789012:policy/sentiment-cloudformation-boundary"


def test_preflight_writes_the_service_role_and_the_boundary_for_both_sam_deploy_runs(
    deployed: Deployed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an account whose administrator made the service role, and samconfig.toml's parameters
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[default.deploy.parameters]\nstack_name = "sentiment-feedback-test"\n'
        'parameter_overrides = "Stage=\\"dev\\""\n'
    )
    role_file, parameters = tmp_path / "role-arn", tmp_path / "first.parameters"

    # When make deploy's preflight runs as the deployer
    code = main(
        [
            "preflight",
            *("--config-file", str(config), "--stack-name", STACK),
            *("--role-file", str(role_file), "--parameters-file", str(parameters)),
        ]
    )

    # Then sam deploy gets the role (--role-arn) and the stack's roles the boundary it requires
    assert code == 0, capsys.readouterr().err
    assert role_file.read_text().strip() == policies.SERVICE_ROLE_ARN
    assert parameters.read_text().split() == ["Stage=dev", f"PermissionsBoundary={BOUNDARY}"]
    assert f"CloudFormation acts with {policies.SERVICE_ROLE_ARN}" in capsys.readouterr().out


def test_without_the_service_role_make_deploy_says_who_creates_it_and_how(deployed: Deployed) -> None:
    # Given an account where no administrator has deployed deploy/service-role/template.yaml yet
    deployed.setup("iam").delete_role(RoleName="sentiment-cloudformation")

    # When make deploy looks for it, then it stops with the command that makes it
    with pytest.raises(DeployError) as stopped:
        find(boto3.Session())
    assert "no CloudFormation service role sentiment-cloudformation" in str(stopped.value)
    assert "aws cloudformation deploy --template-file deploy/service-role/template.yaml" in str(stopped.value)
    assert "--capabilities CAPABILITY_NAMED_IAM" in str(stopped.value)


def test_destroy_refuses_a_stack_deployed_without_the_service_role(
    deployed: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack deployed before the service role (CloudFormation would delete it with the person's credentials)
    cloudformation = deployed.setup("cloudformation")
    body = {"Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}
    cloudformation.create_stack(StackName="sentiment-without-role", TemplateBody=json.dumps(body))

    # When make destroy runs on it
    code = main(["destroy", "--stack-name", "sentiment-without-role", "--yes", "--sam", "false"])

    # Then nothing is deleted, and it says what to run first
    assert code == 1
    assert "Run make deploy once" in capsys.readouterr().err
    assert cloudformation.describe_stacks(StackName="sentiment-without-role")["Stacks"]
