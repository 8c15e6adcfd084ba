"""The state machine and its steps agree by name: every ``$.…`` path in ``statemachine/retrain.asl.json`` is
a field that the state writing it produces, and every Lambda step is handed its input model's fields.

The execution's document starts as the execution input (a :class:`RunRequest`); each ``ResultPath`` puts a
state's result under one key: a Lambda step's output model (``pipeline_function/steps.py``), a ``Pass``
state's ``Parameters``, a ``ResultSelector``'s fields, or a ``Catch``'s error output. Which Lambda a Task
invokes comes from the template's ``DefinitionSubstitutions`` and the function's ``Handler``. What comes
from AWS rather than from a step is checked against the tables below, each with the page that documents it.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel

from pipeline_function import steps
from pipeline_function.logic.evaluate import evaluate
from pipeline_function.logic.prepare import prepare
from pipeline_function.logic.record import record
from pipeline_function.logic.rollout import check, start
from sentiment_common.registry import RunRequest
from sentiment_template.reader import load
from tests.conftest import ROOT

ASL = ROOT / "statemachine" / "retrain.asl.json"

# Each Lambda step's handler: the model it parses its event into, and the logic whose answer it returns.
HANDLERS: dict[str, tuple[type[BaseModel], Callable[..., Any]]] = {
    "pipeline_function.prepare.lambda_handler": (steps.PrepareInput, prepare),
    "pipeline_function.evaluate.lambda_handler": (steps.EvaluateInput, evaluate),
    "pipeline_function.deployment.start_handler": (steps.DeployInput, start),
    "pipeline_function.deployment.check_handler": (steps.CheckInput, check),
    "pipeline_function.record.lambda_handler": (steps.RecordInput, record),
}

# What the optimized SageMaker integration's createTrainingJob.sync returns: the DescribeTrainingJob response
# (https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html,
# https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTrainingJob.html). Only the fields read.
DESCRIBE_TRAINING_JOB = {"TrainingJobName": None, "ModelArtifacts": {"S3ModelArtifacts": None}}
# A Catch's ResultPath receives the error output: Error and Cause
# (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
ERROR_OUTPUT = {"Error": None, "Cause": None}
# The context object's fields the definition reads
# (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html).
CONTEXT_OBJECT = {"Execution": {"Id": None, "Name": None, "Input": RunRequest}}

# A schema: a pydantic model, a dict of field → schema (None: a leaf), or Any (a dict of any keys).
Schema = Any
PATH = re.compile(r"(?<![$\w])(\$\$?(?:\.[A-Za-z_][\w-]*)*)")


@dataclass(frozen=True)
class Read:
    state: str
    path: str
    into: tuple[type[BaseModel], str] | None = None  # the Lambda input model's field it is handed to


def _definition() -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(ASL.read_text())
    return definition


def _lambda_handlers(definition: dict[str, Any]) -> dict[str, str]:
    """State name → the handler of the function its Resource names."""
    resources = load(ROOT / "template.yaml")["Resources"]
    substitutions = resources["RetrainStateMachine"]["Properties"]["DefinitionSubstitutions"]
    handlers = {}
    for name, state in definition["States"].items():
        placeholder = re.fullmatch(r"\$\{(\w+)\}", str(state.get("Resource", "")))
        if state["Type"] == "Task" and placeholder:
            logical_id = substitutions[placeholder.group(1)]["Fn::GetAtt"][0]
            handlers[name] = resources[logical_id]["Properties"]["Handler"]
    return handlers


def _paths(value: Any) -> Iterator[str]:
    """Every ``$.`` and ``$$.`` path in a ``.$`` value, including inside intrinsic functions."""
    if isinstance(value, str):
        yield from (match for match in PATH.findall(value) if match not in {"$", "$$"})


def _parameters(parameters: Any) -> Iterator[tuple[str, str]]:
    """(key without ``.$``, path) for each path the ``Parameters`` (or ``ResultSelector``) block reads."""
    if isinstance(parameters, dict):
        for key, value in parameters.items():
            if key.endswith(".$"):
                yield from ((key[:-2], path) for path in _paths(value))
            else:
                yield from _parameters(value)
    elif isinstance(parameters, list):
        for item in parameters:
            yield from _parameters(item)


def _choice_variables(rule: dict[str, Any]) -> Iterator[str]:
    if "Variable" in rule:
        yield rule["Variable"]
    for nested in (*rule.get("And", []), *rule.get("Or", []), *([rule["Not"]] if "Not" in rule else [])):
        yield from _choice_variables(nested)


def _model_fields(model: type[BaseModel]) -> dict[str, Schema]:
    return {name: _schema_of(field.annotation) for name, field in model.model_fields.items()}


def _schema_of(annotation: Any) -> Schema:
    """A field's schema: its model when it is one (or an optional one), Any for a dict, else a leaf."""
    if get_origin(annotation) in (Union, types.UnionType):
        models = [arg for arg in get_args(annotation) if arg is not type(None)]
        return _schema_of(models[0]) if len(models) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if annotation is dict or get_origin(annotation) is dict:
        return Any
    return None


def _field(schema: Schema, name: str) -> tuple[bool, Schema]:
    if schema is Any:
        return True, Any
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        schema = _model_fields(schema)
    if isinstance(schema, dict) and name in schema:
        return True, schema[name]
    return False, None


def _resolve(schema: Schema, segments: list[str]) -> tuple[bool, Schema]:
    for segment in segments:
        found, schema = _field(schema, segment)
        if not found:
            return False, None
    return True, schema


def _returned(logic: Callable[..., Any]) -> Schema:
    """The step model the logic returns (the handler dumps it as the step's result); Any for a plain dict."""
    returned = getattr(steps, str(inspect.signature(logic).return_annotation), None)
    return returned if isinstance(returned, type) and issubclass(returned, BaseModel) else Any


def _outputs(definition: dict[str, Any], handlers: dict[str, str]) -> dict[str, list[tuple[str, Schema]]]:
    """Top-level key of the document → (state, schema) of each state that writes it."""
    written: dict[str, list[tuple[str, Schema]]] = {}

    def put(result_path: str | None, state: str, schema: Schema) -> None:
        if result_path:
            assert re.fullmatch(r"\$\.\w+", result_path), f"{state}: ResultPath {result_path} is not one key"
            written.setdefault(result_path[2:], []).append((state, schema))

    for name, state in definition["States"].items():
        if state["Type"] == "Pass":
            put(state.get("ResultPath"), name, {key.removesuffix(".$"): None for key in state["Parameters"]})
        elif name in handlers:
            put(state.get("ResultPath"), name, _returned(HANDLERS[handlers[name]][1]))
        elif "ResultSelector" in state:
            put(state.get("ResultPath"), name, {key.removesuffix(".$"): None for key in state["ResultSelector"]})
        for catch in state.get("Catch", []):
            put(catch.get("ResultPath"), name, ERROR_OUTPUT)
    return written


def _reads(definition: dict[str, Any], handlers: dict[str, str]) -> Iterator[Read]:
    for name, state in definition["States"].items():
        model = HANDLERS[handlers[name]][0] if name in handlers else None
        for key, path in _parameters(state.get("Parameters")):
            yield Read(name, path, (model, key) if model else None)
        for rule in state.get("Choices", []):
            yield from (Read(name, path) for path in _choice_variables(rule))
        for field in ("InputPath", "OutputPath", "ItemsPath", "SecondsPath", "TimestampPath"):
            if isinstance(state.get(field), str):
                yield Read(name, state[field])


def _writers(read: Read, outputs: dict[str, list[tuple[str, Schema]]]) -> tuple[list[tuple[str, Schema]], str]:
    """Who wrote what ``read.path`` names, with its schema; or why it names nothing."""
    if read.path.startswith("$$."):
        found, schema = _resolve(CONTEXT_OBJECT, read.path[3:].split("."))
        return ([("the context object", schema)], "") if found else ([], "the context object does not hold")
    top, *rest = read.path[2:].split(".")
    if top in RunRequest.model_fields and not rest and top not in outputs:
        return [("the execution input", None)], ""
    resolved = [(state, *_resolve(schema, rest)) for state, schema in outputs.get(top, [])]
    missing = [state for state, found, _ in resolved if not found]
    if missing or not resolved:
        return [], f"{', '.join(missing) or 'no state'} writes without it"
    return [(state, schema) for state, _, schema in resolved], ""


def _handed_over(read: Read, writers: list[tuple[str, Schema]]) -> list[str]:
    """What is wrong with handing ``read.path`` to the Lambda input model's field."""
    if read.into is None:
        return []
    model, key = read.into
    if key not in model.model_fields:
        return [f"{read.state} hands {key} to {model.__name__}, which has no such field"]
    expected = _schema_of(model.model_fields[key].annotation)
    if not (isinstance(expected, type) and issubclass(expected, BaseModel)):
        return []
    return [
        f"{read.state} hands {read.path} from {state} as {model.__name__}.{key}"
        for state, schema in writers
        if schema is not expected and not (isinstance(schema, dict) and set(schema) <= set(expected.model_fields))
    ]


def _problems(definition: dict[str, Any]) -> list[str]:
    handlers = _lambda_handlers(definition)
    outputs = _outputs(definition, handlers)
    problems = []
    for read in _reads(definition, handlers):
        writers, why = _writers(read, outputs)
        problems += [f"{read.state} reads {read.path}: {why}"] if why else _handed_over(read, writers)
    for name, handler in handlers.items():
        model = HANDLERS[handler][0]
        given = {key for key, _ in _parameters(definition["States"][name]["Parameters"])}
        needed = {field for field, info in model.model_fields.items() if info.is_required()}
        if needed - given:
            problems.append(f"{name} does not give {model.__name__} its {sorted(needed - given)}")
    for state, schema in outputs.get("outcome", []):
        if isinstance(schema, dict) and not set(schema) <= set(steps.Outcome.model_fields):
            problems.append(f"{state} builds an outcome with {sorted(set(schema) - set(steps.Outcome.model_fields))}")
    return problems


def test_every_path_the_state_machine_reads_is_a_field_of_what_wrote_it() -> None:
    assert _problems(_definition()) == []


def test_every_lambda_task_runs_a_handler_whose_models_are_known_here() -> None:
    handlers = _lambda_handlers(_definition())
    assert set(handlers.values()) == set(HANDLERS)
    for handler, (model, logic) in HANDLERS.items():
        module, attribute = handler.rsplit(".", 1)
        source = inspect.getsource(getattr(importlib.import_module(module), attribute))
        assert f"{model.__name__}.model_validate(event)" in source, handler
        assert f"{logic.__name__}(" in source, handler


def test_the_training_jobs_fields_read_are_the_ones_sagemaker_returns() -> None:
    state = _definition()["States"]["TrainCandidate"]
    for key, path in _parameters(state["ResultSelector"]):
        assert _resolve(DESCRIBE_TRAINING_JOB, path[2:].split("."))[0], f"{key}: {path}"


@pytest.mark.parametrize(
    ("state", "where", "renamed"),
    [
        ("EvaluateCandidate", "model_data_url.$", "$.training.model_url"),  # a field no state writes
        ("PromoteIfBetter", "Choices", "$.evaluation.promoted"),  # Evaluation has promote, not promoted
        ("EvaluateCandidate", "candidate.$", "$.dataset.candidate_version"),  # EvaluateInput has no candidate
    ],
)
def test_a_renamed_path_or_parameter_is_found(state: str, where: str, renamed: str) -> None:
    definition = _definition()
    target = definition["States"][state]
    if where == "Choices":
        target["Choices"][0]["Variable"] = renamed
    else:
        parameters = target["Parameters"]
        parameters.pop(where, None)
        parameters.pop("candidate_version.$" if where == "candidate.$" else where, None)
        parameters[where] = renamed

    assert _problems(definition)


def test_a_renamed_field_of_a_steps_model_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given PreparedDataset's training_job_name renamed (TrainCandidate reads $.dataset.training_job_name)
    fields = dict(steps.PreparedDataset.model_fields)
    fields["job_name"] = fields.pop("training_job_name")
    monkeypatch.setattr(steps.PreparedDataset, "model_fields", fields)

    assert any("$.dataset.training_job_name" in problem for problem in _problems(_definition()))
