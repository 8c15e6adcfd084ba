"""The jobs table: one item per bulk classification job, listed newest first through the ``newest`` index.

An item holds the job as JSON beside the attributes the table and its index need: ``job_id`` (the key),
``listing`` and ``submitted`` (the index's keys), ``status`` (the condition of every change) and, while
the job waits for its file, ``expires_at`` (the table's TTL attribute), which starting the job removes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from sentiment_common.dal.aws import TableAdapter
from sentiment_common.dal.comments import decode_token, encode_token
from sentiment_common.dal.table import failed_condition
from sentiment_common.dal.transient import unavailable_when_transient
from sentiment_common.errors import ConflictError, NotFoundError
from sentiment_common.jobs import Job, JobCounts, JobStatus, JobSummary

LISTING = "job"
NEWEST_INDEX = "newest"
# A status change reads the job, then writes it on the condition that its status is still the one read;
# when another change came in between, it reads again. More tries than this means something loops.
MAX_TRIES = 5


def _item(job: Job, expires_at: datetime | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "job_id": job.job_id,
        "listing": LISTING,
        "submitted": f"{job.submitted_at.isoformat()}#{job.job_id}",
        "status": job.status.value,
        "job": job.model_dump_json(exclude_none=True),
    }
    if expires_at is not None:
        item["expires_at"] = int(expires_at.timestamp())
    return item


class DynamoDbJobs(TableAdapter):
    """:class:`~sentiment_common.ports.Jobs` on DynamoDB."""

    def put_new(self, job: Job, expires_at: datetime) -> None:
        try:
            with unavailable_when_transient("the jobs table"):
                self._table.put_item(Item=_item(job, expires_at), ConditionExpression="attribute_not_exists(job_id)")
        except ClientError as error:
            if failed_condition(error):
                raise ConflictError(f"job {job.job_id} already exists") from error
            raise

    def _read(self, job_id: str) -> dict[str, Any] | None:
        with unavailable_when_transient("the jobs table"):
            item: dict[str, Any] | None = self._table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        return item

    def get(self, job_id: str) -> Job:
        item = self._read(job_id)
        if item is None:
            raise NotFoundError(f"no job {job_id!r}")
        return Job.model_validate_json(item["job"])

    def list(self, limit: int, token: str | None) -> tuple[list[Job], str | None]:
        query: dict[str, Any] = {
            "IndexName": NEWEST_INDEX,
            "KeyConditionExpression": Key("listing").eq(LISTING),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if token:
            query["ExclusiveStartKey"] = decode_token(
                token, {"job_id", "listing", "submitted"}, partition={"listing": LISTING}
            )
        with unavailable_when_transient("the jobs table"):
            page = self._table.query(**query)
        last = page.get("LastEvaluatedKey")
        return [Job.model_validate_json(item["job"]) for item in page["Items"]], encode_token(last) if last else None

    def move(self, job_id: str, to: JobStatus, allowed: Iterable[JobStatus], **changes: Any) -> Job | None:
        allowed = set(allowed)
        return self._change(
            job_id,
            lambda job: job.model_copy(update={"status": to, **changes}) if job.status in allowed else None,
        )

    def record_counts(self, job_id: str, counts: JobCounts, summary: JobSummary | None = None, stored: int = 0) -> None:
        update: dict[str, Any] = {"counts": counts, "stored": stored}
        if summary is not None:
            update["summary"] = summary
        self._change(job_id, lambda job: job.model_copy(update=update))

    def _change(self, job_id: str, change: Any) -> Job | None:
        for _ in range(MAX_TRIES):
            item = self._read(job_id)
            if item is None:
                raise NotFoundError(f"no job {job_id!r}")
            before = Job.model_validate_json(item["job"])
            after: Job | None = change(before)
            if after is None:
                return None
            # Once it has started, a job is kept: only a submission that never started expires.
            expires_at = item.get("expires_at") if after.status is JobStatus.SUBMITTED else None
            new_item = _item(after, None)
            if expires_at is not None:
                new_item["expires_at"] = expires_at
            try:
                with unavailable_when_transient("the jobs table"):
                    self._table.put_item(
                        Item=new_item,
                        ConditionExpression="#status = :seen",
                        ExpressionAttributeNames={"#status": "status"},
                        ExpressionAttributeValues={":seen": before.status.value},
                    )
            except ClientError as error:
                if failed_condition(error):
                    continue
                raise
            return after
        raise ConflictError(f"job {job_id} keeps changing; try again")
