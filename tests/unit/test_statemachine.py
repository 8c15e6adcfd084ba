"""The retraining state machine's definition agrees with the template and holds together."""

from __future__ import annotations

import json
import re
from typing import Any

from pipeline_function.settings import EvaluateSettings
from sentiment_template.reader import load
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
    states = _definition()["States"]
    tasks = {name: state for name, state in states.items() if state["Type"] == "Task"}
    for name, task in tasks.items():
        catches = task.get("Catch", [])
        assert catches[-1]["ErrorEquals"] == ["States.ALL"], name
        if name not in {"Notify", "RecordRun"}:
            assert catches[-1]["Next"] == "Failed", name
            # A catch before it may look closer at the error, and fails the run unless it knows better.
            for catch in catches[:-1]:
                assert states[catch["Next"]]["Default"] == "Failed", (name, catch)


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
            source = (ROOT / function["CodeUri"] / "pipeline_function" / "origin.py").read_text()
            decorators = re.search(r"((?:^ *@.*\n)+)^ *def step\(", source, re.MULTILINE)
            assert decorators is not None, name
        first, second, *_ = (line.strip() for line in decorators.group(1).splitlines())
        # Under inject_lambda_context, whose clear_state would drop the key again.
        assert first.startswith("@logger.inject_lambda_context(") and second == "@log_run_origin", name


# ---- every error name a Retry or Catch matches is one that is really raised ----

ERROR_HANDLING = "https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html"
LAMBDA_SERVICE_EXCEPTIONS = "https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html"
CONNECT_SAGEMAKER = "https://docs.aws.amazon.com/step-functions/latest/dg/connect-sagemaker.html"
SNS_PUBLISH = "https://docs.aws.amazon.com/sns/latest/api/API_Publish.html"

# What Step Functions raises for each integration the state machine uses, with the AWS page that says so.
DOCUMENTED_ERRORS: dict[str, dict[str, str]] = {
    "any": {
        "States.ALL": ERROR_HANDLING,
        "States.TaskFailed": ERROR_HANDLING,
        "States.Permissions": ERROR_HANDLING,
        "States.Timeout": ERROR_HANDLING,
        "States.HeartbeatTimeout": ERROR_HANDLING,
    },
    # A Lambda function's ARN as the Resource: Lambda's service errors (the error names the exception).
    "lambda": {
        "Lambda.ServiceException": LAMBDA_SERVICE_EXCEPTIONS,
        "Lambda.AWSLambdaException": LAMBDA_SERVICE_EXCEPTIONS,
        "Lambda.SdkClientException": LAMBDA_SERVICE_EXCEPTIONS,
        "Lambda.ClientExecutionTimeoutException": LAMBDA_SERVICE_EXCEPTIONS,
        "Lambda.TooManyRequestsException": LAMBDA_SERVICE_EXCEPTIONS,
        "Lambda.Unknown": LAMBDA_SERVICE_EXCEPTIONS,
    },
    # The optimized SageMaker integration: the SDK's AmazonSageMakerException for what SageMaker's API does
    # not declare (throttling, validation: the code is only in the Cause), the declared error's own
    # exception otherwise (the page's training job example retries both); a job that ends Failed or
    # Stopped fails the .sync task with States.TaskFailed.
    "sagemaker": {
        "SageMaker.AmazonSageMakerException": CONNECT_SAGEMAKER,
        "SageMaker.ResourceLimitExceededException": CONNECT_SAGEMAKER,
    },
    # The optimized SNS integration: SNS.<the Publish error's exception>.
    "sns": {
        "SNS.ThrottledException": SNS_PUBLISH,
        "SNS.InternalErrorException": SNS_PUBLISH,
    },
}


def _integration(resource: str) -> str:
    if resource.endswith("FunctionArn}"):
        return "lambda"
    return resource.removeprefix("arn:aws:states:::").split(":")[0]


def _raised_by_the_steps() -> set[str]:
    """The typed exceptions the project's Lambda steps raise: the error is the class name."""
    import inspect  # noqa: PLC0415

    from pipeline_function import errors as step_errors  # noqa: PLC0415
    from sentiment_common import errors as shared_errors  # noqa: PLC0415

    return {
        name
        for module in (step_errors, shared_errors)
        for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, Exception) and value.__module__ == module.__name__
    }


def test_every_error_a_state_matches_is_one_aws_raises_for_its_integration() -> None:
    wrong = []
    for name, state in _definition()["States"].items():
        if state["Type"] != "Task":
            continue
        integration = _integration(state["Resource"])
        known = DOCUMENTED_ERRORS["any"] | DOCUMENTED_ERRORS[integration]
        if integration == "lambda":
            known = known | dict.fromkeys(_raised_by_the_steps(), "the step's own exception")
        for handler in [*state.get("Retry", []), *state.get("Catch", [])]:
            wrong += [(name, error) for error in handler["ErrorEquals"] if error not in known]
    assert not wrong, f"no integration raises these, so they never match: {wrong}"


def test_a_refused_training_job_is_told_apart_by_the_code_in_its_cause() -> None:
    """Retry only matches names, and Step Functions names a throttled CreateTrainingJob
    SageMaker.AmazonSageMakerException, as it names a ValidationException: the Choice after the catch
    reads SageMaker's error code in the Cause."""
    states = _definition()["States"]
    (refused,) = [c for c in states["TrainCandidate"]["Catch"] if c["Next"] != "Failed"]
    assert set(refused["ErrorEquals"]) == {
        "SageMaker.AmazonSageMakerException",
        "SageMaker.ResourceLimitExceededException",
    }
    choice = json.dumps(states[refused["Next"]]["Choices"])
    for code in ("ThrottlingException", "ResourceLimitExceeded"):
        assert f"*Error Code: {code};*" in choice
    assert "SageMaker.ThrottlingException" not in ASL.read_text()


def test_a_held_candidate_is_recorded_as_held_and_notified_without_being_deployed() -> None:
    # Given the evaluation's answer for a candidate held for a person
    states = _definition()["States"]
    evaluation = {"promote": False, "held": True}

    # When the choice after EvaluateCandidate reads it
    choice = states["PromoteIfBetter"]
    (taken,) = [
        rule["Next"]
        for rule in choice["Choices"]
        if evaluation[rule["Variable"].removeprefix("$.evaluation.")] is rule["BooleanEquals"]
    ]

    # Then the run goes to Held, which records decision "held" with the evaluation's reasons, and on to
    # Notify and RecordRun without passing DeployModel
    assert taken == "Held"
    held = states["Held"]
    assert held["Parameters"]["decision"] == "held"
    assert held["Parameters"]["reasons.$"] == "$.evaluation.reasons"
    path, name = [], taken
    while name in states and states[name]["Type"] != "Succeed":
        path.append(name)
        name = states[name].get("Next") or states[name].get("Default")
    assert path[:3] == ["Held", "Notify", "RecordRun"]
    assert "DeployModel" not in path


def test_the_evaluate_step_is_given_the_gates_limits_from_the_templates_parameters() -> None:
    template = load(ROOT / "template.yaml")
    variables = template["Resources"]["EvaluateCandidateFunction"]["Properties"]["Environment"]["Variables"]
    settings = EvaluateSettings.model_fields
    for parameter, variable in (
        ("PromotionMaxNeighbourFlips", "PROMOTION_MAX_NEIGHBOUR_FLIPS"),
        ("PromotionMaxTouchedFlips", "PROMOTION_MAX_TOUCHED_FLIPS"),
    ):
        assert variables[variable] == {"Ref": parameter}
        default = float(template["Parameters"][parameter]["Default"])
        assert default == settings[variable.lower()].default
