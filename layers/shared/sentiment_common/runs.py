"""Starting a retraining run: shared by the feedback trigger and the API's admin routes.

At most one run is active. The run slot and the run's record are taken in one transaction
(:meth:`~sentiment_common.ports.PipelineStatePort.claim_run`), then the execution is started under the
run's id. If the start does not happen, the slot says so (``active_started`` false) and :func:`resume`
finishes the job; a slot whose execution ended without recording its outcome (aborted, timed out, lost
with a local stack's restart) is released and its run marked failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sentiment_common.errors import ConflictError
from sentiment_common.observability import count, logger
from sentiment_common.ports import PipelineStateStore, RetrainWorkflow, RunLedger
from sentiment_common.records import utc_now
from sentiment_common.registry import Action, HeldBack, RunRequest, RunStatus, TrainingRun, Trigger

FINISHED = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
DAY = timedelta(days=1)


@dataclass(frozen=True)
class RunGuard:
    """What keeps a public feedback route from training without end (each run is a SageMaker training
    job): runs started by feedback are at least ``min_interval`` apart, and at most ``max_per_day`` in
    any 24 hours. Runs an administrator starts are neither held back nor counted."""

    min_interval: timedelta
    max_per_day: int

    def held_back(self, recent: list[TrainingRun], now: datetime) -> HeldBack | None:
        """``recent``: the newest runs, at least ``max_per_day`` of them when there are that many."""
        started = sorted((run.started_at for run in recent if run.trigger is Trigger.FEEDBACK), reverse=True)
        if started and now - started[0] < self.min_interval:
            until = started[0] + self.min_interval
            minutes = self.min_interval.total_seconds() / 60
            return HeldBack(
                reason=f"the last run from feedback started at {started[0].isoformat()}; runs from feedback "
                f"start at least {minutes:g} minutes apart (RetrainMinIntervalMinutes)",
                at=now,
                until=until,
            )
        today = [moment for moment in started if now - moment < DAY]
        if len(today) >= self.max_per_day:
            until = today[self.max_per_day - 1] + DAY
            return HeldBack(
                reason=f"{len(today)} runs from feedback started in the last 24 hours, the most "
                f"RetrainMaxPerDay ({self.max_per_day}) allows",
                at=now,
                until=until,
            )
        return None


def start_run(
    pipeline: PipelineStateStore, runs: RunLedger, workflow: RetrainWorkflow, request: RunRequest
) -> TrainingRun:
    """Claim the slot and start the execution; :class:`ConflictError` when a run is active."""
    active = resume(pipeline, runs, workflow)
    if active is not None:
        raise ConflictError(f"run {active} is still active; wait for it to finish", [{"run_id": active}])
    current = pipeline.state()
    run = pipeline.claim_run(current, request)
    if run is None:
        raise ConflictError("another run started at the same moment; see GET /training")
    execution_arn = workflow.start(run.run_id, request)
    pipeline.mark_started(run.run_id, execution_arn)
    count("RetrainingStarted", trigger=request.trigger.value)
    logger.info("retraining run started", extra={"run_id": run.run_id, "trigger": request.trigger.value})
    return run.model_copy(update={"execution_arn": execution_arn})


def resume(pipeline: PipelineStateStore, runs: RunLedger, workflow: RetrainWorkflow) -> str | None:
    """Bring the run slot up to date; returns the run still active, if any."""
    state = pipeline.state()
    run_id = state.active_run
    if run_id is None:
        return None
    if not state.active_started:
        run = runs.get_run(run_id)
        request = RunRequest(
            action=run.action,
            trigger=run.trigger,
            version=run.candidate_version if run.action is Action.PROMOTE else None,
            feedback_count=run.feedback_count,
            started_by_request=run.started_by_request,
        )
        pipeline.mark_started(run_id, workflow.start(run_id, request))
        logger.info("started a run whose start had not happened", extra={"run_id": run_id})
        return run_id
    status = workflow.status(run_id)
    if status is None or status in FINISHED:
        # The execution ended without its RecordRun step (or is gone): record that, free the slot.
        reason = f"the execution ended as {status}" if status else "the execution no longer exists"
        runs.finish_run(run_id, RunStatus.FAILED, error=f"{reason} before recording its outcome")
        logger.warning("released a run slot held by an execution that ended", extra={"run_id": run_id})
        return None
    return run_id


def _runs_since(runs: RunLedger, since: datetime) -> list[TrainingRun]:
    """The runs started after ``since`` (and the one before), newest first: a page at a time."""
    found: list[TrainingRun] = []
    token: str | None = None
    while True:
        page, token = runs.list_runs(25, token)
        found.extend(page)
        if token is None or not page or page[-1].started_at < since:
            return found


def start_if_due(
    pipeline: PipelineStateStore, runs: RunLedger, workflow: RetrainWorkflow, threshold: int, guard: RunGuard
) -> TrainingRun | None:
    """The trigger's rule: enough new feedback, no active run and the guard's leave → start one. A run
    the guard holds back is recorded with its reason; the next feedback after it allows starts it."""
    if resume(pipeline, runs, workflow) is not None:
        return None
    state = pipeline.state()
    if state.pending_feedback < threshold:
        return None
    now = utc_now()
    held = guard.held_back(_runs_since(runs, now - max(DAY, guard.min_interval)), now)
    if held is not None:
        pipeline.hold_back(held)
        count("RetrainingHeldBack")
        logger.warning(
            "a due retraining run is held back",
            extra={"reason": held.reason, "until": held.until.isoformat(), "pending_feedback": state.pending_feedback},
        )
        return None
    request = RunRequest(trigger=Trigger.FEEDBACK, feedback_count=state.pending_feedback)
    try:
        return start_run(pipeline, runs, workflow, request)
    except ConflictError:
        return None  # another invocation started it
