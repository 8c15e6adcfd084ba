"""EventBridge schedules in the local stack: rate expressions as EventBridge reads them, the event it
sends, and a function invoked once per period."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sentiment_local.runtime.event_sources import Schedule, rate_seconds, scheduled_event
from sentiment_template.reader import Template
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600), ("rate(2 days)", 172800)],
)
def test_rate_expressions(expression: str, seconds: int) -> None:
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize("expression", ["rate(1 hours)", "rate(5 minute)", "rate(0 minutes)", "cron(0 * * * ? *)"])
def test_what_eventbridge_refuses_or_the_stack_cannot_run_is_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        rate_seconds(expression)


def test_the_templates_schedules_are_rates_the_local_stack_runs() -> None:
    template = Template.read(ROOT / "template.yaml", prefix="t")
    schedules = {
        function: template.resolve(properties)["Schedule"] for function, _, properties in template.events("Schedule")
    }
    assert {function: rate_seconds(str(rate)) for function, rate in schedules.items()} == {
        "MonitorFunction": 3600,
        "CompactFeedbackFunction": 900,
    }


def test_the_event_is_eventbridges_scheduled_event() -> None:
    event = scheduled_event("arn:aws:events:us-east-1:123456789012:rule/r")
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/r"]
    assert event["time"].endswith("Z")


class Recorder:
    def __init__(self, wanted: int) -> None:
        self.events: list[tuple[str, Any]] = []
        self.done = threading.Event()
        self.wanted = wanted

    def invoke_async(self, function: str, event: Any) -> None:
        self.events.append((function, event))
        if len(self.events) >= self.wanted:
            self.done.set()


def test_a_schedule_invokes_its_function_once_per_period_until_stopped() -> None:
    recorder = Recorder(wanted=3)
    schedule = Schedule(recorder, "MonitorFunction", rule_arn="arn:r", seconds=0.05)  # type: ignore[arg-type]
    schedule.start()
    assert recorder.done.wait(5)
    schedule.stop()
    schedule.join(1)
    assert not schedule.is_alive()
    assert {function for function, _ in recorder.events} == {"MonitorFunction"}
    assert len({event["id"] for _, event in recorder.events}) == len(recorder.events)
