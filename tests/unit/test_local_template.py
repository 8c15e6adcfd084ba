"""The local stack reads template.yaml; it resolves what the functions' environment needs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sentiment_local.resources import table_request
from sentiment_template.reader import Route, Template
from tests.conftest import ROOT

DATA_BUCKET = "sentiment-dev-data-123456789012-us-east-1"
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:t-RetrainStateMachine"


def template(**overrides: str) -> Template:
    return Template.read(ROOT / "template.yaml", prefix="t", overrides=overrides)


def test_the_api_environment_resolves_to_local_names() -> None:
    env = template().function_environment("ApiFunction", "http://localhost:5000")
    assert env["COMMENTS_TABLE"] == "t-CommentsTable"
    assert env["DATA_BUCKET"] == DATA_BUCKET
    assert env["REGISTRY_TABLE"] == "t-RegistryTable"
    assert env["PENDING_QUEUE_URL"] == "http://localhost:5000/123456789012/t-PendingQueue"
    assert env["POWERTOOLS_SERVICE_NAME"] == "api"
    assert env["STATE_MACHINE_ARN"] == STATE_MACHINE_ARN
    # Only the admin authorizer reads the admin key.
    assert "ADMIN_API_KEY_SECRET" not in env
    authorizer = template().function_environment("AdminAuthorizerFunction", "http://localhost:5000")
    assert authorizer["ADMIN_API_KEY_SECRET"] == "t-AdminApiKeySecret"  # noqa: S105 - its name: GetSecretValue takes it
    # No model image yet: no endpoint, no service URL.
    assert env["SAGEMAKER_ENDPOINT_NAME"] == ""
    assert env["MODEL_URL"] == ""


# ---- names the template gives ----


def test_a_bucket_name_in_the_template_is_its_name() -> None:
    # Given the template names the data bucket from the stage, account and region
    # When the local stack resolves it, for any prefix and stage
    # Then it is that name, the same one the functions are given
    assert template().physical_name("DataBucket") == DATA_BUCKET
    assert template(Stage="prod").physical_name("DataBucket") == "sentiment-prod-data-123456789012-us-east-1"
    assert template().resolve({"Ref": "DataBucket"}) == DATA_BUCKET
    assert template().arn("DataBucket") == f"arn:aws:s3:::{DATA_BUCKET}"
    assert template(Stage="prod").function_environment("PendingFunction", "http://q")["DATA_BUCKET"] == (
        "sentiment-prod-data-123456789012-us-east-1"
    )


def test_a_resource_without_a_name_gets_the_prefix_and_its_logical_id() -> None:
    document = {
        "Resources": {
            "Named": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "q-${AWS::Region}"}}},
            "Unnamed": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "UnnamedBucket": {"Type": "AWS::S3::Bucket"},
        }
    }
    names = Template(document, prefix="p")
    assert names.physical_name("Named") == "q-us-east-1"
    assert names.physical_name("Unnamed") == "p-Unnamed"
    assert names.physical_name("UnnamedBucket") == "p-unnamedbucket"  # bucket names are lower case


def test_the_retraining_resources_resolve_for_the_functions() -> None:
    t = template(ModelImageUri="repo:tag", DeployPollSeconds="1", RetrainThreshold="3")
    trigger = t.function_environment("FeedbackTriggerFunction", "http://q")
    assert trigger["STATE_MACHINE_ARN"] == STATE_MACHINE_ARN
    assert trigger["RETRAIN_THRESHOLD"] == "3"
    deploy = t.function_environment("DeployModelFunction", "http://q")
    assert deploy["SAGEMAKER_ROLE_ARN"] == "arn:aws:iam::123456789012:role/t-SageMakerExecutionRole"
    assert deploy["DEPLOY_POLL_SECONDS"] == "1"
    assert deploy["MODEL_IMAGE_URI"] == "repo:tag"
    assert t.resolve({"Fn::GetAtt": ["RetrainStateMachine", "Name"]}) == "t-RetrainStateMachine"
    assert t.resolve({"Fn::GetAtt": ["TrainingRole", "Arn"]}) == "arn:aws:iam::123456789012:role/t-TrainingRole"
    assert t.resolve({"Ref": "RetrainTopic"}) == "arn:aws:sns:us-east-1:123456789012:t-RetrainTopic"
    assert t.resolve({"Fn::GetAtt": ["RetrainLogGroup", "Arn"]}) == (
        "arn:aws:logs:us-east-1:123456789012:log-group:t-RetrainLogGroup:*"
    )
    # Without a model there is no SageMaker role to hand over.
    assert template().function_environment("DeployModelFunction", "http://q")["SAGEMAKER_ROLE_ARN"] == ""


def test_a_variable_that_resolves_to_no_value_is_left_out() -> None:
    document: dict[str, Any] = {
        "Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Environment": {
                        "Variables": {
                            "KEPT": "yes",
                            "DROPPED": {"Fn::If": ["Never", "no", {"Ref": "AWS::NoValue"}]},
                        }
                    }
                },
            }
        },
    }
    assert Template(document).function_environment("Fn", "http://q") == {"KEPT": "yes"}


# ---- the state machine's definition ----

PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


def test_the_state_machine_definition_has_every_substitution_resolved() -> None:
    # Given the template's state machine with its DefinitionSubstitutions
    t = template(ModelImageUri="sentiment-model:local", TrainingInstanceType="ml.m5.xlarge")
    source = (ROOT / "statemachine" / "retrain.asl.json").read_text()
    assert PLACEHOLDER.search(source)  # the file does have placeholders to replace

    # When the local stack reads it
    definition = t.state_machine_definition("RetrainStateMachine")

    # Then nothing is left to substitute and each value is the resource's local name or ARN
    assert PLACEHOLDER.search(definition) is None
    states = json.loads(definition)["States"]
    assert states["PrepareDataset"]["Resource"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:t-PrepareDatasetFunction"
    )
    assert states["RecordRun"]["Resource"].endswith(":function:t-RecordRunFunction")
    assert states["Notify"]["Parameters"]["TopicArn"] == "arn:aws:sns:us-east-1:123456789012:t-RetrainTopic"
    training = states["TrainCandidate"]["Parameters"]
    assert training["AlgorithmSpecification"]["TrainingImage"] == "sentiment-model:local"
    assert training["RoleArn"] == "arn:aws:iam::123456789012:role/t-TrainingRole"
    assert training["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"


def substituted(tmp_path: Path, text: str, substitutions: dict[str, Any]) -> str:
    definition = tmp_path / "machine.asl.json"
    definition.write_text(text)
    document = {
        "Parameters": {"Seconds": {"Type": "Number", "Default": 30}},
        "Resources": {
            "Machine": {
                "Type": "AWS::Serverless::StateMachine",
                "Properties": {"DefinitionUri": str(definition), "DefinitionSubstitutions": substitutions},
            }
        },
    }
    return Template(document, prefix="p").state_machine_definition("Machine")


def test_a_number_substitution_is_its_json_text(tmp_path: Path) -> None:
    text = '{"Wait": ${Seconds}, "Name": "${Name}", "Flag": ${Flag}}'
    answer = substituted(tmp_path, text, {"Seconds": {"Ref": "Seconds"}, "Name": "n-1", "Flag": True})
    assert json.loads(answer) == {"Wait": 30, "Name": "n-1", "Flag": True}


def test_a_placeholder_without_a_substitution_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\$\{Missing\} has no DefinitionSubstitutions entry"):
        substituted(tmp_path, '{"A": "${Given}", "B": "${Missing}"}', {"Given": "x"})


def test_conditions_follow_the_parameters() -> None:
    assert not template().condition_holds("DeployEcs")
    assert template(InferenceBackend="ecs", ModelImageUri="repo:tag").condition_holds("DeployEcs")
    assert not template(ModelImageUri="repo:tag").condition_holds("DeployEcs")
    assert template(ModelImageUri="repo:tag").condition_holds("DeploySageMaker")


def test_the_comments_table_keeps_its_indexes() -> None:
    request = table_request(template(), "CommentsTable")
    assert request["TableName"] == "t-CommentsTable"
    assert {index["IndexName"] for index in request["GlobalSecondaryIndexes"]} == {"ByTime", "BySentiment", "ByReview"}
    assert request["BillingMode"] == "PAY_PER_REQUEST"


def test_the_model_resources_exist_only_with_a_model() -> None:
    assert "ModelService" not in template().of_type("AWS::ECS::Service")
    assert "ModelService" in template(InferenceBackend="ecs", ModelImageUri="r:t").of_type("AWS::ECS::Service")


# ---- the HTTP API ----

API_ROUTES = {
    ("POST", "/comments"),
    ("POST", "/comments/batch"),
    ("GET", "/comments"),
    ("GET", "/comments/{comment_id}"),
    ("GET", "/comments/{comment_id}/explanation"),
    ("POST", "/feedback"),
    ("GET", "/health"),
    ("GET", "/monitoring"),
    ("GET", "/openapi.json"),
    ("GET", "/models"),
    ("GET", "/models/{version}"),
    ("POST", "/models/{version}/promote"),
    ("POST", "/training"),
    ("GET", "/training"),
    ("GET", "/training/{run_id}"),
    ("POST", "/reviewers"),
    ("GET", "/reviewers"),
    ("DELETE", "/reviewers/{name}"),
    ("POST", "/reviewers/{name}/withdraw"),
    ("POST", "/reviews"),
    ("POST", "/datasets"),
    ("GET", "/datasets"),
    ("GET", "/datasets/{name}"),
    ("DELETE", "/datasets/{name}"),
    ("POST", "/jobs"),
    ("GET", "/jobs"),
    ("GET", "/jobs/{job_id}"),
    ("GET", "/jobs/{job_id}/results"),
    ("POST", "/jobs/{job_id}/cancel"),
    ("POST", "/jobs/{job_id}/resume"),
}


def test_the_http_routes_are_the_api_functions_events() -> None:
    routes = template().http_routes()
    assert len(routes) == len(API_ROUTES)
    assert {(route.method, route.path) for route in routes} == API_ROUTES
    assert {route.function for route in routes} == {"ApiFunction"}
    assert "GET /comments/{comment_id}" in {route.key for route in routes}


def test_a_route_without_method_or_path_is_any_default() -> None:
    document = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Events": {"Catch": {"Type": "HttpApi"}, "Q": {"Type": "SQS", "Properties": {}}}},
            }
        }
    }
    assert Template(document).http_routes() == [Route("ANY", "$default", "Fn")]


def test_a_route_matches_its_method_and_path() -> None:
    route = Route("GET", "/comments/{comment_id}", "ApiFunction")
    assert route.match("GET", "/comments/abc-123") == {"comment_id": "abc-123"}
    assert route.match("get", "/comments/abc-123") == {"comment_id": "abc-123"}
    assert route.match("POST", "/comments/abc-123") is None
    assert route.match("GET", "/comments") is None
    assert route.match("GET", "/comments/") is None
    assert route.match("GET", "/comments/a/b") is None
    assert route.match("GET", "/other/abc") is None


def test_a_literal_route_matches_only_its_path() -> None:
    route = Route("GET", "/openapi.json", "ApiFunction")
    assert route.match("GET", "/openapi.json") == {}
    assert route.match("GET", "/openapiXjson") is None  # the dot is literal, not a regex wildcard
    assert route.match("GET", "/openapi.json/more") is None


def test_any_matches_every_method() -> None:
    route = Route("ANY", "/things/{id}", "Fn")
    assert route.match("DELETE", "/things/7") == {"id": "7"}
    assert route.match("PATCH", "/things/7") == {"id": "7"}


def test_several_parameters_and_a_greedy_one() -> None:
    route = Route("GET", "/users/{user}/files/{path+}", "Fn")
    assert route.match("GET", "/users/ann/files/a/b/c.txt") == {"user": "ann", "path": "a/b/c.txt"}
    assert route.match("GET", "/users/ann/files/") is None
    assert Route("ANY", "/{proxy+}", "Fn").match("GET", "/x/y") == {"proxy": "x/y"}


def test_specificity_prefers_literals_then_fewer_greedy_then_a_method() -> None:
    literal = Route("POST", "/comments/batch", "Fn")
    parameter = Route("GET", "/comments/{comment_id}", "Fn")
    greedy = Route("GET", "/comments/{rest+}", "Fn")
    any_method = Route("ANY", "/comments/{comment_id}", "Fn")
    assert literal.specificity > parameter.specificity
    assert parameter.specificity > greedy.specificity
    assert parameter.specificity > any_method.specificity
    assert any_method.specificity > greedy.specificity
    assert parameter.specificity == (2, 0, True)
    assert greedy.specificity == (2, -1, True)
    ordered = sorted([greedy, any_method, literal, parameter], key=lambda route: route.specificity, reverse=True)
    assert ordered == [literal, parameter, any_method, greedy]


def test_http_api_cors_is_the_templates_configuration() -> None:
    assert template().http_api_cors() == {
        "AllowOrigins": ["*"],
        "AllowMethods": ["GET", "POST", "OPTIONS"],
        "AllowHeaders": ["content-type", "idempotency-key", "authorization"],
        "MaxAge": 600,
    }
    assert template(AllowedOrigin="https://app.example").http_api_cors()["AllowOrigins"] == ["https://app.example"]


def test_no_http_api_means_no_cors() -> None:
    assert Template({"Resources": {}}).http_api_cors() == {}


# ---- functions ----


def test_the_api_function_runs_with_the_globals() -> None:
    spec = template().function("ApiFunction", "http://localhost:5000")
    assert spec.logical_id == "ApiFunction"
    assert spec.name == "t-ApiFunction"
    assert spec.code == ROOT / "functions" / "api"
    assert spec.handler == "api_function.main.lambda_handler"
    assert spec.runtime == "python3.12"
    assert spec.timeout == 15
    assert spec.memory == 512
    assert spec.layers == (ROOT / "layers" / "shared",)
    assert spec.reserved_concurrency is None
    assert spec.arn == "arn:aws:lambda:us-east-1:123456789012:function:t-ApiFunction"
    assert spec.environment == template().function_environment("ApiFunction", "http://localhost:5000")
    assert spec.environment["IDEMPOTENCY_TABLE"] == "t-IdempotencyTable"
    assert spec.environment["ALLOWED_ORIGIN"] == "*"
    assert spec.environment["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    assert spec.environment["PENDING_QUEUE_URL"] == "http://localhost:5000/123456789012/t-PendingQueue"
    assert spec.code.is_dir()
    assert all(layer.is_dir() for layer in spec.layers)


def test_a_functions_own_properties_override_the_globals() -> None:
    spec = template(Stage="prod").function("PendingFunction", "http://q")
    assert spec.timeout == 30
    assert spec.memory == 512
    assert spec.code == ROOT / "functions" / "pending"
    assert spec.environment["POWERTOOLS_SERVICE_NAME"] == "pending"
    assert spec.environment["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert "IDEMPOTENCY_TABLE" not in spec.environment


def test_the_template_has_the_api_its_authorizers_the_workers_and_the_retraining_functions() -> None:
    assert template().functions() == [
        "ApiFunction",
        "AdminAuthorizerFunction",
        "OriginAuthorizerFunction",
        "ReviewerAuthorizerFunction",
        "PendingFunction",
        "FeedbackTriggerFunction",
        "DatasetImportFunction",
        "PrepareDatasetFunction",
        "EvaluateCandidateFunction",
        "DeployModelFunction",
        "CheckDeploymentFunction",
        "RecordRunFunction",
        "MonitorFunction",
        "CompactFeedbackFunction",
        "JobStartFunction",
        "CheckFileFunction",
        "ClassifyBatchFunction",
        "MergeResultsFunction",
        "JobStatusFunction",
    ]
    assert {template().function(name, "http://q").code for name in template().functions()[5:14]} == {
        ROOT / "functions" / "pipeline"
    }
    assert {template().function(name, "http://q").code for name in template().functions()[14:]} == {
        ROOT / "functions" / "jobs"
    }


def test_the_pending_function_reads_the_pending_queue() -> None:
    t = template()
    ((function, name, properties),) = t.events("SQS")
    assert (function, name) == ("PendingFunction", "Pending")
    assert properties["BatchSize"] == 10
    assert properties["MaximumBatchingWindowInSeconds"] == 5
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert t.resolve(properties["Queue"]) == "arn:aws:sqs:us-east-1:123456789012:t-PendingQueue"
    assert len(t.events("HttpApi")) == len(API_ROUTES)


def test_the_feedback_trigger_and_the_dataset_import_are_notified_by_the_data_bucket() -> None:
    t = template()
    notified = {(function, name): properties for function, name, properties in t.events("S3")}
    assert set(notified) == {
        ("FeedbackTriggerFunction", "FeedbackCreated"),
        ("DatasetImportFunction", "DatasetUploaded"),
        ("JobStartFunction", "JobUploaded"),
    }
    assert {t.resolve(properties["Bucket"]) for properties in notified.values()} == {DATA_BUCKET}
    rules = notified["DatasetImportFunction", "DatasetUploaded"]["Filter"]["S3Key"]["Rules"]
    assert rules == [{"Name": "prefix", "Value": "datasets/"}, {"Name": "suffix", "Value": "/upload"}]


# ---- parameters and names ----


def test_number_parameters_resolve_to_numbers() -> None:
    assert template().resolve({"Ref": "ApiRateLimit"}) == 50
    assert isinstance(template().resolve({"Ref": "ApiRateLimit"}), int)
    assert template(ApiRateLimit="75").resolve({"Ref": "ApiRateLimit"}) == 75
    assert template(ApiRateLimit="2.5").resolve({"Ref": "ApiRateLimit"}) == 2.5
    assert template().resolve({"Ref": "SageMakerServerlessMemory"}) == 2048
    # Strings stay strings, even when they look like numbers.
    assert template(Stage="2").resolve({"Ref": "Stage"}) == "2"
    assert template().parameter("ApiRateLimit") == "50"


def test_arns_follow_each_services_format() -> None:
    t = template()
    assert t.arn("ApiFunction") == "arn:aws:lambda:us-east-1:123456789012:function:t-ApiFunction"
    assert t.arn("PendingQueue") == "arn:aws:sqs:us-east-1:123456789012:t-PendingQueue"
    assert t.arn("CommentsTable") == "arn:aws:dynamodb:us-east-1:123456789012:table/t-CommentsTable"
    assert t.arn("DataBucket") == f"arn:aws:s3:::{DATA_BUCKET}"
    assert t.resolve({"Fn::GetAtt": ["DataBucket", "Arn"]}) == f"arn:aws:s3:::{DATA_BUCKET}"
    assert t.resolve({"Fn::Sub": "${DataBucket.Arn}/feedback/*"}) == f"arn:aws:s3:::{DATA_BUCKET}/feedback/*"
    assert t.arn("RetrainStateMachine") == STATE_MACHINE_ARN


def test_a_type_without_a_local_arn_raises() -> None:
    with pytest.raises(NotImplementedError, match="AWS::Serverless::LayerVersion"):
        template().arn("SharedLayer")
