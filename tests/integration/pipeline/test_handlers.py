"""Each step's Lambda entry point, as Lambda calls it: the environment the template gives that
function, the event the state machine (or S3) sends, the answer the next state reads."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

from sentiment_common import dependencies
from sentiment_template.reader import Template
from tests.conftest import ROOT
from tests.fakes.pipeline import model_archive, sha256
from tests.integration.pipeline.conftest import MotoPipeline

STATE_MACHINE = json.loads((ROOT / "statemachine" / "retrain.asl.json").read_text())


@dataclass
class Context:
    function_name: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:step"
    aws_request_id: str = "request"


def handler(template: Template, monkeypatch: pytest.MonkeyPatch, logical_id: str) -> Any:
    """The function's handler, with that function's environment (read on its first call)."""
    for name, value in template.function_environment(logical_id, "").items():
        monkeypatch.setenv(name, value)
    dependencies.reset()
    module_name, attribute = template.resources[logical_id]["Properties"]["Handler"].rsplit(".", 1)
    module: ModuleType = importlib.import_module(module_name)
    return getattr(module, attribute)


def _base_data(pipeline: MotoPipeline) -> None:
    for split in ("base", "golden"):
        pipeline.put(f"data/{split}/tweets.csv", b"text,label\nlovely,positive\nawful,negative\n", "text/csv")


def test_the_trigger_counts_an_s3_notification_and_answers_what_it_did(
    pipeline: MotoPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the template's PublicLabels (suggest) only the reviewer's label counts.
    reviewed, _ = pipeline.feedback("negative", reviewer="ana")
    public, _ = pipeline.feedback("negative")
    answer = handler(pipeline.template, monkeypatch, "FeedbackTriggerFunction")(
        pipeline.event(reviewed, public), Context("FeedbackTriggerFunction")
    )
    assert (answer["counted"], answer["not_training"]) == (1, 1)
    assert answer["started_run"] is None
    assert pipeline.state_store.state().pending_feedback == 1


def test_the_steps_hand_each_other_what_the_state_machine_passes_on(
    pipeline: MotoPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = pipeline.template
    _base_data(pipeline)
    pipeline.feedback("positive", comment_id="c1", reviewer="ana")
    pipeline.feedback("negative", comment_id="c2")  # public: under the template's default it does not train

    prepared = handler(template, monkeypatch, "PrepareDatasetFunction")(
        {"run_id": "run-000001", "execution_arn": "arn:x", "request": {"trigger": "manual"}},
        Context("PrepareDatasetFunction"),
    )
    # What TrainCandidate's Parameters read from $.dataset.
    train = STATE_MACHINE["States"]["TrainCandidate"]["Parameters"]
    for reference in (train["TrainingJobName.$"], train["OutputDataConfig"]["S3OutputPath.$"]):
        assert reference.removeprefix("$.dataset.") in prepared
    assert prepared["feedback_rows"] == 1

    version = prepared["candidate_version"]
    job = prepared["training_job_name"]
    archive = model_archive(
        {
            "version": version,
            "metrics": {"reviews_accuracy": 0.8, "tweets_macro_f1": 0.76},
            "champion_metrics": None,
            "dataset": {},
            "created_at": "2026-11-22T10:00:00+00:00",
        }
    )
    artifact = pipeline.put(f"training-jobs/{job}/output/model.tar.gz", archive, "application/gzip")
    evaluation = handler(template, monkeypatch, "EvaluateCandidateFunction")(
        {
            "run_id": "run-000001",
            "candidate_version": version,
            "model_data_url": pipeline.store.uri(artifact),
            "training_job_name": job,
        },
        Context("EvaluateCandidateFunction"),
    )
    assert evaluation["promote"] is True
    assert evaluation["sha256"] == sha256(archive)

    recorded = handler(template, monkeypatch, "RecordRunFunction")(
        {
            "run_id": "run-000001",
            "outcome": {
                "status": "SUCCEEDED",
                "decision": "promoted",
                "version": version,
                "metrics": evaluation["metrics"],
                "reasons": evaluation["reasons"],
            },
        },
        Context("RecordRunFunction"),
    )
    assert recorded == {"run_id": "run-000001", "status": "SUCCEEDED", "decision": "promoted"}
    assert pipeline.models.champion() is not None
    assert pipeline.models.champion().version == version  # type: ignore[union-attr]


def test_a_step_that_cannot_work_fails_by_name_for_the_state_machines_catch(
    pipeline: MotoPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepare = handler(pipeline.template, monkeypatch, "PrepareDatasetFunction")
    with pytest.raises(Exception) as failure:
        prepare({"run_id": "run-000001"}, Context("PrepareDatasetFunction"))
    assert type(failure.value).__name__ == "NoBaseDataError"
    with pytest.raises(Exception) as invalid:
        prepare({"no": "run id"}, Context("PrepareDatasetFunction"))
    assert type(invalid.value).__name__ == "ValidationError"
