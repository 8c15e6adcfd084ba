"""The scheduled monitor, as Lambda calls it with EventBridge's event: the champion's drift and the
review queue as the PredictionDrift and ReviewQueue metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from sentiment_common import observability
from sentiment_common.dal.monitoring import DynamoDbMonitoringCounters
from sentiment_common.monitoring import CONFIDENCE_EDGES
from sentiment_common.records import Prediction, Scores
from sentiment_local.runtime.event_sources import scheduled_event
from tests.integration.pipeline.conftest import MotoPipeline
from tests.integration.pipeline.test_handlers import Context, handler

BASELINE = {
    "rows": 100,
    "labels": {"negative": 0.4, "neutral": 0.2, "positive": 0.4},
    "confidence_edges": list(CONFIDENCE_EDGES),
    "confidence": [0.0, 0.1, 0.1, 0.1, 0.2, 0.2, 0.3],
}


def prediction(label: str, confidence: float) -> Prediction:
    rest = (1 - confidence) / 2
    scores = {name: confidence if name == label else rest for name in ("negative", "neutral", "positive")}
    return Prediction(label=label, scores=Scores(**scores), confidence=confidence, model_version="v1")  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def namespace(monkeypatch: pytest.MonkeyPatch, pipeline: MotoPipeline) -> None:
    """The template's namespace: the shared Metrics was made before this test set the environment."""
    namespace = pipeline.template.function_environment("MonitorFunction", "")["POWERTOOLS_METRICS_NAMESPACE"]
    monkeypatch.setattr(observability.metrics, "namespace", namespace)


def emitted(output: str) -> dict[str, float]:
    """The metrics in the function's EMF lines."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    values = document[metric["Name"]]  # Powertools writes a list of the values added
                    found[metric["Name"]] = values[-1] if isinstance(values, list) else values
    return found


def test_the_monitor_emits_the_champions_drift_and_the_review_queue(
    pipeline: MotoPipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pipeline.models.ensure_champion("v1", "s3://b/models/v1/model.tar.gz", "ab" * 32, {"baseline": BASELINE})
    store = DynamoDbMonitoringCounters(pipeline.template.physical_name("MonitoringTable"))
    today = datetime.now(UTC).date()
    # All positive and very sure: far from a baseline of 40/20/40 spread over the bins.
    store.classified([prediction("positive", 0.97)] * 60, today)
    capsys.readouterr()

    answer = handler(pipeline.template, monkeypatch, "MonitorFunction")(
        scheduled_event("arn:aws:events:us-east-1:123456789012:rule/monitor"), Context("MonitorFunction")
    )

    assert answer["review_queue"] == 60
    drift = answer["drift"]
    assert drift["comments"] == 60
    assert drift["psi"] == max(drift["labels"]["psi"], drift["confidence"]["psi"])
    assert drift["psi"] > 1
    metrics = emitted(capsys.readouterr().out)
    assert metrics["PredictionDrift"] == pytest.approx(drift["psi"])
    assert metrics["ReviewQueue"] == 60
