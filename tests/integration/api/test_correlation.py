"""Correlation ids leave the API: a run started by hand names the request that started it, and the pending
worker calls the model under the comment's id, timing each call."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from sentiment_common.inference import ModelClient, ModelHealth
from sentiment_common.observability import logger, metrics
from sentiment_common.records import Prediction
from tests.integration.api.conftest import Stack, http_event
from tests.integration.structured_logs import emitted


def test_a_run_started_by_hand_carries_the_request_id_into_the_executions_input(api: Stack) -> None:
    request_id = http_event("POST", "/training")["requestContext"]["requestId"]

    answer = api.call("POST", "/training", headers={"Authorization": f"Bearer {api.admin_key}"})

    assert answer.status == 202
    execution = api.executions()[answer.body["run_id"]]
    assert execution["input"]["started_by_request"] == request_id


class CorrelationRecorder:
    """The worker's model client, noting the correlation id each call is made under."""

    def __init__(self, model: ModelClient) -> None:
        self.model = model
        self.correlation_ids: list[str | None] = []

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        self.correlation_ids.append(logger.get_correlation_id())
        return self.model.predict(texts)

    def health(self) -> ModelHealth:
        return self.model.health()


def test_the_pending_worker_calls_the_model_under_the_comments_id_and_times_it(
    api: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api.model.stop()
    stored = [api.call("POST", "/comments", {"comment": text}).body for text in ("Lovely", "Dreadful")]
    api.model.start()
    records = api.drain_pending(expected=2)
    recorder = CorrelationRecorder(api.pending.worker().model)
    monkeypatch.setattr(api.pending.worker(), "model", recorder)
    metrics.clear_metrics()
    capsys.readouterr()

    assert api.run_pending(records) == {"batchItemFailures": []}

    assert sorted(recorder.correlation_ids, key=str) == sorted(comment["comment_id"] for comment in stored)
    # The worker flushes its metrics: one ModelLatency value per call, in milliseconds.
    ((unit, values),) = emitted(capsys.readouterr().out, "ModelLatency")
    assert unit == "Milliseconds"
    assert len(values) == 2


def test_a_record_that_names_no_comment_is_handled_under_its_own_message_id(api: Stack) -> None:
    api.model.stop()
    api.call("POST", "/comments", {"comment": "Fine, I suppose"})
    api.model.start()
    (good,) = api.drain_pending(expected=1)
    broken = {**good, "messageId": "message-without-a-comment", "body": "not json"}

    answer = api.run_pending([good, broken])

    assert answer == {"batchItemFailures": [{"itemIdentifier": "message-without-a-comment"}]}
    # What is logged about the broken record carries its own id, not the comment id of the one before it.
    assert logger.get_correlation_id() == "message-without-a-comment"
