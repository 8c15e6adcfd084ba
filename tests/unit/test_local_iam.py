"""The local IAM check, without a network: policy evaluation as IAM documents it, the roles SAM's
translator makes from template.yaml, and which action on which resource each request needs."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sentiment_local.iam import report as iam_report
from sentiment_local.iam.actions import Call, authorizations, read_call
from sentiment_local.iam.enforcer import Enforcer
from sentiment_template import policies
from sentiment_template.policies import Authorization, Principal, Statement, UnsupportedPolicy, access_key_for
from sentiment_template.reader import Template
from tests.conftest import ROOT

ACCOUNT = "123456789012"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/comments"


def principal(*statements: dict[str, Any]) -> Principal:
    parsed = tuple(Statement.parse(raw, f"Policy{index}") for index, raw in enumerate(statements))
    return Principal("FnRole", f"arn:aws:iam::{ACCOUNT}:role/local-FnRole", parsed)


def allowed(who: Principal, action: str, resource: str, **context: str) -> bool:
    return who.decide(Authorization(action, resource, context)).allowed


# ---- evaluation ----


def test_nothing_is_allowed_without_a_statement_that_allows_it() -> None:
    who = principal({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE})
    assert allowed(who, "dynamodb:GetItem", TABLE)
    assert not allowed(who, "dynamodb:PutItem", TABLE)
    assert not allowed(who, "dynamodb:GetItem", TABLE + "-other")


def test_an_explicit_deny_wins_over_any_allow() -> None:
    who = principal(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/secret/*"},
    )
    decision = who.decide(Authorization("s3:GetObject", "arn:aws:s3:::b/secret/key"))
    assert (decision.allowed, decision.explicit_deny) == (False, True)
    assert allowed(who, "s3:GetObject", "arn:aws:s3:::b/public/key")


def test_actions_match_without_case_and_resources_with_it_and_only_star_and_question_mark_are_wildcards() -> None:
    who = principal(
        {"Effect": "Allow", "Action": ["SQS:SendMessage*"], "Resource": "arn:aws:sqs:us-east-1:1:queue-?"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/[ab]/*"},
    )
    assert allowed(who, "sqs:sendmessagebatch", "arn:aws:sqs:us-east-1:1:queue-a")
    assert not allowed(who, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:queue-ab")
    assert not allowed(who, "sqs:SendMessage", "arn:aws:sqs:us-east-1:1:Queue-a")
    assert allowed(who, "s3:GetObject", "arn:aws:s3:::b/[ab]/key")
    assert not allowed(who, "s3:GetObject", "arn:aws:s3:::b/a/key")


def test_not_action_and_not_resource_allow_everything_else() -> None:
    who = principal({"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::private/*"})
    assert allowed(who, "s3:GetObject", "arn:aws:s3:::public/key")
    assert not allowed(who, "iam:PassRole", "arn:aws:iam::1:role/x")
    assert not allowed(who, "s3:GetObject", "arn:aws:s3:::private/key")


def test_conditions_need_their_key_and_negated_operators_match_when_it_is_missing() -> None:
    pass_role = principal(
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        },
        {
            "Effect": "Deny",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringNotLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        },
        {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"},
    )
    assert allowed(
        pass_role, "iam:PassRole", "arn:aws:iam::1:role/r", **{"iam:PassedToService": "sagemaker.amazonaws.com"}
    )
    assert not allowed(
        pass_role, "iam:PassRole", "arn:aws:iam::1:role/r", **{"iam:PassedToService": "ecs.amazonaws.com"}
    )
    assert not allowed(pass_role, "iam:PassRole", "arn:aws:iam::1:role/r")
    assert allowed(pass_role, "cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": "/aws/sagemaker/Endpoints"})
    assert not allowed(pass_role, "cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": "Mine"})
    assert not allowed(pass_role, "cloudwatch:PutMetricData", "*")  # no namespace: the negated deny applies


def test_an_operator_the_check_cannot_evaluate_is_refused_when_the_roles_are_read() -> None:
    with pytest.raises(UnsupportedPolicy, match="NumericLessThan"):
        principal({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericLessThan": {"x": "1"}}})


def test_removing_a_statement_by_its_sid_or_policy_name() -> None:
    who = principal(
        {"Sid": "Read", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE},
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE},
    )
    assert not allowed(who.without("Read"), "dynamodb:GetItem", TABLE)
    assert not allowed(who.without("Policy1"), "dynamodb:PutItem", TABLE)
    with pytest.raises(KeyError):
        who.without("Missing")


def test_access_keys_are_per_role_and_look_like_temporary_keys() -> None:
    first, second = access_key_for("arn:aws:iam::1:role/a"), access_key_for("arn:aws:iam::1:role/b")
    assert first != second
    assert first.startswith("ASIA") and len(first) == 20
    assert policies.credentials_for("arn:aws:iam::1:role/a")["AWS_ACCESS_KEY_ID"] == first


# ---- the roles the template's deployment has ----


@pytest.fixture(scope="module")
def roles() -> dict[str, Principal]:
    template = Template.read(ROOT / "template.yaml", overrides={"ModelImageUri": "image:1"})
    return policies.principals(template)


def test_every_function_and_the_state_machine_get_the_role_sam_makes(roles: dict[str, Principal]) -> None:
    template = Template.read(ROOT / "template.yaml", overrides={"ModelImageUri": "image:1"})
    for logical_id in [*template.functions(), "RetrainStateMachine"]:
        role = template.execution_role_arn(logical_id)
        assert role == roles[f"{logical_id}Role"].arn
    assert {"TrainingRole", "SageMakerExecutionRole"} <= set(roles)
    assert "ModelTaskRole" not in roles  # the ECS backend's, not created with SageMaker


def test_policy_templates_are_expanded_as_sam_expands_them(roles: dict[str, Principal]) -> None:
    api = roles["ApiFunctionRole"]
    registry = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/sentiment-local-RegistryTable"
    assert allowed(api, "dynamodb:UpdateItem", registry)  # DynamoDBCrudPolicy
    assert allowed(api, "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:sentiment-local-PendingQueue")
    assert allowed(api, "logs:PutLogEvents", "*")  # SAM's AWSLambdaBasicExecutionRole
    assert not allowed(api, "secretsmanager:GetSecretValue", "*")
    deploy = roles["DeployModelFunctionRole"]
    assert allowed(deploy, "dynamodb:GetItem", registry)
    assert allowed(deploy, "dynamodb:UpdateItem", registry)
    assert not allowed(deploy.without("DeployModelFunctionRolePolicy1"), "dynamodb:UpdateItem", registry)


def test_the_monitoring_counters_are_written_by_the_api_and_the_pending_worker_and_only_read_by_the_monitor(
    roles: dict[str, Principal],
) -> None:
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/sentiment-local-MonitoringTable"
    registry = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/sentiment-local-RegistryTable"
    for function in ("ApiFunctionRole", "PendingFunctionRole"):
        assert allowed(roles[function], "dynamodb:UpdateItem", table), function
        assert not allowed(roles[function], "dynamodb:DeleteItem", table), function
    assert allowed(roles["ApiFunctionRole"], "dynamodb:Query", table)
    assert not allowed(roles["PendingFunctionRole"], "dynamodb:Query", table)
    monitor = roles["MonitorFunctionRole"]
    assert allowed(monitor, "dynamodb:Query", table) and allowed(monitor, "dynamodb:GetItem", registry)
    assert not allowed(monitor, "dynamodb:UpdateItem", table)
    assert not allowed(monitor, "dynamodb:GetItem", table.replace("MonitoringTable", "CommentsTable"))


def test_conditional_statements_follow_the_backend() -> None:
    ecs = policies.principals(
        Template.read(ROOT / "template.yaml", overrides={"ModelImageUri": "i", "InferenceBackend": "ecs"})
    )
    endpoint_actions = [a for s in ecs["ApiFunctionRole"].statements for a in s.actions if a.startswith("sagemaker:")]
    assert endpoint_actions == []
    assert "ModelTaskRole" in ecs and "SageMakerExecutionRole" not in ecs


# ---- which action, on which resource ----


def environ(
    method: str, path: str, *, service: str, body: bytes = b"", query: str = "", **headers: str
) -> dict[str, Any]:
    authorization = f"AWS4-HMAC-SHA256 Credential=ASIAKEY/20261203/us-east-1/{service}/aws4_request, SignedHeaders=host"
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_AUTHORIZATION": authorization,
        "HTTP_HOST": "127.0.0.1:5000",
    }
    for name, value in headers.items():
        environ["CONTENT_TYPE" if name == "content_type" else f"HTTP_{name.upper()}"] = value
    return environ


def needed(environ_: dict[str, Any]) -> list[tuple[str, str]]:
    call = read_call(environ_, environ_["wsgi.input"].getvalue())
    assert call is not None
    return [(item.action, item.resource) for item in authorizations(call, lambda secret: f"arn:secret:{secret}-Ab12Cd")]


def json_call(service: str, target: str, params: dict[str, Any]) -> dict[str, Any]:
    return environ("POST", "/", service=service, body=json.dumps(params).encode(), x_amz_target=target)


def test_a_transaction_needs_each_items_own_action_on_its_own_table() -> None:
    request = json_call(
        "dynamodb",
        "DynamoDB_20120810.TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "a", "Item": {}}},
                {"Update": {"TableName": "b", "Key": {}}},
                {"ConditionCheck": {"TableName": "a", "Key": {}}},
            ]
        },
    )
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/"
    assert needed(request) == [
        ("dynamodb:PutItem", table + "a"),
        ("dynamodb:UpdateItem", table + "b"),
        ("dynamodb:ConditionCheckItem", table + "a"),
    ]


def test_a_query_on_an_index_is_checked_on_the_index() -> None:
    request = json_call("dynamodb", "DynamoDB_20120810.Query", {"TableName": "t", "IndexName": "ByTime"})
    assert needed(request) == [("dynamodb:Query", "arn:aws:dynamodb:us-east-1:123456789012:table/t/index/ByTime")]


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "expected"),
    [
        ("GET", "/b/feedback/x.json", "", {}, [("s3:GetObject", "arn:aws:s3:::b/feedback/x.json")]),
        ("HEAD", "/b/k", "versionId=3", {}, [("s3:GetObjectVersion", "arn:aws:s3:::b/k")]),
        ("PUT", "/b/models/v1/model.tar.gz", "", {}, [("s3:PutObject", "arn:aws:s3:::b/models/v1/model.tar.gz")]),
        (
            "PUT",
            "/b/runs/champion.tar.gz",
            "",
            {"x_amz_copy_source": "b/models/v1/model.tar.gz"},
            [
                ("s3:PutObject", "arn:aws:s3:::b/runs/champion.tar.gz"),
                ("s3:GetObject", "arn:aws:s3:::b/models/v1/model.tar.gz"),
            ],
        ),
        ("GET", "/b", "list-type=2&prefix=feedback%2F", {}, [("s3:ListBucket", "arn:aws:s3:::b")]),
        ("GET", "/b", "versions", {}, [("s3:ListBucketVersions", "arn:aws:s3:::b")]),
        ("DELETE", "/b/k", "", {}, [("s3:DeleteObject", "arn:aws:s3:::b/k")]),
        ("POST", "/b/out/r.json", "uploads", {}, [("s3:PutObject", "arn:aws:s3:::b/out/r.json")]),
        ("PUT", "/b/out/r.json", "partNumber=1&uploadId=u", {}, [("s3:PutObject", "arn:aws:s3:::b/out/r.json")]),
        ("GET", "/b/out/r.json", "uploadId=u", {}, [("s3:ListMultipartUploadParts", "arn:aws:s3:::b/out/r.json")]),
        ("DELETE", "/b/out/r.json", "uploadId=u", {}, [("s3:AbortMultipartUpload", "arn:aws:s3:::b/out/r.json")]),
        ("PUT", "/b", "notification", {}, [("s3:PutBucketNotification", "arn:aws:s3:::b")]),
    ],
)
def test_s3_requests_need_what_the_s3_reference_says(
    method: str, path: str, query: str, headers: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    assert needed(environ(method, path, service="s3", query=query, **headers)) == expected


def test_deleting_many_objects_deletes_each() -> None:
    body = b"<Delete><Object><Key>a</Key></Object><Object><Key>b/c</Key></Object></Delete>"
    request = environ("POST", "/bucket", service="s3", query="delete", body=body)
    assert needed(request) == [
        ("s3:DeleteObject", "arn:aws:s3:::bucket/a"),
        ("s3:DeleteObject", "arn:aws:s3:::bucket/b/c"),
    ]


def test_a_virtual_hosted_bucket_is_read_from_the_host() -> None:
    request = environ("GET", "/key", service="s3", HOST="bucket.localhost:5000")
    assert needed(request) == [("s3:GetObject", "arn:aws:s3:::bucket/key")]


@pytest.mark.parametrize(
    "host",
    [
        "sentiment-dev-data-1-us-east-1.s3.us-east-1.amazonaws.com",  # what CloudFront sends for an upload
        "sentiment-dev-data-1-us-east-1.s3.amazonaws.com",
        "sentiment-dev-data-1-us-east-1.s3-eu-west-1.amazonaws.com",
        "sentiment-dev-data-1-us-east-1.s3.cn-north-1.amazonaws.com.cn",
    ],
)
def test_a_bucket_in_an_s3_host_name_is_the_bucket(host: str) -> None:
    request = environ("PUT", "/jobs/j1/input", service="s3", HOST=host)
    assert needed(request) == [("s3:PutObject", "arn:aws:s3:::sentiment-dev-data-1-us-east-1/jobs/j1/input")]


def test_creating_a_tagged_training_job_passes_its_role_and_tags_it() -> None:
    request = json_call(
        "sagemaker",
        "SageMaker.CreateTrainingJob",
        {
            "TrainingJobName": "Sentiment-Run-1",
            "RoleArn": "arn:aws:iam::1:role/train",
            "Tags": [{"Key": "a", "Value": "b"}],
        },
    )
    call = read_call(request, request["wsgi.input"].getvalue())
    assert call is not None
    job = "arn:aws:sagemaker:us-east-1:123456789012:training-job/sentiment-run-1"  # SageMaker lower-cases names
    assert authorizations(call) == [
        Authorization("sagemaker:CreateTrainingJob", job),
        Authorization("iam:PassRole", "arn:aws:iam::1:role/train", {"iam:PassedToService": "sagemaker.amazonaws.com"}),
        Authorization("sagemaker:AddTags", job),
    ]


def test_rest_paths_name_their_function_and_endpoint() -> None:
    invoke = environ(
        "POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Afn/invocations", service="lambda"
    )
    invoke["PATH_INFO"] = "/2015-03-31/functions/arn:aws:lambda:us-east-1:1:function:fn/invocations"
    assert needed(invoke) == [("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:1:function:fn")]
    endpoint = environ("POST", "/endpoints/Sentiment-Endpoint/invocations", service="sagemaker")
    assert needed(endpoint) == [
        ("sagemaker:InvokeEndpoint", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/sentiment-endpoint")
    ]


def test_what_cloudformation_deletes_and_reads_names_its_function_and_role() -> None:
    # A stack's deletion, as the service role makes it: the function by the DELETE's path, a role by its name
    delete = environ("DELETE", "/2015-03-31/functions/sentiment-local-ApiFunction", service="lambda")
    assert needed(delete) == [
        ("lambda:DeleteFunction", "arn:aws:lambda:us-east-1:123456789012:function:sentiment-local-ApiFunction")
    ]
    role = environ(
        "POST", "/", service="iam", body=b"Action=DeleteRole&RoleName=sentiment-local-TrainingRole&Version=2010-05-08",
        content_type="application/x-www-form-urlencoded; charset=utf-8",
    )  # fmt: skip
    assert needed(role) == [("iam:DeleteRole", "arn:aws:iam::123456789012:role/sentiment-local-TrainingRole")]


def test_a_resources_tags_are_its_aws_resource_tag_condition_keys() -> None:
    # Given a policy that allows an invalidation only on a distribution of a sentiment-* stack
    statement = {
        "Effect": "Allow",
        "Action": "cloudfront:CreateInvalidation",
        "Resource": "arn:aws:cloudfront::*:distribution/*",
        "Condition": {"StringLike": {"aws:ResourceTag/aws:cloudformation:stack-name": "sentiment-*"}},
    }
    person = Principal("Deployer", "arn:aws:iam::123456789012:user/d", (Statement.parse(statement, "p"),))
    tags = {"arn:aws:cloudfront::123456789012:distribution/E1": {"aws:cloudformation:stack-name": "sentiment-dev"}}
    enforcer = Enforcer(app=None, principals={"Deployer": person}, resource_tags=lambda arn: tags.get(arn, {}))

    def invalidate(distribution: str) -> Call:
        return Call(
            access_key=person.access_key,
            service="cloudfront",
            operation="CreateInvalidation",
            params={"Id": distribution},
        )

    # Then the stack's distribution may be refreshed, and another one may not
    assert enforcer.check(person, invalidate("E1")) is None
    assert enforcer.check(person, invalidate("E2")) is not None


def test_queue_topic_execution_and_secret_resources() -> None:
    send = json_call("sqs", "AmazonSQS.SendMessageBatch", {"QueueUrl": "http://127.0.0.1:5000/123456789012/pending"})
    assert needed(send) == [("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:pending")]
    publish = environ(
        "POST", "/", service="sns", body=b"Action=Publish&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A1%3At&Message=m",
        content_type="application/x-www-form-urlencoded; charset=utf-8",
    )  # fmt: skip
    assert needed(publish) == [("sns:Publish", "arn:aws:sns:us-east-1:1:t")]
    describe = json_call(
        "states", "AWSStepFunctions.DescribeExecution", {"executionArn": "arn:aws:states:x:execution:m:run-1"}
    )
    assert needed(describe) == [("states:DescribeExecution", "arn:aws:states:x:execution:m:run-1")]
    secret = json_call("secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": "admin-key"})
    assert needed(secret) == [("secretsmanager:GetSecretValue", "arn:secret:admin-key-Ab12Cd")]


def test_unsigned_requests_are_not_aws_calls() -> None:
    request = environ("POST", "/moto-api/reset", service="s3")
    del request["HTTP_AUTHORIZATION"]
    assert read_call(request, b"") is None


def test_an_unmapped_operation_is_checked_on_star() -> None:
    call = Call(access_key="k", service="monitoring", operation="PutMetricData", params={"Namespace": "N"})
    assert authorizations(call) == [Authorization("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "N"})]
    assert authorizations(Call(access_key="k", service="sts", operation="GetCallerIdentity", params={})) == []


# ---- the least-privilege report ----


def test_the_report_lists_each_unused_grant_with_why_it_stays_or_as_unexplained(tmp_path: Path) -> None:
    roles = {
        "FnRole": principal(
            {
                "Sid": "Write",
                "Effect": "Allow",
                "Action": ["dynamodb:PutItem", "dynamodb:DeleteObjectSoon"],
                "Resource": TABLE,
            },
            {"Effect": "Allow", "Action": "sqs:SendMessage*", "Resource": "*"},
        )
    }
    usage = tmp_path / "usage.jsonl"
    usage.write_text(
        json.dumps({"principal": "FnRole", "action": "dynamodb:PutItem", "resource": TABLE})
        + "\n"
        + json.dumps({"principal": "FnRole", "action": "sqs:SendMessageBatch", "resource": "q"})
        + "\n"
    )

    found = iam_report.grants(roles, iam_report.read_usage([usage, tmp_path / "missing.jsonl"]))

    used = {grant.action: grant.used for grant in found}
    assert used == {"dynamodb:PutItem": True, "dynamodb:DeleteObjectSoon": False, "sqs:SendMessage*": True}
    report = iam_report.render(found)
    assert "3 grants (an action pattern of an Allow statement) in 1 roles: 2 used" in report
    assert "| FnRole | Policy0/Write | `dynamodb:DeleteObjectSoon` | **unexplained: trim it or say why** |" in report


def test_a_kept_grant_carries_its_reason() -> None:
    roles = {"FnRole": principal({"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"})}
    renamed = Principal(
        "FnRole", roles["FnRole"].arn, (replace(roles["FnRole"].statements[0], policy="AWSXrayWriteOnlyAccess"),)
    )
    (grant,) = iam_report.grants({"FnRole": renamed}, {})
    assert grant.reason is not None and "X-Ray" in grant.reason


def test_each_statement_is_shown_with_a_recorded_call_that_only_it_allowed(tmp_path: Path) -> None:
    role = principal(
        {"Sid": "Write", "Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": TABLE},
        {"Sid": "Read", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE},
        {"Sid": "ReadToo", "Effect": "Allow", "Action": "dynamodb:Get*", "Resource": TABLE},
        {"Sid": "Unused", "Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
    )
    usage = tmp_path / "usage.jsonl"
    enforcer = Enforcer(app=None, principals={"FnRole": role}, usage_file=usage)
    for action in ("dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:UpdateItem"):
        enforcer._record(role, Authorization(action, TABLE))

    calls = iam_report.read_calls([usage])
    found = {need.statement: need.needed_by for need in iam_report.needs({"FnRole": role}, calls)}

    assert len(usage.read_text().splitlines()) == 2  # once per action and allowing statement
    assert found == {
        "Policy0/Write": Authorization("dynamodb:UpdateItem", TABLE),
        "Policy1/Read": None,  # ReadToo allows the same call: taking Read out refuses nothing
        "Policy2/ReadToo": None,
        "Policy3/Unused": None,
    }
    assert "| FnRole | Policy3/Unused | none: see the unused grants |" in iam_report.render_needs(
        iam_report.needs({"FnRole": role}, calls)
    )


def test_each_pipeline_step_writes_only_its_own_keys_and_only_record_run_moves_the_champion_pointer(
    roles: dict[str, Principal],
) -> None:
    bucket = Template.read(ROOT / "template.yaml", overrides={"ModelImageUri": "image:1"}).physical_name("DataBucket")

    def key(name: str) -> str:
        return f"arn:aws:s3:::{bucket}/{name}"

    evaluate, record = roles["EvaluateCandidateFunctionRole"], roles["RecordRunFunctionRole"]
    # The candidate's own files under models/<version>/
    assert allowed(evaluate, "s3:PutObject", key("models/v2/model.tar.gz"))
    assert allowed(evaluate, "s3:PutObject", key("models/v2/metadata.json"))
    # Never the pointer the ECS service serves, nor another kind of file beside the models
    assert not allowed(evaluate, "s3:PutObject", key("models/champion.json"))
    assert not allowed(evaluate, "s3:PutObject", key("models/v2/champion.json"))
    assert not allowed(evaluate, "s3:PutObject", key("data/base/reviews.csv"))
    # RecordRun moves the pointer, and writes no model
    assert allowed(record, "s3:PutObject", key("models/champion.json"))
    assert not allowed(record, "s3:PutObject", key("models/v2/model.tar.gz"))
    # Nothing else in the pipeline writes the pointer
    for role in ("PrepareDatasetFunctionRole", "CheckDeploymentFunctionRole", "FeedbackTriggerFunctionRole"):
        assert not allowed(roles[role], "s3:PutObject", key("models/champion.json")), role


def test_the_api_gets_only_the_registry_actions_it_uses(roles: dict[str, Principal]) -> None:
    api = roles["ApiFunctionRole"]
    registry = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/sentiment-local-RegistryTable"
    # It reads models and runs, claims a run in a transaction of a Put and an Update, and revokes a
    # reviewer by deleting their key's item
    for action in (
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    ):
        assert allowed(api, action, registry), action
    # It never scans or batch-writes the registry
    for action in ("dynamodb:Scan", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem"):
        assert not allowed(api, action, registry), action


@pytest.mark.parametrize(
    ("request_", "read"),
    [
        (environ("PUT", "/bucket/jobs/j1/input", service="s3", body=b"text\n" * 1000), False),
        (environ("PUT", "/bucket/key", service="s3", query="partNumber=1&uploadId=u", body=b"part"), False),
        (environ("POST", "/bucket", service="s3", query="delete", body=b"<Delete/>"), True),
        (json_call("dynamodb", "DynamoDB_20120810.GetItem", {"TableName": "t"}), True),
    ],
    ids=["put-object", "upload-part", "delete-objects", "json"],
)
def test_the_check_reads_a_body_only_where_it_names_what_the_call_touches(request_: dict[str, Any], read: bool) -> None:
    # An uploaded file is not read into memory to be checked: what an S3 PUT may do is in its path and query.
    stream = request_["wsgi.input"]
    seen: list[Any] = []

    def app(environ_: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ_["wsgi.input"])
        return []

    Enforcer(app, {})(request_, lambda *args: None)
    assert (seen[0] is not stream or stream.tell() > 0) == read
