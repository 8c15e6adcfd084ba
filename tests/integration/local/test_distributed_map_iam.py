"""A Distributed Map's own calls checked as its state machine role's, through moto's server behind the
local IAM check: the reader's ``s3:GetObject``, the writer's ``s3:PutObject`` and ``states:StartExecution``
on the state machine itself for the children ("IAM policies for using Distributed Map states")."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from sentiment_local.iam.enforcer import Enforcer
from sentiment_local.moto.gaps import install
from sentiment_local.runtime.functions import Runner
from sentiment_template.policies import Principal, Statement
from tests.integration.conftest import enforced_moto
from tests.integration.local.conftest import wait_for

BUCKET = "map-iam-data"
ROLE = "arn:aws:iam::123456789012:role/map-iam-sfn"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:map-iam"
# What "IAM policies for using Distributed Map states" has the role hold, scoped to this machine and bucket.
POLICY = {
    "StartChildren": {"Effect": "Allow", "Action": "states:StartExecution", "Resource": MACHINE},
    "ReadItems": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/in/*"},
    "WriteResults": {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/out/*"},
}
DEFINITION = {
    "StartAt": "Classify",
    "States": {
        "Classify": {
            "Type": "Map",
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSONL"},
                "Parameters": {"Bucket": BUCKET, "Key": "in/rows.jsonl"},
            },
            "ItemBatcher": {"MaxItemsPerBatch": 2},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "Done",
                "States": {"Done": {"Type": "Pass", "End": True}},
            },
            "ResultWriter": {
                "Resource": "arn:aws:states:::s3:putObject",
                "Parameters": {"Bucket": BUCKET, "Prefix": "out"},
            },
            "End": True,
        }
    },
}


@dataclass
class Enforced:
    sfn: Any
    enforcer: Enforcer

    def allow(self, *statements: str) -> None:
        chosen = tuple(Statement.parse({**POLICY[sid], "Sid": sid}, "map") for sid in statements)
        self.enforcer.load({"MapRole": Principal("MapRole", ROLE, chosen)})

    def run(self) -> dict[str, Any]:
        execution = self.sfn.start_execution(stateMachineArn=MACHINE, input="{}")["executionArn"]
        return dict(
            wait_for(
                lambda: (d := self.sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
                message="the execution to end",
            )
        )


@pytest.fixture
def enforced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Enforced]:
    with enforced_moto() as (endpoint, enforcer):
        monkeypatch.setenv("MOTO_PORT", endpoint.rsplit(":", 1)[1])  # where the interpreter calls
        for name, value in {"AWS_ACCESS_KEY_ID": "deployer", "AWS_SECRET_ACCESS_KEY": "local"}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        config = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
        request = urllib.request.Request(f"{endpoint}/moto-api/config", data=config, method="POST")
        urllib.request.urlopen(request, timeout=10).close()
        runner = Runner([], endpoint=endpoint, logs_dir=tmp_path / "logs")
        undo = install(runner, lambda: "http://127.0.0.1:1", authorize=enforcer.authorize)
        try:
            clients = {
                service: boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")
                for service in ("s3", "stepfunctions")
            }
            clients["s3"].create_bucket(Bucket=BUCKET)
            rows = "".join(json.dumps({"id": n}) + "\n" for n in range(5))
            clients["s3"].put_object(Bucket=BUCKET, Key="in/rows.jsonl", Body=rows.encode())
            clients["stepfunctions"].create_state_machine(
                name="map-iam", definition=json.dumps(DEFINITION), roleArn=ROLE
            )
            yield Enforced(clients["stepfunctions"], enforcer)
        finally:
            undo()
            runner.close()


def test_with_the_documented_policy_the_map_runs_and_nothing_is_refused(enforced: Enforced) -> None:
    enforced.allow("StartChildren", "ReadItems", "WriteResults")
    described = enforced.run()
    assert described["status"] == "SUCCEEDED", described
    assert enforced.enforcer.refusals == []
    assert {(action, principal) for principal, action in enforced.enforcer.usage()} >= {
        ("states:StartExecution", "MapRole"),
        ("s3:GetObject", "MapRole"),
        ("s3:PutObject", "MapRole"),
    }


@pytest.mark.parametrize(
    ("missing", "action", "error"),
    [
        ("ReadItems", "s3:GetObject", "States.ItemReaderFailed"),
        ("WriteResults", "s3:PutObject", "States.ResultWriterFailed"),
        ("StartChildren", "states:StartExecution", "States.Runtime"),
    ],
)
def test_without_a_statement_the_map_run_fails_on_the_refused_call(
    enforced: Enforced, missing: str, action: str, error: str
) -> None:
    enforced.allow(*(sid for sid in POLICY if sid != missing))
    described = enforced.run()
    assert described["status"] == "FAILED"
    assert described["error"] == error
    assert [refusal.request.action for refusal in enforced.enforcer.refusals] == [action]


def test_once_the_policy_is_fixed_a_redrive_through_the_server_finishes_the_run(enforced: Enforced) -> None:
    # Given a run whose results could not be written
    enforced.allow("StartChildren", "ReadItems")
    execution = enforced.run()
    assert execution["error"] == "States.ResultWriterFailed"
    # When the role gets the write and the execution is redriven through the server's API
    enforced.allow("StartChildren", "ReadItems", "WriteResults")
    enforced.sfn.redrive_execution(executionArn=execution["executionArn"])
    described = wait_for(
        lambda: (
            (d := enforced.sfn.describe_execution(executionArn=execution["executionArn"]))["status"] != "RUNNING" and d
        ),
        message="the redriven execution to end",
    )
    # Then it succeeds, no child ran twice, and the results are written
    assert described["status"] == "SUCCEEDED", described
    (map_run,) = enforced.sfn.list_map_runs(executionArn=execution["executionArn"])["mapRuns"]
    counts = enforced.sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])["executionCounts"]
    assert counts["total"] == 3 and counts["succeeded"] == 3
    assert json.loads(described["output"])["ResultWriterDetails"]["Key"].endswith("/manifest.json")
