"""The API, the admin and reviewer authorizers and the pending function, called in-process as Lambda
calls them, on moto, against the real model server. Tables, bucket and queues are created from template.yaml's own
definitions, and each function gets the environment the template gives it. Routes the template
guards with a Lambda authorizer run it first, as API Gateway does (the local gateway's own code); every
call carries the origin header CloudFront adds, so the public routes' authorizer lets it in.

Every function reads its settings on first use, so each is imported once and
``sentiment_common.dependencies.reset()`` makes them all read the environment again when it changes."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import httpx
import pytest
from moto import mock_aws

import api_function.handler
import authorizer_function.handler
import authorizer_function.origin
import authorizer_function.reviewer
import pending_function.handler
from sentiment_common import dependencies, observability
from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_common.dal.pipeline_state import DynamoDbPipelineStateStore
from sentiment_common.dal.run_ledger import DynamoDbRunLedger
from sentiment_common.records import PublicLabels
from sentiment_local.resources import create_buckets, create_queues, create_tables
from sentiment_local.runtime.functions import Invocation
from sentiment_local.runtime.gateway import authorize
from sentiment_template.reader import Route, Template
from tests.conftest import ROOT, fake_credentials
from tests.integration.conftest import free_port

QUEUE_ENDPOINT = "https://sqs.us-east-1.amazonaws.com"
ADMIN_KEY = "test-admin-key-4f9c1e7b2a"  # what the secret named by ADMIN_API_KEY_SECRET holds
ORIGIN_VALUE = "test-origin-value-8d2e5a"  # what the secret named by ORIGIN_VERIFY_SECRET holds
AUTHORIZERS = {
    "AdminAuthorizerFunction": authorizer_function.handler,
    "OriginAuthorizerFunction": authorizer_function.origin,
    "ReviewerAuthorizerFunction": authorizer_function.reviewer,
}
# Stands where RetrainStateMachine is: its executions stay RUNNING until a test stops them.
WAITING_STATE_MACHINE = {
    "StartAt": "Train",
    "States": {"Train": {"Type": "Wait", "Seconds": 60, "Next": "Done"}, "Done": {"Type": "Succeed"}},
}


class ModelServer:
    """The model container's server, reached through a relay on the port the functions are given.

    A test stops the model by closing the relay: new connections are refused and open ones are cut, as
    when the container is gone, and starting it again is instant; the server itself (which takes seconds
    to load the model) runs once for the session.
    """

    def __init__(self, model_dir: Path) -> None:
        self.port = free_port()  # the relay's: what MODEL_URL names
        self.url = f"http://127.0.0.1:{self.port}"
        self._server_port = free_port()
        self._model_dir = model_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def up(self) -> bool:
        return self._listener is not None

    def launch(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "model_training"),
            "HOST": "127.0.0.1",
            "PORT": str(self._server_port),
            "MODEL_URI": str(self._model_dir),
        }
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sentiment_model.container", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self._server_port}/ping", timeout=1).status_code == 200:
                    self.start()
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the model server did not start")

    def shut_down(self) -> None:
        self.stop()
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def start(self) -> None:
        if self._listener is None:
            self._listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: the same port again
            threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            _close(listener)
        with self._lock:
            for connection in self._open:
                _close(connection)
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                server = socket.create_connection(("127.0.0.1", self._server_port))
            except OSError:
                return  # the relay was closed
            with self._lock:
                self._open |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._relay, args=(source, target), daemon=True).start()

    def _relay(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for connection in (source, target):
            _close(connection)
        with self._lock:
            self._open -= {source, target}


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked on it, as close alone may not
    connection.close()


@dataclass
class LambdaContext:
    function_name: str = "ApiFunction"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "test-request"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 15000


def http_event(
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    raw_body: bytes | None = None,
) -> dict[str, Any]:
    """An HTTP API (payload v2) event, as API Gateway sends it."""
    all_headers = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
    if raw_body is not None:
        text, encoded = base64.b64encode(raw_body).decode(), True
    elif body is not None:
        text, encoded = json.dumps(body), False
    else:
        text, encoded = None, False
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": all_headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
            "requestId": "req",
            "routeKey": "$default",
            "stage": "$default",
            "time": "22/Nov/2026:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "isBase64Encoded": encoded,
    }
    if query:
        event["queryStringParameters"] = query
    if text is not None:
        event["body"] = text
    return event


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any


def create_state_machine(arn: str) -> None:
    """A state machine under exactly ``arn`` (moto's account and region are the template's)."""
    name = arn.split(":stateMachine:", 1)[1]
    created = boto3.client("stepfunctions").create_state_machine(
        name=name,
        definition=json.dumps(WAITING_STATE_MACHINE),
        roleArn="arn:aws:iam::123456789012:role/retrain-state-machine",
    )["stateMachineArn"]
    if created != arn:
        raise RuntimeError(f"moto made {created}, not {arn}")


@dataclass
class Stack:
    template: Template
    api: ModuleType
    pending: ModuleType
    authorizer: ModuleType
    model: ModelServer
    admin_key: str = ADMIN_KEY
    state_machine_arn: str = ""

    def call(
        self, method: str, path: str, body: Any = None, *, through_cloudfront: bool = True, **kwargs: Any
    ) -> Response:
        """The route's answer; ``through_cloudfront=False`` calls the API's own address, as a client can."""
        event = http_event(method, path, body, **kwargs)
        if through_cloudfront:
            event["headers"]["x-origin-verify"] = ORIGIN_VALUE
        route = self.route(method, path)
        if route is not None and route.authorizer is not None:
            allowed = authorize(route.authorizer, event, self._invoke)
            if not isinstance(allowed, dict):
                return Response(allowed.status_code, dict(allowed.headers), allowed.get_json())
            event["requestContext"]["authorizer"] = {"lambda": allowed}
        result = self.api.lambda_handler(event, LambdaContext())
        payload = result.get("body")
        return Response(result["statusCode"], result.get("headers", {}), json.loads(payload) if payload else None)

    def public_labels(self, policy: PublicLabels) -> None:
        """Answer from here on as a stack deployed with ``PublicLabels=policy`` (until the test ends)."""
        os.environ["PUBLIC_LABELS"] = policy.value
        dependencies.reset()

    def route(self, method: str, path: str) -> Route | None:
        return next((route for route in self.template.http_routes() if route.match(method, path) is not None), None)

    def _invoke(self, function: str, event: dict[str, Any]) -> Invocation:
        if function not in AUTHORIZERS:
            raise AssertionError(f"only the authorizers are called through the gateway here, not {function}")
        try:
            result = AUTHORIZERS[function].lambda_handler(event, LambdaContext(function))
        except Exception as error:
            return Invocation(error={"errorType": type(error).__name__, "errorMessage": str(error)})
        return Invocation(payload=json.dumps(result))

    def table(self, logical_id: str) -> Any:
        return boto3.resource("dynamodb").Table(self.template.physical_name(logical_id))

    def items(self, logical_id: str) -> list[dict[str, Any]]:
        return list(self.table(logical_id).scan()["Items"])

    @property
    def bucket(self) -> str:
        return self.template.physical_name("DataBucket")

    def objects(self, prefix: str = "") -> list[str]:
        listing = boto3.client("s3").list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for item in listing.get("Contents", [])]

    def queue_url(self, logical_id: str = "PendingQueue") -> str:
        return self.template.queue_url(logical_id, QUEUE_ENDPOINT)

    def drain_pending(self, expected: int = 0, seconds: float = 20) -> list[dict[str, Any]]:
        """Take what the pending queue delivers (after its delay) as an SQS event's records."""
        sqs = boto3.client("sqs")
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + seconds
        while True:
            answer = sqs.receive_message(QueueUrl=self.queue_url(), MaxNumberOfMessages=10, VisibilityTimeout=0)
            messages = answer.get("Messages", [])
            if not messages:
                if len(records) >= expected or time.monotonic() > deadline:
                    return records
                time.sleep(0.5)
            for message in messages:
                sqs.delete_message(QueueUrl=self.queue_url(), ReceiptHandle=message["ReceiptHandle"])
                records.append(
                    {
                        "messageId": message["MessageId"],
                        "receiptHandle": message["ReceiptHandle"],
                        "body": message["Body"],
                        "attributes": {},
                        "messageAttributes": {},
                        "md5OfBody": message["MD5OfBody"],
                        "eventSource": "aws:sqs",
                        "eventSourceARN": self.template.arn("PendingQueue"),
                        "awsRegion": "us-east-1",
                    }
                )

    @property
    def models(self) -> DynamoDbModelRegistry:
        return DynamoDbModelRegistry(self.template.physical_name("RegistryTable"))

    @property
    def runs(self) -> DynamoDbRunLedger:
        return DynamoDbRunLedger(self.template.physical_name("RegistryTable"))

    @property
    def pipeline(self) -> DynamoDbPipelineStateStore:
        return DynamoDbPipelineStateStore(self.template.physical_name("RegistryTable"))

    def executions(self) -> dict[str, dict[str, Any]]:
        """The retraining state machine's executions: name → status and input."""
        sfn = boto3.client("stepfunctions")
        listing = sfn.list_executions(stateMachineArn=self.state_machine_arn)["executions"]
        described = (sfn.describe_execution(executionArn=item["executionArn"]) for item in listing)
        return {item["name"]: {"status": item["status"], "input": json.loads(item["input"])} for item in described}

    def run_pending(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = self.pending.lambda_handler({"Records": records}, LambdaContext("PendingFunction"))
        return result

    def wipe(self) -> None:
        for logical_id, keys in (
            ("CommentsTable", ("comment_id",)),
            ("IdempotencyTable", ("id",)),
            ("RegistryTable", ("pk", "sk")),
            ("MonitoringTable", ("pk", "sk")),
            ("JobsTable", ("job_id",)),
        ):
            table = self.table(logical_id)
            for item in table.scan()["Items"]:
                table.delete_item(Key={key: item[key] for key in keys})
        # Run ids start again at run-000001, so their executions must go too.
        boto3.client("stepfunctions").delete_state_machine(stateMachineArn=self.state_machine_arn)
        create_state_machine(self.state_machine_arn)
        s3 = boto3.client("s3")
        for key in self.objects():
            s3.delete_object(Bucket=self.bucket, Key=key)
        self.drain_pending()


@pytest.fixture(scope="session")
def model_server(model_dir: Path) -> Iterator[ModelServer]:
    server = ModelServer(model_dir)
    server.launch()
    yield server
    server.shut_down()


@pytest.fixture(scope="package")  # moto's mock ends with this package; later tests start from nothing
def stack(model_server: ModelServer) -> Iterator[Stack]:
    patch = pytest.MonkeyPatch()
    fake_credentials(patch, POWERTOOLS_TRACE_DISABLED="1", POWERTOOLS_DEV="false")
    with mock_aws():
        template = Template.read(ROOT / "template.yaml", prefix="test")
        create_tables(template, boto3.client("dynamodb"))
        create_buckets(template, boto3.client("s3"))
        create_queues(template, boto3.client("sqs"))
        environment = {
            # One process stands in for all three: the API's own values (its service name) come last.
            **template.function_environment("AdminAuthorizerFunction", QUEUE_ENDPOINT),
            **template.function_environment("OriginAuthorizerFunction", QUEUE_ENDPOINT),
            **template.function_environment("ReviewerAuthorizerFunction", QUEUE_ENDPOINT),
            **template.function_environment("PendingFunction", QUEUE_ENDPOINT),
            **template.function_environment("ApiFunction", QUEUE_ENDPOINT),
            # What the local stack sets when the model runs as a plain server (the ECS contract).
            "INFERENCE_BACKEND": "ecs",
            "MODEL_URL": model_server.url,
            "MODEL_READ_TIMEOUT": "2",
        }
        for name, value in environment.items():
            patch.setenv(name, value)
        # The shared Metrics read their namespace when first imported, which may have been while another
        # test module was collected, before this environment was set.
        patch.setattr(observability.metrics, "namespace", environment["POWERTOOLS_METRICS_NAMESPACE"])
        boto3.client("secretsmanager").create_secret(Name=environment["ADMIN_API_KEY_SECRET"], SecretString=ADMIN_KEY)
        boto3.client("secretsmanager").create_secret(
            Name=environment["ORIGIN_VERIFY_SECRET"], SecretString=ORIGIN_VALUE
        )
        create_state_machine(environment["STATE_MACHINE_ARN"])
        create_state_machine(environment["JOB_STATE_MACHINE_ARN"])
        dependencies.reset()
        stack = Stack(
            template,
            api_function.handler,
            pending_function.handler,
            authorizer_function.handler,
            model_server,
            state_machine_arn=environment["STATE_MACHINE_ARN"],
        )
        yield stack
        dependencies.reset()
    patch.undo()


@pytest.fixture
def api(stack: Stack) -> Iterator[Stack]:
    stack.wipe()
    default = os.environ["PUBLIC_LABELS"]  # the template's
    dependencies.reset()  # each test meets a fresh API instance: nothing it saw of the model before
    yield stack
    if os.environ["PUBLIC_LABELS"] != default:
        os.environ["PUBLIC_LABELS"] = default
        dependencies.reset()
    stack.model.start()  # when a test stopped it
