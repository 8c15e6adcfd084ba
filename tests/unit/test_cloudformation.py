"""What CloudFormation receives is checked, not only what we write: SAM's translation of ``template.yaml``
under every setting a user can pick, linted by cfn-lint; its resources ordered as CloudFormation orders
them, a cycle refused with CloudFormation's message; the parameters held to their constraints."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sentiment_template import cloudformation
from sentiment_template.cloudformation import SETTINGS, Setting, TemplateError
from sentiment_template.reader import Template, load
from tests.conftest import ROOT

DOCUMENT = load(ROOT / "template.yaml")
DEFAULT = next(setting for setting in SETTINGS if setting.name == "dev-sagemaker-serverless-with-image")


def template(document: dict[str, Any] | None = None, **overrides: str) -> Template:
    return Template(document or DOCUMENT, overrides={"ModelImageUri": "image:1", **overrides})


def with_cycle() -> dict[str, Any]:
    """The template as it was: the state machine names the data bucket by reference."""
    document = copy.deepcopy(DOCUMENT)
    substitutions = document["Resources"]["RetrainStateMachine"]["Properties"]["DefinitionSubstitutions"]
    substitutions["EmbeddingCacheUri"] = {"Fn::Sub": "s3://${DataBucket}/checkpoints/"}
    return document


# ---- cfn-lint on the translation ----


def lint(setting: Setting) -> list[str]:
    return cloudformation.lint_errors(cloudformation.translate(DOCUMENT, setting.parameters))


@pytest.mark.slow  # SAM's translation and cfn-lint, as make validate runs them under every setting
def test_the_default_setting_translates_to_a_template_cfn_lint_finds_clean() -> None:
    assert lint(DEFAULT) == []


@pytest.mark.slow
@pytest.mark.parametrize("setting", [s for s in SETTINGS if s != DEFAULT], ids=lambda setting: setting.name)
def test_every_setting_translates_to_a_template_cfn_lint_finds_clean(setting: Setting) -> None:
    assert lint(setting) == []


def test_the_settings_cover_each_stage_backend_endpoint_type_and_the_first_deploy() -> None:
    chosen = {(s.stage, s.backend, s.endpoint_type, bool(s.image)) for s in SETTINGS}
    assert len(chosen) == 2 * 2 * 2 * 2
    for setting in SETTINGS:
        cloudformation.check_parameters(DOCUMENT, setting.parameters)


def test_cfn_lint_on_the_translation_finds_the_cycle_that_the_template_file_hides() -> None:
    errors = cloudformation.lint_errors(cloudformation.translate(with_cycle(), DEFAULT.parameters))
    cycles = [error for error in errors if error.startswith("E3004")]
    assert any("DataBucket" in error for error in cycles), errors
    assert any("RetrainStateMachine" in error for error in cycles), errors


# ---- the creation order ----


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.name)
def test_every_setting_has_an_order_each_resource_after_what_it_needs(setting: Setting) -> None:
    translated, order = cloudformation.plan(template(**setting.parameters))
    position = {name: index for index, name in enumerate(order)}
    graph = cloudformation.dependencies(translated, Template(translated, overrides=setting.parameters))
    assert set(order) == set(graph)
    for name, needed in graph.items():
        assert all(position[other] < position[name] for other in needed), name
    # what SAM adds is ordered too: the bucket's notification needs the trigger and its permission
    assert position["FeedbackTriggerFunctionFeedbackCreatedPermission"] < position["DataBucket"]
    assert position["FeedbackTriggerFunction"] < position["DataBucket"]


def test_a_cycle_is_refused_with_cloudformations_message() -> None:
    with pytest.raises(TemplateError) as refused:
        cloudformation.plan(template(with_cycle()))
    message = str(refused.value)
    assert message.startswith("Circular dependency between resources: [")
    members = message.removeprefix("Circular dependency between resources: [").removesuffix("]").split(", ")
    assert {"DataBucket", "FeedbackTriggerFunction", "RetrainStateMachine"} <= set(members)
    # resources that only hang off the cycle are not named in it
    assert "ApiFunction" not in members


def test_a_reference_in_the_branch_a_condition_does_not_take_is_no_dependency() -> None:
    document: dict[str, Any] = {
        "Parameters": {"On": {"Type": "String", "Default": "no"}},
        "Conditions": {"IsOn": {"Fn::Equals": [{"Ref": "On"}, "yes"]}},
        "Resources": {
            "A": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Fn::If": ["IsOn", {"Ref": "B"}, "a"]}}},
            "B": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": {"Fn::GetAtt": ["A", "TopicName"]}}},
        },
    }
    off = Template(document)
    assert cloudformation.creation_order(document, off) == ["A", "B"]
    with pytest.raises(TemplateError, match=r"Circular dependency between resources: \[A, B\]"):
        cloudformation.creation_order(document, Template(document, overrides={"On": "yes"}))


def test_dependencies_come_from_ref_getatt_sub_and_depends_on() -> None:
    document: dict[str, Any] = {
        "Resources": {
            "Ref": {"Type": "AWS::SNS::Topic"},
            "Att": {"Type": "AWS::SNS::Topic"},
            "Sub": {"Type": "AWS::SNS::Topic"},
            "After": {"Type": "AWS::SNS::Topic"},
            "User": {
                "Type": "AWS::SNS::Topic",
                "DependsOn": "After",
                "Properties": {
                    "A": {"Ref": "Ref"},
                    "B": {"Fn::GetAtt": "Att.TopicName"},
                    "C": {"Fn::Sub": ["${Sub.TopicName}-${Local}", {"Local": "x"}]},
                    "D": {"Ref": "AWS::Region"},
                },
            },
        }
    }
    graph = cloudformation.dependencies(document, Template(document))
    assert graph["User"] == {"Ref", "Att", "Sub", "After"}


# ---- parameters ----


def test_every_parameters_default_satisfies_its_own_constraints() -> None:
    cloudformation.check_parameters(DOCUMENT, {})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("Stage", "qa", "Parameter 'Stage' must be one of AllowedValues"),
        ("RetrainThreshold", "0", "Parameter 'RetrainThreshold' must be a number not less than 1"),
        ("RetrainThreshold", "ten", "Parameter 'RetrainThreshold' must be a number"),
        ("FeedbackAgreementAlarmThreshold", "1.5", "must be a number not greater than 1"),
        ("ModelSha256", "ABC", "Parameter ModelSha256 must be 64 lowercase hex digits, or empty"),
        ("ModelJoblibSha256", "ABC", "Parameter ModelJoblibSha256 must be 64 lowercase hex digits, or empty"),
        # A folder would be loaded with nothing to check it against: only a model.tar.gz and its hash
        ("ModelDataUrl", "s3://data/models/v1/", "Parameter ModelDataUrl must be the s3://bucket/key URI of a model"),
        # EventBridge takes the singular unit for 1 and the plural for more (EventBridge user guide,
        # "Schedule expressions for rules", rate expressions)
        ("MonitoringSchedule", "rate(1 minutes)", "Parameter MonitoringSchedule"),
        ("MonitoringSchedule", "rate(5 minute)", "Parameter MonitoringSchedule"),
        ("MonitoringSchedule", "rate(0 minutes)", "Parameter MonitoringSchedule"),
        ("MonitoringSchedule", "rate(1 hour) ", "Parameter MonitoringSchedule"),
        ("Nonexistent", "x", "do not exist in the template"),
    ],
)
def test_a_value_the_parameter_does_not_allow_is_refused(name: str, value: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cloudformation.check_parameters(DOCUMENT, {name: value})


@pytest.mark.parametrize(
    "value", ["rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(12 hours)", "rate(1 day)"]
)
def test_the_rate_expressions_eventbridge_takes_are_allowed(value: str) -> None:
    cloudformation.check_parameters(DOCUMENT, {"MonitoringSchedule": value})
