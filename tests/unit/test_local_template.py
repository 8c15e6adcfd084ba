"""The local stack reads template.yaml; it resolves what the functions' environment needs."""

from __future__ import annotations

import pytest

from sentiment_local.resources import table_request
from sentiment_local.template import Route, Template
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


# ---- the HTTP API ----

API_ROUTES = {
    ("POST", "/comments"),
    ("POST", "/comments/batch"),
    ("GET", "/comments"),
    ("GET", "/comments/{comment_id}"),
    ("POST", "/feedback"),
    ("GET", "/health"),
    ("GET", "/openapi.json"),
}


def test_the_http_routes_are_the_api_functions_events() -> None:
    routes = template().http_routes()
    assert len(routes) == 7
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
        "AllowHeaders": ["content-type", "idempotency-key", "authorization", "x-api-key"],
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
    assert spec.handler == "api_function.handler.lambda_handler"
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


def test_the_template_has_two_functions() -> None:
    assert template().functions() == ["ApiFunction", "PendingFunction"]


def test_the_pending_function_reads_the_pending_queue() -> None:
    t = template()
    ((function, name, properties),) = t.events("SQS")
    assert (function, name) == ("PendingFunction", "Pending")
    assert properties["BatchSize"] == 10
    assert properties["MaximumBatchingWindowInSeconds"] == 5
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert t.resolve(properties["Queue"]) == "arn:aws:sqs:us-east-1:123456789012:t-PendingQueue"
    assert t.events("S3") == []
    assert len(t.events("HttpApi")) == 7


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
    assert t.arn("DataBucket") == "arn:aws:s3:::t-databucket"
    assert t.resolve({"Fn::GetAtt": ["DataBucket", "Arn"]}) == "arn:aws:s3:::t-databucket"
    assert t.resolve({"Fn::Sub": "${DataBucket.Arn}/feedback/*"}) == "arn:aws:s3:::t-databucket/feedback/*"


def test_a_type_without_a_local_arn_raises() -> None:
    with pytest.raises(NotImplementedError, match="AWS::Serverless::LayerVersion"):
        template().arn("SharedLayer")
