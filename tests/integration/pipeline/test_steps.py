"""The state machine's steps on moto: prepare a run's dataset, evaluate a candidate, deploy it to the ECS
service (its champion pointer, watched through the real HTTP client) and record the outcome."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline_function.errors import CandidateArtifactError, DeploymentFailedError, NoBaseDataError
from pipeline_function.logic import deploy
from pipeline_function.logic.evaluate import TouchLimits, evaluate
from pipeline_function.logic.prepare import prepare
from pipeline_function.logic.record import record
from pipeline_function.settings import DeploySettings
from pipeline_function.steps import DeployInput, Deployment, EvaluateInput, Outcome, PrepareInput, RecordInput
from sentiment_common.inference import HttpModel
from sentiment_common.records import FeedbackRecord, PublicLabels
from sentiment_common.registry import (
    Decision,
    ModelRecord,
    ModelStatus,
    RunRequest,
    RunStatus,
    TrainingRun,
    Trigger,
)
from tests.fakes.pipeline import FakeWithdrawnReviewers
from tests.integration.json_service import JsonService
from tests.integration.pipeline.conftest import Pipeline, model_archive, sha256

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
BASE_CSV = b"text,label\nlovely,positive\nawful,negative\n"
GOLDEN_CSV = b"text,label\nfine,neutral\n"
GOOD = {"reviews_accuracy": 0.90, "tweets_macro_f1": 0.82, "feedback_holdout_accuracy": 0.80}
CHAMPION_METRICS = {"reviews_accuracy": 0.86, "tweets_macro_f1": 0.80, "feedback_holdout_accuracy": 0.70}


def _upload_training_data(pipeline: Pipeline) -> None:
    pipeline.put("data/base/reviews.csv", BASE_CSV, "text/csv")
    pipeline.put("data/golden/golden.csv", GOLDEN_CSV, "text/csv")


def _register_champion(pipeline: Pipeline, version: str = "v1") -> bytes:
    archive = model_archive({"version": version, "metrics": CHAMPION_METRICS})
    key = f"models/{version}/model.tar.gz"
    pipeline.put(key, archive, "application/gzip")
    created = {"metrics": CHAMPION_METRICS, "created_at": (NOW - timedelta(days=3)).isoformat()}
    assert pipeline.models.ensure_champion(version, pipeline.store.uri(key), sha256(archive), created)
    return archive


def _prepare(pipeline: Pipeline, run_id: str = "run-000001") -> Any:
    request = PrepareInput(
        run_id=run_id,
        execution_arn=pipeline.workflow.execution_arn(run_id),
        request=RunRequest(trigger=Trigger.MANUAL, feedback_count=0),
    )
    return prepare(
        request,
        pipeline.runs,
        pipeline.models,
        pipeline.store,
        now=NOW,
        public_labels=PublicLabels.TRAIN,
        withdrawals=FakeWithdrawnReviewers(),
    )


# ---- PrepareDataset ----


def test_prepare_keeps_the_latest_label_per_comment_and_writes_a_matching_manifest(pipeline: Pipeline) -> None:
    _upload_training_data(pipeline)
    # The later label has the key that sorts first: the time decides, not the key.
    pipeline.feedback("positive", comment_id="c1", text="It was ok", created_at=NOW, feedback_id="aaaa")
    pipeline.feedback(
        "negative", comment_id="c1", text="It was ok", created_at=NOW - timedelta(hours=1), feedback_id="zzzz"
    )
    pipeline.feedback("neutral", text="Meh.", created_at=NOW - timedelta(minutes=30))
    pipeline.put("feedback/dt=2026-11-22/broken.json", b"{ broken")

    dataset = _prepare(pipeline)

    jsonl = pipeline.store.read("training-runs/run-000001/feedback/feedback.jsonl")
    rows = [FeedbackRecord.model_validate_json(line) for line in jsonl.splitlines()]
    assert [(row.comment_id, row.label) for row in rows] == [(None, "neutral"), ("c1", "positive")]
    manifest_bytes = pipeline.store.read("training-runs/run-000001/manifest.json")
    manifest = json.loads(manifest_bytes)
    assert manifest["feedback"] == {
        "objects": 4,
        "malformed": 1,
        "malformed_keys": ["feedback/dt=2026-11-22/broken.json"],
        "superseded": 1,
        "public_labels": "train",
        "sources": {"public": 2, "reviewer": 0},
        "dropped": {"withdrawn": 0, "public_labels_policy": 0, "outranked": 0, "superseded": 1},
        "rows": 2,
        "labels": {"negative": 0, "neutral": 1, "positive": 1},
        "sha256": sha256(jsonl),
    }
    assert manifest["base"] == {"base/reviews.csv": {"bytes": len(BASE_CSV), "sha256": sha256(BASE_CSV)}}
    assert manifest["golden"] == {"golden/golden.csv": {"bytes": len(GOLDEN_CSV), "sha256": sha256(GOLDEN_CSV)}}
    assert dataset.manifest_sha256 == sha256(manifest_bytes)
    assert dataset.manifest_uri == pipeline.store.uri("training-runs/run-000001/manifest.json")
    assert dataset.feedback_rows == 2
    assert dataset.candidate_version == "20261122-120000-run-000001"
    assert dataset.training_job_name == "sentiment-20261122-120000-run-000001"


def test_prepare_hands_the_champion_to_training(pipeline: Pipeline) -> None:
    _upload_training_data(pipeline)
    archive = _register_champion(pipeline)

    dataset = _prepare(pipeline)

    assert pipeline.store.read("training-runs/run-000001/champion/model.tar.gz") == archive
    assert dataset.champion_sha256 == sha256(archive)
    assert dataset.champion_version == "v1"
    assert dataset.champion_uri == pipeline.store.uri("training-runs/run-000001/champion/")
    manifest = json.loads(pipeline.store.read("training-runs/run-000001/manifest.json"))
    assert manifest["champion"] == {"version": "v1", "sha256": sha256(archive)}


def test_without_a_champion_prepare_leaves_a_note_and_no_hash(pipeline: Pipeline) -> None:
    _upload_training_data(pipeline)

    dataset = _prepare(pipeline)

    assert dataset.champion_sha256 == ""
    assert dataset.champion_version is None
    assert list(pipeline.store.keys("training-runs/run-000001/champion/")) == [
        "training-runs/run-000001/champion/NONE.txt"
    ]
    assert json.loads(pipeline.store.read("training-runs/run-000001/manifest.json"))["champion"] is None


@pytest.mark.parametrize("present", [None, "data/base/reviews.csv", "data/golden/golden.csv"])
def test_prepare_without_base_or_golden_data_fails_by_name(pipeline: Pipeline, present: str | None) -> None:
    if present:
        pipeline.put(present, BASE_CSV, "text/csv")
    pipeline.feedback("positive")

    with pytest.raises(NoBaseDataError, match="make upload-data"):
        _prepare(pipeline)
    assert list(pipeline.store.keys("training-runs/")) == []


def test_prepare_records_a_run_started_outside_the_api(pipeline: Pipeline) -> None:
    _upload_training_data(pipeline)
    pipeline.feedback("negative")

    dataset = _prepare(pipeline, "console-started")

    run = pipeline.runs.get_run("console-started")
    assert (run.status, run.trigger) == (RunStatus.RUNNING, Trigger.MANUAL)
    assert run.execution_arn == pipeline.workflow.execution_arn("console-started")
    assert run.candidate_version == dataset.candidate_version
    assert [step.step for step in run.steps] == ["prepare"]
    assert run.steps[0].detail["feedback_rows"] == 1


def test_prepare_keeps_what_the_trigger_recorded_about_its_run(pipeline: Pipeline) -> None:
    _upload_training_data(pipeline)
    state = pipeline.state_store.state()
    claimed = pipeline.state_store.claim_run(state, RunRequest(trigger=Trigger.FEEDBACK, feedback_count=10))
    assert claimed is not None

    dataset = _prepare(pipeline, claimed.run_id)

    run = pipeline.runs.get_run(claimed.run_id)
    assert (run.trigger, run.feedback_count, run.started_at) == (Trigger.FEEDBACK, 10, claimed.started_at)
    assert run.candidate_version == dataset.candidate_version
    assert [step.step for step in run.steps] == ["prepare"]


# ---- EvaluateCandidate ----

VERSION = "20261122-120000-run-000001"
JOB = f"sentiment-{VERSION}"


def _candidate(pipeline: Pipeline, metrics: dict[str, float], version: str = VERSION) -> tuple[EvaluateInput, bytes]:
    pipeline.runs.create_run(
        TrainingRun(run_id="run-000001", status=RunStatus.RUNNING, trigger=Trigger.FEEDBACK, started_at=NOW)
    )
    archive = model_archive(
        {
            "version": version,
            "metrics": metrics,
            "champion_metrics": {**CHAMPION_METRICS, "version": "v1"},
            "dataset": {"feedback_rows": 12, "manifest_sha256": "cd" * 32},
            "created_at": NOW.isoformat(),
        }
    )
    key = pipeline.put(f"training-jobs/{JOB}/output/model.tar.gz", archive, "application/gzip")
    request = EvaluateInput(
        run_id="run-000001", candidate_version=VERSION, model_data_url=pipeline.store.uri(key), training_job_name=JOB
    )
    return request, archive


def test_a_better_candidate_is_registered_and_promoted(pipeline: Pipeline) -> None:
    request, archive = _candidate(pipeline, GOOD)

    evaluation = evaluate(
        request,
        pipeline.models,
        pipeline.runs,
        pipeline.store,
        tolerance=0.01,
        floor=0.70,
        touch=TouchLimits(0.05, 0.5),
    )

    assert evaluation.promote is True
    assert evaluation.sha256 == sha256(archive)
    assert evaluation.model_data_url == pipeline.store.uri(f"models/{VERSION}/model.tar.gz")
    assert pipeline.store.read(f"models/{VERSION}/model.tar.gz") == archive
    assert json.loads(pipeline.store.read(f"models/{VERSION}/metadata.json"))["version"] == VERSION
    model = pipeline.models.get_model(VERSION)
    assert model.status is ModelStatus.CANDIDATE
    assert model.sha256 == sha256(archive)
    assert model.metrics == GOOD
    assert model.champion_metrics == CHAMPION_METRICS
    assert model.training_run == "run-000001"
    assert model.dataset == {"feedback_rows": 12, "manifest_sha256": "cd" * 32}
    assert model.created_at == NOW
    assert [step.step for step in pipeline.runs.get_run("run-000001").steps] == ["evaluate"]


def test_a_much_worse_candidate_is_registered_as_rejected_with_reasons(pipeline: Pipeline) -> None:
    request, _ = _candidate(pipeline, {**GOOD, "tweets_macro_f1": 0.60})

    evaluation = evaluate(
        request,
        pipeline.models,
        pipeline.runs,
        pipeline.store,
        tolerance=0.01,
        floor=0.70,
        touch=TouchLimits(0.05, 0.5),
    )

    assert evaluation.promote is False
    assert "tweets_macro_f1 0.6000 is below the floor 0.70" in evaluation.reasons
    assert "tweets_macro_f1 0.6000 is 0.2000 below the champion's 0.8000 (tolerance 0.01)" in evaluation.reasons
    model = pipeline.models.get_model(VERSION)
    assert model.status is ModelStatus.REJECTED
    assert model.reasons == evaluation.reasons
    step = pipeline.runs.get_run("run-000001").steps[-1]
    assert step.detail == {"promote": False, "decision": "rejected", "reasons": evaluation.reasons}


def test_a_candidate_that_flips_answers_near_its_new_labels_is_registered_as_held(pipeline: Pipeline) -> None:
    # Given a candidate as good as the champion on the golden split that answers 12 of the 40 nearest
    # labelled texts the champion got right otherwise
    touching = {"neighbour_flips": 12, "neighbours_champion_agreed": 40, "neighbour_flip_share": 0.3}
    request, _ = _candidate(pipeline, {**GOOD, **touching})

    # When it is evaluated
    evaluation = evaluate(
        request,
        pipeline.models,
        pipeline.runs,
        pipeline.store,
        tolerance=0.01,
        floor=0.70,
        touch=TouchLimits(0.05, 0.5),
    )

    # Then it is neither promoted nor rejected: held, and the registry and the run say why
    assert (evaluation.promote, evaluation.held) == (False, True)
    assert evaluation.reasons[-2:] == [
        "12 of 40 nearest labelled texts the champion answered as people did are now answered otherwise, "
        "above the limit 5%",
        f"held for review; promote it by hand with POST /models/{VERSION}/promote if the labels are right",
    ]
    model = pipeline.models.get_model(VERSION)
    assert model.status is ModelStatus.HELD
    assert model.reasons == evaluation.reasons
    assert pipeline.runs.get_run("run-000001").steps[-1].detail["decision"] == "held"


def test_a_candidate_is_compared_with_the_best_champion_so_far_not_only_the_current_one(pipeline: Pipeline) -> None:
    # Given a first champion better than today's (each promotion lost a little)
    first = model_archive({"version": "first", "metrics": {**CHAMPION_METRICS, "reviews_accuracy": 0.90}})
    key = pipeline.put("models/first/model.tar.gz", first, "application/gzip")
    pipeline.models.ensure_champion(
        "first", pipeline.store.uri(key), sha256(first), {"metrics": {**CHAMPION_METRICS, "reviews_accuracy": 0.90}}
    )
    # and a candidate within the tolerance of today's champion (0.86) but 0.045 below the first
    request, _ = _candidate(pipeline, {**GOOD, "reviews_accuracy": 0.855})

    evaluation = evaluate(
        request,
        pipeline.models,
        pipeline.runs,
        pipeline.store,
        tolerance=0.01,
        floor=0.70,
        touch=TouchLimits(0.05, 0.5),
    )

    assert evaluation.promote is False
    assert any("below 0.9000, the best a champion has had" in reason for reason in evaluation.reasons)
    assert pipeline.models.get_model(VERSION).status is ModelStatus.REJECTED


def test_an_archive_of_another_version_is_refused_and_nothing_is_registered(pipeline: Pipeline) -> None:
    request, _ = _candidate(pipeline, GOOD, version="some-other-version")

    with pytest.raises(CandidateArtifactError, match="some-other-version"):
        evaluate(
            request,
            pipeline.models,
            pipeline.runs,
            pipeline.store,
            tolerance=0.01,
            floor=0.70,
            touch=TouchLimits(0.05, 0.5),
        )
    assert pipeline.models.list_models() == []
    assert list(pipeline.store.keys("models/")) == []


# ---- DeployModel, CheckDeployment, RecordRun on the ECS backend ----


class FakeModelService(JsonService):
    """The model service's ``/ping``, answering with whichever version it currently serves."""

    def __init__(self, version: str) -> None:
        self.version = version
        super().__init__(self._answer)

    def _answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        del method, headers
        return (200 if path == "/ping" else 404), {"status": "ok", "model_version": self.version}


@pytest.fixture
def service() -> Iterator[FakeModelService]:
    server = FakeModelService("v1")
    yield server
    server.close()


@pytest.fixture
def ecs(pipeline: Pipeline, service: FakeModelService, monkeypatch: pytest.MonkeyPatch) -> DeploySettings:
    """DeployModel's settings: the template's environment for it, on the ECS backend."""
    environment = pipeline.template.function_environment("DeployModelFunction", "") | {
        "INFERENCE_BACKEND": "ecs",
        "MODEL_URL": service.url,
        "DEPLOY_POLL_SECONDS": "20",
        "DEPLOY_TIMEOUT_SECONDS": "60",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return DeploySettings.from_environment()


def _deploy_v2(pipeline: Pipeline, run_id: str, ecs: DeploySettings) -> Deployment:
    return deploy.start(
        DeployInput(run_id=run_id, version="v2"),
        pipeline.models,
        pipeline.runs,
        pipeline.store,
        endpoint=None,
        settings=ecs,
    )


def _candidate_v2(pipeline: Pipeline) -> str:
    """Champion v1, candidate v2 evaluated by run-000001, which holds the run slot."""
    _register_champion(pipeline, "v1")
    archive = model_archive({"version": "v2", "metrics": GOOD})
    key = pipeline.put("models/v2/model.tar.gz", archive, "application/gzip")
    pipeline.models.put_model(
        ModelRecord(
            version="v2",
            status=ModelStatus.CANDIDATE,
            metrics=GOOD,
            champion_metrics=CHAMPION_METRICS,
            reasons=["reviews_accuracy 0.9000 against the champion's 0.8600"],
            dataset={},
            created_at=NOW,
            training_run="run-000001",
            model_data_url=pipeline.store.uri(key),
            sha256=sha256(archive),
        )
    )
    run = pipeline.state_store.claim_run(
        pipeline.state_store.state(), RunRequest(trigger=Trigger.FEEDBACK, feedback_count=10)
    )
    assert run is not None
    return run.run_id


def test_deploying_points_the_service_at_the_version(pipeline: Pipeline, ecs: DeploySettings) -> None:
    run_id = _candidate_v2(pipeline)

    deployment = _deploy_v2(pipeline, run_id, ecs)

    pointer = pipeline.store.pointer()
    assert pointer is not None
    model = pipeline.models.get_model("v2")
    assert (pointer["version"], pointer["model_data_url"], pointer["sha256"]) == (
        "v2",
        model.model_data_url,
        model.sha256,
    )
    assert (deployment.version, deployment.backend, deployment.max_checks, deployment.ready) == ("v2", "ecs", 3, False)
    assert deployment.reasons == model.reasons
    assert pipeline.runs.get_run(run_id).steps[-1].detail == {"version": "v2", "backend": "ecs"}
    champion = pipeline.models.champion()
    assert champion is not None
    assert champion.version == "v1"  # until the new model answers and the run is recorded


def test_the_deployment_is_ready_once_the_service_answers_with_the_new_version(
    pipeline: Pipeline, ecs: DeploySettings, service: FakeModelService
) -> None:
    run_id = _candidate_v2(pipeline)
    deployment = _deploy_v2(pipeline, run_id, ecs)
    client = HttpModel(ecs)

    still_old = deploy.check(deployment, None, client)
    service.version = "v2"
    ready = deploy.check(still_old, None, client)

    assert (still_old.ready, still_old.checks) == (False, 1)
    assert (ready.ready, ready.checks) == (True, 2)


def test_a_service_that_never_serves_the_new_version_fails_the_deployment(
    pipeline: Pipeline, ecs: DeploySettings
) -> None:
    run_id = _candidate_v2(pipeline)
    deployment = _deploy_v2(pipeline, run_id, ecs)
    client = HttpModel(ecs)

    for _ in range(deployment.max_checks - 1):
        deployment = deploy.check(deployment, None, client)
        assert deployment.ready is False
    with pytest.raises(DeploymentFailedError, match="still answers with v1 after 3 checks, not v2"):
        deploy.check(deployment, None, client)


def test_a_service_that_does_not_answer_is_not_ready_and_the_failure_says_why(
    pipeline: Pipeline, ecs: DeploySettings, service: FakeModelService
) -> None:
    run_id = _candidate_v2(pipeline)
    deployment = _deploy_v2(pipeline, run_id, ecs)
    client = HttpModel(ecs)
    service.close()

    deployment = deploy.check(deploy.check(deployment, None, client), None, client)
    assert (deployment.ready, deployment.checks) == (False, 2)
    with pytest.raises(DeploymentFailedError, match=r"still answers with the model endpoint is unreachable") as failure:
        deploy.check(deployment, None, client)
    assert "not v2" in str(failure.value)


def test_a_promoted_run_makes_the_version_champion_and_frees_the_slot(pipeline: Pipeline, ecs: DeploySettings) -> None:
    run_id = _candidate_v2(pipeline)
    _deploy_v2(pipeline, run_id, ecs)
    outcome = Outcome(status="SUCCEEDED", decision="promoted", version="v2", metrics=GOOD, reasons=["better"])

    answer = record(RecordInput(run_id=run_id, outcome=outcome), pipeline.models, pipeline.runs, pipeline.store)

    assert answer == {"run_id": run_id, "status": "SUCCEEDED", "decision": "promoted"}
    champion = pipeline.models.champion()
    assert champion is not None
    assert (champion.version, champion.previous_version) == ("v2", "v1")
    assert pipeline.models.get_model("v2").status is ModelStatus.CHAMPION
    assert pipeline.models.get_model("v1").status is ModelStatus.RETIRED
    run = pipeline.runs.get_run(run_id)
    assert (run.status, run.decision, run.candidate_version) == (RunStatus.SUCCEEDED, Decision.PROMOTED, "v2")
    assert (run.metrics, run.reasons) == (GOOD, ["better"])
    assert pipeline.state_store.state().active_run is None
    pointer = pipeline.store.pointer()
    assert pointer is not None
    assert pointer["version"] == "v2"


def test_a_failed_run_is_recorded_readably_and_the_service_goes_back_to_the_champion(
    pipeline: Pipeline, ecs: DeploySettings
) -> None:
    run_id = _candidate_v2(pipeline)
    _deploy_v2(pipeline, run_id, ecs)
    cause = {"errorMessage": "the service still answers with v1", "errorType": "DeploymentFailedError"}
    outcome = Outcome(status="FAILED", error={"Error": "DeploymentFailedError", "Cause": json.dumps(cause)})

    answer = record(RecordInput(run_id=run_id, outcome=outcome), pipeline.models, pipeline.runs, pipeline.store)

    assert answer == {"run_id": run_id, "status": "FAILED", "decision": None}
    run = pipeline.runs.get_run(run_id)
    assert run.status is RunStatus.FAILED
    assert run.error == "DeploymentFailedError: the service still answers with v1"
    assert run.decision is None
    champion = pipeline.models.champion()
    assert champion is not None
    assert champion.version == "v1"
    assert pipeline.models.get_model("v2").status is ModelStatus.CANDIDATE
    pointer = pipeline.store.pointer()
    assert pointer is not None
    assert (pointer["version"], pointer["sha256"]) == ("v1", champion.sha256)
    assert pipeline.state_store.state().active_run is None


@pytest.mark.parametrize("decision", [Decision.REJECTED, Decision.HELD])
def test_a_rejected_or_held_run_is_recorded_and_the_champion_stays(pipeline: Pipeline, decision: Decision) -> None:
    run_id = _candidate_v2(pipeline)
    outcome = Outcome(status="SUCCEEDED", decision=decision.value, version="v2", metrics=GOOD, reasons=["worse"])

    record(RecordInput(run_id=run_id, outcome=outcome), pipeline.models, pipeline.runs, pipeline.store)

    run = pipeline.runs.get_run(run_id)
    assert (run.status, run.decision, run.reasons) == (RunStatus.SUCCEEDED, decision, ["worse"])
    champion = pipeline.models.champion()
    assert champion is not None
    assert champion.version == "v1"
    assert pipeline.store.pointer() is None
    assert pipeline.state_store.state().active_run is None


def test_recording_the_same_outcome_twice_changes_nothing_the_second_time(pipeline: Pipeline) -> None:
    run_id = _candidate_v2(pipeline)
    outcome = Outcome(status="SUCCEEDED", decision="promoted", version="v2", metrics=GOOD, reasons=["better"])
    record(RecordInput(run_id=run_id, outcome=outcome), pipeline.models, pipeline.runs, pipeline.store)
    first = pipeline.runs.get_run(run_id)

    record(RecordInput(run_id=run_id, outcome=outcome), pipeline.models, pipeline.runs, pipeline.store)

    assert pipeline.runs.get_run(run_id) == first
    champion = pipeline.models.champion()
    assert champion is not None
    assert (champion.version, champion.previous_version) == ("v2", "v1")


def test_a_failed_run_that_no_step_recorded_still_leaves_the_runs_readable(pipeline: Pipeline) -> None:
    # A rollback started from the console (input {"action": "promote", ...}) has no run record: no
    # PrepareDataset step creates one, DeployModel fails to find it, and RecordRun records the failure.
    _register_champion(pipeline, "v1")
    cause = {"errorMessage": "no training run 'console-rollback'", "errorType": "NotFoundError"}
    outcome = Outcome(status="FAILED", error={"Error": "NotFoundError", "Cause": json.dumps(cause)})

    record(RecordInput(run_id="console-rollback", outcome=outcome), pipeline.models, pipeline.runs, pipeline.store)

    runs, _ = pipeline.runs.list_runs(10, None)  # what GET /training shows
    assert [(run.run_id, run.status, run.error) for run in runs] in (
        [],
        [("console-rollback", RunStatus.FAILED, "NotFoundError: no training run 'console-rollback'")],
    )
