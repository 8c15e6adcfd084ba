"""The feedback trigger on the fakes: S3 notifications counted once each, one run started at the threshold,
never two at a time, a run whose execution ended unrecorded released by the next notification, and runs
from feedback spaced out and capped per day."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sentiment_common import runs
from sentiment_common.errors import ConflictError, ServiceUnavailableError
from sentiment_common.records import PublicLabels, utc_now
from sentiment_common.registry import Action, RunRequest, RunStatus, Trigger
from sentiment_common.runs import RunGuard, resume, start_run
from tests.fakes.pipeline import THRESHOLD, FakePipeline
from tests.fakes.stores import FakeRetrainWorkflow

# The trigger counts business events (one with dimensions is emitted at once, and needs a namespace).
pytestmark = pytest.mark.usefixtures("metrics_namespace")


@pytest.fixture
def pipeline() -> FakePipeline:
    return FakePipeline()


def _feedback_keys(pipeline: FakePipeline, count: int) -> list[str]:
    return [pipeline.feedback("negative", text=f"comment number {number}")[0] for number in range(count)]


@pytest.mark.parametrize("policy", [PublicLabels.SUGGEST, PublicLabels.IGNORE])
def test_public_labels_that_do_not_train_never_start_a_run(pipeline: FakePipeline, policy: PublicLabels) -> None:
    public = _feedback_keys(pipeline, THRESHOLD * 3)

    report = pipeline.notify(*public, public_labels=policy)

    assert (report.counted, report.not_training, report.started_run) == (0, THRESHOLD * 3, None)
    assert pipeline.state_store.state().pending_feedback == 0
    assert pipeline.executions() == {}


def test_reviewers_labels_start_a_run_whatever_the_policy_on_public_ones(pipeline: FakePipeline) -> None:
    keys = _feedback_keys(pipeline, 2)
    keys += [pipeline.feedback("positive", text=f"review {n}", reviewer="ana")[0] for n in range(THRESHOLD)]

    report = pipeline.notify(*keys, public_labels=PublicLabels.SUGGEST)

    assert (report.counted, report.not_training, report.started_run) == (THRESHOLD, 2, "run-000001")


def test_labels_on_comments_the_model_could_not_read_never_start_a_run(pipeline: FakePipeline) -> None:
    foreign = [
        pipeline.feedback("negative", text=f"Kommentar {n}", reviewer="ana", supported=False)[0] for n in range(20)
    ]

    report = pipeline.notify(*foreign, public_labels=PublicLabels.TRAIN)

    assert (report.counted, report.not_training, report.started_run) == (0, 20, None)
    assert pipeline.state_store.state().pending_feedback == 0


def test_a_second_run_is_a_conflict_until_the_first_ends(pipeline: FakePipeline) -> None:
    run = start_run(pipeline.state_store, pipeline.runs, pipeline.workflow, RunRequest(trigger=Trigger.MANUAL))

    with pytest.raises(ConflictError, match=run.run_id):
        start_run(pipeline.state_store, pipeline.runs, pipeline.workflow, RunRequest(trigger=Trigger.MANUAL))

    pipeline.stop(run.run_id)
    assert resume(pipeline.state_store, pipeline.runs, pipeline.workflow) is None
    assert pipeline.runs.get_run(run.run_id).status is RunStatus.FAILED
    assert start_run(pipeline.state_store, pipeline.runs, pipeline.workflow, RunRequest()).run_id == "run-000002"


def test_nine_feedback_objects_start_nothing(pipeline: FakePipeline) -> None:
    for key in _feedback_keys(pipeline, THRESHOLD - 1):
        report = pipeline.notify(key)
        assert (report.counted, report.started_run) == (1, None)

    assert pipeline.state_store.state().pending_feedback == THRESHOLD - 1
    assert pipeline.executions() == {}
    assert pipeline.runs.list_runs(10, None)[0] == []


def test_the_tenth_feedback_object_starts_exactly_one_run(pipeline: FakePipeline) -> None:
    *first, tenth = _feedback_keys(pipeline, THRESHOLD)
    for key in first:
        pipeline.notify(key)

    report = pipeline.notify(tenth)

    assert report.started_run == "run-000001"
    assert pipeline.executions() == {"run-000001": "RUNNING"}
    assert pipeline.execution_input("run-000001") == {
        "action": "retrain",
        "trigger": "feedback",
        "feedback_count": THRESHOLD,
    }
    (run,) = pipeline.runs.list_runs(10, None)[0]
    assert (run.run_id, run.status, run.trigger, run.feedback_count) == (
        "run-000001",
        RunStatus.RUNNING,
        Trigger.FEEDBACK,
        THRESHOLD,
    )
    assert run.execution_arn == pipeline.workflow.execution_arn("run-000001")
    state = pipeline.state_store.state()
    assert (state.active_run, state.active_started, state.pending_feedback) == ("run-000001", True, 0)


def test_ten_objects_in_one_notification_start_one_run(pipeline: FakePipeline) -> None:
    report = pipeline.notify(*_feedback_keys(pipeline, THRESHOLD))

    assert (report.counted, report.started_run) == (THRESHOLD, "run-000001")
    assert pipeline.executions() == {"run-000001": "RUNNING"}


def test_the_same_notification_delivered_five_times_is_counted_once(pipeline: FakePipeline) -> None:
    *first, tenth = _feedback_keys(pipeline, THRESHOLD)
    for key in first:
        pipeline.notify(key)

    reports = [pipeline.notify(tenth) for _ in range(5)]

    assert [report.counted for report in reports] == [1, 0, 0, 0, 0]
    assert [report.duplicates for report in reports] == [0, 1, 1, 1, 1]
    assert [report.started_run for report in reports] == ["run-000001", None, None, None, None]
    assert pipeline.executions() == {"run-000001": "RUNNING"}
    assert len(pipeline.runs.list_runs(10, None)[0]) == 1
    assert pipeline.state_store.state().pending_feedback == 0


def test_a_replayed_notification_before_the_threshold_does_not_fake_the_count(pipeline: FakePipeline) -> None:
    (key,) = _feedback_keys(pipeline, 1)

    for _ in range(THRESHOLD + 2):
        pipeline.notify(key)

    assert pipeline.state_store.state().pending_feedback == 1
    assert pipeline.executions() == {}


def test_malformed_objects_are_skipped_reported_and_never_start_a_run(pipeline: FakePipeline) -> None:
    not_json = pipeline.put("feedback/dt=2026-11-22/not-json.json", b"this is { not json")
    no_label = pipeline.put(
        "feedback/dt=2026-11-22/no-label.json",
        b'{"feedback_id": "x", "comment_id": null, "text": "hi", "predicted_label": null,'
        b' "model_version": null, "created_at": "2026-11-22T10:00:00Z"}',
    )
    wrong_label = pipeline.put(
        "feedback/dt=2026-11-22/wrong label.json",
        b'{"feedback_id": "y", "comment_id": null, "text": "hi", "label": "great", "predicted_label": null,'
        b' "model_version": null, "created_at": "2026-11-22T10:00:00Z"}',
    )
    good = _feedback_keys(pipeline, THRESHOLD - 1)

    report = pipeline.notify(not_json, no_label, wrong_label, *good)
    replay = pipeline.notify(not_json, no_label, wrong_label)

    assert report.malformed == [not_json, no_label, wrong_label]
    assert report.counted == THRESHOLD - 1
    assert report.started_run is None
    assert replay.malformed == []
    assert replay.started_run is None
    state = pipeline.state_store.state()
    assert (state.pending_feedback, state.malformed_feedback) == (THRESHOLD - 1, 3)
    assert pipeline.executions() == {}


def test_objects_outside_feedback_or_in_another_bucket_are_ignored(pipeline: FakePipeline) -> None:
    model = pipeline.put("models/champion.json", b"{}")
    not_json_name = pipeline.put("feedback/dt=2026-11-22/notes.txt", b"hello", "text/plain")
    (elsewhere,) = _feedback_keys(pipeline, 1)

    report = pipeline.notify(model, not_json_name)
    foreign = pipeline.notify(elsewhere, bucket="someone-elses-bucket")

    assert (report.ignored, report.counted, report.malformed) == (2, 0, [])
    assert (foreign.ignored, foreign.counted) == (1, 0)
    assert pipeline.state_store.state().pending_feedback == 0


def test_feedback_during_an_active_run_accumulates_and_starts_nothing(pipeline: FakePipeline) -> None:
    pipeline.notify(*_feedback_keys(pipeline, THRESHOLD))

    reports = [pipeline.notify(key) for key in _feedback_keys(pipeline, THRESHOLD + 5)]

    assert {report.started_run for report in reports} == {None}
    assert pipeline.executions() == {"run-000001": "RUNNING"}
    state = pipeline.state_store.state()
    assert (state.active_run, state.pending_feedback) == ("run-000001", THRESHOLD + 5)


def test_a_stopped_execution_is_released_and_the_next_threshold_starts_the_next_run(pipeline: FakePipeline) -> None:
    pipeline.notify(*_feedback_keys(pipeline, THRESHOLD))
    pipeline.stop("run-000001")

    (one_more,) = _feedback_keys(pipeline, 1)
    released = pipeline.notify(one_more)

    assert released.started_run is None
    stopped = pipeline.runs.get_run("run-000001")
    assert stopped.status is RunStatus.FAILED
    assert stopped.error is not None
    assert "ABORTED" in stopped.error
    assert stopped.finished_at is not None
    state = pipeline.state_store.state()
    assert (state.active_run, state.pending_feedback) == (None, 1)

    report = pipeline.notify(*_feedback_keys(pipeline, THRESHOLD - 1))

    assert report.started_run == "run-000002"
    assert pipeline.executions() == {"run-000001": "ABORTED", "run-000002": "RUNNING"}
    assert pipeline.runs.get_run("run-000002").feedback_count == THRESHOLD


def test_a_run_whose_execution_never_started_is_started_by_the_next_notification(pipeline: FakePipeline) -> None:
    # The slot was claimed, then the function died before StartExecution.
    for key in _feedback_keys(pipeline, THRESHOLD):
        pipeline.state_store.count_feedback(key)
    state = pipeline.state_store.state()
    assert (
        pipeline.state_store.claim_run(
            state, RunRequest(trigger=Trigger.FEEDBACK, feedback_count=state.pending_feedback)
        )
        is not None
    )
    assert pipeline.executions() == {}

    (key,) = _feedback_keys(pipeline, 1)
    report = pipeline.notify(key)

    assert report.started_run is None  # it is the same run, not a new one
    assert pipeline.executions() == {"run-000001": "RUNNING"}
    assert pipeline.state_store.state().active_started is True
    assert pipeline.runs.get_run("run-000001").execution_arn == pipeline.workflow.execution_arn("run-000001")


class UnavailableOnce(FakeRetrainWorkflow):
    """Step Functions throttled or unreachable for one StartExecution."""

    def __init__(self) -> None:
        super().__init__()
        self.unavailable = True

    def start(self, run_id: str, request: RunRequest) -> str:
        if self.unavailable:
            self.unavailable = False
            raise ServiceUnavailableError("Step Functions is busy; try again shortly")
        return super().start(run_id, request)


def test_a_rollback_whose_start_failed_is_resumed_as_the_same_rollback(pipeline: FakePipeline) -> None:
    # StartExecution fails after the slot is claimed, as a throttled or unreachable Step Functions would
    # make it fail; POST /models/v1/promote answered 503.
    pipeline.workflow = UnavailableOnce()
    rollback = RunRequest(action=Action.PROMOTE, trigger=Trigger.ROLLBACK, version="v1", started_by_request="req-1")
    with pytest.raises(ServiceUnavailableError):
        start_run(pipeline.state_store, pipeline.runs, pipeline.workflow, rollback)

    (key,) = _feedback_keys(pipeline, 1)
    pipeline.notify(key)  # the next caller finishes the job

    # The same rollback, still naming the API request that asked for it.
    assert pipeline.execution_input("run-000001") == {
        "action": "promote",
        "trigger": "rollback",
        "version": "v1",
        "started_by_request": "req-1",
    }
    assert pipeline.runs.get_run("run-000001").started_by_request == "req-1"


def test_a_feedback_object_removed_before_its_notification_arrives_is_skipped(pipeline: FakePipeline) -> None:
    # POST /feedback removes its object again when it cannot mark the comment; the notification still comes.
    (removed,) = _feedback_keys(pipeline, 1)
    del pipeline.store.objects[removed]
    (kept,) = _feedback_keys(pipeline, 1)

    report = pipeline.notify(removed, kept)

    assert report.counted == 1
    assert pipeline.state_store.state().pending_feedback == 1


# ---- the guard: runs from feedback spaced out and capped per day ----

HOURLY = RunGuard(min_interval=timedelta(minutes=60), max_per_day=12)


def _finish(pipeline: FakePipeline, run_id: str) -> None:
    pipeline.stop(run_id)
    pipeline.runs.finish_run(run_id, RunStatus.FAILED, error="stopped by the test")


def test_a_due_run_within_the_interval_is_held_back_with_its_reason_and_starts_after_it(
    pipeline: FakePipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a run from feedback that started and ended
    first = pipeline.notify(*_feedback_keys(pipeline, THRESHOLD), guard=HOURLY)
    assert first.started_run == "run-000001"
    _finish(pipeline, "run-000001")
    started = pipeline.runs.get_run("run-000001").started_at

    # When the threshold is reached again within the hour
    again = pipeline.notify(*_feedback_keys(pipeline, THRESHOLD), guard=HOURLY)

    # Then nothing starts, the feedback waits, and the state says why and until when
    assert again.started_run is None
    assert pipeline.executions() == {"run-000001": "ABORTED"}
    state = pipeline.state_store.state()
    assert state.pending_feedback == THRESHOLD
    assert state.held_back is not None
    assert state.held_back.until == started + timedelta(minutes=60)
    assert "at least 60 minutes apart (RetrainMinIntervalMinutes)" in state.held_back.reason

    # And once the hour has passed, the next feedback starts the run, and the reason is cleared
    later = utc_now() + timedelta(minutes=61)
    monkeypatch.setattr(runs, "utc_now", lambda: later)
    (one_more,) = _feedback_keys(pipeline, 1)
    resumed = pipeline.notify(one_more, guard=HOURLY)
    assert resumed.started_run == "run-000002"
    assert pipeline.runs.get_run("run-000002").feedback_count == THRESHOLD + 1
    assert pipeline.state_store.state().held_back is None


def test_runs_from_feedback_stop_at_the_daily_cap_and_manual_runs_are_neither_held_nor_counted(
    pipeline: FakePipeline,
) -> None:
    twice_a_day = RunGuard(min_interval=timedelta(0), max_per_day=2)
    for run_id in ("run-000001", "run-000002"):
        assert pipeline.notify(*_feedback_keys(pipeline, THRESHOLD), guard=twice_a_day).started_run == run_id
        _finish(pipeline, run_id)
    manual = start_run(pipeline.state_store, pipeline.runs, pipeline.workflow, RunRequest(trigger=Trigger.MANUAL))
    _finish(pipeline, manual.run_id)

    third = pipeline.notify(*_feedback_keys(pipeline, THRESHOLD), guard=twice_a_day)

    assert third.started_run is None
    held = pipeline.state_store.state().held_back
    assert held is not None
    assert held.reason.startswith("2 runs from feedback started in the last 24 hours")
    assert held.until == pipeline.runs.get_run("run-000001").started_at + timedelta(days=1)
