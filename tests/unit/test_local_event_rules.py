"""EventBridge's pattern matching as the local stack plays it for the functions' EventBridgeRule events."""

from __future__ import annotations

from typing import Any

import pytest

from sentiment_local.runtime.event_rules import EventRules, PatternError, check_pattern, matches
from sentiment_template.reader import Template

JOBS = "arn:aws:states:us-east-1:123456789012:stateMachine:sentiment-dev-jobs"
EVENT: dict[str, Any] = {
    "source": "aws.states",
    "detail-type": "Step Functions Execution Status Change",
    "resources": ["arn:aws:states:us-east-1:123456789012:execution:sentiment-dev-jobs:j1"],
    "detail": {"status": "FAILED", "stateMachineArn": JOBS, "error": None},
}
JOB_ENDS = {
    "source": ["aws.states"],
    "detail-type": ["Step Functions Execution Status Change"],
    "detail": {"status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"], "stateMachineArn": [JOBS]},
}


def test_a_job_ending_matches_the_rule_for_job_ends() -> None:
    assert matches(JOB_ENDS, EVENT)


@pytest.mark.parametrize(
    ("field", "value"),
    [("source", "aws.events"), ("detail-type", "Scheduled Event")],
)
def test_another_source_or_kind_does_not_match(field: str, value: str) -> None:
    assert not matches(JOB_ENDS, {**EVENT, field: value})


def test_a_running_execution_or_another_machine_does_not_match() -> None:
    assert not matches(JOB_ENDS, {**EVENT, "detail": {**EVENT["detail"], "status": "RUNNING"}})
    assert not matches(JOB_ENDS, {**EVENT, "detail": {**EVENT["detail"], "stateMachineArn": JOBS + "x"}})


def test_a_field_the_event_lacks_does_not_match() -> None:
    assert not matches({"detail": {"cause": ["x"]}}, EVENT)


def test_an_array_in_the_event_matches_when_any_element_does() -> None:
    assert matches({"resources": [{"prefix": "arn:aws:states:us-east-1:123456789012:execution:"}]}, EVENT)


def test_the_operators_followed() -> None:
    assert matches({"detail": {"status": [{"anything-but": ["RUNNING"]}]}}, EVENT)
    assert not matches({"detail": {"status": [{"anything-but": "FAILED"}]}}, EVENT)
    assert matches({"detail": {"cause": [{"exists": False}]}}, EVENT)
    assert not matches({"detail": {"status": [{"exists": False}]}}, EVENT)
    assert matches({"detail": {"error": [None]}}, EVENT)


def test_values_compare_exactly() -> None:
    assert not matches({"detail": {"status": ["failed"]}}, EVENT)
    assert not matches({"detail": {"count": ["1"]}}, {"detail": {"count": 1}})


@pytest.mark.parametrize(
    "pattern",
    [
        {"detail": {"status": [{"wildcard": "F*"}]}},
        {"detail": {"size": [{"numeric": [">", 1]}]}},
        {"source": "aws.states"},
        {},
    ],
)
def test_a_pattern_the_stack_does_not_match_is_refused(pattern: dict[str, Any]) -> None:
    with pytest.raises(PatternError):
        check_pattern(pattern)


def _template(properties: dict[str, Any]) -> Template:
    event = {"Type": "EventBridgeRule", "Properties": properties}
    function = {"Type": "AWS::Serverless::Function", "Properties": {"Events": {"Ends": event}}}
    return Template({"Resources": {"OnJobEnd": function}}, prefix="rules")


def test_the_templates_rules_are_what_the_functions_events_declare() -> None:
    rules = EventRules.from_template(_template({"Pattern": JOB_ENDS}), runner=None)  # type: ignore[arg-type]
    assert [(rule.function, rule.name, rule.pattern) for rule in rules.rules] == [("OnJobEnd", "Ends", JOB_ENDS)]


@pytest.mark.parametrize(
    "properties",
    [
        {"Pattern": {"detail": {"status": [{"wildcard": "F*"}]}}},
        {"Pattern": JOB_ENDS, "InputTransformer": {"InputTemplate": "<x>"}},
    ],
)
def test_a_rule_the_stack_does_not_play_stops_it_at_start(properties: dict[str, Any]) -> None:
    with pytest.raises(PatternError, match="OnJobEnd"):
        EventRules.from_template(_template(properties), runner=None)  # type: ignore[arg-type]
