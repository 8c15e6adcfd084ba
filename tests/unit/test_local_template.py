"""The local stack reads template.yaml; it resolves what the functions' environment needs."""

from __future__ import annotations

from sentiment_local.resources import table_request
from sentiment_local.template import Template
from tests.conftest import ROOT


def template(**overrides: str) -> Template:
    return Template.read(ROOT / "template.yaml", prefix="t", overrides=overrides)


def test_the_api_environment_resolves_to_local_names() -> None:
    env = template().function_environment("ApiFunction", "http://localhost:5000")
    assert env["COMMENTS_TABLE"] == "t-CommentsTable"
    assert env["DATA_BUCKET"] == "t-databucket"
    assert env["PENDING_QUEUE_URL"] == "http://localhost:5000/123456789012/t-PendingQueue"
    assert env["POWERTOOLS_SERVICE_NAME"] == "api"
    # No model image yet: no endpoint, no service URL.
    assert env["SAGEMAKER_ENDPOINT_NAME"] == ""
    assert env["MODEL_URL"] == ""


def test_conditions_follow_the_parameters() -> None:
    assert not template().condition_holds("DeployEcs")
    assert template(InferenceBackend="ecs", ModelImageUri="repo:tag").condition_holds("DeployEcs")
    assert not template(ModelImageUri="repo:tag").condition_holds("DeployEcs")
    assert template(ModelImageUri="repo:tag").condition_holds("DeploySageMaker")


def test_the_comments_table_keeps_its_indexes() -> None:
    request = table_request(template(), "CommentsTable")
    assert request["TableName"] == "t-CommentsTable"
    assert {index["IndexName"] for index in request["GlobalSecondaryIndexes"]} == {"ByTime", "BySentiment"}
    assert request["BillingMode"] == "PAY_PER_REQUEST"


def test_the_model_resources_exist_only_with_a_model() -> None:
    assert "ModelService" not in template().of_type("AWS::ECS::Service")
    assert "ModelService" in template(InferenceBackend="ecs", ModelImageUri="r:t").of_type("AWS::ECS::Service")
