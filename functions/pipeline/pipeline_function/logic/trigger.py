"""Count new feedback objects and start a run when enough have arrived.

Each object is counted once (a duplicated or replayed notification finds its marker and counts
nothing); a malformed object is counted apart, reported, and never starts anything. Only labels that
train count: a reviewer's always, a public one only under ``PublicLabels=train``; the others are
archived, and left uncounted. Then
:func:`~sentiment_common.runs.start_if_due` applies the threshold and the guard (runs from feedback spaced
out and capped per day), at most one run at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from pydantic import ValidationError

from pipeline_function.ports import DataStore
from sentiment_common.observability import count, logger
from sentiment_common.ports import PipelineStateStore, RetrainWorkflow, RunLedger
from sentiment_common.records import FEEDBACK_PREFIX, FeedbackRecord, LabelUse, PublicLabels, label_use
from sentiment_common.runs import RunGuard, start_if_due


@dataclass
class TriggerReport:
    counted: int = 0
    duplicates: int = 0
    malformed: list[str] = field(default_factory=list)
    ignored: int = 0
    not_training: int = 0  # public labels the policy keeps from training
    started_run: str | None = None


def object_keys(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(bucket, key) of each record; S3 sends keys URL-encoded with + for spaces."""
    keys = []
    for record in event.get("Records") or []:
        s3 = record.get("s3", {})
        keys.append((s3.get("bucket", {}).get("name", ""), unquote_plus(s3.get("object", {}).get("key", ""))))
    return keys


def notifications(event: dict[str, Any]) -> list[dict[str, str]]:
    """Each record's key and sequencer, for the log: together they name the S3 event."""
    return [
        {"key": key, "sequencer": str(record.get("s3", {}).get("object", {}).get("sequencer", ""))}
        for record, (_, key) in zip(event.get("Records") or [], object_keys(event), strict=True)
    ]


def parsed_feedback(key: str, data: bytes) -> FeedbackRecord | None:
    """A well-formed feedback record; anything else is skipped and reported."""
    try:
        return FeedbackRecord.model_validate_json(data)
    except (ValidationError, UnicodeDecodeError, ValueError) as error:
        logger.warning("malformed feedback object skipped", extra={"key": key, "reason": str(error)[:300]})
        return None


def on_feedback(
    event: dict[str, Any],
    pipeline: PipelineStateStore,
    runs: RunLedger,
    store: DataStore,
    workflow: RetrainWorkflow,
    *,
    threshold: int,
    guard: RunGuard,
    public_labels: PublicLabels,
) -> TriggerReport:
    report = TriggerReport()
    for bucket, key in object_keys(event):
        if bucket != store.bucket or not key.startswith(FEEDBACK_PREFIX) or not key.endswith(".json"):
            report.ignored += 1
            continue
        data = store.read_if_exists(key)
        if data is None:
            # POST /feedback removes its object again when it cannot mark the comment; S3 still notifies.
            logger.info("feedback object no longer exists; skipped", extra={"key": key})
            report.ignored += 1
            continue
        record = parsed_feedback(key, data)
        if record is None:
            if pipeline.count_feedback(key, malformed=True):
                report.malformed.append(key)
                count("MalformedFeedbackSkipped")
            continue
        if label_use(record.source, public_labels) is not LabelUse.TRAINING or record.supported is False:
            report.not_training += 1
            continue
        if pipeline.count_feedback(key):
            report.counted += 1
        else:
            report.duplicates += 1
    run = start_if_due(pipeline, runs, workflow, threshold, guard)
    report.started_run = run.run_id if run else None
    # With started_run set, this line names the notification that started the run.
    logger.info("feedback counted", extra={**report.__dict__, "objects": notifications(event)})
    return report
