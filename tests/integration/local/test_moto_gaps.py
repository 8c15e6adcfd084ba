"""What moto 5.2.5 does not do without Docker, plugged: Lambda invocations run the real handler,
S3 notifications invoke asynchronously, InvokeEndpoint reaches a model server, UpdateEndpoint swaps
the model served (or rolls back), queued messages are readable without a receive. Training jobs and
Step Functions' SageMaker integration are in test_training_jobs.py."""

from __future__ import annotations

import base64
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.dynamodb import models as dynamodb_models
from moto.s3 import notifications
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from werkzeug.serving import make_server

from sentiment_local.moto import patching
from sentiment_local.moto import sagemaker as moto_sagemaker
from sentiment_local.moto.data import queue_messages
from sentiment_local.moto.gaps import install
from sentiment_local.moto.patching import MOTO_VERSION, MotoVersionError, check_version
from sentiment_local.resources import create_functions
from sentiment_local.runtime.functions import Runner
from sentiment_local.sagemaker.training_jobs import TrainingJobs
from sentiment_template.policies import access_key_for
from sentiment_template.reader import FunctionSpec, Template
from tests.integration.local.conftest import Code, RunnerFactory, function_spec, moto_with_gaps, wait_for

ENDPOINT_NAME = "gaps-endpoint"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


def patched_methods() -> tuple[Any, ...]:
    return (
        LambdaFunction._invoke_lambda,
        notifications._invoke_awslambda,
        SageMakerRuntimeResponse.invoke_endpoint,
        vars(state_task_factory)["state_task_service_for"],
        StepFunctionsParserBackend.start_execution,
        SageMakerModelBackend.create_training_job,
    )


def added_actions() -> set[str]:
    """What moto 5.2.5 lacks and the gaps add."""
    return {
        name
        for name, owner in (("update_endpoint", SageMakerModelBackend), ("update_endpoint", SageMakerResponse))
        if hasattr(owner, name)
    }


# ---- the version check ----


def test_the_installed_moto_is_the_one_the_gaps_are_written_for() -> None:
    assert version("moto") == MOTO_VERSION
    check_version()


def test_another_moto_version_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # patching imported ``version`` from importlib.metadata: patch the name it calls.
    monkeypatch.setattr(patching, "version", lambda name: "5.3.0" if name == "moto" else "0")
    with pytest.raises(MotoVersionError, match=r"moto 5\.2\.5; 5\.3\.0 is installed"):
        check_version()

    before = patched_methods()
    runner = Runner([], endpoint="http://127.0.0.1:1", logs_dir=tmp_path / "logs")
    try:
        with pytest.raises(MotoVersionError):
            install(runner, lambda: "http://127.0.0.1:1")
    finally:
        runner.close()
    assert patched_methods() == before  # nothing was patched
    assert added_actions() == set()


# ---- a stack in moto with the gaps plugged ----


class ModelServer:
    """A stand-in for the model container: ``/invocations`` echoes the body; ``reject`` gets a 400."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, answer = (400, b"cannot read that") if b"reject" in body else (200, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/x-echo")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


@dataclass
class Gaps:
    runner: Runner
    specs: dict[str, FunctionSpec]
    model: ModelServer
    tmp: Path
    model_url: list[str] = field(default_factory=list)
    updates: list[tuple[str, str]] = field(default_factory=list)
    update_error: str | None = None
    update_may_finish: threading.Event = field(default_factory=threading.Event)
    instance_wait: float = 0.0  # what the stack says an invocation waits for an instance (a cold start)

    def client(self, service: str, config: Config | None = None) -> Any:
        return boto3.client(service, region_name="us-east-1", config=config)

    def on_endpoint_update(self, endpoint_name: str, model_data_url: str, environment: dict[str, str]) -> None:
        """The stack's part of an endpoint update: recorded; it ends when the test lets it, and fails if told to."""
        del environment
        self.updates.append((endpoint_name, model_data_url))
        self.update_may_finish.wait(timeout=10)
        if self.update_error:
            raise RuntimeError(self.update_error)


@pytest.fixture
def gaps(aws_credentials: None, code: Code, make_runner: RunnerFactory, tmp_path: Path) -> Iterator[Gaps]:
    specs = {
        "Echo": function_spec("Echo", code.first, environment={"ACTION": "echo"}, name="gaps-Echo"),
        "OnUpload": function_spec(
            "OnUpload",
            code.first,
            environment={"ACTION": "slow_marker", "SLEEP": "1", "OUT": str(tmp_path / "marker.json")},
            name="gaps-OnUpload",
        ),
    }
    runner = make_runner(*specs.values())
    model = ModelServer()
    state = Gaps(runner, specs, model, tmp_path, [model.url])
    state.update_may_finish.set()
    with mock_aws():
        undo = install(
            runner,
            lambda: state.model_url[0],
            on_endpoint_update=state.on_endpoint_update,
            instance_wait=lambda name: state.instance_wait,
        )
        try:
            yield state
        finally:
            undo()
            model.close()


def register(gaps: Gaps, *logical_ids: str) -> list[str]:
    """The functions in moto's Lambda, as the stack registers them (a template naming just them)."""
    template = Template(
        {
            "Resources": {
                logical_id: {"Type": "AWS::Serverless::Function", "Properties": {"Description": logical_id}}
                for logical_id in logical_ids
            }
        },
        prefix="gaps",
    )
    specs = [gaps.specs[logical_id] for logical_id in logical_ids]
    return create_functions(template, specs, gaps.client("iam"), gaps.client("lambda"))


def test_install_patches_moto_and_undo_restores_it(aws_credentials: None, tmp_path: Path) -> None:
    before = patched_methods()
    runner = Runner([], endpoint="http://127.0.0.1:1", logs_dir=tmp_path / "logs")
    training = TrainingJobs(tmp_path / "jobs", tmp_path / "logs", s3=None)
    try:
        undo = install(runner, lambda: "http://127.0.0.1:1", training=training)
        try:
            during = patched_methods()
            assert all(now is not then for now, then in zip(during, before, strict=True))
            assert added_actions() == {"update_endpoint"}
            assert "update_endpoint" in vars(SageMakerResponse)
        finally:
            undo()
    finally:
        training.close()
        runner.close()
    assert patched_methods() == before
    assert added_actions() == set()


def test_without_a_training_runner_moto_keeps_its_own_training_jobs(aws_credentials: None, tmp_path: Path) -> None:
    runner = Runner([], endpoint="http://127.0.0.1:1", logs_dir=tmp_path / "logs")
    try:
        undo = install(runner, lambda: "http://127.0.0.1:1")
        try:
            assert SageMakerModelBackend.create_training_job is patched_methods()[5]
            assert added_actions() == {"update_endpoint"}
        finally:
            undo()
    finally:
        runner.close()


def test_a_lambda_invocation_runs_the_real_handler(gaps: Gaps) -> None:
    (arn,) = register(gaps, "Echo")
    assert arn == "arn:aws:lambda:us-east-1:123456789012:function:gaps-Echo"
    lambda_ = gaps.client("lambda")

    answer = lambda_.invoke(FunctionName="gaps-Echo", Payload=json.dumps({"comment": "Superb", "n": 3}))

    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {
        "event": {"comment": "Superb", "n": 3},
        "function_name": "gaps-Echo",
        "helper": None,
    }
    by_arn = lambda_.invoke(FunctionName=arn, Payload=json.dumps({"by": "arn"}))
    assert json.loads(by_arn["Payload"].read())["event"] == {"by": "arn"}


def test_a_lambda_invocation_without_a_payload_gets_an_empty_event(gaps: Gaps) -> None:
    register(gaps, "Echo")

    answer = gaps.client("lambda").invoke(FunctionName="gaps-Echo")

    assert json.loads(answer["Payload"].read())["event"] == {}


def test_a_failing_handler_is_a_function_error_with_its_logs(gaps: Gaps) -> None:
    register(gaps, "Echo")
    lambda_ = gaps.client("lambda")

    failed = lambda_.invoke(FunctionName="gaps-Echo", Payload=json.dumps({"action": "fail", "message": "no"}))
    assert failed["StatusCode"] == 200
    assert failed["FunctionError"] in {"Handled", "Unhandled"}
    error = json.loads(failed["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "no")

    tail = lambda_.invoke(
        FunctionName="gaps-Echo", Payload=json.dumps({"action": "say", "text": "said out loud"}), LogType="Tail"
    )
    logs = base64.b64decode(tail["LogResult"]).decode()
    request_id = json.loads(tail["Payload"].read())["request_id"]
    assert f"START RequestId: {request_id}" in logs
    assert "said out loud" in logs
    assert f"REPORT RequestId: {request_id}" in logs


def test_an_s3_notification_invokes_the_function_asynchronously(gaps: Gaps) -> None:
    (arn,) = register(gaps, "OnUpload")
    s3 = gaps.client("s3")
    s3.create_bucket(Bucket="gaps-uploads")
    s3.put_bucket_notification_configuration(
        Bucket="gaps-uploads",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    marker = gaps.tmp / "marker.json"

    s3.put_object(Bucket="gaps-uploads", Key="exports/feedback.csv", Body=b"a,b\n")

    # The handler sleeps a second before it writes the marker: the upload did not wait for it.
    assert not marker.exists()
    event = wait_for(lambda: marker.exists() and json.loads(marker.read_text()), message="the notification")
    (record,) = event["Records"]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == "gaps-uploads"
    # S3 URL-encodes the key in the event (moto encodes the slash too); handlers unquote it.
    assert unquote_plus(record["s3"]["object"]["key"]) == "exports/feedback.csv"
    assert record["s3"]["object"]["size"] == 4


@pytest.fixture
def endpoint(gaps: Gaps) -> str:
    sagemaker = gaps.client("sagemaker")
    sagemaker.create_model(
        ModelName="gaps-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/gaps-sagemaker",
        PrimaryContainer={"Image": "sentiment-model:local", "ModelDataUrl": "s3://gaps/model.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="gaps-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "gaps-model",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT_NAME, EndpointConfigName="gaps-config")
    return ENDPOINT_NAME


def test_invoke_endpoint_is_forwarded_to_the_model_server(gaps: Gaps, endpoint: str) -> None:
    runtime = gaps.client("sagemaker-runtime", NO_RETRIES)
    body = json.dumps({"instances": ["What a fantastic day", "ünïcode"]}).encode()

    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType="application/json", Accept="application/json"
    )

    assert answer["Body"].read() == body
    assert answer["ContentType"] == "application/x-echo"
    (request,) = gaps.model.requests
    assert request["path"] == "/invocations"
    assert request["body"] == body
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Accept"] == "application/json"


def test_an_invocation_waits_for_an_instance_before_the_model_server_sees_it(gaps: Gaps, endpoint: str) -> None:
    gaps.instance_wait = 1.0  # a serverless endpoint's cold start, as the stack plays it
    runtime = gaps.client("sagemaker-runtime", NO_RETRIES)

    started = time.monotonic()
    answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=b"{}", ContentType="application/json")

    assert time.monotonic() - started >= 1.0
    assert answer["Body"].read() == b"{}"
    assert len(gaps.model.requests) == 1


def test_an_invocation_past_sagemakers_limit_is_a_model_error(
    gaps: Gaps, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moto_sagemaker, "INVOCATION_LIMIT_S", 0.5)  # SageMaker's 60 s, shortened
    gaps.instance_wait = 0.6
    runtime = gaps.client("sagemaker-runtime", NO_RETRIES)

    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"{}", ContentType="application/json")

    assert raised.value.response["Error"]["Code"] == "ModelError"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert "timed out" in raised.value.response["Error"]["Message"]
    assert gaps.model.requests == []


def test_a_model_server_refusal_is_a_model_error(gaps: Gaps, endpoint: str) -> None:
    runtime = gaps.client("sagemaker-runtime", NO_RETRIES)
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b'{"reject": true}', ContentType="application/json")
    assert raised.value.response["Error"]["Code"] == "ModelError"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert "(400)" in raised.value.response["Error"]["Message"]
    assert "cannot read that" in raised.value.response["Error"]["Message"]


def test_an_unknown_endpoint_is_a_validation_error(gaps: Gaps, endpoint: str) -> None:
    runtime = gaps.client("sagemaker-runtime", NO_RETRIES)
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"{}", ContentType="application/json")
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "no-such-endpoint" in raised.value.response["Error"]["Message"]
    assert gaps.model.requests == []  # never forwarded


def test_a_model_server_that_is_down_is_service_unavailable(gaps: Gaps, endpoint: str) -> None:
    gaps.model_url[0] = closed_port_url()
    runtime = gaps.client("sagemaker-runtime", NO_RETRIES)

    started = time.monotonic()
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"{}", ContentType="application/json")

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert raised.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert "unreachable" in raised.value.response["Error"]["Message"]
    assert time.monotonic() - started < 5  # refused at once, not timed out
    assert gaps.model.requests == []


# ---- queued messages ----


def queued_messages(queue_name: str) -> list[str]:
    return [body for _, body in queue_messages(queue_name)]


def test_queued_messages_are_listed_without_being_received(aws_credentials: None) -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="gaps-queue")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="taken")
        taken = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)["Messages"]
        assert [message["Body"] for message in taken] == ["taken"]
        sqs.send_message(QueueUrl=url, MessageBody="waiting")
        sqs.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=60)

        assert sorted(queued_messages("gaps-queue")) == ["delayed", "taken", "waiting"]
        assert sorted(queued_messages("gaps-queue")) == ["delayed", "taken", "waiting"]  # still all there

        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attributes["ApproximateNumberOfMessages"] == "1"
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
        assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
        (waiting,) = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["ApproximateReceiveCount"]
        )["Messages"]
        assert waiting["Body"] == "waiting"
        assert waiting["Attributes"]["ApproximateReceiveCount"] == "1"  # listing it was not a receive

        sqs.delete_message(QueueUrl=url, ReceiptHandle=taken[0]["ReceiptHandle"])
        assert sorted(queued_messages("gaps-queue")) == ["delayed", "waiting"]
        assert queued_messages(sqs.create_queue(QueueName="gaps-empty")["QueueUrl"].rsplit("/", 1)[-1]) == []
        assert queued_messages("no-such-queue") == []
        ids = [message_id for message_id, _ in queue_messages("gaps-queue")]
        assert len(set(ids)) == 2


def test_a_step_functions_task_runs_the_real_handler(
    aws_credentials: None, code: Code, make_runner: RunnerFactory, tmp_path: Path
) -> None:
    spec = function_spec("Echo", code.first, environment={"ACTION": "echo"}, name="gaps-Echo")
    runner = make_runner(spec)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        undo = install(runner, closed_port_url)
        try:
            gaps = Gaps(runner, {"Echo": spec}, ModelServer(), tmp_path)
            (arn,) = register(gaps, "Echo")
            definition = {
                "StartAt": "Classify",
                "States": {"Classify": {"Type": "Task", "Resource": arn, "End": True}},
            }
            iam = gaps.client("iam")
            role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
            sfn = gaps.client("stepfunctions")
            machine = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=role)
            execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input='{"step": 1}')
            described = wait_for(
                lambda: (
                    (d := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] != "RUNNING" and d
                ),
                message="the execution to finish",
            )
            gaps.model.close()
        finally:
            undo()
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["event"] == {"step": 1}
    assert json.loads(described["output"])["function_name"] == "gaps-Echo"


# ---- UpdateEndpoint ----


def add_config(gaps: Gaps, name: str, model_data_url: str, variant: str = "AllTraffic") -> None:
    sagemaker = gaps.client("sagemaker")
    sagemaker.create_model(
        ModelName=f"{name}-model",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/gaps-sagemaker",
        PrimaryContainer={"Image": "sentiment-model:local", "ModelDataUrl": model_data_url},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": f"{name}-model",
                "InitialVariantWeight": 1.0,
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )


def described(gaps: Gaps, endpoint: str) -> dict[str, Any]:
    return dict(gaps.client("sagemaker").describe_endpoint(EndpointName=endpoint))


def test_update_endpoint_serves_the_new_configurations_model(gaps: Gaps, endpoint: str) -> None:
    # Given an endpoint in service and a configuration naming the next model
    add_config(gaps, "gaps-config-v2", "s3://gaps/models/v2/model.tar.gz", variant="champion")
    gaps.update_may_finish.clear()

    # When the endpoint is updated to it
    answer = gaps.client("sagemaker").update_endpoint(EndpointName=endpoint, EndpointConfigName="gaps-config-v2")

    # Then it is updating to that configuration while the stack swaps the model it serves
    assert answer["EndpointArn"] == f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{endpoint}"
    updating = described(gaps, endpoint)
    assert updating["EndpointStatus"] == "Updating"
    assert updating["EndpointConfigName"] == "gaps-config-v2"
    assert [variant["VariantName"] for variant in updating["ProductionVariants"]] == ["champion"]
    wait_for(lambda: gaps.updates, message="the stack to be asked")
    assert gaps.updates == [(endpoint, "s3://gaps/models/v2/model.tar.gz")]

    # And once the swap is done it is in service on the new configuration
    gaps.update_may_finish.set()
    done = wait_for(lambda: (d := described(gaps, endpoint))["EndpointStatus"] == "InService" and d)
    assert done["EndpointConfigName"] == "gaps-config-v2"
    assert "FailureReason" not in done


def test_a_failed_update_leaves_the_previous_configuration_and_says_why(gaps: Gaps, endpoint: str) -> None:
    add_config(gaps, "gaps-config-v2", "s3://gaps/models/v2/model.tar.gz", variant="champion")
    gaps.update_error = "the model server did not serve model v2 within 120 s"

    gaps.client("sagemaker").update_endpoint(EndpointName=endpoint, EndpointConfigName="gaps-config-v2")

    done = wait_for(lambda: (d := described(gaps, endpoint))["EndpointStatus"] == "InService" and d)
    assert done["EndpointConfigName"] == "gaps-config"
    assert [variant["VariantName"] for variant in done["ProductionVariants"]] == ["AllTraffic"]
    assert done["FailureReason"] == "the model server did not serve model v2 within 120 s"
    assert gaps.updates == [(endpoint, "s3://gaps/models/v2/model.tar.gz")]

    # A later update that works clears the reason
    gaps.update_error = None
    gaps.client("sagemaker").update_endpoint(EndpointName=endpoint, EndpointConfigName="gaps-config-v2")
    done = wait_for(
        lambda: (
            (d := described(gaps, endpoint))["EndpointStatus"] == "InService"
            and d["EndpointConfigName"] == "gaps-config-v2"
            and d
        )
    )
    assert "FailureReason" not in done


@pytest.mark.parametrize(
    ("endpoint_name", "config_name", "says"),
    [
        (
            "no-such-endpoint",
            "gaps-config",
            "Could not find endpoint 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/no-such-endpoint'",
        ),
        (ENDPOINT_NAME, "no-such-config", "Could not find endpoint configuration"),
    ],
)
def test_update_endpoint_refuses_what_does_not_exist(
    gaps: Gaps, endpoint: str, endpoint_name: str, config_name: str, says: str
) -> None:
    with pytest.raises(ClientError) as raised:
        gaps.client("sagemaker", NO_RETRIES).update_endpoint(EndpointName=endpoint_name, EndpointConfigName=config_name)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert says in raised.value.response["Error"]["Message"]
    assert described(gaps, endpoint)["EndpointStatus"] == "InService"
    assert gaps.updates == []


def test_an_endpoint_that_is_updating_refuses_another_update(gaps: Gaps, endpoint: str) -> None:
    add_config(gaps, "gaps-config-v2", "s3://gaps/models/v2/model.tar.gz")
    gaps.update_may_finish.clear()
    sagemaker = gaps.client("sagemaker", NO_RETRIES)
    sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName="gaps-config-v2")

    with pytest.raises(ClientError) as raised:
        sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName="gaps-config")

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Cannot update in-progress endpoint" in raised.value.response["Error"]["Message"]
    gaps.update_may_finish.set()
    wait_for(lambda: described(gaps, endpoint)["EndpointStatus"] == "InService")


# ---- SageMaker's documented rules ----


def create_model(sagemaker: Any, name: str, *, isolated: bool) -> None:
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/gaps-sagemaker",
        PrimaryContainer={"Image": "sentiment-model:local", "ModelDataUrl": "s3://gaps/model.tar.gz"},
        EnableNetworkIsolation=isolated,
    )


def serverless_variant(model: str, **config: Any) -> dict[str, Any]:
    return {
        "VariantName": "champion",
        "ModelName": model,
        "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5, **config},
    }


@pytest.mark.parametrize(
    ("variant_changes", "isolated", "says"),
    [
        ({}, True, "EnableNetworkIsolation, which serverless endpoints do not support"),
        ({"MemorySizeInMB": 1500}, False, "MemorySizeInMB"),
        ({"MaxConcurrency": 201}, False, "MaxConcurrency"),
        ({"ProvisionedConcurrency": 6}, False, "must not exceed MaxConcurrency"),
    ],
)
def test_a_serverless_configuration_sagemaker_refuses_is_refused(
    gaps: Gaps, variant_changes: dict[str, Any], isolated: bool, says: str
) -> None:
    sagemaker = gaps.client("sagemaker", NO_RETRIES)
    create_model(sagemaker, "rules-model", isolated=isolated)
    with pytest.raises(ClientError) as raised:
        sagemaker.create_endpoint_config(
            EndpointConfigName="rules", ProductionVariants=[serverless_variant("rules-model", **variant_changes)]
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert says in raised.value.response["Error"]["Message"]
    # The same model, not isolated and within the limits, is accepted
    if not isolated:
        sagemaker.create_endpoint_config(
            EndpointConfigName="rules", ProductionVariants=[serverless_variant("rules-model")]
        )


def test_an_instance_based_endpoint_cannot_become_serverless(gaps: Gaps) -> None:
    sagemaker = gaps.client("sagemaker", NO_RETRIES)
    create_model(sagemaker, "realtime-model", isolated=True)
    realtime = {"VariantName": "champion", "ModelName": "realtime-model", "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1}  # fmt: skip
    sagemaker.create_endpoint_config(EndpointConfigName="realtime", ProductionVariants=[realtime])
    sagemaker.create_endpoint(EndpointName="realtime-endpoint", EndpointConfigName="realtime")
    add_config(gaps, "to-serverless", "s3://gaps/models/v2/model.tar.gz")

    with pytest.raises(ClientError) as raised:
        sagemaker.update_endpoint(EndpointName="realtime-endpoint", EndpointConfigName="to-serverless")

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "cannot be updated to a serverless configuration" in raised.value.response["Error"]["Message"]
    assert described(gaps, "realtime-endpoint")["EndpointConfigName"] == "realtime"


# ---- DynamoDB's transactions are isolated ----


@pytest.fixture
def moto_server(aws_credentials: None, tmp_path: Path) -> Iterator[str]:
    """moto's server as ``make up`` runs it, each request on a thread of its own, with the gaps."""
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - the server only where a test runs one
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    runner = Runner([], endpoint="http://127.0.0.1:1", logs_dir=tmp_path / "logs")
    undo = install(runner, lambda: "http://127.0.0.1:1")
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        undo()
        runner.close()
        server.shutdown()
        server.server_close()


def test_a_failed_transaction_undoes_nothing_another_request_wrote(
    moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a table, and moto pausing a transaction after its Put, while it checks its next condition
    def dynamodb() -> Any:
        return boto3.client("dynamodb", endpoint_url=moto_server, region_name="us-east-1", config=NO_RETRIES)

    dynamodb().create_table(
        TableName="isolation",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    paused, written = threading.Event(), threading.Event()
    condition = dynamodb_models.get_filter_expression

    def pausing_condition(expression: Any, *args: Any, **kwargs: Any) -> Any:
        if expression == "attribute_exists(pk)":
            paused.set()
            written.wait(timeout=2)  # another request writes the same item now, if it may
        return condition(expression, *args, **kwargs)

    monkeypatch.setattr(dynamodb_models, "get_filter_expression", pausing_condition)
    failed: list[str] = []

    def failing_transaction() -> None:
        try:
            dynamodb().transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "isolation", "Item": {"pk": {"S": "contested"}, "by": {"S": "transaction"}}}},
                    {"ConditionCheck": {"TableName": "isolation", "Key": {"pk": {"S": "missing"}},
                                        "ConditionExpression": "attribute_exists(pk)"}},
                ]
            )  # fmt: skip
        except ClientError as error:
            failed.append(error.response["Error"]["Code"])

    def write() -> None:
        dynamodb().put_item(TableName="isolation", Item={"pk": {"S": "contested"}, "by": {"S": "writer"}})
        written.set()

    # When a transaction that fails and a plain write of the same item overlap
    transaction = threading.Thread(target=failing_transaction)
    transaction.start()
    assert paused.wait(timeout=10)
    writer = threading.Thread(target=write)
    writer.start()
    transaction.join(timeout=30)
    writer.join(timeout=30)

    # Then the write is kept, and nothing of the failed transaction
    assert failed == ["TransactionCanceledException"]
    items = dynamodb().scan(TableName="isolation")["Items"]
    assert items == [{"pk": {"S": "contested"}, "by": {"S": "writer"}}]


# ---- DynamoDB requests cost what they touch ----

ORDERED = "ordered"
GROUPS = ["red", "green", "blue"]


def create_ordered_table(dynamodb: Any) -> None:
    """Keys of both orderable types, two indexes (one with a string sort key for begins_with)."""
    dynamodb.create_table(
        TableName=ORDERED,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "group", "AttributeType": "S"},
            {"AttributeName": "rank", "AttributeType": "N"},
            {"AttributeName": "created", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {"IndexName": "ByRank", "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": "group", "KeyType": "HASH"},
                           {"AttributeName": "rank", "KeyType": "RANGE"}]},
            {"IndexName": "ByCreated", "Projection": {"ProjectionType": "KEYS_ONLY"},
             "KeySchema": [{"AttributeName": "group", "KeyType": "HASH"},
                           {"AttributeName": "created", "KeyType": "RANGE"}]},
        ],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip


def random_item(rng: random.Random) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": f"p{rng.randrange(4)}"}, "sk": {"N": str(rng.randrange(40))}}
    if rng.random() < 0.9:  # the rest are in no index
        item["group"] = {"S": rng.choice(GROUPS)}
        item["rank"] = {"N": str(rng.choice([rng.randrange(10), rng.randrange(10) / 4, -rng.randrange(5)]))}
        item["created"] = {"S": f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"}
    item["note"] = {"S": rng.choice(["x", "y", "z"])}
    return item


def query_requests(rng: random.Random) -> list[dict[str, Any]]:
    """Queries of every shape a key condition allows, forwards and backwards, some filtered."""
    requests = []
    for _ in range(12):
        forward, limit = rng.random() < 0.5, rng.choice([None, 1, 3, 7])
        low, high = sorted(rng.randrange(40) for _ in range(2))
        table = [
            ("pk = :p", {":p": {"S": f"p{rng.randrange(5)}"}}),
            ("pk = :p AND sk = :v", {":p": {"S": "p1"}, ":v": {"N": str(low)}}),
            ("pk = :p AND sk < :v", {":p": {"S": "p2"}, ":v": {"N": str(high)}}),
            ("pk = :p AND sk <= :v", {":p": {"S": "p0"}, ":v": {"N": str(low)}}),
            ("pk = :p AND sk > :v", {":p": {"S": "p3"}, ":v": {"N": str(low)}}),
            ("pk = :p AND sk >= :v", {":p": {"S": "p1"}, ":v": {"N": str(high)}}),
            ("pk = :p AND sk BETWEEN :a AND :b", {":p": {"S": "p2"}, ":a": {"N": str(low)}, ":b": {"N": str(high)}}),
        ]
        ranked = [
            ("#g = :g", {":g": {"S": rng.choice(GROUPS)}}),
            ("#g = :g AND #r BETWEEN :a AND :b", {":g": {"S": "red"}, ":a": {"N": str(low / 10)}, ":b": {"N": "2.5"}}),
            ("#g = :g AND #r > :a", {":g": {"S": "blue"}, ":a": {"N": "0"}}),
        ]
        created = [
            ("#g = :g AND begins_with(created, :m)", {":g": {"S": "green"}, ":m": {"S": f"2026-{rng.randrange(1, 13):02d}"}}),  # noqa: E501
            ("#g = :g AND created < :m", {":g": {"S": "red"}, ":m": {"S": "2026-06"}}),
        ]  # fmt: skip
        for index, choices in ((None, table), ("ByRank", ranked), ("ByCreated", created)):
            condition, values = rng.choice(choices)
            request: dict[str, Any] = {
                "TableName": ORDERED,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": values,
                "ScanIndexForward": forward,
            }
            if index:
                request["IndexName"] = index
                request["ExpressionAttributeNames"] = {"#g": "group"} | ({"#r": "rank"} if "#r" in condition else {})
            if limit:
                request["Limit"] = limit
            if index == "ByRank" and rng.random() < 0.3:
                request["FilterExpression"] = "note = :n"
                request["ExpressionAttributeValues"] = {**values, ":n": {"S": "x"}}
            requests.append(request)
    return requests


def all_pages(call: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    pages = []
    while True:
        page = call(**request)
        page.pop("ResponseMetadata", None)
        pages.append(page)
        if "LastEvaluatedKey" not in page:
            return pages
        request = {**request, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def ordered_workload(seed: int) -> list[Any]:
    """Writes of every kind (some moving items between partitions, some transactions failing) between
    paged queries and scans; returns every answer."""
    rng = random.Random(seed)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    create_ordered_table(dynamodb)
    answers: list[Any] = []
    for round_ in range(6):
        for _ in range(60):
            dynamodb.put_item(TableName=ORDERED, Item=random_item(rng))
        for _ in range(10):
            key = {"pk": {"S": f"p{rng.randrange(4)}"}, "sk": {"N": str(rng.randrange(40))}}
            dynamodb.update_item(
                TableName=ORDERED,
                Key=key,
                UpdateExpression="SET #g = :g, #r = :r",
                ExpressionAttributeNames={"#g": "group", "#r": "rank"},
                ExpressionAttributeValues={":g": {"S": rng.choice(GROUPS)}, ":r": {"N": str(rng.randrange(10))}},
            )
            dynamodb.delete_item(TableName=ORDERED, Key={"pk": {"S": "p0"}, "sk": {"N": str(rng.randrange(40))}})
        puts = [{"Put": {"TableName": ORDERED, "Item": random_item(rng)}} for _ in range(3)]
        unique = list(
            {json.dumps(put["Put"]["Item"]["pk"]) + json.dumps(put["Put"]["Item"]["sk"]): put for put in puts}.values()
        )
        fails = round_ % 2 == 1
        check = {"ConditionCheck": {"TableName": ORDERED, "Key": {"pk": {"S": "nowhere"}, "sk": {"N": "0"}},
                                    "ConditionExpression": "attribute_exists(pk)"}}  # fmt: skip
        try:
            dynamodb.transact_write_items(TransactItems=unique + ([check] if fails else []))
            answers.append("committed")
        except ClientError as error:
            answers.append(error.response["Error"]["Code"])
        for request in query_requests(rng):
            answers.append(all_pages(dynamodb.query, request))
        for index in (None, "ByRank"):
            scan = {"TableName": ORDERED, "Limit": rng.choice([1, 5, 13])} | ({"IndexName": index} if index else {})
            answers.append(all_pages(dynamodb.scan, scan))
    return answers


@pytest.mark.slow
def test_ordered_queries_and_scans_answer_exactly_as_moto_does(aws_credentials: None, tmp_path: Path) -> None:
    with mock_aws():
        by_moto = ordered_workload(seed=7)
    with moto_with_gaps(tmp_path):
        by_gaps = ordered_workload(seed=7)

    assert len(by_gaps) == len(by_moto) > 100
    for number, (ours, theirs) in enumerate(zip(by_gaps, by_moto, strict=True)):
        assert ours == theirs, f"answer {number} differs"
    assert any(page.get("LastEvaluatedKey") for answer in by_moto if isinstance(answer, list) for page in answer)
    assert "TransactionCanceledException" in by_moto and "committed" in by_moto


def test_a_page_reads_only_its_items_and_a_failed_transaction_copies_no_table(
    aws_credentials: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a table of 3,000 items, and moto's whole-table reads and table copies counted
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    whole_reads: list[str] = []
    for name in ("all_items", "has_idx_items"):
        original = getattr(Table, name)

        def counted(self: Any, *args: Any, _original: Any = original, _name: str = name) -> Any:
            whole_reads.append(_name)
            return _original(self, *args)

        monkeypatch.setattr(Table, name, counted)
    copies: list[str] = []
    monkeypatch.setattr(Table, "__deepcopy__", lambda self, memo: copies.append(self.name) or self, raising=False)
    with moto_with_gaps(tmp_path):
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_ordered_table(dynamodb)
        rng = random.Random(1)
        for start in range(0, 3000, 100):
            batch = [{"Put": {"TableName": ORDERED, "Item": {**random_item(rng), "sk": {"N": str(start + n)}}}}
                     for n in range(100)]  # fmt: skip
            dynamodb.transact_write_items(TransactItems=batch)
        whole_reads.clear()

        # When pages are read, and a transaction fails
        newest = {
            "TableName": ORDERED,
            "IndexName": "ByRank",
            "KeyConditionExpression": "#g = :g",
            "ExpressionAttributeNames": {"#g": "group"},
            "ExpressionAttributeValues": {":g": {"S": "red"}},
            "ScanIndexForward": False,
            "Limit": 20,
        }
        first = dynamodb.query(**newest)
        dynamodb.query(**newest, ExclusiveStartKey=first["LastEvaluatedKey"])
        page = dynamodb.scan(TableName=ORDERED, Limit=25)
        dynamodb.scan(TableName=ORDERED, Limit=25, ExclusiveStartKey=page["LastEvaluatedKey"])
        with pytest.raises(ClientError):
            dynamodb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": ORDERED, "Item": random_item(rng)}},
                    {"ConditionCheck": {"TableName": ORDERED, "Key": {"pk": {"S": "none"}, "sk": {"N": "0"}},
                                        "ConditionExpression": "attribute_exists(pk)"}},
                ]
            )  # fmt: skip

    # Then moto never read the whole table, nor copied it
    assert len(first["Items"]) == 20
    assert whole_reads == []
    assert copies == []


def test_the_items_moto_makes_for_each_request_are_not_kept(aws_credentials: None, tmp_path: Path) -> None:
    from moto.dynamodb.models.dynamo_type import Item  # noqa: PLC0415

    with moto_with_gaps(tmp_path):
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_ordered_table(dynamodb)
        rng = random.Random(2)
        for _ in range(50):
            dynamodb.put_item(TableName=ORDERED, Item=random_item(rng))
            dynamodb.query(TableName=ORDERED, KeyConditionExpression="pk = :p",
                           ExpressionAttributeValues={":p": {"S": "p1"}})  # fmt: skip
        tracked = len(Item.instances_tracked)  # type: ignore[attr-defined]

    assert tracked == 0


# ---- Step Functions calls services with the state machine's role ----


def test_a_state_machines_service_calls_are_signed_with_its_roles_key(aws_credentials: None, tmp_path: Path) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import (  # noqa: PLC0415
        StateCredentials,
    )

    role = "arn:aws:iam::123456789012:role/t-RetrainStateMachineRole"
    runner = Runner([], endpoint="http://127.0.0.1:1", logs_dir=tmp_path / "logs")
    undo = install(runner, lambda: "http://127.0.0.1:1")
    try:
        client = lambda_eval_utils.boto_client_for(
            region="us-east-1", service="lambda", state_credentials=StateCredentials(role_arn=role)
        )
        assert client._request_signer._credentials.access_key == access_key_for(role)
    finally:
        undo()
        runner.close()


def test_a_query_refuses_a_start_key_from_another_partition_as_dynamodb_does(gaps: Gaps) -> None:
    # Given a page of one index partition, and the key it ends on
    dynamodb = gaps.client("dynamodb")
    create_ordered_table(dynamodb)
    for n in range(4):
        for group in ("red", "blue"):
            item = {"pk": {"S": f"{group}{n}"}, "sk": {"N": str(n)}, "group": {"S": group}, "rank": {"N": str(n)}}
            dynamodb.put_item(TableName=ORDERED, Item=item)
    red = {
        "TableName": ORDERED,
        "IndexName": "ByRank",
        "KeyConditionExpression": "#g = :g",
        "ExpressionAttributeNames": {"#g": "group"},
        "ExpressionAttributeValues": {":g": {"S": "red"}},
        "Limit": 2,
    }
    last = dynamodb.query(**red)["LastEvaluatedKey"]
    blue = {**red, "ExpressionAttributeValues": {":g": {"S": "blue"}}}

    # When that key continues a query of another partition, Then DynamoDB's refusal, not the first page
    with pytest.raises(ClientError, match="outside query boundaries") as outside:
        dynamodb.query(**blue, ExclusiveStartKey=last)
    assert outside.value.response["Error"]["Code"] == "ValidationException"

    # And a start key missing one of the table's or the index's key attributes is invalid
    for missing in ("pk", "rank"):
        partial = {name: value for name, value in last.items() if name != missing}
        with pytest.raises(ClientError, match="The provided starting key is invalid"):
            dynamodb.query(**red, ExclusiveStartKey=partial)

    # And the key continues its own partition
    assert [item["pk"]["S"] for item in dynamodb.query(**red, ExclusiveStartKey=last)["Items"]] == ["red2", "red3"]
