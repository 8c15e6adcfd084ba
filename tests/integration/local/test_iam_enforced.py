"""IAM enforced from the template, through the path a handler's calls take: the real handler runs as
Lambda runs it (its own process, its template environment, its role's credentials), boto3 signs with
the role's key, and the local AWS endpoint checks each call against the role SAM would create before
moto answers. A statement the code relies on, taken out, makes the handler fail where AWS would.

The two statements the issue found missing are shown here: the registry write of ``DeployModelFunction``
(a rollback creates its run and records its deploy step) and ``states:DescribeExecution`` of
``ApiFunction`` (``POST /training`` while a run is active is a 409, and a 500 without it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_common.dal.pipeline_state import DynamoDbPipelineStateStore
from sentiment_common.dal.run_ledger import DynamoDbRunLedger
from sentiment_common.dal.workflow import StepFunctionsRetrainWorkflow
from sentiment_common.registry import RunRequest, Trigger
from sentiment_local.iam.enforcer import Enforcer
from sentiment_local.moto import data as moto_data
from sentiment_local.resources import create_buckets, create_queues, create_secrets, create_tables
from sentiment_local.runtime.functions import Invocation, Runner
from sentiment_template import policies
from sentiment_template.reader import ROOT, Template
from tests.integration.conftest import enforced_moto
from tests.integration.local.conftest import wait_for

# Never finishes within a test: an execution stays RUNNING, as one waiting for a training job does.
WAITING = {"StartAt": "Train", "States": {"Train": {"Type": "Wait", "Seconds": 600, "End": True}}}


@dataclass
class EnforcedAws:
    """moto's server behind the local IAM check, holding the template's tables, buckets and queues."""

    template: Template
    endpoint: str
    enforcer: Enforcer
    logs: Path

    def client(self, service: str, role: str | None = None) -> Any:
        keys = policies.credentials_for(self.template.role_arn(role)) if role else {"AWS_ACCESS_KEY_ID": "deployer"}
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key="local",
            aws_session_token=keys.get("AWS_SESSION_TOKEN"),
        )

    def without(self, role: str, statement: str) -> None:
        """The role as the template would have it with one statement taken out."""
        self.enforcer.replace(self.enforcer.principals[role].without(statement))

    def invoke(self, function: str, event: dict[str, Any]) -> Invocation:
        spec = self.template.function(function, self.endpoint)
        runner = Runner([spec], self.endpoint, self.logs, concurrency=1)
        try:
            return runner.invoke(function, event)
        finally:
            runner.close()


@pytest.fixture
def enforced_aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EnforcedAws]:
    template = Template.read(
        ROOT / "template.yaml",
        prefix="iam",
        overrides={"InferenceBackend": "ecs", "ModelImageUri": "sentiment-model:local", "DeployPollSeconds": "1"},
    )
    with enforced_moto() as (endpoint, enforcer):
        yield from _enforced(template, endpoint, enforcer, tmp_path, monkeypatch)


def _enforced(
    template: Template, endpoint: str, enforcer: Enforcer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EnforcedAws]:
    # This process's own boto3 calls (the tests' registry stores and StepFunctionsRetrainWorkflow) are the deployer's.
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "deployer",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    aws = EnforcedAws(template, endpoint, enforcer, tmp_path / "logs")
    create_tables(template, aws.client("dynamodb"))
    create_buckets(template, aws.client("s3"))
    create_queues(template, aws.client("sqs"))
    create_secrets(template, aws.client("secretsmanager"), {"AdminApiKeySecret": "the-admin-key"})
    template.pinned["AdminApiKeySecret"] = moto_data.secret_arn(template.physical_name("AdminApiKeySecret"))
    enforcer.load(policies.principals(template))
    yield aws


def registered_champion(aws: EnforcedAws, version: str = "v1") -> str:
    """Registers a first champion; the registry table's name."""
    bucket = aws.template.physical_name("DataBucket")
    aws.client("s3").put_object(Bucket=bucket, Key=f"models/{version}/model.tar.gz", Body=b"model")
    table = aws.template.physical_name("RegistryTable")
    url = f"s3://{bucket}/models/{version}/model.tar.gz"
    assert DynamoDbModelRegistry(table).ensure_champion(version, url, "ab" * 32, {"metrics": {"golden_accuracy": 0.8}})
    return table


# ---- DeployModelFunction writes the registry ----


def test_a_rollback_deploys_and_records_its_run_with_the_templates_role(enforced_aws: EnforcedAws) -> None:
    table = registered_champion(enforced_aws)

    deployed = enforced_aws.invoke("DeployModelFunction", {"run_id": "rollback-1", "version": "v1"})

    assert not deployed.failed, deployed.error
    run = DynamoDbRunLedger(table).get_run("rollback-1")
    assert [step.step for step in run.steps] == ["deploy"]
    assert enforced_aws.enforcer.refusals == []


def test_without_the_registry_write_deploy_model_is_refused_where_aws_would_refuse_it(
    enforced_aws: EnforcedAws,
) -> None:
    registered_champion(enforced_aws)
    # DeployModelFunctionRolePolicy1 is the DynamoDBWritePolicy on the registry: the template before this
    # fix had only DynamoDBReadPolicy there.
    enforced_aws.without("DeployModelFunctionRole", "DeployModelFunctionRolePolicy1")

    deployed = enforced_aws.invoke("DeployModelFunction", {"run_id": "rollback-1", "version": "v1"})

    assert deployed.failed
    assert "AccessDeniedException" in deployed.error["errorMessage"]  # type: ignore[index]
    assert "dynamodb:PutItem" in deployed.error["errorMessage"]  # type: ignore[index]
    (refusal,) = enforced_aws.enforcer.refusals
    assert refusal.principal.logical_id == "DeployModelFunctionRole"
    assert refusal.request.resource.endswith(":table/iam-RegistryTable")


# ---- ApiFunction describes the active run's execution ----


def training_request() -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / "api-training-post-202.json").read_text())
    return event


@pytest.fixture
def active_run(enforced_aws: EnforcedAws) -> str:
    """A run that holds the run slot, its execution running."""
    machine = enforced_aws.client("stepfunctions").create_state_machine(
        name=enforced_aws.template.physical_name("RetrainStateMachine"),
        definition=json.dumps(WAITING),
        roleArn=enforced_aws.template.execution_role_arn("RetrainStateMachine"),
    )["stateMachineArn"]
    assert machine == enforced_aws.template.arn("RetrainStateMachine")
    pipeline = DynamoDbPipelineStateStore(registered_champion(enforced_aws))
    run = pipeline.claim_run(pipeline.state(), RunRequest(trigger=Trigger.FEEDBACK, feedback_count=10))
    assert run is not None
    pipeline.mark_started(
        run.run_id, StepFunctionsRetrainWorkflow(machine).start(run.run_id, RunRequest(trigger=Trigger.FEEDBACK))
    )
    return run.run_id


def test_starting_a_run_while_one_is_active_is_a_conflict(enforced_aws: EnforcedAws, active_run: str) -> None:
    answer = enforced_aws.invoke("ApiFunction", training_request())

    assert not answer.failed, answer.error
    assert answer.result()["statusCode"] == 409
    assert active_run in answer.result()["body"]
    assert enforced_aws.enforcer.refusals == []


def test_without_describe_execution_the_conflict_becomes_a_server_error(
    enforced_aws: EnforcedAws, active_run: str
) -> None:
    enforced_aws.without("ApiFunctionRole", "SeeWhetherTheActiveRunIsStillRunning")

    answer = enforced_aws.invoke("ApiFunction", training_request())

    assert answer.result()["statusCode"] == 500
    (refusal,) = enforced_aws.enforcer.refusals
    assert refusal.request.action == "states:DescribeExecution"
    assert refusal.request.resource.endswith(f":execution:iam-RetrainStateMachine:{active_run}")


# ---- what AWS answers a refused call, service by service ----


def test_a_call_outside_the_policy_gets_access_denied_in_each_services_own_shape(enforced_aws: EnforcedAws) -> None:
    template = enforced_aws.template
    bucket = template.physical_name("DataBucket")
    queue = template.queue_url("PendingDeadLetterQueue", enforced_aws.endpoint)
    cases: list[tuple[str, Any]] = [
        ("AccessDeniedException", lambda: enforced_aws.client("secretsmanager", "ApiFunctionRole").get_secret_value(
            SecretId=template.physical_name("AdminApiKeySecret"))),
        ("AccessDeniedException", lambda: enforced_aws.client("dynamodb", "AdminAuthorizerFunctionRole").scan(
            TableName=template.physical_name("CommentsTable"))),
        ("AccessDenied", lambda: enforced_aws.client("s3", "ApiFunctionRole").get_object(
            Bucket=bucket, Key="models/champion.json")),
        ("AccessDenied", lambda: enforced_aws.client("sqs", "ApiFunctionRole").send_message(
            QueueUrl=queue, MessageBody="x")),
        ("AuthorizationError", lambda: enforced_aws.client("sns", "ApiFunctionRole").publish(
            TopicArn=template.arn("RetrainTopic"), Message="x")),
        ("AccessDeniedException", lambda: enforced_aws.client("lambda", "ApiFunctionRole").invoke(
            FunctionName=template.physical_name("RecordRunFunction"))),
    ]  # fmt: skip
    for code, call in cases:
        with pytest.raises(ClientError) as raised:
            call()
        error = raised.value.response["Error"]
        assert error["Code"] == code
        if raised.value.response["ResponseMetadata"]["HTTPStatusCode"] != 404:
            assert "is not authorized to perform" in error["Message"] or error["Message"] == "Access Denied"
    # The authorizer may read the key it guards
    secret = enforced_aws.client("secretsmanager", "AdminAuthorizerFunctionRole").get_secret_value(
        SecretId=template.physical_name("AdminApiKeySecret")
    )
    assert secret["SecretString"] == "the-admin-key"


def test_a_missing_key_is_404_only_to_whom_may_list_the_bucket(enforced_aws: EnforcedAws) -> None:
    bucket = enforced_aws.template.physical_name("DataBucket")
    record_run = enforced_aws.client("s3", "RecordRunFunctionRole")
    with pytest.raises(ClientError) as listed:
        record_run.get_object(Bucket=bucket, Key="models/champion.json")
    assert listed.value.response["Error"]["Code"] == "NoSuchKey"

    enforced_aws.without("RecordRunFunctionRole", "ListTheBucket")
    with pytest.raises(ClientError) as unlisted:
        enforced_aws.client("s3", "RecordRunFunctionRole").get_object(Bucket=bucket, Key="models/champion.json")
    assert unlisted.value.response["Error"]["Code"] == "AccessDenied"
    assert unlisted.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # An object that exists is read either way
    enforced_aws.client("s3").put_object(Bucket=bucket, Key="models/champion.json", Body=b"{}")
    assert (
        enforced_aws.client("s3", "RecordRunFunctionRole")
        .get_object(Bucket=bucket, Key="models/champion.json")["Body"]
        .read()
        == b"{}"
    )


def test_the_deployer_and_unsigned_requests_are_not_checked(enforced_aws: EnforcedAws) -> None:
    assert (
        enforced_aws.client("secretsmanager").get_secret_value(
            SecretId=enforced_aws.template.physical_name("AdminApiKeySecret")
        )["SecretString"]
        == "the-admin-key"
    )
    assert enforced_aws.enforcer.refusals == []


# ---- an asynchronous event that keeps failing lands in the function's dead-letter queue ----


def test_a_failed_feedback_event_lands_in_the_dead_letter_queue_sent_with_the_functions_role(
    enforced_aws: EnforcedAws,
) -> None:
    # Given a trigger that may not read feedback objects, and a notification of one
    template = enforced_aws.template
    enforced_aws.without("FeedbackTriggerFunctionRole", "ReadFeedbackObjects")
    bucket = template.physical_name("DataBucket")
    event = json.loads((ROOT / "events" / "s3-feedback-object-created.json").read_text())
    event["Records"][0]["s3"]["bucket"] |= {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}
    runner = Runner([template.function("FeedbackTriggerFunction", enforced_aws.endpoint)], enforced_aws.endpoint,
                    enforced_aws.logs, concurrency=1)  # fmt: skip
    queue = template.queue_url("FeedbackTriggerDeadLetterQueue", enforced_aws.endpoint)
    sqs = enforced_aws.client("sqs")
    try:
        # When S3 delivers it, and every attempt fails
        runner.invoke_async("FeedbackTriggerFunction", event)

        # Then, after Lambda's two retries, the event waits in the dead-letter queue, sent with the role
        messages = wait_for(
            lambda: sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"]).get("Messages"),
            seconds=30,
            message="the event in the dead-letter queue",
        )
    finally:
        runner.close()
    (message,) = messages
    assert json.loads(message["Body"]) == event
    assert "AccessDenied" in message["MessageAttributes"]["ErrorMessage"]["StringValue"]
    refused = {refusal.request.action for refusal in enforced_aws.enforcer.refusals}
    assert refused == {"s3:GetObject"}
    assert ("FeedbackTriggerFunctionRole", "sqs:SendMessage") in enforced_aws.enforcer.usage()


def test_evaluate_candidate_may_register_a_model_but_never_move_the_champion_pointer(
    enforced_aws: EnforcedAws,
) -> None:
    bucket = enforced_aws.template.physical_name("DataBucket")
    evaluate = enforced_aws.client("s3", "EvaluateCandidateFunctionRole")
    # It stores a candidate under its version
    evaluate.put_object(Bucket=bucket, Key="models/v2/model.tar.gz", Body=b"archive")
    evaluate.put_object(Bucket=bucket, Key="models/v2/metadata.json", Body=b"{}")
    # but the pointer the ECS service serves is refused, as AWS would refuse it
    with pytest.raises(ClientError) as refused:
        evaluate.put_object(Bucket=bucket, Key="models/champion.json", Body=b'{"version": "v2"}')
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # and RecordRun, which moves the pointer, cannot rewrite a registered model
    with pytest.raises(ClientError) as overwritten:
        enforced_aws.client("s3", "RecordRunFunctionRole").put_object(
            Bucket=bucket, Key="models/v2/model.tar.gz", Body=b"another archive"
        )
    assert overwritten.value.response["Error"]["Code"] == "AccessDenied"


# ---- a presigned URL: S3's own rules first, then the signer's permissions ----


def _presigned_put(aws: EnforcedAws, role: str, key: str, expires: int = 600, version: str | None = "s3v4") -> str:
    """A PUT URL presigned with the role's credentials, as a function running with that role makes one."""
    keys = policies.credentials_for(aws.template.role_arn(role))
    s3 = boto3.client(
        "s3",
        endpoint_url=aws.endpoint,
        region_name="us-east-1",
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=keys["AWS_SESSION_TOKEN"],
        config=Config(signature_version=version) if version else None,
    )
    bucket = aws.template.physical_name("DataBucket")
    return str(s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires))


def test_a_presigned_upload_is_taken_only_as_s3_and_the_signers_policy_allow(enforced_aws: EnforcedAws) -> None:
    bucket = enforced_aws.template.physical_name("DataBucket")
    s3 = enforced_aws.client("s3")

    # Given a URL the API function presigns, with Signature Version 4, for a key its role may write:
    # a plain PUT of the bytes stores them
    url = _presigned_put(enforced_aws, "ApiFunctionRole", "feedback/dt=2026-12-07/presigned.json")
    assert httpx.put(url, content=b'{"label": "positive"}').status_code == 200
    assert s3.get_object(Bucket=bucket, Key="feedback/dt=2026-12-07/presigned.json")["Body"].read().startswith(b"{")

    # A URL presigned with botocore's default S3 signer (Version 2) is refused, as a bucket made after
    # June 2020 refuses it, and stores nothing
    old = _presigned_put(enforced_aws, "ApiFunctionRole", "feedback/dt=2026-12-07/v2.json", version=None)
    refused = httpx.put(old, content=b"{}")
    assert (refused.status_code, "<Code>InvalidRequest</Code>" in refused.text) == (400, True)

    # A URL for a key outside the signer's policy is refused by IAM
    elsewhere = _presigned_put(enforced_aws, "ApiFunctionRole", "models/champion.json")
    denied = httpx.put(elsewhere, content=b"{}")
    assert (denied.status_code, "<Code>AccessDenied</Code>" in denied.text) == (403, True)

    # A URL used after it expired is refused with S3's answer
    expiring = _presigned_put(enforced_aws, "ApiFunctionRole", "feedback/dt=2026-12-07/late.json", expires=1)
    time.sleep(2.1)
    late = httpx.put(expiring, content=b"{}")
    assert (late.status_code, "Request has expired" in late.text) == (403, True)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="feedback/dt=2026-12-07/")
    assert [item["Key"] for item in listed.get("Contents", [])] == ["feedback/dt=2026-12-07/presigned.json"]
