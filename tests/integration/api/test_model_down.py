"""The model down: comments are stored as pending (202), queued, and classified once it is back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from sentiment_common.dependencies import reset
from tests.integration.api.conftest import Stack


def test_comments_wait_as_pending_and_are_classified_when_the_model_returns(api: Stack, model_version: str) -> None:
    api.model.stop()
    single = api.call("POST", "/comments", {"comment": "What a fantastic day"})
    batch = api.call("POST", "/comments/batch", {"comments": ["Dreadful", "Superb"]})

    assert single.status == 202
    assert single.body["status"] == "pending"
    assert single.body["sentiment"] is None
    assert single.body["pending_reason"] == "model_unavailable"  # an ECS service does not start cold
    assert batch.status == 202
    assert {item["status"] for item in batch.body["results"]} == {"pending"}
    assert len(api.items("CommentsTable")) == 3
    pending = api.call("GET", "/comments", query={"sentiment": "pending"})
    assert len(pending.body["items"]) == 3

    # The worker runs while the model is still down: the whole batch fails, so SQS keeps it.
    records = api.drain_pending(expected=3)
    assert len(records) == 3
    with pytest.raises(BatchProcessingError, match="All records failed"):
        api.run_pending(records)

    api.model.start()
    assert api.run_pending(records) == {"batchItemFailures": []}
    read = api.call("GET", f"/comments/{single.body['comment_id']}").body
    assert read["status"] == "classified"
    assert read["sentiment"] == "positive"
    assert read["pending_reason"] is None
    assert read["model_version"] == model_version
    assert api.call("GET", "/comments", query={"sentiment": "pending"}).body["items"] == []
    # A duplicate delivery finds nothing left to do.
    assert api.run_pending(records) == {"batchItemFailures": []}


def test_health_reports_the_model(
    api: Stack, model_version: str, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    up = api.call("GET", "/health")
    assert up.status == 200
    assert up.body["status"] == "ok"
    assert (up.body["model"]["status"], up.body["model"]["reachable"]) == ("ready", True)
    assert up.body["model"]["model_version"] == model_version
    assert (up.body["model"]["kind"], up.body["model"]["encoder"]) == (None, None)  # not registered yet

    metadata = json.loads((model_dir / "metadata.json").read_text())
    api.models.ensure_champion(model_version, "s3://bucket/models/x/model.tar.gz", "ab" * 32, metadata)
    known = api.call("GET", "/health").body["model"]
    assert known["kind"] == "encoder"
    assert known["encoder"] == {key: metadata["encoder"][key] for key in ("name", "sha256", "licence")}

    api.model.stop()
    # Within MODEL_PROBE_SECONDS this instance answers with what it saw, and says when it saw it.
    assert api.call("GET", "/health").body == api.call("GET", "/health").body
    monkeypatch.setenv("MODEL_PROBE_SECONDS", "0")
    reset()  # an instance that checks on every call
    down = api.call("GET", "/health")
    assert down.status == 200
    assert down.body["status"] == "degraded"
    assert (down.body["model"]["status"], down.body["model"]["reachable"]) == ("down", False)
    assert down.body["model"]["reason"] == "the model endpoint is unreachable"
    assert down.body["model"]["checked_at"]
