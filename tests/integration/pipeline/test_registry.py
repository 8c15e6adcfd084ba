"""The registry table: counts that survive duplicates, one run slot, outcomes recorded once, a champion
that changes in one go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sentiment_common.errors import NotFoundError
from sentiment_common.registry import Decision, ModelRecord, ModelStatus, RunRequest, RunStatus, TrainingRun, Trigger
from tests.integration.pipeline.conftest import Pipeline

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _model(pipeline: Pipeline, version: str, status: ModelStatus = ModelStatus.CANDIDATE) -> ModelRecord:
    return ModelRecord(
        version=version,
        status=status,
        metrics={"reviews_accuracy": 0.9},
        dataset={"feedback_rows": 1},
        created_at=T0,
        training_run="run-000001",
        model_data_url=pipeline.store.uri(f"models/{version}/model.tar.gz"),
        sha256="ab" * 32,
    )


def test_a_feedback_object_is_counted_once(pipeline: Pipeline) -> None:
    registry = pipeline.registry

    first = registry.count_feedback("feedback/dt=2026-11-22/a.json")
    again = registry.count_feedback("feedback/dt=2026-11-22/a.json")
    other = registry.count_feedback("feedback/dt=2026-11-22/b.json")

    assert (first, again, other) == (True, False, True)
    assert registry.state().pending_feedback == 2


def test_malformed_objects_are_counted_apart_and_once(pipeline: Pipeline) -> None:
    registry = pipeline.registry

    assert registry.count_feedback("feedback/bad.json", malformed=True) is True
    assert registry.count_feedback("feedback/bad.json", malformed=True) is False
    assert registry.count_feedback("feedback/bad.json") is False

    state = registry.state()
    assert (state.pending_feedback, state.malformed_feedback) == (0, 1)


def test_the_run_slot_is_taken_once_and_only_the_counted_feedback_is_subtracted(pipeline: Pipeline) -> None:
    registry = pipeline.registry
    for number in range(10):
        registry.count_feedback(f"feedback/{number}.json")
    seen = registry.state()
    # Feedback that arrives between reading the state and claiming the slot stays for the next run.
    registry.count_feedback("feedback/late-1.json")
    registry.count_feedback("feedback/late-2.json")

    run = registry.claim_run(seen, RunRequest(trigger=Trigger.FEEDBACK, feedback_count=seen.pending_feedback))
    second = registry.claim_run(seen, RunRequest(trigger=Trigger.FEEDBACK, feedback_count=seen.pending_feedback))

    assert run is not None
    assert run.run_id == "run-000001"
    assert second is None
    state = registry.state()
    assert state.active_run == "run-000001"
    assert state.active_started is False
    assert state.generation == 1
    assert state.pending_feedback == 2
    recorded = registry.get_run("run-000001")
    assert (recorded.status, recorded.trigger, recorded.feedback_count) == (RunStatus.RUNNING, Trigger.FEEDBACK, 10)


def test_no_run_is_claimed_while_one_holds_the_slot(pipeline: Pipeline) -> None:
    registry = pipeline.registry
    assert registry.claim_run(registry.state(), RunRequest(trigger=Trigger.MANUAL, feedback_count=0)) is not None

    # Even with an up-to-date state, the slot is taken.
    assert registry.claim_run(registry.state(), RunRequest(trigger=Trigger.MANUAL, feedback_count=0)) is None
    assert [run.run_id for run in registry.list_runs(10, None)[0]] == ["run-000001"]


def test_a_run_is_finished_once_and_the_first_outcome_stays(pipeline: Pipeline) -> None:
    registry = pipeline.registry
    run = registry.claim_run(registry.state(), RunRequest(trigger=Trigger.MANUAL, feedback_count=0))
    assert run is not None

    first = registry.finish_run(
        run.run_id, RunStatus.SUCCEEDED, decision=Decision.REJECTED, candidate_version="v2", reasons=["worse"]
    )
    second = registry.finish_run(run.run_id, RunStatus.FAILED, error="a late, replayed failure")

    assert (first, second) == (True, False)
    recorded = registry.get_run(run.run_id)
    assert recorded.status is RunStatus.SUCCEEDED
    assert recorded.decision is Decision.REJECTED
    assert recorded.candidate_version == "v2"
    assert recorded.reasons == ["worse"]
    assert recorded.error is None
    assert recorded.finished_at is not None
    assert registry.state().active_run is None


def test_the_first_model_becomes_champion_once(pipeline: Pipeline) -> None:
    registry = pipeline.registry
    metadata = {"metrics": {"reviews_accuracy": 0.88}, "created_at": T0.isoformat()}

    first = registry.ensure_champion("v1", pipeline.store.uri("models/v1/model.tar.gz"), "11" * 32, metadata)
    again = registry.ensure_champion("v1-again", pipeline.store.uri("models/x/model.tar.gz"), "22" * 32, metadata)

    assert (first, again) == (True, False)
    champion = registry.champion()
    assert champion is not None
    assert (champion.version, champion.sha256) == ("v1", "11" * 32)
    assert [model.version for model in registry.list_models()] == ["v1"]
    model = registry.get_model("v1")
    assert model.status is ModelStatus.CHAMPION
    assert model.metrics == {"reviews_accuracy": 0.88}
    assert model.training_run is None


def test_promotion_swaps_champion_and_retired_together(pipeline: Pipeline) -> None:
    registry = pipeline.registry
    registry.ensure_champion("v1", pipeline.store.uri("models/v1/model.tar.gz"), "11" * 32, {})
    registry.put_model(_model(pipeline, "v2"))

    champion = registry.promote("v2")

    assert (champion.version, champion.previous_version) == ("v2", "v1")
    assert champion.model_data_url == pipeline.store.uri("models/v2/model.tar.gz")
    assert registry.champion() == champion
    assert registry.get_model("v2").status is ModelStatus.CHAMPION
    assert registry.get_model("v2").promoted_at is not None
    assert registry.get_model("v1").status is ModelStatus.RETIRED


def test_promoting_the_champion_again_changes_nothing(pipeline: Pipeline) -> None:
    registry = pipeline.registry
    registry.ensure_champion("v1", pipeline.store.uri("models/v1/model.tar.gz"), "11" * 32, {})
    registry.put_model(_model(pipeline, "v2"))
    promoted = registry.promote("v2")

    again = registry.promote("v2")

    assert again == promoted
    assert registry.champion() == promoted
    assert {model.version: model.status for model in registry.list_models()} == {
        "v1": ModelStatus.RETIRED,
        "v2": ModelStatus.CHAMPION,
    }


def test_an_unknown_version_cannot_be_promoted(pipeline: Pipeline) -> None:
    pipeline.registry.ensure_champion("v1", pipeline.store.uri("models/v1/model.tar.gz"), "11" * 32, {})

    with pytest.raises(NotFoundError, match="nope"):
        pipeline.registry.promote("nope")
    champion = pipeline.registry.champion()
    assert champion is not None
    assert champion.version == "v1"


def test_a_version_is_registered_once(pipeline: Pipeline) -> None:
    registry = pipeline.registry

    assert registry.put_model(_model(pipeline, "v2")) is True
    assert registry.put_model(_model(pipeline, "v2", ModelStatus.REJECTED)) is False
    assert registry.get_model("v2").status is ModelStatus.CANDIDATE


def test_runs_are_listed_newest_first_page_by_page(pipeline: Pipeline) -> None:
    registry = pipeline.registry
    for number in (1, 2, 3):
        registry.create_run(
            TrainingRun(
                run_id=f"run-{number:06d}",
                status=RunStatus.SUCCEEDED,
                trigger=Trigger.FEEDBACK,
                started_at=T0 + timedelta(hours=number),
            )
        )

    first, token = registry.list_runs(2, None)
    second, last = registry.list_runs(2, token)

    assert [run.run_id for run in first] == ["run-000003", "run-000002"]
    assert token is not None
    assert [run.run_id for run in second] == ["run-000001"]
    assert last is None


def test_steps_are_appended_in_order(pipeline: Pipeline) -> None:
    registry = pipeline.registry
    registry.create_run(
        TrainingRun(run_id="run-000001", status=RunStatus.RUNNING, trigger=Trigger.MANUAL, started_at=T0)
    )

    registry.add_step("run-000001", "prepare", {"feedback_rows": 3})
    registry.add_step("run-000001", "evaluate", {"promote": False})

    steps = registry.get_run("run-000001").steps
    assert [(step.step, step.detail) for step in steps] == [
        ("prepare", {"feedback_rows": 3}),
        ("evaluate", {"promote": False}),
    ]


def test_unknown_models_and_runs_are_not_found(pipeline: Pipeline) -> None:
    with pytest.raises(NotFoundError, match="v9"):
        pipeline.registry.get_model("v9")
    with pytest.raises(NotFoundError, match="run-000009"):
        pipeline.registry.get_run("run-000009")
    assert pipeline.registry.champion() is None
