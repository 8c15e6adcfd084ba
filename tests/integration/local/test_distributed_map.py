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
from sentiment_local.runtime.event_rules import EventRules, Rule
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


def watch(event, context):
    with open(os.environ["EVENTS"], "a") as out:
        out.write(json.dumps(event) + "\\n")
"""
ENDS = {
    "source": ["aws.states"],
    "detail-type": ["Step Functions Execution Status Change"],
    "detail": {
        "status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"],
        "stateMachineArn": [{"prefix": "arn:aws:states:us-east-1:123456789012:stateMachine:rows"}],
    },
}


@dataclass
class Map:
    sfn: Any
    s3: Any
    function_arn: str
    role: str
    calls: Path
    healed: Path
    events: Path

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
    events = tmp_path / "events.jsonl"
    watcher = function_spec("Watcher", code, "child.watch", environment={"EVENTS": str(events)}, name="map-Watcher")
    runner = make_runner(spec, watcher, concurrency=4)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        starts = {**ENDS, "detail": {**ENDS["detail"], "status": ["RUNNING"]}}
        rules = EventRules(runner, [Rule("Watcher", "JobEnds", ENDS), Rule("Watcher", "JobStarts", starts)])
        undo = install(runner, lambda: "http://127.0.0.1:1", status_changes=rules.deliver)
        try:
            template = Template(
                {"Resources": {"Child": {"Type": "AWS::Serverless::Function", "Properties": {}}}}, prefix="map"
            )
            (arn,) = create_functions(template, [spec], boto3.client("iam"), boto3.client("lambda"))
            role = boto3.client("iam").create_role(RoleName="map-sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            s3 = boto3.client("s3")
            s3.create_bucket(Bucket=BUCKET)
            yield Map(boto3.client("stepfunctions"), s3, arn, role, calls, healed, events)
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
        "ItemSelector": {
            "index.$": "$$.Map.Item.Index",
            "id.$": "$$.Map.Item.Value.id",
            "text.$": "$$.Map.Item.Value.text",
        },
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
            "Parameters": {"Bucket": BUCKET, "Prefix.$": "$.prefix"}
            if fields.pop("prefix_from_input", False)
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
        dmap.function_arn,
        "JSONL",
        {"MaxItemsPerBatch": 2, "BatchInput": {"tag.$": "$.key"}},
        ToleratedFailurePercentage=5,
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
    assert refused.value.response["Error"]["Code"] == "InvalidDefinition"
    assert said in refused.value.response["Error"]["Message"]


def test_distributed_only_fields_on_an_inline_map_are_refused(dmap: Map) -> None:
    state = distributed(dmap.function_arn)
    state["ItemProcessor"]["ProcessorConfig"] = {"Mode": "INLINE"}
    with pytest.raises(ClientError, match="DISTRIBUTED Map only"):
        dmap.machine(state)


# ---- running ----


def test_csv_rows_reach_the_children_in_batches_and_the_results_are_written_as_documented(dmap: Map) -> None:
    # Given a CSV of five rows and batches of two
    put_csv(dmap, "in.csv", ["good", "fine", "bad", "meh", "ok"])
    state = distributed(dmap.function_arn, "CSV", {"MaxItemsPerBatch": 2, "BatchInput": {"tag.$": "$.key"}})
    # When the state machine runs
    described = dmap.finished(dmap.start(dmap.machine(state), "in.csv"))
    # Then it succeeds, every row went to a child once, in batches of at most two, with its index
    assert described["status"] == "SUCCEEDED", described
    batches = dmap.batches()
    assert sorted(len(batch["Items"]) for batch in batches) == [1, 2, 2]
    assert {batch["BatchInput"]["tag"] for batch in batches} == {"in.csv"}
    items = sorted((item for batch in batches for item in batch["Items"]), key=lambda item: item["index"])
    assert items == [
        {"index": n, "id": f"r{n}", "text": text} for n, text in enumerate(["good", "fine", "bad", "meh", "ok"])
    ]
    # And the output names the map run and the manifest, which lists the result files
    output = json.loads(described["output"])
    assert output["ResultWriterDetails"]["Bucket"] == BUCKET
    manifest_key = output["ResultWriterDetails"]["Key"]
    map_run_id = output["MapRunArn"].rsplit(":", 1)[1]
    assert manifest_key == f"out/{map_run_id}/manifest.json"
    manifest = dmap.read(manifest_key)
    assert manifest["DestinationBucket"] == BUCKET and manifest["MapRunArn"] == output["MapRunArn"]
    assert manifest["ResultFiles"]["FAILED"] == [] and manifest["ResultFiles"]["PENDING"] == []
    (succeeded,) = manifest["ResultFiles"]["SUCCEEDED"]
    assert succeeded["Key"] == f"out/{map_run_id}/SUCCEEDED_0.json"
    records = dmap.read(succeeded["Key"])
    assert len(records) == 3 and succeeded["Size"] == len(json.dumps(records, separators=(",", ":")))
    assert set(records[0]) == {
        "ExecutionArn",
        "Input",
        "InputDetails",
        "Name",
        "Output",
        "OutputDetails",
        "StartDate",
        "StateMachineArn",
        "Status",
        "StopDate",
    }
    assert sorted(i for record in records for i in json.loads(record["Output"])["ids"]) == [f"r{n}" for n in range(5)]
    assert {record["Status"] for record in records} == {"SUCCEEDED"}


def test_json_lines_are_read_one_value_a_line(dmap: Map) -> None:
    lines = [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}, {"id": "c", "text": "z"}]
    dmap.s3.put_object(Bucket=BUCKET, Key="in.jsonl", Body="\n".join(json.dumps(line) for line in lines).encode())
    described = dmap.finished(dmap.start(dmap.machine(distributed(dmap.function_arn, "JSONL")), "in.jsonl"))
    assert described["status"] == "SUCCEEDED", described
    # Without a batcher each child gets one item
    assert sorted(call["id"] for call in dmap.batches()) == ["a", "b", "c"]


def test_a_batch_never_exceeds_its_byte_limit(dmap: Map) -> None:
    put_csv(dmap, "in.csv", ["x" * 100] * 6)
    state = distributed(dmap.function_arn, "CSV", {"MaxItemsPerBatch": 10, "MaxInputBytesPerBatch": 400})
    assert dmap.finished(dmap.start(dmap.machine(state), "in.csv"))["status"] == "SUCCEEDED"
    batches = dmap.batches()
    assert sum(len(batch["Items"]) for batch in batches) == 6
    assert all(len(json.dumps(batch).encode()) <= 400 for batch in batches)
    assert len(batches) > 1


def test_failures_above_the_tolerance_fail_the_parent_and_are_written(dmap: Map) -> None:
    # Given one batch in three fails and 20 % is tolerated
    put_csv(dmap, "in.csv", ["fail", "a", "b", "c", "d", "e"])
    state = distributed(dmap.function_arn, "CSV", {"MaxItemsPerBatch": 2}, ToleratedFailurePercentage=20)
    described = dmap.finished(dmap.start(dmap.machine(state), "in.csv"))
    # Then the parent fails with the threshold's error
    assert described["status"] == "FAILED", described
    assert described["error"] == "States.ExceedToleratedFailureThreshold"
    manifest_key = next(
        key["Key"]
        for key in dmap.s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")["Contents"]
        if key["Key"].endswith("manifest.json")
    )
    (failed,) = dmap.read(manifest_key)["ResultFiles"]["FAILED"]
    (record,) = dmap.read(failed["Key"])
    assert record["Status"] == "FAILED" and record["Error"] and "this batch fails" in record["Cause"]


def test_failures_within_the_tolerance_leave_the_parent_succeeded(dmap: Map) -> None:
    put_csv(dmap, "in.csv", ["fail", "a", "b", "c", "d", "e"])
    state = distributed(dmap.function_arn, "CSV", {"MaxItemsPerBatch": 2}, ToleratedFailurePercentage=40)
    assert dmap.finished(dmap.start(dmap.machine(state), "in.csv"))["status"] == "SUCCEEDED"


def test_a_catch_on_the_map_catches_the_threshold(dmap: Map) -> None:
    put_csv(dmap, "in.csv", ["fail"])
    state = distributed(dmap.function_arn, "CSV")
    state["Catch"] = [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "Caught"}]
    machine = dmap.machine(state, Caught={"Type": "Pass", "End": True})
    described = dmap.finished(dmap.start(machine, "in.csv"))
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["Error"] == "States.ExceedToleratedFailureThreshold"


def test_no_more_than_max_concurrency_children_run_at_once(dmap: Map) -> None:
    # Given slow children and MaxConcurrency 2
    put_csv(dmap, "in.csv", ["slow"] * 4)
    execution = dmap.start(dmap.machine(distributed(dmap.function_arn, "CSV")), "in.csv")
    (map_run,) = wait_for(lambda: dmap.sfn.list_map_runs(executionArn=execution)["mapRuns"], message="a map run")
    # When it runs, then DescribeMapRun's counts move and never show more than two running
    seen = []
    while (d := dmap.sfn.describe_map_run(mapRunArn=map_run["mapRunArn"]))["status"] == "RUNNING":
        seen.append(d["executionCounts"]["running"])
        threading.Event().wait(0.1)
    assert max(seen) == 2
    assert d["status"] == "SUCCEEDED"
    assert d["itemCounts"]["succeeded"] == 4 and d["itemCounts"]["total"] == 4
    assert dmap.finished(execution)["status"] == "SUCCEEDED"


def test_stopping_the_parent_aborts_the_map_run_and_writes_what_ran(dmap: Map) -> None:
    # Given eight slow rows, two at a time
    put_csv(dmap, "in.csv", ["slow"] * 8)
    execution = dmap.start(dmap.machine(distributed(dmap.function_arn, "CSV")), "in.csv")
    (map_run,) = wait_for(lambda: dmap.sfn.list_map_runs(executionArn=execution)["mapRuns"], message="a map run")
    wait_for(dmap.batches, message="a child to start")
    # When the parent is stopped
    dmap.sfn.stop_execution(executionArn=execution)
    # Then the map run ends ABORTED, the rest never started, and the results are written
    described = wait_for(
        lambda: (d := dmap.sfn.describe_map_run(mapRunArn=map_run["mapRunArn"]))["status"] != "RUNNING" and d,
        message="the map run to end",
    )
    assert described["status"] == "ABORTED"
    assert described["executionCounts"]["aborted"] >= 1
    assert dmap.finished(execution)["status"] == "ABORTED"
    assert len(dmap.batches()) < 8
    keys = [key["Key"] for key in dmap.s3.list_objects_v2(Bucket=BUCKET, Prefix="out/").get("Contents", [])]
    assert any(key.endswith("manifest.json") for key in keys)


# ---- redrive ----


def test_a_redriven_parent_reruns_only_the_unsuccessful_children(dmap: Map) -> None:
    # Given a run that failed on one batch
    texts = ["a", "b", "fail", "c", "d", "e"]
    put_csv(dmap, "in.csv", texts)
    state = distributed(dmap.function_arn, "CSV", {"MaxItemsPerBatch": 2}, MaxConcurrency=1)
    execution = dmap.start(dmap.machine(state), "in.csv")
    assert dmap.finished(execution)["status"] == "FAILED"
    first_calls = len(dmap.batches())
    (map_run,) = dmap.sfn.list_map_runs(executionArn=execution)["mapRuns"]
    # When the cause is fixed and the parent is redriven
    dmap.healed.write_text("yes")
    redriven = dmap.sfn.redrive_execution(executionArn=execution)
    assert redriven["redriveDate"]
    described = dmap.finished(execution)
    # Then it succeeds under the same ARN, every row succeeded exactly once, only the failed batch and the
    # ones never started ran again
    assert described["status"] == "SUCCEEDED", described
    assert described["redriveCount"] == 1
    calls = dmap.batches()
    succeeded_ids = [item["id"] for call in calls[first_calls:] for item in call["Items"]]
    succeeded_ids += [
        item["id"] for call in calls[:first_calls] for item in call["Items"] if "fail" not in json.dumps(call)
    ]
    assert sorted(succeeded_ids) == sorted(f"r{n}" for n in range(len(texts)))
    assert [item["text"] for item in calls[first_calls]["Items"]] == ["fail", "c"]
    # And the same map run says so, and its manifest lists every success
    (again,) = dmap.sfn.list_map_runs(executionArn=execution)["mapRuns"]
    assert again["mapRunArn"] == map_run["mapRunArn"]
    run = dmap.sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])
    assert run["status"] == "SUCCEEDED" and run["redriveCount"] == 1
    assert run["itemCounts"]["succeeded"] == 6 and run["itemCounts"]["failed"] == 0
    manifest = dmap.read(json.loads(described["output"])["ResultWriterDetails"]["Key"])
    records = [record for file in manifest["ResultFiles"]["SUCCEEDED"] for record in dmap.read(file["Key"])]
    ids = sorted(i for record in records for i in json.loads(record["Output"])["ids"])
    assert ids == sorted(f"r{n}" for n in range(len(texts)))
    assert manifest["ResultFiles"]["FAILED"] == []


def test_a_succeeded_execution_is_not_redrivable(dmap: Map) -> None:
    put_csv(dmap, "in.csv", ["a"])
    execution = dmap.start(dmap.machine(distributed(dmap.function_arn, "CSV")), "in.csv")
    assert dmap.finished(execution)["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as refused:
        dmap.sfn.redrive_execution(executionArn=execution)
    assert refused.value.response["Error"]["Code"] == "ExecutionNotRedrivable"


# ---- status change events ----


def test_an_execution_ending_reaches_the_function_whose_rule_matches(dmap: Map) -> None:
    # Given a rule for the ends of the "rows" state machine's executions
    put_csv(dmap, "in.csv", ["fail"])
    execution = dmap.start(dmap.machine(distributed(dmap.function_arn, "CSV")), "in.csv")
    # When the execution fails
    assert dmap.finished(execution)["status"] == "FAILED"
    # Then the watcher receives the documented events, once each: the start and the end
    received = wait_for(
        lambda: (events := read_json_lines(dmap.events)) and len(events) >= 2 and events,
        message="the status change events",
    )
    started, event = sorted(received, key=lambda change: change["detail"]["status"] != "RUNNING")
    assert started["detail"]["status"] == "RUNNING" and started["detail"]["stopDate"] is None
    assert event["source"] == "aws.states" and event["detail-type"] == "Step Functions Execution Status Change"
    assert event["resources"] == [execution]
    detail = event["detail"]
    assert detail["executionArn"] == execution and detail["status"] == "FAILED"
    assert detail["error"] == "States.ExceedToleratedFailureThreshold"
    assert json.loads(detail["input"]) == {"key": "in.csv"} and detail["output"] is None
    assert isinstance(detail["startDate"], int) and detail["stopDate"] >= detail["startDate"]
    # And the child executions of its map run send none
    threading.Event().wait(0.5)
    assert len(read_json_lines(dmap.events)) == 2


# ---- what the reader does with awkward files ----


def test_a_row_that_is_not_utf8_reaches_its_child_with_the_replacement_character(dmap: Map) -> None:
    body = b"id,text\nr0,fine\nr1,caf\xe9 broken\nr2," + b"x" * 6000 + b"\n"
    dmap.s3.put_object(Bucket=BUCKET, Key="in.csv", Body=body)
    described = dmap.finished(dmap.start(dmap.machine(distributed(dmap.function_arn, "CSV")), "in.csv"))
    assert described["status"] == "SUCCEEDED", described
    texts = {call["id"]: call["text"] for call in dmap.batches()}
    assert texts == {"r0": "fine", "r1": "caf\ufffd broken", "r2": "x" * 6000}


def test_a_csv_header_over_10_kib_fails_the_map_run_before_any_child(dmap: Map) -> None:
    header = ",".join(f"column_{n:05d}" for n in range(1000))
    dmap.s3.put_object(Bucket=BUCKET, Key="in.csv", Body=f"{header}\n{'a,' * 999}a\n".encode())
    described = dmap.finished(dmap.start(dmap.machine(distributed(dmap.function_arn, "CSV")), "in.csv"))
    assert described["status"] == "FAILED"
    assert described["error"] == "States.ItemReaderFailed"
    assert dmap.batches() == []


def test_a_line_that_is_not_json_fails_a_jsonl_map_run(dmap: Map) -> None:
    dmap.s3.put_object(Bucket=BUCKET, Key="in.jsonl", Body=b'{"id": "a", "text": "x"}\nnot json\n')
    described = dmap.finished(dmap.start(dmap.machine(distributed(dmap.function_arn, "JSONL")), "in.jsonl"))
    assert described["status"] == "FAILED"
    assert described["error"] == "States.ItemReaderFailed" and "line 2" in described["cause"]


def test_a_missing_object_fails_the_map_run_with_the_readers_error(dmap: Map) -> None:
    described = dmap.finished(dmap.start(dmap.machine(distributed(dmap.function_arn, "CSV")), "absent.csv"))
    assert described["status"] == "FAILED" and described["error"] == "States.ItemReaderFailed"


def test_a_childs_retry_is_honoured(dmap: Map) -> None:
    # Given a child task that retries and a row that fails once the first attempt has been recorded
    put_csv(dmap, "in.csv", ["fail"])
    state = distributed(dmap.function_arn, "CSV")
    state["ItemProcessor"]["States"]["Invoke"]["Retry"] = [
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}
    ]
    execution = dmap.start(dmap.machine(state), "in.csv")
    wait_for(dmap.batches, message="the first attempt")
    dmap.healed.write_text("yes")
    # Then the retry succeeds and so does the parent
    assert dmap.finished(execution)["status"] == "SUCCEEDED"
    assert len(dmap.batches()) == 2


def test_a_redrive_is_told_as_running_again(dmap: Map) -> None:
    put_csv(dmap, "in.csv", ["fail"])
    execution = dmap.start(dmap.machine(distributed(dmap.function_arn, "CSV")), "in.csv")
    assert dmap.finished(execution)["status"] == "FAILED"
    dmap.healed.write_text("yes")
    dmap.sfn.redrive_execution(executionArn=execution)
    assert dmap.finished(execution)["status"] == "SUCCEEDED"
    changes = wait_for(
        lambda: (found := read_json_lines(dmap.events)) and len(found) >= 4 and found,
        message="four status changes",
    )
    # EventBridge does not promise the order of delivery: what arrived, not in which order
    told = sorted((change["detail"]["redriveCount"], change["detail"]["status"]) for change in changes)
    assert told == [(0, "FAILED"), (0, "RUNNING"), (1, "RUNNING"), (1, "SUCCEEDED")]
