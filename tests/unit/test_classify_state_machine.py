"""The classify state machine and the job steps agree by name: every ``$.…`` path in
``statemachine/classify.asl.json`` is a field of what the state before produced, each Lambda step is
handed its input model's fields, and the Distributed Map uses only the features the contract names.

The document starts as the execution input (:class:`JobInput`); CheckFile's ``ResultSelector`` makes it
``{"checked": Checked}``; each map puts ResultWriter's output at ``$.map``; MergeResults takes the whole.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from pydantic import BaseModel

from jobs_function import steps
from sentiment_common import errors
from sentiment_common.jobs import JobInput
from sentiment_template.reader import ROOT, Template, load

TEMPLATE = Template(load(ROOT / "template.yaml"))
ASL: dict[str, Any] = json.loads(TEMPLATE.state_machine_definition("ClassifyJobStateMachine"))
STATES: dict[str, Any] = ASL["States"]
MAPS = {name: state for name, state in STATES.items() if state["Type"] == "Map"}
# What the Distributed Map's children and its ItemBatcher hand each child: the batch's items under "Items"
# (each as the ItemSelector made it) and the BatchInput under "BatchInput"
# (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html).
CONTEXT_MAP_ITEM = {"$$.Map.Item.Index": 3, "$$.Map.Item.Value": {"text": "fine", "ticket": "T3"}}


def handler_of(resource_arn: str) -> str:
    """The Handler of the function a Task's FunctionName names, from the template."""
    for name, resource in TEMPLATE.of_type("AWS::Serverless::Function").items():
        if TEMPLATE.arn(name) == resource_arn:
            return str(resource["Properties"]["Handler"])
    raise AssertionError(f"no function {resource_arn}")


def step_model(task: dict[str, Any]) -> type[BaseModel]:
    """The model a Task's Lambda handler parses its event into (named in its module)."""
    module = importlib.import_module(handler_of(task["Parameters"]["FunctionName"]).rsplit(".", 1)[0])
    models: dict[str, type[BaseModel]] = {
        "jobs_function.check": JobInput,
        "jobs_function.classify": steps.Batch,
        "jobs_function.merge": steps.MergeInput,
    }
    model = models[module.__name__]
    assert model.__name__ in vars(module), f"{module.__name__} does not parse {model.__name__}"
    return model


def path(document: dict[str, Any], dollar_path: str) -> Any:
    value: Any = document
    for part in dollar_path.removeprefix("$").strip(".").split("."):
        if part:
            assert isinstance(value, dict) and part in value, f"{dollar_path}: no {part!r} in {sorted(value)}"
            value = value[part]
    return value


def parameters(template: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """A Parameters, ItemSelector or BatchInput block filled in from ``document``."""
    filled: dict[str, Any] = {}
    for key, value in template.items():
        if key.endswith(".$"):
            filled[key[:-2]] = CONTEXT_MAP_ITEM[value] if value.startswith("$$.") else path(document, value)
        elif isinstance(value, dict):
            filled[key] = parameters(value, document)
        else:
            filled[key] = value
    return filled


JOB = JobInput(job_id="j1", bucket="data", key="jobs/j1/input", format="csv", text_field="text", id_field="ticket")
CHECKED = steps.Checked(
    job_id="j1",
    format="csv",
    bucket="data",
    read_key="jobs/j1/input",
    text_field="text",
    id_field="ticket",
    total=10,
    unreadable=0,
    map_prefix="jobs/j1/map/",
)
MAP_OUTPUT = {
    "MapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:m/r:1",
    "ResultWriterDetails": {"Bucket": "data", "Key": "jobs/j1/map/r/manifest.json"},
}


def test_check_file_is_handed_the_execution_input_and_its_answer_becomes_checked() -> None:
    check = STATES[ASL["StartAt"]]
    assert step_model(check) is JobInput
    assert JobInput.model_validate(parameters(check["Parameters"], JOB.model_dump())["Payload"]) == JOB
    assert check["ResultSelector"] == {"checked.$": "$.Payload"} and check["ResultPath"] == "$"


def test_the_choice_sends_each_format_to_the_map_whose_reader_reads_it() -> None:
    choice = STATES[STATES[ASL["StartAt"]]["Next"]]
    document = {"checked": CHECKED.model_dump(mode="json")}
    for rule in choice["Choices"]:
        assert path(document, rule["Variable"]) in {"csv", "jsonl"}
        assert MAPS[rule["Next"]]["ItemReader"]["ReaderConfig"]["InputType"] == rule["StringEquals"].upper()
    assert MAPS[choice["Default"]]["ItemReader"]["ReaderConfig"] == {"InputType": "JSONL"}


@pytest.mark.parametrize("name", sorted(MAPS))
def test_each_map_reads_the_checked_file_and_hands_its_children_a_batch(name: str) -> None:
    state = MAPS[name]
    document = {"checked": CHECKED.model_dump(mode="json")}
    reader = parameters(state["ItemReader"]["Parameters"], document)
    assert reader["Key"] == CHECKED.read_key
    assert reader["Bucket"] == TEMPLATE.physical_name("DataBucket")
    item = parameters(state["ItemSelector"], document)
    batch = {"Items": [item], "BatchInput": parameters(state["ItemBatcher"]["BatchInput"], document)}
    child = state["ItemProcessor"]["States"][state["ItemProcessor"]["StartAt"]]
    assert step_model(child) is steps.Batch
    parsed = steps.Batch.model_validate(parameters(child["Parameters"], batch)["Payload"])
    assert parsed.items[0].index == 3 and parsed.batch_input.text_field == "text"
    assert parameters(state["ResultWriter"]["Parameters"], document)["Prefix"] == CHECKED.map_prefix


@pytest.mark.parametrize("name", sorted(MAPS))
def test_each_map_uses_only_the_features_the_contract_names(name: str) -> None:
    state = MAPS[name]
    assert set(state) <= {
        "Type", "Comment", "Label", "ItemReader", "ItemSelector", "ItemBatcher", "MaxConcurrency",
        "ToleratedFailurePercentage", "ItemProcessor", "ResultWriter", "ResultPath", "Next",
    }  # fmt: skip
    assert state["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    assert state["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert state["ResultWriter"]["Resource"] == "arn:aws:states:::s3:putObject"
    assert set(state["ItemBatcher"]) == {"MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput"}
    # integers, as the template's parameters are substituted into the file
    for number in (
        state["MaxConcurrency"],
        state["ToleratedFailurePercentage"],
        state["ItemBatcher"]["MaxItemsPerBatch"],
    ):
        assert isinstance(number, int)
    assert state["MaxConcurrency"] == int(TEMPLATE.parameter("JobMaxConcurrency"))


@pytest.mark.parametrize("name", sorted(MAPS))
def test_the_batch_retries_the_model_errors_the_step_raises_by_name(name: str) -> None:
    child = MAPS[name]["ItemProcessor"]["States"]["ClassifyBatch"]
    named = {error for retry in child["Retry"] for error in retry["ErrorEquals"] if "." not in error}
    assert named == {"ModelUnavailableError", "ModelStartingError"}
    assert all(issubclass(getattr(errors, error), errors.ModelUnavailableError) for error in named)
    assert all(retry.get("BackoffRate", 1) > 1 for retry in child["Retry"])


def test_merge_is_handed_checked_and_the_maps_output() -> None:
    merge_state = STATES["MergeResults"]
    assert step_model(merge_state) is steps.MergeInput
    document = {"checked": CHECKED.model_dump(mode="json"), "map": MAP_OUTPUT}
    given = steps.MergeInput.model_validate(parameters(merge_state["Parameters"], document)["Payload"])
    assert given.checked == CHECKED and given.map.result_writer_details.key.endswith("manifest.json")
    assert all(MAPS[name]["ResultPath"] == "$.map" and MAPS[name]["Next"] == "MergeResults" for name in MAPS)


def test_no_state_catches_an_error_so_a_failed_or_stopped_job_can_be_redriven() -> None:
    # A caught error ends its state (an ...Exited event): redrive would not run it again
    # (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html).
    text = json.dumps(ASL)
    assert '"Catch"' not in text


@pytest.mark.parametrize(
    ("event", "model"),
    [
        ("sfn-check-file.json", JobInput),
        ("sfn-classify-batch.json", steps.Batch),
        ("sfn-merge-results.json", steps.MergeInput),
    ],
)
def test_each_job_steps_event_is_what_its_handler_parses(event: str, model: type[BaseModel]) -> None:
    model.model_validate_json((ROOT / "events" / event).read_text())
