"""The registry's stores, the DynamoDB adapters and the fakes alike: counts that survive duplicates, one
run slot, outcomes recorded once, a champion that changes in one go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sentiment_common.dal.comments import decode_token, encode_token
from sentiment_common.errors import InvalidInputError, NotFoundError
from sentiment_common.registry import Decision, ModelRecord, ModelStatus, RunRequest, RunStatus, TrainingRun, Trigger
from tests.contract.conftest import HELD_BACK, Registry

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
BUCKET = "s3://data-bucket/"


def _model(version: str, status: ModelStatus = ModelStatus.CANDIDATE) -> ModelRecord:
    return ModelRecord(
        version=version,
        status=status,
        metrics={"reviews_accuracy": 0.9},
        dataset={"feedback_rows": 1},
        created_at=T0,
        training_run="run-000001",
        model_data_url=f"{BUCKET}models/{version}/model.tar.gz",
        sha256="ab" * 32,
    )


def test_a_feedback_object_is_counted_once(registry: Registry) -> None:

    first = registry.pipeline.count_feedback("feedback/dt=2026-11-22/a.json")
    again = registry.pipeline.count_feedback("feedback/dt=2026-11-22/a.json")
    other = registry.pipeline.count_feedback("feedback/dt=2026-11-22/b.json")

    assert (first, again, other) == (True, False, True)
    assert registry.pipeline.state().pending_feedback == 2


def test_malformed_objects_are_counted_apart_and_once(registry: Registry) -> None:

    assert registry.pipeline.count_feedback("feedback/bad.json", malformed=True) is True
    assert registry.pipeline.count_feedback("feedback/bad.json", malformed=True) is False
    assert registry.pipeline.count_feedback("feedback/bad.json") is False

    state = registry.pipeline.state()
    assert (state.pending_feedback, state.malformed_feedback) == (0, 1)


def test_the_run_slot_is_taken_once_and_only_the_counted_feedback_is_subtracted(registry: Registry) -> None:
    for number in range(10):
        registry.pipeline.count_feedback(f"feedback/{number}.json")
    seen = registry.pipeline.state()
    # Feedback that arrives between reading the state and claiming the slot stays for the next run.
    registry.pipeline.count_feedback("feedback/late-1.json")
    registry.pipeline.count_feedback("feedback/late-2.json")

    run = registry.pipeline.claim_run(seen, RunRequest(trigger=Trigger.FEEDBACK, feedback_count=seen.pending_feedback))
    second = registry.pipeline.claim_run(
        seen, RunRequest(trigger=Trigger.FEEDBACK, feedback_count=seen.pending_feedback)
    )

    assert run is not None
    assert run.run_id == "run-000001"
    assert second is None
    state = registry.pipeline.state()
    assert state.active_run == "run-000001"
    assert state.active_started is False
    assert state.generation == 1
    assert state.pending_feedback == 2
    recorded = registry.runs.get_run("run-000001")
    assert (recorded.status, recorded.trigger, recorded.feedback_count) == (RunStatus.RUNNING, Trigger.FEEDBACK, 10)


def test_no_run_is_claimed_while_one_holds_the_slot(registry: Registry) -> None:
    assert (
        registry.pipeline.claim_run(registry.pipeline.state(), RunRequest(trigger=Trigger.MANUAL, feedback_count=0))
        is not None
    )

    # Even with an up-to-date state, the slot is taken.
    assert (
        registry.pipeline.claim_run(registry.pipeline.state(), RunRequest(trigger=Trigger.MANUAL, feedback_count=0))
        is None
    )
    assert [run.run_id for run in registry.runs.list_runs(10, None)[0]] == ["run-000001"]


def test_a_run_is_finished_once_and_the_first_outcome_stays(registry: Registry) -> None:
    run = registry.pipeline.claim_run(registry.pipeline.state(), RunRequest(trigger=Trigger.MANUAL, feedback_count=0))
    assert run is not None

    first = registry.runs.finish_run(
        run.run_id, RunStatus.SUCCEEDED, decision=Decision.REJECTED, candidate_version="v2", reasons=["worse"]
    )
    second = registry.runs.finish_run(run.run_id, RunStatus.FAILED, error="a late, replayed failure")

    assert (first, second) == (True, False)
    recorded = registry.runs.get_run(run.run_id)
    assert recorded.status is RunStatus.SUCCEEDED
    assert recorded.decision is Decision.REJECTED
    assert recorded.candidate_version == "v2"
    assert recorded.reasons == ["worse"]
    assert recorded.error is None
    assert recorded.finished_at is not None
    assert registry.pipeline.state().active_run is None


def test_the_first_model_becomes_champion_once(registry: Registry) -> None:
    metadata = {"metrics": {"reviews_accuracy": 0.88}, "created_at": T0.isoformat()}

    first = registry.models.ensure_champion("v1", f"{BUCKET}models/v1/model.tar.gz", "11" * 32, metadata)
    again = registry.models.ensure_champion("v1-again", f"{BUCKET}models/x/model.tar.gz", "22" * 32, metadata)

    assert (first, again) == (True, False)
    champion = registry.models.champion()
    assert champion is not None
    assert (champion.version, champion.sha256) == ("v1", "11" * 32)
    assert [model.version for model in registry.models.list_models()] == ["v1"]
    model = registry.models.get_model("v1")
    assert model.status is ModelStatus.CHAMPION
    assert model.metrics == {"reviews_accuracy": 0.88}
    assert model.training_run is None


def test_promotion_swaps_champion_and_retired_together(registry: Registry) -> None:
    registry.models.ensure_champion("v1", f"{BUCKET}models/v1/model.tar.gz", "11" * 32, {})
    registry.models.put_model(_model("v2"))

    champion = registry.models.promote("v2")

    assert (champion.version, champion.previous_version) == ("v2", "v1")
    assert champion.model_data_url == f"{BUCKET}models/v2/model.tar.gz"
    assert registry.models.champion() == champion
    assert registry.models.get_model("v2").status is ModelStatus.CHAMPION
    assert registry.models.get_model("v2").promoted_at is not None
    assert registry.models.get_model("v1").status is ModelStatus.RETIRED


def test_promoting_the_champion_again_changes_nothing(registry: Registry) -> None:
    registry.models.ensure_champion("v1", f"{BUCKET}models/v1/model.tar.gz", "11" * 32, {})
    registry.models.put_model(_model("v2"))
    promoted = registry.models.promote("v2")

    again = registry.models.promote("v2")

    assert again == promoted
    assert registry.models.champion() == promoted
    assert {model.version: model.status for model in registry.models.list_models()} == {
        "v1": ModelStatus.RETIRED,
        "v2": ModelStatus.CHAMPION,
    }


def test_an_unknown_version_cannot_be_promoted(registry: Registry) -> None:
    registry.models.ensure_champion("v1", f"{BUCKET}models/v1/model.tar.gz", "11" * 32, {})

    with pytest.raises(NotFoundError, match="nope"):
        registry.models.promote("nope")
    champion = registry.models.champion()
    assert champion is not None
    assert champion.version == "v1"


def test_a_version_is_registered_once(registry: Registry) -> None:

    assert registry.models.put_model(_model("v2")) is True
    assert registry.models.put_model(_model("v2", ModelStatus.REJECTED)) is False
    assert registry.models.get_model("v2").status is ModelStatus.CANDIDATE


def test_runs_are_listed_newest_first_page_by_page(registry: Registry) -> None:
    for number in (1, 2, 3):
        registry.runs.create_run(
            TrainingRun(
                run_id=f"run-{number:06d}",
                status=RunStatus.SUCCEEDED,
                trigger=Trigger.FEEDBACK,
                started_at=T0 + timedelta(hours=number),
            )
        )

    first, token = registry.runs.list_runs(2, None)
    second, last = registry.runs.list_runs(2, token)

    assert [run.run_id for run in first] == ["run-000003", "run-000002"]
    assert token is not None
    assert [run.run_id for run in second] == ["run-000001"]
    assert last is None


def test_a_runs_token_forged_for_another_partition_is_refused_as_bad_input(registry: Registry) -> None:
    # Given a page token whose partition names the models instead of the runs
    for number in (1, 2):
        registry.runs.create_run(
            TrainingRun(run_id=f"run-{number:06d}", status=RunStatus.SUCCEEDED, trigger=Trigger.MANUAL, started_at=T0)
        )
    _, token = registry.runs.list_runs(1, None)
    assert token is not None
    forged = encode_token(decode_token(token, {"pk", "sk"}) | {"pk": "MODEL"})

    # When it continues the runs' listing, Then it is refused as the caller's mistake
    with pytest.raises(InvalidInputError, match="next_token belongs to another listing"):
        registry.runs.list_runs(1, forged)


def test_steps_are_appended_in_order(registry: Registry) -> None:
    registry.runs.create_run(
        TrainingRun(run_id="run-000001", status=RunStatus.RUNNING, trigger=Trigger.MANUAL, started_at=T0)
    )

    registry.runs.add_step("run-000001", "prepare", {"feedback_rows": 3})
    registry.runs.add_step("run-000001", "evaluate", {"promote": False})

    steps = registry.runs.get_run("run-000001").steps
    assert [(step.step, step.detail) for step in steps] == [
        ("prepare", {"feedback_rows": 3}),
        ("evaluate", {"promote": False}),
    ]


def test_unknown_models_and_runs_are_not_found(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match="v9"):
        registry.models.get_model("v9")
    with pytest.raises(NotFoundError, match="run-000009"):
        registry.runs.get_run("run-000009")
    assert registry.models.champion() is None


def test_taking_the_slot_clears_a_hold_back_and_starting_marks_it(registry: Registry) -> None:
    registry.pipeline.hold_back(HELD_BACK)
    assert registry.pipeline.state().held_back == HELD_BACK

    run = registry.pipeline.claim_run(registry.pipeline.state(), RunRequest(trigger=Trigger.MANUAL))
    assert run is not None
    registry.pipeline.mark_started(run.run_id, "arn:execution:run-000001")

    state = registry.pipeline.state()
    assert (state.held_back, state.active_run, state.active_started) == (None, "run-000001", True)
    assert registry.runs.get_run("run-000001").execution_arn == "arn:execution:run-000001"


def test_only_the_run_holding_the_slot_releases_it(registry: Registry) -> None:
    run = registry.pipeline.claim_run(registry.pipeline.state(), RunRequest(trigger=Trigger.MANUAL))
    assert run is not None

    registry.pipeline.release("run-000009")
    assert registry.pipeline.state().active_run == run.run_id

    registry.pipeline.release(run.run_id)
    state = registry.pipeline.state()
    assert (state.active_run, state.active_started, state.generation) == (None, False, 1)


def test_the_outcome_of_another_run_leaves_the_slot_taken(registry: Registry) -> None:
    run = registry.pipeline.claim_run(registry.pipeline.state(), RunRequest(trigger=Trigger.MANUAL))
    assert run is not None

    assert registry.runs.finish_run("run-000009", RunStatus.FAILED, error="no such run") is False

    assert registry.pipeline.state().active_run == run.run_id
    with pytest.raises(NotFoundError):
        registry.runs.get_run("run-000009")  # nothing was written for it


def test_a_runs_fields_are_set_and_read_back(registry: Registry) -> None:
    registry.runs.create_run(
        TrainingRun(run_id="run-000001", status=RunStatus.RUNNING, trigger=Trigger.MANUAL, started_at=T0)
    )

    registry.runs.update_run("run-000001", candidate_version="v2", metrics={"reviews_accuracy": 0.9})

    run = registry.runs.get_run("run-000001")
    assert (run.candidate_version, run.metrics) == ("v2", {"reviews_accuracy": 0.9})


def test_steps_and_fields_of_an_unknown_run_are_not_found(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match="run-000009"):
        registry.runs.add_step("run-000009", "prepare", {})
    with pytest.raises(NotFoundError, match="run-000009"):
        registry.runs.update_run("run-000009", candidate_version="v2")
    with pytest.raises(NotFoundError):
        registry.runs.get_run("run-000009")


def test_a_run_is_recorded_once(registry: Registry) -> None:
    run = TrainingRun(run_id="console-1", status=RunStatus.RUNNING, trigger=Trigger.ROLLBACK, started_at=T0)

    assert registry.runs.create_run(run) is True
    assert registry.runs.create_run(run.model_copy(update={"trigger": Trigger.MANUAL})) is False
    assert registry.runs.get_run("console-1").trigger is Trigger.ROLLBACK
