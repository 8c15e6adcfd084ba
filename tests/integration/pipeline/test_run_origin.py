"""What started a run shows in its logs: the steps log the API request id the execution's input names,
and the feedback trigger logs the S3 notification (key and sequencer) that started a run."""

from __future__ import annotations

import pytest

from tests.fakes.pipeline import S3_EVENT, THRESHOLD
from tests.integration.pipeline.conftest import MotoPipeline
from tests.integration.pipeline.test_handlers import Context, handler
from tests.integration.structured_logs import logged, logs_to_capsys

SEQUENCER = S3_EVENT["Records"][0]["s3"]["object"]["sequencer"]


def _prepare(pipeline: MotoPipeline, monkeypatch: pytest.MonkeyPatch, request: dict[str, str]) -> None:
    for split in ("base", "golden"):
        pipeline.put(f"data/{split}/tweets.csv", b"text,label\nlovely,positive\nawful,negative\n", "text/csv")
    prepare = handler(pipeline.template, monkeypatch, "PrepareDatasetFunction")
    # What the state machine's Parameters give the step: the run id and the execution's input.
    prepare({"run_id": "run-000001", "execution_arn": "arn:x", "request": request}, Context("PrepareDatasetFunction"))


def test_a_step_logs_the_api_request_that_started_its_run_beside_the_run_id(
    pipeline: MotoPipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with logs_to_capsys():
        _prepare(pipeline, monkeypatch, {"trigger": "manual", "started_by_request": "JKJaXmPLvHcESHA="})

    (line,) = logged(capsys.readouterr().out, "dataset prepared")
    assert line["correlation_id"] == "run-000001"
    assert line["started_by_request"] == "JKJaXmPLvHcESHA="


def test_a_run_no_request_started_logs_no_request_and_the_next_invocation_forgets_the_last_one(
    pipeline: MotoPipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with logs_to_capsys():
        _prepare(pipeline, monkeypatch, {"trigger": "manual", "started_by_request": "JKJaXmPLvHcESHA="})
        capsys.readouterr()
        _prepare(pipeline, monkeypatch, {"trigger": "feedback"})

    (line,) = logged(capsys.readouterr().out, "dataset prepared")
    assert line["correlation_id"] == "run-000001"
    assert "started_by_request" not in line


def test_the_trigger_logs_the_notification_that_started_a_run(
    pipeline: MotoPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    *first, tenth = [pipeline.feedback("positive")[0] for _ in range(THRESHOLD)]
    pipeline.notify(*first)

    with logs_to_capsys():
        report = pipeline.notify(tenth)

    (line,) = logged(capsys.readouterr().out, "feedback counted")
    assert report.started_run == line["started_run"] == "run-000001"
    assert line["objects"] == [{"key": tenth, "sequencer": SEQUENCER}]
    assert "started_by_request" not in pipeline.execution_input("run-000001")  # no API request started it
