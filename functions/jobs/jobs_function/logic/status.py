"""The classify executions' ends that no step sees: failed, timed out, or stopped.

Step Functions sends "Step Functions Execution Status Change" events to EventBridge
(https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html); the template's rule
passes this function those of the classify state machine whose status is FAILED, TIMED_OUT or ABORTED.
The job takes the matching status, with the execution's error as its reason, and its results file is
written from the rows done so far (every other row says ``NOT_PROCESSED``), so nothing done is lost.
A job resumed since (its execution redriven) is IN_PROGRESS again, and a late event for an earlier
attempt then changes nothing.
"""

from __future__ import annotations

from typing import Any

from jobs_function.logic.merge import merge
from jobs_function.ports import JobFiles
from sentiment_common.errors import NotFoundError
from sentiment_common.jobs import JobStatus
from sentiment_common.observability import logger
from sentiment_common.ports import Jobs
from sentiment_common.records import utc_now

FINAL_STATUS = {"ABORTED": JobStatus.STOPPED, "FAILED": JobStatus.FAILED, "TIMED_OUT": JobStatus.FAILED}


def reason_of(detail: dict[str, Any]) -> str:
    if detail.get("status") == "TIMED_OUT":
        return "the job ran out of time"
    error, cause = detail.get("error") or "", detail.get("cause") or ""
    return f"{error}: {cause}".strip(": ") or f"the execution ended {detail.get('status')}"


def on_execution_end(detail: dict[str, Any], jobs: Jobs, files: JobFiles) -> JobStatus | None:
    status = FINAL_STATUS.get(str(detail.get("status")))
    job_id = detail.get("name")
    if status is None or not isinstance(job_id, str):
        return None
    try:
        jobs.get(job_id)
    except NotFoundError:
        logger.warning("an execution for no job", extra={"execution_name": job_id})
        return None
    changes: dict[str, Any] = {"finished_at": utc_now()}
    if status is JobStatus.FAILED:
        changes["reason"] = reason_of(detail)
    moved = jobs.move(job_id, status, {JobStatus.IN_PROGRESS, JobStatus.STOP_REQUESTED}, **changes)
    if moved is None:
        return None
    if moved.counts.total is not None:
        merge(job_id, files, jobs, final=status)
    return status
