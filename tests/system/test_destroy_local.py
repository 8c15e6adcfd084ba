"""``make destroy`` against ``make up``: the stack's deletion honours each resource's ``DeletionPolicy``
as CloudFormation does, with the stack's service role (the person who deploys may not delete the stack's
resources themselves), and the data it keeps is there again when the stack is stood up again."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from sentiment_template import policies
from tests.conftest import ROOT
from tests.system.conftest import LocalStack, module_stack

STACK = "sentiment-local"
SAM = ROOT / ".venv-sam" / "bin" / "sam"


local_stack = module_stack("destroy")


def destroy(stack: LocalStack, *flags: str) -> subprocess.CompletedProcess[str]:
    """``make destroy`` as its recipe runs it, with the deployer's key, on the local stack."""
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("AWS_")},
        **policies.credentials_for(policies.DEPLOYER_ARN),
        "AWS_ENDPOINT_URL": stack.aws,
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": os.pathsep.join(
            str(ROOT / part)
            for part in ("deploy", "stack_template", "layers/shared", "local_stack", "functions/pipeline")
        ),
    }
    command = [sys.executable, "-m", "sentiment_deploy", "destroy", "--stack-name", STACK, "--yes", "--sam", str(SAM)]
    return subprocess.run([*command, *flags], env=env, capture_output=True, text=True, timeout=300, check=False)


def lowercase(credentials: dict[str, str]) -> dict[str, str]:
    """``AWS_ACCESS_KEY_ID``… as boto3's client arguments."""
    return {name.lower(): value for name, value in credentials.items()}


def test_destroy_keeping_the_data_deletes_what_the_policies_delete_and_keeps_the_rest(local_stack: LocalStack) -> None:
    # Given a comment stored, with an Idempotency-Key (a record in the idempotency table)
    with httpx.Client(base_url=local_stack.api, timeout=30) as api:
        kept = api.post("/comments", json={"comment": "Keep me through a destroy"}, headers={"Idempotency-Key": "k1"})
        assert kept.status_code == 201, kept.text
    names = {
        item["LogicalResourceId"]: item["PhysicalResourceId"]
        for item in local_stack.client("cloudformation").list_stack_resources(StackName=STACK)["StackResourceSummaries"]
    }

    # and the person who deploys, who may not delete the stack's queue themselves (CloudFormation does it)
    as_the_deployer = boto3.client(
        "sqs",
        endpoint_url=local_stack.aws,
        region_name="us-east-1",
        **lowercase(policies.credentials_for(policies.DEPLOYER_ARN)),
    )
    with pytest.raises(ClientError) as refused:
        as_the_deployer.delete_queue(QueueUrl=names["PendingQueue"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"

    # When make destroy KEEP_DATA=yes runs against the local stack
    result = destroy(local_stack, "--keep-data")

    # Then the stack is gone, and with it what has no Retain policy, deleted under the service role's policies
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [
        line
        for line in local_stack.output().splitlines()
        if "not authorized" in line and "sentiment-cloudformation" in line
    ]
    assert f"deleted   stack {STACK}" in result.stdout
    tables = set(local_stack.client("dynamodb").list_tables()["TableNames"])
    assert names["IdempotencyTable"] not in tables
    assert local_stack.client("lambda").list_functions()["Functions"] == []
    assert local_stack.client("stepfunctions").list_state_machines()["stateMachines"] == []
    queues = local_stack.client("sqs").list_queues().get("QueueUrls", [])
    assert names["PendingQueue"] not in queues
    buckets = {bucket["Name"] for bucket in local_stack.client("s3").list_buckets()["Buckets"]}
    assert names["WebBucket"] not in buckets
    # and what RetainExceptOnCreate keeps after a completed creation stays, whole
    assert {names["CommentsTable"], names["RegistryTable"], names["MonitoringTable"]} <= tables
    assert {names["DataBucket"], names["AccessLogBucket"]} <= buckets
    stored = local_stack.client("dynamodb").get_item(
        TableName=names["CommentsTable"], Key={"comment_id": {"S": kept.json()["comment_id"]}}
    )
    assert stored["Item"]["text"]["S"] == "Keep me through a destroy"

    # When the stack is stood up again (locally the kept data comes back with it)
    local_stack.stop()
    local_stack.start()

    # Then the kept comment is there, and the idempotency record, deleted with its table, is not
    with httpx.Client(base_url=local_stack.api, timeout=30) as api:
        again = api.get(f"/comments/{kept.json()['comment_id']}")
        assert again.status_code == 200, again.text
        retried = api.post(
            "/comments", json={"comment": "Keep me through a destroy"}, headers={"Idempotency-Key": "k1"}
        )
        assert retried.json()["comment_id"] != kept.json()["comment_id"]
