"""The API's model client over real HTTP (the ECS backend): each call carries the caller's correlation id,
the model server logs it, and the call is timed as the ModelLatency metric."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sentiment_common.inference import HttpModel
from sentiment_common.observability import logger, metrics
from sentiment_common.settings import InferenceSettings
from tests.integration.conftest import model_env, running_server, wait_for_ping
from tests.integration.json_service import JsonService
from tests.integration.structured_logs import emitted

ANSWER = {
    "predictions": [
        {
            "label": "positive",
            "scores": {"negative": 0.1, "neutral": 0.2, "positive": 0.7},
            "confidence": 0.7,
            "model_version": "v1",
        }
    ]
}


class RecordingModelService(JsonService):
    """Answers every POST /invocations with one prediction and keeps the headers it was sent."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []
        super().__init__(self._answer)

    def _answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        del method, path
        self.headers.append(headers)
        return 200, ANSWER


# Starts model servers: make check leaves it out.
pytestmark = [pytest.mark.usefixtures("clean_metrics"), pytest.mark.processes]


@pytest.fixture
def service() -> Iterator[RecordingModelService]:
    recording = RecordingModelService()
    yield recording
    recording.close()


def _client(url: str) -> HttpModel:
    return HttpModel(InferenceSettings(inference_backend="ecs", model_url=url))


def test_the_http_client_sends_the_callers_id_as_x_correlation_id(service: RecordingModelService, caller: str) -> None:
    _client(service.url).predict(["lovely"])

    (headers,) = service.headers
    assert headers["x-correlation-id"] == caller


def test_without_a_correlation_id_the_header_is_left_out(service: RecordingModelService) -> None:
    _client(service.url).predict(["lovely"])

    (headers,) = service.headers
    assert "x-correlation-id" not in headers


def test_an_unsafe_id_is_not_sent(service: RecordingModelService) -> None:
    logger.set_correlation_id("req\r\nX-Injected: yes")
    try:
        _client(service.url).predict(["lovely"])
    finally:
        logger.remove_keys(["correlation_id"])

    (headers,) = service.headers
    assert "x-correlation-id" not in headers
    assert "x-injected" not in headers


def test_each_http_call_emits_model_latency_in_milliseconds(
    service: RecordingModelService, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(metrics, "namespace", "SentimentFeedbackLoop")
    metrics.clear_metrics()
    client = _client(service.url)

    client.predict(["lovely"])
    client.predict(["dreadful"])
    metrics.flush_metrics()

    ((unit, values),) = emitted(capsys.readouterr().out, "ModelLatency")
    assert unit == "Milliseconds"
    assert len(values) == 2


def test_the_model_server_logs_the_id_the_client_sent(model_dir: Path, caller: str) -> None:
    with running_server({**model_env(model_dir), "LOG_LEVEL": "DEBUG"}) as (url, process):
        assert wait_for_ping(url).status_code == 200
        _client(url).predict(["An absolute joy from start to finish"])
    output = process.stdout.read().decode() if process.stdout else ""

    assert f"invocation: status=200 texts=1 correlation_id={caller}" in output
