"""Record a run's outcome. A promotion makes the version champion (registry and the service's
pointer); a rejected or held candidate changes nothing; a failure puts the pointer back on the
registry's champion, so nothing changed."""

from __future__ import annotations

import json

from pipeline_function.ports import DataStore
from pipeline_function.steps import RecordInput
from sentiment_common.observability import count, logger
from sentiment_common.ports import ModelRegistry, RunLedger
from sentiment_common.registry import Decision, RunStatus

MAX_ERROR_CHARS = 2000


def describe_error(error: dict[str, object] | None) -> str:
    """Step Functions' ``{"Error", "Cause"}``, made readable: a Lambda's cause is its error as JSON, a
    failed training job's its description (``FailureReason``, or how it ended when it has none, as a
    stopped job); a service's refusal is its message as it stands."""
    if not error:
        return "unknown error"
    name, cause = str(error.get("Error", "Error")), str(error.get("Cause", ""))
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        ended = (
            f"the training job {parsed.get('TrainingJobName')} ended {parsed['TrainingJobStatus']} "
            f"({parsed.get('SecondaryStatus', 'no reason given')})"
            if "TrainingJobStatus" in parsed
            else None
        )
        cause = str(parsed.get("errorMessage") or parsed.get("FailureReason") or ended or cause)
    return f"{name}: {cause}"[:MAX_ERROR_CHARS]


def record(request: RecordInput, models: ModelRegistry, runs: RunLedger, store: DataStore) -> dict[str, str | None]:
    outcome = request.outcome
    run_id = request.run_id
    if outcome.status == RunStatus.FAILED:
        champion = models.champion()
        pointer = store.pointer()
        if champion is not None and (pointer or {}).get("version") != champion.version:
            store.point_at(champion)
        error = describe_error(outcome.error)
        runs.finish_run(run_id, RunStatus.FAILED, error=error)
        count("RetrainingRun", outcome="failed")
        logger.warning("retraining run failed", extra={"run_id": run_id, "error": error})
        return {"run_id": run_id, "status": RunStatus.FAILED.value, "decision": None}

    decision = Decision(outcome.decision or Decision.REJECTED)
    if decision is Decision.PROMOTED and outcome.version:
        store.point_at(models.promote(outcome.version))
    runs.finish_run(
        run_id,
        RunStatus.SUCCEEDED,
        decision=decision,
        candidate_version=outcome.version,
        metrics=outcome.metrics,
        reasons=outcome.reasons,
    )
    count("RetrainingRun", outcome=decision.value)
    logger.info("retraining run recorded", extra={"run_id": run_id, "decision": decision.value})
    return {"run_id": run_id, "status": RunStatus.SUCCEEDED.value, "decision": decision.value}
