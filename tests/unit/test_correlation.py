"""Correlation ids across the model call, in process: what the SageMaker client sends, what the model
server logs and echoes (and refuses to), and the ModelLatency metric each call emits."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from sentiment_common import observability
from sentiment_common.errors import ModelUnavailableError
from sentiment_common.inference import SageMakerModel, correlation_id
from sentiment_common.observability import logger, metrics
from sentiment_common.records import Prediction
from sentiment_common.settings import InferenceSettings
from sentiment_model.server import ModelServer, ServerSettings
from tests.conftest import REQUEST_ID

NAMESPACE = "SentimentFeedbackLoop"
PREDICTION = Prediction(
    label="positive",
    scores={"negative": 0.1, "neutral": 0.2, "positive": 0.7},
    confidence=0.7,
    model_version="v1",
)
ANSWER = json.dumps({"predictions": [PREDICTION.model_dump()]}).encode()
MALICIOUS = [
    "req-1\r\nX-Injected: yes",
    "req-1\n2026-01-01 00:00:00 ERROR sentiment_model.server: forged line",
    "has space",
    "x" * 129,
    "",
]


pytestmark = pytest.mark.usefixtures("clean_metrics")


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """A function that flushes the shared Metrics and returns the EMF documents printed."""
    monkeypatch.setattr(metrics, "namespace", NAMESPACE)
    metrics.clear_metrics()
    capsys.readouterr()

    def flush() -> list[dict[str, Any]]:
        metrics.flush_metrics()
        return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]

    yield flush
    metrics.clear_metrics()


# ---- the client: SageMaker's CustomAttributes ----


def _sagemaker(monkeypatch: pytest.MonkeyPatch) -> tuple[SageMakerModel, Stubber]:
    client = SageMakerModel(InferenceSettings(inference_backend="sagemaker", sagemaker_endpoint_name="sentiment"))
    runtime = boto3.client(
        "sagemaker-runtime", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    monkeypatch.setitem(vars(client), "_runtime", runtime)  # what the cached_property would hold
    return client, Stubber(runtime)


def _answer() -> dict[str, Any]:
    return {"Body": StreamingBody(io.BytesIO(ANSWER), len(ANSWER)), "ContentType": "application/json"}


def _expected(**extra: Any) -> dict[str, Any]:
    return {
        "EndpointName": "sentiment",
        "ContentType": "application/json",
        "Accept": "application/json",
        "Body": b'{"instances": ["lovely"]}',
        **extra,
    }


def test_the_sagemaker_client_passes_the_callers_id_as_custom_attributes(
    monkeypatch: pytest.MonkeyPatch, caller: str
) -> None:
    client, stub = _sagemaker(monkeypatch)
    stub.add_response("invoke_endpoint", _answer(), _expected(CustomAttributes=f"correlation_id={caller}"))

    with stub:
        assert client.predict(["lovely"]) == [PREDICTION]
    stub.assert_no_pending_responses()


def test_without_a_correlation_id_no_custom_attributes_are_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    client, stub = _sagemaker(monkeypatch)
    stub.add_response("invoke_endpoint", _answer(), _expected())  # Stubber fails on any parameter not expected

    with stub:
        assert client.predict(["lovely"]) == [PREDICTION]


@pytest.mark.parametrize("unsafe", MALICIOUS)
def test_an_id_the_container_would_refuse_is_not_sent(unsafe: str) -> None:
    logger.set_correlation_id(unsafe)
    try:
        assert correlation_id() is None
    finally:
        logger.remove_keys(["correlation_id"])


@pytest.mark.parametrize("value", [REQUEST_ID, "0f8c3b1e-6a2d-4c7e-9b5a-2d1e0f9a8b7c", "run-000001", "x" * 128])
def test_ids_of_the_callers_are_sent_as_they_are(value: str) -> None:
    logger.set_correlation_id(value)
    try:
        assert correlation_id() == value
    finally:
        logger.remove_keys(["correlation_id"])


# ---- the client: the ModelLatency metric ----


def _latency(documents: list[dict[str, Any]]) -> tuple[dict[str, Any], list[float]]:
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                if metric["Name"] == "ModelLatency":
                    values = document["ModelLatency"]
                    return directive | {"Unit": metric["Unit"]}, values if isinstance(values, list) else [values]
    raise AssertionError(f"no ModelLatency in {documents}")


def test_each_model_call_emits_its_latency_in_milliseconds(monkeypatch: pytest.MonkeyPatch, emitted: Any) -> None:
    client, stub = _sagemaker(monkeypatch)
    stub.add_response("invoke_endpoint", _answer(), _expected())
    stub.add_response("invoke_endpoint", _answer(), _expected())

    with stub:
        client.predict(["lovely"])
        client.predict(["lovely"])
    directive, values = _latency(emitted())

    assert directive["Namespace"] == NAMESPACE
    assert directive["Unit"] == "Milliseconds"
    assert len(values) == 2
    assert all(0 <= value < 5000 for value in values)
    # The alarm watches the metric by its service dimension alone: no other dimension may ride along.
    assert all(set(dimensions) <= {"service"} for dimensions in directive["Dimensions"])


def test_a_failed_call_is_timed_too(monkeypatch: pytest.MonkeyPatch, emitted: Any) -> None:
    client, stub = _sagemaker(monkeypatch)
    stub.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424)

    with stub, pytest.raises(ModelUnavailableError):
        client.predict(["lovely"])
    _directive, values = _latency(emitted())

    assert len(values) == 1


def test_timed_reports_the_time_the_block_took(emitted: Any) -> None:
    with observability.timed("ModelLatency"):
        asyncio.run(asyncio.sleep(0.02))
    _directive, (value,) = _latency(emitted())

    assert 20 <= value < 1000


# ---- the model server: reads, logs and echoes the id ----


@pytest.fixture(scope="module")
def server(model_dir: Path) -> ModelServer:
    app = ModelServer(ServerSettings(MODEL_URI=str(model_dir)))
    app.load()
    return app


def invoke(
    app: ModelServer,
    headers: list[tuple[bytes, bytes]],
    body: bytes = b'{"instances": ["lovely"]}',
    content_type: bytes = b"application/json",
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One POST /invocations straight through the ASGI interface: headers go in exactly as given."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/invocations",
        "headers": [(b"content-type", content_type), *headers],
    }
    requests = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return requests.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, *bodies = sent
    return start["status"], dict(start["headers"]), b"".join(part["body"] for part in bodies)


def test_the_server_echoes_the_x_correlation_id_it_was_sent(server: ModelServer) -> None:
    status, headers, _ = invoke(server, [(b"x-correlation-id", REQUEST_ID.encode())])

    assert status == 200
    assert headers[b"x-correlation-id"] == REQUEST_ID.encode()
    assert b"x-amzn-sagemaker-custom-attributes" not in headers


@pytest.mark.parametrize(
    "attributes",
    [f"correlation_id={REQUEST_ID}", f"trace=7, correlation_id={REQUEST_ID}", f"a=1;correlation_id={REQUEST_ID};b=2"],
)
def test_the_server_reads_the_id_from_sagemakers_custom_attributes_and_echoes_it_both_ways(
    server: ModelServer, attributes: str
) -> None:
    status, headers, _ = invoke(server, [(b"x-amzn-sagemaker-custom-attributes", attributes.encode())])

    assert status == 200
    assert headers[b"x-correlation-id"] == REQUEST_ID.encode()
    # SageMaker hands the container's custom attributes back to the caller of InvokeEndpoint.
    assert headers[b"x-amzn-sagemaker-custom-attributes"] == f"correlation_id={REQUEST_ID}".encode()


@pytest.mark.parametrize(
    "headers",
    [
        [(b"x-amzn-sagemaker-custom-attributes", b"trace=7"), (b"x-correlation-id", REQUEST_ID.encode())],
        [
            (b"x-correlation-id", b"bad id\r\n"),
            (b"x-amzn-sagemaker-custom-attributes", f"correlation_id={REQUEST_ID}".encode()),
        ],
    ],
    ids=["attributes-without-an-id-first", "unsafe-direct-id-first"],
)
def test_the_first_header_holding_a_safe_id_is_the_one_used(
    server: ModelServer, headers: list[tuple[bytes, bytes]]
) -> None:
    status, echoed, _ = invoke(server, headers)

    assert status == 200
    assert echoed[b"x-correlation-id"] == REQUEST_ID.encode()


def test_without_an_id_nothing_is_echoed(server: ModelServer) -> None:
    status, headers, _ = invoke(server, [(b"x-amzn-sagemaker-custom-attributes", b"trace=7")])

    assert status == 200
    assert b"x-correlation-id" not in headers


def test_a_failed_invocation_is_logged_with_the_callers_id(
    server: ModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sentiment_model.server")

    status, headers, _ = invoke(server, [(b"x-correlation-id", REQUEST_ID.encode())], b'{"instances": []}')

    assert status == 400
    assert headers[b"x-correlation-id"] == REQUEST_ID.encode()
    (line,) = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert f"status=400 correlation_id={REQUEST_ID} reason=" in line.getMessage()


def test_a_successful_invocation_is_logged_at_debug_only(server: ModelServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sentiment_model.server")

    invoke(server, [(b"x-correlation-id", REQUEST_ID.encode())])

    (line,) = caplog.records
    assert line.levelno == logging.DEBUG  # the hot path logs nothing at the default level, INFO
    assert line.getMessage() == f"invocation: status=200 texts=1 correlation_id={REQUEST_ID}"


@pytest.mark.parametrize("unsafe", MALICIOUS)
@pytest.mark.parametrize("header", [b"x-correlation-id", b"x-amzn-sagemaker-custom-attributes"])
def test_an_unsafe_id_is_neither_logged_nor_echoed(
    server: ModelServer, caplog: pytest.LogCaptureFixture, unsafe: str, header: bytes
) -> None:
    caplog.set_level(logging.DEBUG, logger="sentiment_model.server")
    value = unsafe if header == b"x-correlation-id" else f"correlation_id={unsafe}"

    status, headers, _ = invoke(server, [(header, value.encode())], b"{oops")

    assert status == 400  # the request is served (here: refused for its body) as if no id had come
    assert b"x-correlation-id" not in headers
    assert b"x-amzn-sagemaker-custom-attributes" not in headers
    (line,) = caplog.records
    assert "correlation_id=- " in line.getMessage()
    assert "\n" not in line.getMessage()
    assert "\r" not in line.getMessage()


def test_a_reason_that_quotes_the_request_cannot_forge_a_log_line(
    server: ModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sentiment_model.server")
    forged = b"text/evil\n2026-01-01 00:00:00 ERROR sentiment_model.server: forged"

    status, _, _ = invoke(server, [(b"x-correlation-id", b"req-1")], content_type=forged)

    (line,) = caplog.records
    assert status == 415
    assert line.getMessage().startswith("invocation failed: status=415 correlation_id=req-1 reason=")
    assert "\n" not in line.getMessage()
