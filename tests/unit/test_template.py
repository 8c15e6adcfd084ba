"""The SAM template and its environments stay valid."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import boto3
import pytest

from sentiment_template.reader import load
from tests.conftest import ROOT


@pytest.mark.slow  # cfn-lint over the whole template, which make validate also runs
def test_template_passes_cfn_lint() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_samconfig_has_a_dev_default_and_prod() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert config["default"]["deploy"]["parameters"]["parameter_overrides"] == 'Stage="dev"'
    assert config["prod"]["deploy"]["parameters"]["parameter_overrides"] == 'Stage="prod"'
    assert (
        config["default"]["global"]["parameters"]["stack_name"] != config["prod"]["global"]["parameters"]["stack_name"]
    )


def test_the_model_service_is_never_public() -> None:
    resources = load(ROOT / "template.yaml")["Resources"]
    network = resources["ModelService"]["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    ingress = resources["ModelSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert all("CidrIp" not in rule and rule["SourceSecurityGroupId"] for rule in ingress)
    assert not any(resource["Type"] == "AWS::EC2::InternetGateway" for resource in resources.values())


def test_tables_are_encrypted_and_recoverable() -> None:
    resources = load(ROOT / "template.yaml")["Resources"]
    for name in ("CommentsTable", "IdempotencyTable"):
        properties = resources[name]["Properties"]
        assert properties["SSESpecification"]["SSEEnabled"] is True
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert resources["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"] == "expiration"


def test_functions_declare_an_empty_aws_endpoint_which_boto3_reads_as_awss_own(monkeypatch: pytest.MonkeyPatch) -> None:
    # sam local invoke --env-vars sets only declared variables: make env-vars needs AWS_ENDPOINT_URL declared
    variables = load(ROOT / "template.yaml")["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["AWS_ENDPOINT_URL"] == ""
    # and empty, it leaves each client on the service's own endpoint, as on AWS
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    client = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    assert client.meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"
