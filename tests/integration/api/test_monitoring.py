"""GET /monitoring against a hand count of what was sent: agreement per version and per label, the
confusion matrix, the daily series, the review queue's size, and the champion's drift."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api_function import dependencies
from sentiment_common.dal import monitoring as monitoring_dal
from sentiment_common.dal.monitoring import DynamoDbMonitoringCounters
from sentiment_common.monitoring import CONFIDENCE_EDGES, confidence_bin
from sentiment_common.records import LABELS, Prediction, PublicLabels, utc_now
from tests.integration.api.conftest import Stack

TEXTS = [
    "A wonderful, moving film",
    "Awful, boring and far too long",
    "The delivery came on Tuesday",
    "Best purchase I have made all year",
    "Terrible support, never again",
    "It is a phone",
    "I love the new update",
    "The app keeps crashing, useless",
    "Meeting moved to 3pm",
    "Fantastic service, thank you",
]


def register_champion(api: Stack, model_dir: Path) -> dict[str, Any]:
    metadata = json.loads((model_dir / "metadata.json").read_text())
    api.models.ensure_champion(metadata["version"], "s3://bucket/models/x/model.tar.gz", "ab" * 32, metadata)
    baseline: dict[str, Any] = metadata["baseline"]
    return baseline


def test_monitoring_matches_a_hand_count_of_comments_and_feedback(api: Stack, model_dir: Path) -> None:
    api.public_labels(PublicLabels.TRAIN)
    baseline = register_champion(api, model_dir)
    comments = [
        item
        for start in range(0, 60, 20)
        for item in api.call(
            "POST", "/comments/batch", {"comments": [f"{t} ({start + n})" for n, t in enumerate(TEXTS * 2)]}
        ).body["results"]
    ]
    # Feedback: confirm three, correct two, and change one correction again (it counts once, latest label).
    wrong = {"negative": "positive", "neutral": "negative", "positive": "neutral"}
    given: dict[str, str] = {}
    for comment in comments[:3]:
        given[comment["comment_id"]] = comment["sentiment"]
    for comment in comments[3:5]:
        given[comment["comment_id"]] = wrong[comment["sentiment"]]
    relabelled = comments[4]["comment_id"], comments[4]["sentiment"]
    for comment_id, label in [*given.items(), relabelled]:
        assert api.call("POST", "/feedback", {"comment_id": comment_id, "label": label}).status == 201
    given[relabelled[0]] = relabelled[1]

    report = api.call("GET", "/monitoring", query={"days": "3"})

    assert report.status == 200
    body = report.body
    version = comments[0]["model_version"]
    assert body["champion"] == version
    # The version: each comment once, with its latest label.
    predicted = {comment["comment_id"]: comment["sentiment"] for comment in comments}
    cells = Counter((predicted[comment_id], label) for comment_id, label in given.items())
    quality = body["versions"][0]
    assert (quality["model_version"], quality["champion"], quality["count"]) == (version, True, 5)
    assert quality["agreement"] == round(4 / 5, 6)
    assert quality["confusion"] == {p: {g: cells[(p, g)] for g in LABELS} for p in LABELS}
    for label in LABELS:
        labelled = sum(cells[(label, g)] for g in LABELS)
        assert quality["per_label"][label]["count"] == labelled
        expected = round(cells[(label, label)] / labelled, 6) if labelled else None
        assert quality["per_label"][label]["agreement"] == expected
    # The day: every comment, every feedback event (the relabel too).
    today = body["daily"][-1]
    assert [day["date"] for day in body["daily"]] == [
        (utc_now().date() - timedelta(days=offset)).isoformat() for offset in (2, 1, 0)
    ]
    assert today["comments"] == {label: sum(c["sentiment"] == label for c in comments) for label in LABELS}
    assert today["mean_confidence"] == pytest.approx(sum(c["confidence"] for c in comments) / 60, abs=1e-6)
    assert (today["feedback"], today["agreement"]) == (6, round(4 / 6, 6))
    public = {"count": 6, "agreement": round(4 / 6, 6)}
    assert today["by_source"] == {"public": public, "reviewer": {"count": 0, "agreement": None}}
    assert body["agreement_by_source"] == today["by_source"]
    assert body["daily"][0]["comments"] == dict.fromkeys(LABELS, 0)
    assert body["review_queue"] == 60 - 5
    assert api.call("GET", "/comments", query={"needs_review": "true"}).body["remaining"] == 55
    # Drift: the 60 comments' labels and confidences against the champion's baseline, worked out here.
    labels = [sum(c["sentiment"] == label for c in comments) / 60 for label in LABELS]
    bins = [sum(confidence_bin(c["confidence"]) == index for c in comments) / 60 for index in range(7)]
    drift = body["drift"]
    assert (drift["model_version"], drift["comments"], drift["window_days"]) == (version, 60, 7)
    assert drift["confidence_edges"] == list(CONFIDENCE_EDGES)
    assert drift["labels"]["psi"] == pytest.approx(
        index(labels, [baseline["labels"][label] for label in LABELS]), abs=1e-5
    )
    assert drift["confidence"]["psi"] == pytest.approx(index(bins, baseline["confidence"]), abs=1e-5)
    assert drift["psi"] == max(drift["labels"]["psi"], drift["confidence"]["psi"])


def index(actual: list[float], expected: list[float]) -> float:
    smooth = [max(a, 1e-4) for a in actual], [max(e, 1e-4) for e in expected]
    return sum((a - e) * math.log(a / e) for a, e in zip(*smooth, strict=True))


def test_older_days_and_older_versions_are_reported(api: Stack, model_dir: Path) -> None:
    register_champion(api, model_dir)
    store = DynamoDbMonitoringCounters(api.template.physical_name("MonitoringTable"))
    yesterday = utc_now().date() - timedelta(days=1)
    old = Prediction(
        label="neutral", scores={"negative": 0.1, "neutral": 0.8, "positive": 0.1}, confidence=0.8, model_version="v0"
    )
    store.classified([old, old], yesterday)
    store.labelled(old, "negative", None, yesterday, first=True)

    body = api.call("GET", "/monitoring", query={"days": "2"}).body

    assert [version["model_version"] for version in body["versions"]][1:] == ["v0"]
    assert body["versions"][0]["count"] == 0
    older = body["versions"][1]
    assert (older["champion"], older["count"], older["agreement"]) == (False, 1, 0.0)
    assert older["confusion"]["neutral"]["negative"] == 1
    assert body["daily"][0] == {
        "date": yesterday.isoformat(),
        "comments": {"negative": 0, "neutral": 2, "positive": 0},
        "mean_confidence": 0.8,
        "feedback": 1,
        "agreement": 0.0,
        "by_source": {"public": {"count": 1, "agreement": 0.0}, "reviewer": {"count": 0, "agreement": None}},
        "unsupported": {},
    }
    assert body["drift"]["psi"] is None
    assert "2 comments" in body["drift"]["reason"]
    assert body["review_queue"] == 1


def test_bad_days_are_refused(api: Stack) -> None:
    assert api.call("GET", "/monitoring", query={"days": "0"}).status == 422
    assert api.call("GET", "/monitoring", query={"days": "91"}).status == 422


def test_a_counter_that_cannot_be_written_loses_no_comment_and_says_so(
    api: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The counters come after the comment's own write: when they fail the comment is still stored and
    answered, and the failure is logged as an error (not throttling) and counted."""
    import boto3  # noqa: PLC0415

    services = dependencies.services()
    monkeypatch.setitem(services.monitoring.__dict__, "_table", boto3.resource("dynamodb").Table("no-such-table"))
    counted: list[str] = []
    monkeypatch.setattr(monitoring_dal, "count", lambda name, **_: counted.append(name))

    answer = api.call("POST", "/comments", {"comment": "Lovely staff"})

    assert answer.status == 201
    assert api.call("GET", f"/comments/{answer.body['comment_id']}").status == 200
    failures = [record for record in caplog.records if record.getMessage() == "a monitoring counter was not updated"]
    assert failures and {record.levelname for record in failures} == {"ERROR"}
    assert counted and set(counted) == {"MonitoringNotCounted"}
