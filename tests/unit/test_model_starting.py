"""A serverless endpoint that scaled to zero, as its callers meet it: how long each caller waits for the
model, what it does when the model is still starting, and what /health says. No network: the client's
choices on botocore stubs, the logic on the fakes of tests/fakes, the local stack's cold starts on a
fake clock."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from api_function.logic.comments import STARTING_RETRY_AFTER_S, create_batch, create_comment, explain_comment
from api_function.logic.health import model_health
from pending_function.logic import STORE_SECONDS, BatchModel, classify_pending
from sentiment_common.dal.comments import from_item, to_item
from sentiment_common.errors import ModelStartingError, ModelUnavailableError, ServiceUnavailableError
from sentiment_common.inference import CallTimeouts, SageMakerModel, call_timeouts, health_timeouts
from sentiment_common.records import Comment, CommentStatus, PendingReason, Readiness
from sentiment_common.settings import InferenceSettings
from sentiment_local.sagemaker.endpoint import ColdStarts
from sentiment_template.reader import Template
from tests.conftest import ROOT
from tests.fakes.stores import FakeCommentStore, FakeModel, FakeMonitoringCounters, prediction
from tests.unit.test_api_logic import services

pytestmark = pytest.mark.usefixtures("metrics_namespace")

ENDPOINT = "sentiment-dev-endpoint"
SERVERLESS = InferenceSettings(inference_backend="sagemaker", sagemaker_endpoint_name=ENDPOINT)
REALTIME = SERVERLESS.model_copy(update={"sagemaker_endpoint_type": "realtime"})
ECS = InferenceSettings(inference_backend="ecs", model_url="http://model.internal:8080")
SAGEMAKER_LIMIT_S = 60  # InvokeEndpoint: "model containers must respond to requests within 60 seconds"
HTTP_API_LIMIT_S = 30  # API Gateway HTTP API quotas: "Maximum integration timeout 30 seconds"
ANSWER = json.dumps({"predictions": [prediction(version="v7").model_dump()]}).encode()


# ---- how long each caller waits ----


def test_a_warm_backend_gets_a_short_wait_and_a_second_try() -> None:
    for settings in (ECS, REALTIME):
        assert call_timeouts(settings) == CallTimeouts(connect=1.0, read=4.0, attempts=2)


def test_a_serverless_endpoint_gets_one_long_try_as_long_as_the_caller_can_wait() -> None:
    assert call_timeouts(SERVERLESS) == CallTimeouts(connect=1.0, read=9.0, attempts=1)
    assert call_timeouts(SERVERLESS.model_copy(update={"model_wait_seconds": 20})).read == 20
    with pytest.raises(ValueError, match="less than or equal to 60"):
        InferenceSettings(inference_backend="sagemaker", model_wait_seconds=61)


def test_each_client_is_built_with_the_timeouts_of_its_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    serverless, realtime = SageMakerModel(SERVERLESS), SageMakerModel(REALTIME)

    def seen(client: Any) -> tuple[float, float, int]:
        config = client.meta.config
        return config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"]

    assert seen(serverless._runtime) == (1.0, 9.0, 1)
    assert seen(realtime._runtime) == (1.0, 4.0, 2)
    # The health check's calls are short whatever the endpoint: a cold start reads as starting.
    assert seen(serverless._probe) == seen(serverless._control) == (1.0, 2.0, 1)


def _environment(template: Template, logical_id: str) -> InferenceSettings:
    env = template.function_environment(logical_id, "http://localhost:5000")
    names = {name: env[name.upper()] for name in InferenceSettings.model_fields if name.upper() in env}
    return InferenceSettings.model_validate(names | {"sagemaker_endpoint_name": ENDPOINT})


@pytest.mark.parametrize("endpoint_type", ["serverless", "realtime"])
@pytest.mark.parametrize("backend", ["sagemaker", "ecs"])
def test_no_caller_waits_for_the_model_past_its_own_timeout(backend: str, endpoint_type: str) -> None:
    overrides = {"InferenceBackend": backend, "SageMakerEndpointType": endpoint_type, "ModelImageUri": "x"}
    template = Template.read(ROOT / "template.yaml", overrides=overrides)
    api, pending = template.function("ApiFunction", ""), template.function("PendingFunction", "")

    api_wait = call_timeouts(_environment(template, "ApiFunction")).longest_wait
    pending_wait = call_timeouts(_environment(template, "PendingFunction")).longest_wait
    health = health_timeouts(_environment(template, "ApiFunction"))

    # API Gateway stops waiting for the function at 30 s; the function stops at its timeout. A comment the
    # model did not classify in time is then stored as pending in the seconds left (STORE_SECONDS at least).
    assert api.timeout <= HTTP_API_LIMIT_S
    assert api_wait + STORE_SECONDS <= api.timeout
    assert pending_wait + STORE_SECONDS <= pending.timeout
    assert max(api_wait, pending_wait) <= SAGEMAKER_LIMIT_S
    # DescribeEndpoint then one short call: /health answers before the page gives up on it.
    page_timeout_s = int(re.search(r'"/health", \{ timeoutMs: (\d+) \}', (ROOT / "frontend/api.js").read_text())[1])
    assert 2 * health.longest_wait < page_timeout_s / 1000
    if backend == "sagemaker" and endpoint_type == "serverless":
        # The worker waits longer than the API, so the message's try catches a start the API's call began.
        assert pending_wait > api_wait >= 10
    else:
        assert api_wait == pending_wait <= 10


# ---- what the SageMaker client makes of a cold start ----


class Runtime:
    """A sagemaker-runtime client whose InvokeEndpoint times out, as botocore's does on a silent endpoint."""

    def invoke_endpoint(self, **request: Any) -> Any:
        raise ReadTimeoutError(endpoint_url=f"https://runtime.sagemaker/endpoints/{request['EndpointName']}")


def _stubbed(settings: InferenceSettings, monkeypatch: pytest.MonkeyPatch) -> tuple[SageMakerModel, Stubber, Stubber]:
    model = SageMakerModel(settings)
    keys = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    runtime, control = boto3.client("sagemaker-runtime", **keys), boto3.client("sagemaker", **keys)
    for name, client in (("_runtime", runtime), ("_probe", runtime), ("_control", control)):
        monkeypatch.setitem(vars(model), name, client)  # what the cached properties would hold
    return model, Stubber(runtime), Stubber(control)


def _described(status: str, serverless: bool = True) -> dict[str, Any]:
    variant: dict[str, Any] = {"VariantName": "champion"}
    if serverless:
        variant["CurrentServerlessConfig"] = {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    return {
        "EndpointName": ENDPOINT,
        "EndpointArn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{ENDPOINT}",
        "EndpointConfigName": "config",
        "EndpointStatus": status,
        "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
        "LastModifiedTime": datetime(2026, 1, 1, tzinfo=UTC),
        "ProductionVariants": [variant],
    }


def test_sagemakers_model_not_ready_means_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    model, runtime, _ = _stubbed(SERVERLESS, monkeypatch)
    runtime.add_client_error("invoke_endpoint", service_error_code="ModelNotReadyException", http_status_code=429)

    with runtime, pytest.raises(ModelStartingError, match="is starting"):
        model.predict(["hello"])


def test_a_timeout_means_starting_on_a_serverless_endpoint_and_down_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    serverless, realtime = SageMakerModel(SERVERLESS), SageMakerModel(REALTIME)
    monkeypatch.setitem(vars(serverless), "_runtime", Runtime())
    monkeypatch.setitem(vars(realtime), "_runtime", Runtime())

    with pytest.raises(ModelStartingError, match="starting after idle"):
        serverless.predict(["hello"])
    with pytest.raises(ModelUnavailableError) as down:
        realtime.predict(["hello"])
    assert not isinstance(down.value, ModelStartingError)


def test_a_model_error_is_down_even_on_a_serverless_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    model, runtime, _ = _stubbed(SERVERLESS, monkeypatch)
    runtime.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424)

    with runtime, pytest.raises(ModelUnavailableError) as error:
        model.predict(["hello"])
    assert not isinstance(error.value, ModelStartingError)


@pytest.mark.parametrize(
    ("described", "probe", "expected"),
    [
        (_described("InService"), "answers", Readiness.READY),
        (_described("InService"), "times out", Readiness.STARTING),
        (_described("InService"), "not ready", Readiness.STARTING),
        (_described("InService", serverless=False), "times out", Readiness.DOWN),
        (_described("InService"), "model error", Readiness.DOWN),
        (_described("Creating"), None, Readiness.STARTING),
        (_described("Failed"), None, Readiness.DOWN),
        (None, None, Readiness.DOWN),  # DescribeEndpoint: no such endpoint
    ],
)
def test_health_tells_a_model_starting_from_one_down(
    monkeypatch: pytest.MonkeyPatch, described: dict[str, Any] | None, probe: str | None, expected: Readiness
) -> None:
    model, runtime, control = _stubbed(SERVERLESS, monkeypatch)
    if described is None:
        control.add_client_error("describe_endpoint", service_error_code="ValidationException", http_status_code=400)
    else:
        control.add_response("describe_endpoint", described, {"EndpointName": ENDPOINT})
    if probe == "answers":
        body = StreamingBody(io.BytesIO(ANSWER), len(ANSWER))
        runtime.add_response("invoke_endpoint", {"Body": body, "ContentType": "application/json"})
    elif probe == "not ready":
        runtime.add_client_error("invoke_endpoint", service_error_code="ModelNotReadyException", http_status_code=429)
    elif probe == "model error":
        runtime.add_client_error("invoke_endpoint", service_error_code="ModelError", http_status_code=424)
    elif probe == "times out":
        monkeypatch.setitem(vars(model), "_probe", Runtime())

    with runtime, control:
        health = model.health()

    assert health.status is expected
    assert health.reachable is (expected is Readiness.READY)
    assert (health.model_version == "v7") is (expected is Readiness.READY)
    assert (health.reason is None) is (expected is Readiness.READY)


# ---- the API: a comment that waits for a model starting is told so ----


def starting() -> FakeModel:
    model = FakeModel()
    model.starting = True
    return model


def test_a_comment_sent_while_the_model_starts_is_stored_pending_because_it_starts() -> None:
    given = services(model=starting())

    comment = create_comment("slow delivery", given)

    assert comment.status is CommentStatus.PENDING
    assert comment.pending_reason is PendingReason.MODEL_STARTING
    assert given.comments.get(comment.comment_id) == comment
    assert given.pending.comment_ids == [comment.comment_id]  # type: ignore[attr-defined]


def test_a_comment_sent_while_the_model_is_down_says_it_is_unavailable() -> None:
    model = FakeModel()
    model.down = True
    assert create_comment("slow delivery", services(model=model)).pending_reason is PendingReason.MODEL_UNAVAILABLE


def test_a_batch_sent_while_the_model_starts_waits_whole() -> None:
    outcome = create_batch(["good", "bad"], services(model=starting()))
    assert {comment.pending_reason for _, comment in outcome.stored} == {PendingReason.MODEL_STARTING}


def test_an_explanation_asked_while_the_model_starts_says_when_to_ask_again() -> None:
    given = services()
    comment = create_comment("slow delivery", given)
    given.model.starting = True  # type: ignore[attr-defined]

    with pytest.raises(ServiceUnavailableError, match="starting") as refused:
        explain_comment(comment.comment_id, given)
    assert refused.value.retry_after == STARTING_RETRY_AFTER_S


def test_health_says_starting_while_the_model_starts() -> None:
    health, record = model_health(services(model=starting()))
    assert (health.status, health.reachable, record) == (Readiness.STARTING, False, None)


def test_a_pending_comments_reason_is_kept_until_it_is_classified() -> None:
    pending = Comment(
        comment_id="c1",
        text="slow delivery",
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
        status=CommentStatus.PENDING,
        pending_reason=PendingReason.MODEL_STARTING,
    )
    comments = FakeCommentStore()
    comments.put_new(pending)
    assert from_item(to_item(pending)) == pending

    comments.classify_pending("c1", prediction())

    assert comments.get("c1").pending_reason is None


# ---- the pending worker: one batch asks a model that is starting once ----


class Clock:
    def __init__(self, seconds_left: float) -> None:
        self.seconds_left = seconds_left

    def __call__(self) -> float:
        return self.seconds_left


def _pending(count: int) -> FakeCommentStore:
    comments = FakeCommentStore()
    for index in range(count):
        comments.put_new(
            Comment(
                comment_id=f"c{index}",
                text=f"text {index}",
                created_at=datetime(2026, 3, 1, tzinfo=UTC),
                status=CommentStatus.PENDING,
                pending_reason=PendingReason.MODEL_STARTING,
            )
        )
    return comments


def _run(comments: FakeCommentStore, model: BatchModel, count: int) -> list[str]:
    """The batch's records in order, as the worker runs them: the ids that failed."""
    failed = []
    for index in range(count):
        try:
            classify_pending(f"c{index}", comments, model, FakeMonitoringCounters())
        except ModelUnavailableError as error:
            failed.append(f"c{index}:{type(error).__name__}")
    return failed


def test_once_the_model_is_found_starting_the_rest_of_the_batch_does_not_wait_for_it() -> None:
    comments, model = _pending(3), starting()

    failed = _run(comments, BatchModel(model, longest_call=10, seconds_left=Clock(28)), 3)

    assert model.calls == [["text 0"]]  # one wait, not three
    assert failed == ["c0:ModelStartingError", "c1:ModelStartingError", "c2:ModelStartingError"]
    assert {comments.get(f"c{index}").status for index in range(3)} == {CommentStatus.PENDING}


def test_a_model_that_answers_classifies_the_whole_batch() -> None:
    comments, model = _pending(3), FakeModel()

    assert _run(comments, BatchModel(model, longest_call=10, seconds_left=Clock(28)), 3) == []
    assert len(model.calls) == 3
    assert {comments.get(f"c{index}").status for index in range(3)} == {CommentStatus.CLASSIFIED}


def test_a_record_is_not_sent_to_the_model_without_the_time_to_wait_for_it() -> None:
    comments, model, clock = _pending(2), FakeModel(), Clock(28)
    batch = BatchModel(model, longest_call=21, seconds_left=clock)

    assert _run(comments, batch, 1) == []
    clock.seconds_left = 21 + STORE_SECONDS - 0.1
    with pytest.raises(ModelUnavailableError, match="too little time"):
        classify_pending("c1", comments, batch, FakeMonitoringCounters())
    assert len(model.calls) == 1


# ---- the local stack's serverless endpoint ----


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_local_serverless_endpoint_starts_cold_and_stays_warm_while_used() -> None:
    clock = FakeClock()
    instances = ColdStarts(cold_start_s=20, idle_s=60, clock=clock)

    assert instances.wait() == 20  # no instance yet: the first invocation waits for one
    clock.now += 5
    assert instances.wait() == 15  # another, meanwhile, waits for the same one
    clock.now += 15
    assert instances.wait() == 0
    clock.now += 59
    assert instances.wait() == 0  # used within LOCAL_IDLE_SECONDS: still warm


def test_the_local_serverless_endpoint_scales_to_zero_after_idle() -> None:
    clock = FakeClock()
    instances = ColdStarts(cold_start_s=20, idle_s=60, clock=clock)
    instances.wait()

    clock.now += 20 + 61  # the instance last served 61 s ago
    assert instances.wait() == 20
    clock.now += 20
    assert instances.wait() == 0
