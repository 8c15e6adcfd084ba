"""The template watches the model call's own latency, on either backend, and shows it on the dashboard."""

from __future__ import annotations

from typing import Any

from sentiment_common.settings import InferenceSettings
from tests.unit.test_template_hardening import (
    DOCUMENT,
    RESOURCES,
    alarm_topics,
    emitted_metrics,
    powertools_namespace,
    referenced,
    rendered_dashboards,
    watched_metrics,
)

ALARM = "ModelCallLatencyAlarm"


def _api_service() -> str:
    return str(RESOURCES["ApiFunction"]["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"])


def _widgets_showing(namespace: str, metric: str, dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        widget
        for widget in dashboard["widgets"]
        if any(row[:2] == [namespace, metric] for row in widget["properties"].get("metrics", []))
    ]


def test_the_model_call_latency_alarm_watches_the_apis_own_metric() -> None:
    (watched,) = watched_metrics(RESOURCES[ALARM])

    assert watched == (powertools_namespace(), "ModelLatency", {"service": _api_service()})
    assert "ModelLatency" in emitted_metrics()


def test_it_is_there_whichever_backend_serves_once_there_is_a_model() -> None:
    condition = RESOURCES[ALARM]["Condition"]

    assert condition == RESOURCES["ModelUnavailableAlarm"]["Condition"]
    assert "InferenceBackend" not in str(DOCUMENT["Conditions"][condition])


def test_it_alarms_on_p90_before_calls_run_into_the_clients_timeout() -> None:
    alarm = RESOURCES[ALARM]["Properties"]
    read_timeout_ms = InferenceSettings.model_fields["model_read_timeout"].default * 1000

    assert alarm["ExtendedStatistic"] == "p90"
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert 100 <= alarm["Threshold"] < read_timeout_ms  # milliseconds, the metric's unit
    assert alarm["TreatMissingData"] == "notBreaching"  # no model calls is no latency problem
    assert alarm["DatapointsToAlarm"] <= alarm["EvaluationPeriods"]


def test_it_notifies_the_alarm_topic_when_it_fires_and_when_it_clears() -> None:
    alarm = RESOURCES[ALARM]["Properties"]

    assert {referenced(action) for action in alarm["AlarmActions"]} <= alarm_topics()
    assert {referenced(action) for action in alarm["OKActions"]} <= alarm_topics()


def test_every_dashboard_shows_the_model_call_latency_at_the_alarms_percentile() -> None:
    for dashboard in rendered_dashboards():  # SageMaker, ECS, no model yet
        (widget,) = _widgets_showing(powertools_namespace(), "ModelLatency", dashboard)
        rows = widget["properties"]["metrics"]
        assert [
            powertools_namespace(),
            "ModelLatency",
            "service",
            _api_service(),
            {"stat": "p90", "label": "api p90"},
        ] in rows
        alarm_line = widget["properties"]["annotations"]["horizontal"][0]["value"]
        assert alarm_line == RESOURCES[ALARM]["Properties"]["Threshold"]


def test_the_ecs_model_widget_no_longer_says_there_is_no_latency_metric() -> None:
    titles = [widget["properties"].get("title", "") for body in rendered_dashboards() for widget in body["widgets"]]

    assert any(title.startswith("Model on ECS") for title in titles)
    assert not any("no latency metric" in title for title in titles)
