"""The retraining pipeline's steps and the run slot, against the in-memory fakes: no AWS, no moto.
The same steps against moto, through their handlers, are in tests/integration/pipeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline_function.errors import NoBaseDataError
from pipeline_function.logic import deploy
from pipeline_function.logic.evaluate import TouchLimits, evaluate
from pipeline_function.logic.monitor import measure
from pipeline_function.logic.prepare import prepare
from pipeline_function.logic.record import record
from pipeline_function.logic.trigger import on_feedback
from pipeline_function.settings import DeploySettings
from pipeline_function.steps import DeployInput, EvaluateInput, Outcome, PrepareInput, RecordInput
from sentiment_common.errors import ConflictError
from sentiment_common.observability import metrics
from sentiment_common.records import FeedbackRecord, Label, LabelSource, PublicLabels, new_id, utc_now
from sentiment_common.registry import Decision, ModelStatus, RunRequest, RunStatus, Trigger
from sentiment_common.runs import RunGuard, resume, start_run
from tests.fakes.pipeline import FakeDataStore, FakeWithdrawnReviewers
from tests.fakes.registry import FakeRegistry
from tests.fakes.stores import FakeMonitoringCounters, FakeRetrainWorkflow, prediction
from tests.integration.pipeline.conftest import model_archive

THRESHOLD = 3
UNGUARDED = RunGuard(min_interval=timedelta(0), max_per_day=1_000)
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
# Public labels train here: these tests are about counting and preparing, the trust rule has its own.
TRAIN = PublicLabels.TRAIN
NOBODY = FakeWithdrawnReviewers()
GOOD = {"reviews_accuracy": 0.9, "tweets_macro_f1": 0.8}


@pytest.fixture(autouse=True)
def business_metrics(monkeypatch: pytest.MonkeyPatch, clean_metrics: None) -> None:
    """The steps count business events (one with dimensions is emitted at once, and needs a namespace)."""
    monkeypatch.setattr(metrics, "namespace", "SentimentTest")


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry.empty()


@pytest.fixture
def store() -> FakeDataStore:
    return FakeDataStore()


def _feedback(
    store: FakeDataStore, label: Label = "positive", comment_id: str | None = None, reviewer: str | None = None
) -> str:
    record = FeedbackRecord(
        feedback_id=new_id(),
        comment_id=comment_id,
        text="A fine film",
        label=label,
        predicted_label="neutral",
        model_version="v1",
        created_at=NOW,
        source=LabelSource.REVIEWER if reviewer else LabelSource.PUBLIC,
        reviewer=reviewer,
    )
    key = f"feedback/dt=2026-11-22/{record.feedback_id}.json"
    store.write(key, record.model_dump_json().encode(), "application/json")
    return key


def _event(store: FakeDataStore, *keys: str) -> dict[str, Any]:
    return {"Records": [{"s3": {"bucket": {"name": store.bucket}, "object": {"key": key}}} for key in keys]}


def queued(comments: int) -> FakeMonitoringCounters:
    """Counters holding ``comments`` classified comments that wait for a label."""
    counters = FakeMonitoringCounters()
    counters.classified([prediction() for _ in range(comments)], utc_now().date())
    return counters


def _notify(registry: FakeRegistry, store: FakeDataStore, workflow: FakeRetrainWorkflow, *keys: str) -> Any:
    event = _event(store, *keys)
    return on_feedback(
        event,
        registry.pipeline,
        registry.runs,
        store,
        workflow,
        threshold=THRESHOLD,
        guard=UNGUARDED,
        public_labels=TRAIN,
    )


# ---- the trigger and the run slot ----


def test_the_threshold_of_distinct_objects_starts_one_run(registry: FakeRegistry, store: FakeDataStore) -> None:
    workflow = FakeRetrainWorkflow()
    first = _feedback(store)

    report = _notify(registry, store, workflow, first, first)
    assert (report.counted, report.duplicates, report.started_run) == (1, 1, None)

    report = _notify(registry, store, workflow, _feedback(store), _feedback(store))

    assert report.started_run == "run-000001"
    assert set(workflow.requests) == {"run-000001"}
    state = registry.pipeline.state()
    assert (state.pending_feedback, state.active_run, state.active_started) == (0, "run-000001", True)
    assert registry.runs.get_run("run-000001").feedback_count == THRESHOLD


@pytest.mark.parametrize("policy", [PublicLabels.SUGGEST, PublicLabels.IGNORE])
def test_public_labels_that_do_not_train_never_start_a_run(
    registry: FakeRegistry, store: FakeDataStore, policy: PublicLabels
) -> None:
    workflow = FakeRetrainWorkflow()
    public = [_feedback(store, "negative") for _ in range(THRESHOLD * 3)]

    report = on_feedback(
        _event(store, *public),
        registry.pipeline,
        registry.runs,
        store,
        workflow,
        threshold=THRESHOLD,
        guard=UNGUARDED,
        public_labels=policy,
    )

    assert (report.counted, report.not_training, report.started_run) == (0, THRESHOLD * 3, None)
    assert registry.pipeline.state().pending_feedback == 0
    assert workflow.requests == {}


def test_reviewers_labels_start_a_run_whatever_the_policy_on_public_ones(
    registry: FakeRegistry, store: FakeDataStore
) -> None:
    workflow = FakeRetrainWorkflow()
    keys = [_feedback(store, "negative") for _ in range(2)]
    keys += [_feedback(store, "positive", reviewer="ana") for _ in range(THRESHOLD)]

    report = on_feedback(
        _event(store, *keys),
        registry.pipeline,
        registry.runs,
        store,
        workflow,
        threshold=THRESHOLD,
        guard=UNGUARDED,
        public_labels=PublicLabels.SUGGEST,
    )

    assert (report.counted, report.not_training, report.started_run) == (THRESHOLD, 2, "run-000001")


def test_a_second_run_is_a_conflict_until_the_first_ends(registry: FakeRegistry) -> None:
    workflow = FakeRetrainWorkflow()
    run = start_run(registry.pipeline, registry.runs, workflow, RunRequest(trigger=Trigger.MANUAL))

    with pytest.raises(ConflictError, match=run.run_id):
        start_run(registry.pipeline, registry.runs, workflow, RunRequest(trigger=Trigger.MANUAL))

    workflow.finish(run.run_id, "ABORTED")
    assert resume(registry.pipeline, registry.runs, workflow) is None
    assert registry.runs.get_run(run.run_id).status is RunStatus.FAILED
    assert start_run(registry.pipeline, registry.runs, workflow, RunRequest()).run_id == "run-000002"


def test_a_due_run_too_soon_after_the_last_is_held_back(registry: FakeRegistry, store: FakeDataStore) -> None:
    workflow = FakeRetrainWorkflow()
    guard = RunGuard(min_interval=timedelta(hours=1), max_per_day=12)
    keys = [_feedback(store) for _ in range(THRESHOLD)]
    on_feedback(
        _event(store, *keys),
        registry.pipeline,
        registry.runs,
        store,
        workflow,
        threshold=1,
        guard=guard,
        public_labels=TRAIN,
    )
    workflow.finish("run-000001", "SUCCEEDED")
    registry.runs.finish_run("run-000001", RunStatus.SUCCEEDED, decision=Decision.REJECTED)

    report = on_feedback(
        _event(store, _feedback(store)),
        registry.pipeline,
        registry.runs,
        store,
        workflow,
        threshold=1,
        guard=guard,
        public_labels=TRAIN,
    )

    assert report.started_run is None
    held = registry.pipeline.state().held_back
    assert held is not None
    assert "60 minutes apart" in held.reason


# ---- the steps ----


def _base_data(store: FakeDataStore) -> None:
    for split in ("base", "golden"):
        store.write(f"data/{split}/tweets.csv", b"text,label\nlovely,positive\n", "text/csv")


def test_prepare_records_a_run_started_elsewhere_and_its_dataset(registry: FakeRegistry, store: FakeDataStore) -> None:
    _base_data(store)
    _feedback(store, "negative", comment_id="c1")
    _feedback(store, "positive", comment_id="c1")

    dataset = prepare(
        PrepareInput(run_id="console-1"),
        registry.runs,
        registry.models,
        store,
        now=NOW,
        public_labels=TRAIN,
        withdrawals=NOBODY,
    )

    assert dataset.feedback_rows == 1
    assert dataset.champion_version is None
    assert "training-runs/console-1/champion/NONE.txt" in store.objects
    run = registry.runs.get_run("console-1")
    assert run.candidate_version == dataset.candidate_version
    assert [(step.step, step.detail["superseded"]) for step in run.steps] == [("prepare", 1)]


def test_prepare_trains_on_reviewers_over_the_public_and_says_what_it_dropped(
    registry: FakeRegistry, store: FakeDataStore
) -> None:
    _base_data(store)
    _feedback(store, "positive", comment_id="c1", reviewer="ana")
    for _ in range(3):
        _feedback(store, "negative", comment_id="c1")
    _feedback(store, "neutral", comment_id="c2", reviewer="mallory")

    dataset = prepare(
        PrepareInput(run_id="run-000001"),
        registry.runs,
        registry.models,
        store,
        now=NOW,
        public_labels=PublicLabels.SUGGEST,
        withdrawals=FakeWithdrawnReviewers("mallory"),
    )

    assert dataset.feedback_rows == 1
    [line] = store.objects["training-runs/run-000001/feedback/feedback.jsonl"].decode().splitlines()
    trained = FeedbackRecord.model_validate_json(line)
    assert (trained.reviewer, trained.label) == ("ana", "positive")
    feedback = json.loads(store.objects["training-runs/run-000001/manifest.json"])["feedback"]
    assert feedback["public_labels"] == "suggest"
    assert feedback["sources"] == {"public": 0, "reviewer": 1}
    assert feedback["dropped"] == {"withdrawn": 1, "public_labels_policy": 3, "outranked": 0, "superseded": 0}


def test_prepare_without_training_data_says_what_to_upload(registry: FakeRegistry, store: FakeDataStore) -> None:
    with pytest.raises(NoBaseDataError, match="make upload-data"):
        prepare(
            PrepareInput(run_id="run-000001"),
            registry.runs,
            registry.models,
            store,
            now=NOW,
            public_labels=TRAIN,
            withdrawals=NOBODY,
        )


def _candidate(registry: FakeRegistry, store: FakeDataStore, metrics: dict[str, float]) -> str:
    """Champion v1 and a candidate v2 that run-000001 (holding the slot) trained and evaluated."""
    store.write("models/v1/model.tar.gz", model_archive({"version": "v1"}), "application/gzip")
    registry.models.ensure_champion("v1", store.uri("models/v1/model.tar.gz"), "11" * 32, {"metrics": GOOD})
    run = registry.pipeline.claim_run(registry.pipeline.state(), RunRequest(trigger=Trigger.FEEDBACK))
    assert run is not None
    store.write("training-jobs/v2/model.tar.gz", model_archive({"version": "v2", "metrics": metrics}), "x")
    request = EvaluateInput(
        run_id=run.run_id,
        candidate_version="v2",
        model_data_url=store.uri("training-jobs/v2/model.tar.gz"),
        training_job_name="sentiment-v2",
    )
    evaluate(request, registry.models, registry.runs, store, tolerance=0.01, floor=0.70, touch=TouchLimits(0.05, 0.5))
    return run.run_id


def test_evaluate_registers_the_candidate_with_the_gates_verdict(registry: FakeRegistry, store: FakeDataStore) -> None:
    run_id = _candidate(registry, store, {"reviews_accuracy": 0.5, "tweets_macro_f1": 0.8})

    model = registry.models.get_model("v2")
    assert model.status is ModelStatus.REJECTED
    assert model.training_run == run_id
    assert registry.runs.get_run(run_id).steps[-1].detail["promote"] is False


def _ecs() -> DeploySettings:
    return DeploySettings(
        registry_table="registry", data_bucket="data-bucket", inference_backend="ecs", model_url="http://model:8080"
    )


def test_a_promotion_is_deployed_then_recorded_and_frees_the_slot(registry: FakeRegistry, store: FakeDataStore) -> None:
    run_id = _candidate(registry, store, GOOD)

    deployment = deploy.start(
        DeployInput(run_id=run_id, version="v2"), registry.models, registry.runs, store, endpoint=None, settings=_ecs()
    )
    assert deployment.version == "v2"
    assert (store.pointer() or {})["version"] == "v2"  # the service follows the pointer

    outcome = Outcome(status="SUCCEEDED", decision="promoted", version="v2", metrics=GOOD)
    answer = record(RecordInput(run_id=run_id, outcome=outcome), registry.models, registry.runs, store)

    assert answer == {"run_id": run_id, "status": "SUCCEEDED", "decision": "promoted"}
    champion = registry.models.champion()
    assert champion is not None
    assert (champion.version, champion.previous_version) == ("v2", "v1")
    assert registry.models.get_model("v1").status is ModelStatus.RETIRED
    assert [step.step for step in registry.runs.get_run(run_id).steps] == ["evaluate", "deploy"]
    assert registry.pipeline.state().active_run is None


def test_a_failed_run_puts_the_pointer_back_on_the_champion(registry: FakeRegistry, store: FakeDataStore) -> None:
    run_id = _candidate(registry, store, GOOD)
    deploy.start(
        DeployInput(run_id=run_id, version="v2"), registry.models, registry.runs, store, endpoint=None, settings=_ecs()
    )

    outcome = Outcome(status="FAILED", error={"Error": "DeploymentFailedError", "Cause": "still v1"})
    record(RecordInput(run_id=run_id, outcome=outcome), registry.models, registry.runs, store)

    assert (store.pointer() or {})["version"] == "v1"
    run = registry.runs.get_run(run_id)
    assert (run.status, run.error) == (RunStatus.FAILED, "DeploymentFailedError: still v1")
    assert registry.pipeline.state().active_run is None


def test_a_promotion_by_hand_is_recorded_as_a_rollback_run(registry: FakeRegistry, store: FakeDataStore) -> None:
    registry.models.ensure_champion("v1", store.uri("models/v1/model.tar.gz"), "11" * 32, {})

    deployment = deploy.start(
        DeployInput(run_id="console-rollback", version="v1"),
        registry.models,
        registry.runs,
        store,
        endpoint=None,
        settings=_ecs(),
    )

    assert deployment.reasons == ["promoted by hand"]
    assert registry.runs.get_run("console-rollback").trigger is Trigger.ROLLBACK


def test_the_monitor_reports_the_queue_and_no_drift_without_a_champion(registry: FakeRegistry) -> None:
    assert measure(registry.models, queued(4)) == {"review_queue": 4, "drift": None}
