"""A Distributed Map run by the local stack as Step Functions runs it: a state machine defined here, its
items in S3, its child a real Lambda handler run by the local runtime, AWS played by moto in-process."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sentiment_local.moto.gaps import install
from sentiment_local.resources import create_functions
from sentiment_template.reader import Template
from tests.integration.local.conftest import RunnerFactory, function_spec, read_json_lines, wait_for

BUCKET = "map-data"

# The child: records each batch it is given; "fail" fails its batch, "slow" takes a while.
CHILD = """
import json
import os
import time


def handler(event, context):
    items = event["Items"] if isinstance(event, dict) and "Items" in event else [event]
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps(event) + "\\n")
    if any(item.get("text") == "slow" for item in items):
        time.sleep(1.5)
    if any(item.get("text") == "fail" for item in items) and not os.path.exists(os.environ["HEALED"]):
        raise ValueError("this batch fails")
    return {"ids": [item["id"] for item in items], "tag": event.get("BatchInput", {}).get("tag")}
"""


@dataclass
class Map:
    sfn: Any
    s3: Any
    function_arn: str
    role: str
    calls: Path
    healed: Path

    def machine(self, map_state: dict[str, Any], **around: Any) -> str:
        states = {"Classify": {**map_state, "End": True}, **around}
        definition = {"StartAt": "Classify", "States": states}
        return str(
            self.sfn.create_state_machine(name="rows", definition=json.dumps(definition), roleArn=self.role)[
                "stateMachineArn"
            ]
        )

    def start(self, machine: str, key: str) -> str:
        return str(self.sfn.start_execution(stateMachineArn=machine, input=json.dumps({"key": key}))["executionArn"])

    def finished(self, execution: str, seconds: float = 30) -> dict[str, Any]:
        return dict(
            wait_for(
                lambda: (d := self.sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
                seconds=seconds,
                message="the execution to end",
            )
        )

    def batches(self) -> list[Any]:
        return read_json_lines(self.calls)

    def read(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


@pytest.fixture
def dmap(aws_credentials: None, make_runner: RunnerFactory, tmp_path: Path) -> Iterator[Map]:
    code = tmp_path / "child"
    code.mkdir()
    (code / "child.py").write_text(CHILD)
    calls, healed = tmp_path / "calls.jsonl", tmp_path / "healed"
    spec = function_spec(
        "Child", code, "child.handler", environment={"OUT": str(calls), "HEALED": str(healed)}, name="map-Child"
    )
    runner = make_runner(spec, concurrency=4)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        undo = install(runner, lambda: "http://127.0.0.1:1")
        try:
            template = Template(
                {"Resources": {"Child": {"Type": "AWS::Serverless::Function", "Properties": {}}}}, prefix="map"
            )
            (arn,) = create_functions(template, [spec], boto3.client("iam"), boto3.client("lambda"))
            role = boto3.client("iam").create_role(RoleName="map-sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket=BUCKET)
            yield Map(boto3.client("stepfunctions"), s3, arn, role, calls, healed)
        finally:
            undo()


def distributed(
    child_arn: str, input_type: str = "CSV", batcher: dict[str, Any] | None = None, **fields: Any
) -> dict[str, Any]:
    """The Map state the jobs workflow uses, with the fields a test changes."""
    config: dict[str, Any] = {"InputType": input_type}
    if input_type == "CSV":
        config["CSVHeaderLocation"] = "FIRST_ROW"
    state: dict[str, Any] = {
        "Type": "Map",
        "Label": "rows",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": config,
            "Parameters": {"Bucket": BUCKET, "Key.$": "$.key"},
        },
        "ItemSelector": {"index.$": "$$.Map.Item.Index", "id.$": "$$.Map.Item.Value.id", "text.$": "$$.Map.Item.Value.text"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Invoke",
            "States": {
                "Invoke": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": child_arn, "Payload.$": "$"},
                    "OutputPath": "$.Payload",
                    "End": True,
                }
            },
        },
        "MaxConcurrency": 2,
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": BUCKET, "Prefix.$": "$.prefix"} if fields.pop("prefix_from_input", False)
            else {"Bucket": BUCKET, "Prefix": "out"},
        },
    }
    if batcher is not None:
        state["ItemBatcher"] = batcher
    state.update(fields)
    return state


def put_csv(dmap: Map, key: str, texts: list[str]) -> None:
    body = "id,text\n" + "".join(f"r{n},{text}\n" for n, text in enumerate(texts))
    dmap.s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())


# ---- creation ----


def test_a_state_machine_with_what_aws_accepts_is_created(dmap: Map) -> None:
    # Given the workflow's map: EXPRESS children, a batcher, JSONL, an integer tolerance
    state = distributed(
        dmap.function_arn, "JSONL", {"MaxItemsPerBatch": 2, "BatchInput": {"tag.$": "$.key"}}, ToleratedFailurePercentage=5
    )
    # When it is created, then moto keeps the definition as written
    machine = dmap.machine(state)
    assert json.loads(dmap.sfn.describe_state_machine(stateMachineArn=machine)["definition"])["States"]["Classify"][
        "ItemBatcher"
    ] == {"MaxItemsPerBatch": 2, "BatchInput": {"tag.$": "$.key"}}


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"ToleratedFailurePercentage": 101}, "ToleratedFailurePercentage"),
        ({"ToleratedFailurePercentage": -1}, "ToleratedFailurePercentage"),
        ({"ItemBatcher": {"BatchInput": {}}}, "MaxItemsPerBatch"),
        ({"ItemBatcher": {"MaxItemsPerBatch": 0}}, "MaxItemsPerBatch"),
        ({"ItemBatcher": {"MaxInputBytesPerBatch": 300_000}}, "MaxInputBytesPerBatch"),
        ({"Iterator": {"StartAt": "x", "States": {}}}, "Iterator"),
        ({"Label": "has space"}, "Label"),
        ({"ItemSelector": {"x.$": "States.Format('{}', $.a)"}}, "JSONPath"),
    ],
)
def test_what_aws_refuses_in_a_distributed_map_stays_refused(dmap: Map, change: dict[str, Any], said: str) -> None:
    with pytest.raises(ClientError) as refused:
        dmap.machine(distributed(dmap.function_arn, **change))
    assert said in str(refused.value)


def test_distributed_only_fields_on_an_inline_map_are_refused(dmap: Map) -> None:
    state = distributed(dmap.function_arn)
    state["ItemProcessor"]["ProcessorConfig"] = {"Mode": "INLINE"}
    with pytest.raises(ClientError, match="DISTRIBUTED Map only"):
        dmap.machine(state)
