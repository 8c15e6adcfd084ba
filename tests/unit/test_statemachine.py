"""The retraining state machine's definition agrees with the template and holds together."""

from __future__ import annotations

import json
import re
from typing import Any

from sentiment_local.template import load
from tests.conftest import ROOT

ASL = ROOT / "statemachine" / "retrain.asl.json"


def _definition() -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(ASL.read_text())
    return definition


def _state_machine() -> dict[str, Any]:
    resource: dict[str, Any] = load(ROOT / "template.yaml")["Resources"]["RetrainStateMachine"]
    return resource


def test_every_placeholder_is_a_substitution_and_every_substitution_is_used() -> None:
    placeholders = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", ASL.read_text()))
    substitutions = set(_state_machine()["Properties"]["DefinitionSubstitutions"])
    assert placeholders == substitutions


def test_the_template_points_at_this_file() -> None:
    assert _state_machine()["Properties"]["DefinitionUri"] == "statemachine/retrain.asl.json"


def test_every_transition_names_a_state_and_every_state_is_reachable() -> None:
    states = _definition()["States"]
    targets: set[str] = {_definition()["StartAt"]}
    for state in states.values():
        targets.update(value for key, value in state.items() if key in {"Next", "Default"})
        targets.update(choice["Next"] for choice in state.get("Choices", []))
        targets.update(catch["Next"] for catch in state.get("Catch", []))
    assert targets <= set(states), targets - set(states)
    assert set(states) <= targets, set(states) - targets


def test_every_step_but_the_last_catches_everything_into_the_failure_path() -> None:
    tasks = {name: state for name, state in _definition()["States"].items() if state["Type"] == "Task"}
    for name, task in tasks.items():
        catches = task.get("Catch", [])
        assert any(catch["ErrorEquals"] == ["States.ALL"] for catch in catches), name
        if name not in {"Notify", "RecordRun"}:
            assert all(catch["Next"] == "Failed" for catch in catches), name


def test_lambda_steps_retry_transient_errors_by_name() -> None:
    for name, state in _definition()["States"].items():
        if state["Type"] == "Task" and state["Resource"].endswith("FunctionArn}"):
            retried = {error for retry in state["Retry"] for error in retry["ErrorEquals"]}
            assert {"Lambda.TooManyRequestsException", "ServiceUnavailableError"} <= retried, name


def test_training_runs_as_a_sync_sagemaker_job_with_the_three_channels() -> None:
    train = _definition()["States"]["TrainCandidate"]
    assert train["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    channels = [channel["ChannelName"] for channel in train["Parameters"]["InputDataConfig"]]
    assert channels == ["train", "feedback", "champion"]


def test_each_lambda_step_runs_a_handler_that_exists() -> None:
    resources = load(ROOT / "template.yaml")["Resources"]
    for name, value in _state_machine()["Properties"]["DefinitionSubstitutions"].items():
        if not name.endswith("FunctionArn"):
            continue
        function = resources[value["Fn::GetAtt"][0]]["Properties"]
        module, attribute = function["Handler"].rsplit(".", 1)
        source = ROOT / function["CodeUri"] / (module.replace(".", "/") + ".py")
        assert re.search(rf"^def {attribute}\(", source.read_text(), re.MULTILINE), (name, source)


def test_every_lambda_step_is_given_the_executions_input_and_logs_what_started_the_run() -> None:
    """The input names the API request that started the run (``started_by_request``); each step logs it."""
    resources = load(ROOT / "template.yaml")["Resources"]
    substitutions = _state_machine()["Properties"]["DefinitionSubstitutions"]
    for name, state in _definition()["States"].items():
        if state["Type"] != "Task" or not state["Resource"].endswith("FunctionArn}"):
            continue
        assert state["Parameters"]["request.$"] == "$$.Execution.Input", name
        function = resources[substitutions[state["Resource"][2:-1]]["Fn::GetAtt"][0]]["Properties"]
        module, attribute = function["Handler"].rsplit(".", 1)
        source = (ROOT / function["CodeUri"] / (module.replace(".", "/") + ".py")).read_text()
        decorators = re.search(rf"((?:^@.*\n)+)^def {attribute}\(", source, re.MULTILINE)
        assert decorators is not None, name
        if decorators.group(1).startswith("@run_step("):  # the steps' shared wrappers
            source = (ROOT / function["CodeUri"] / "pipeline_function" / "wiring.py").read_text()
            decorators = re.search(r"((?:^ *@.*\n)+)^ *def step\(", source, re.MULTILINE)
            assert decorators is not None, name
        first, second, *_ = (line.strip() for line in decorators.group(1).splitlines())
        # Under inject_lambda_context, whose clear_state would drop the key again.
        assert first.startswith("@logger.inject_lambda_context(") and second == "@log_run_origin", name
