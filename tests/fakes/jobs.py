"""In-memory stand-ins for the jobs' stores and workflow, held to the same contract suites as the adapters."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sentiment_common.errors import ConflictError, InvalidInputError, NotFoundError
from sentiment_common.jobs import Job, JobCounts, JobProgress, JobStatus, JobSummary


class FakeJobs:
    """:class:`~sentiment_common.ports.Jobs` in memory."""

    def __init__(self) -> None:
        self.items: dict[str, Job] = {}
        self.expires: dict[str, datetime] = {}

    def put_new(self, job: Job, expires_at: datetime) -> None:
        if job.job_id in self.items:
            raise ConflictError(f"job {job.job_id} already exists")
        self.items[job.job_id] = job
        self.expires[job.job_id] = expires_at

    def get(self, job_id: str) -> Job:
        if job_id not in self.items:
            raise NotFoundError(f"no job {job_id!r}")
        return self.items[job_id]

    def list(self, limit: int, token: str | None) -> tuple[list[Job], str | None]:
        ordered = sorted(self.items.values(), key=lambda job: (job.submitted_at, job.job_id), reverse=True)
        start = 0
        if token:
            try:
                start = int(json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["after"])
            except (ValueError, KeyError, TypeError) as error:
                raise InvalidInputError("next_token is not a token this API issued") from error
        page = ordered[start : start + limit]
        more = start + limit < len(ordered)
        following = base64.urlsafe_b64encode(json.dumps({"after": start + limit}).encode()).decode().rstrip("=")
        return page, following if more else None

    def move(self, job_id: str, to: JobStatus, allowed: Iterable[JobStatus], **changes: Any) -> Job | None:
        job = self.get(job_id)
        if job.status not in set(allowed):
            return None
        moved = job.model_copy(update={"status": to, **changes})
        self.items[job_id] = moved
        if to is not JobStatus.SUBMITTED:
            self.expires.pop(job_id, None)
        return moved

    def record_counts(self, job_id: str, counts: JobCounts, summary: JobSummary | None = None, stored: int = 0) -> None:
        update: dict[str, Any] = {"counts": counts, "stored": stored}
        if summary is not None:
            update["summary"] = summary
        self.items[job_id] = self.get(job_id).model_copy(update=update)


class FakeJobWorkflow:
    """:class:`~sentiment_common.ports.JobWorkflow` in memory: executions by name, their status and counts."""

    def __init__(self, state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:classify") -> None:
        self._arn = state_machine_arn
        self.started: dict[str, dict[str, Any]] = {}
        self.inputs: list[tuple[str, dict[str, Any]]] = []  # every start, in order
        self.starts = 0
        self.status: dict[str, str] = {}
        self.counts: dict[str, tuple[int, int, int]] = {}
        self.redriven: list[str] = []

    def execution_arn(self, job_id: str) -> str:
        prefix, name = self._arn.split(":stateMachine:", 1)
        return f"{prefix}:execution:{name}:{job_id}"

    def start(self, job_id: str, job_input: dict[str, Any]) -> str:
        self.starts += 1
        self.inputs.append((job_id, job_input))
        self.started.setdefault(job_id, job_input)
        self.status.setdefault(job_id, "RUNNING")
        return self.execution_arn(job_id)

    def _name(self, execution_arn: str) -> str:
        return execution_arn.rsplit(":", 1)[1]

    def stop(self, execution_arn: str, cause: str) -> None:
        name = self._name(execution_arn)
        if self.status.get(name) == "RUNNING":
            self.status[name] = "ABORTED"

    def lose(self, job_id: str) -> None:
        """Forget the job's execution, as a local stack stopped without its executions does."""
        self.status.pop(job_id, None)
        self.counts.pop(job_id, None)

    def redrive(self, execution_arn: str) -> None:
        name = self._name(execution_arn)
        if name not in self.status:
            raise NotFoundError(f"no execution {execution_arn}")
        if self.status.get(name) not in {"FAILED", "ABORTED", "TIMED_OUT"}:
            raise ConflictError(f"the job cannot be resumed: the execution is {self.status.get(name)}")
        self.status[name] = "RUNNING"
        self.redriven.append(name)

    def progress(self, execution_arn: str) -> JobProgress:
        name = self._name(execution_arn)
        if name not in self.status:
            raise NotFoundError(f"no execution {execution_arn}")
        total, succeeded, failed = self.counts.get(name, (0, 0, 0))
        status = self.status.get(name, "RUNNING")
        return JobProgress(
            status=status,
            total=total,
            succeeded=succeeded,
            failed=failed,
            redrivable=status in {"FAILED", "ABORTED", "TIMED_OUT"},
        )


class FakeJobFiles:
    """:class:`~jobs_function.ports.JobFiles` in memory; ``chunk`` bytes at a time, as a stream comes."""

    def __init__(self, bucket: str = "data", chunk: int = 7) -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}
        self._chunk = chunk

    def stream(self, key: str) -> Iterator[bytes]:
        data = self.read(key)
        for start in range(0, len(data), self._chunk):
            yield data[start : start + self._chunk]

    def read(self, key: str) -> bytes:
        if key not in self.objects:
            raise FileNotFoundError(key)
        return self.objects[key]

    def write(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = bytes(body)

    def upload(self, key: str, path: Path, content_type: str) -> None:
        self.objects[key] = path.read_bytes()

    def keys(self, prefix: str) -> Iterator[str]:
        yield from sorted(key for key in self.objects if key.startswith(prefix))


class FakeJobLinks:
    """:class:`~sentiment_common.ports.JobLinks`: URLs naming the key and the expiry."""

    def upload_url(self, key: str, expires_in: int) -> str:
        return f"https://data.example/{key}?put&expires={expires_in}"

    def upload_path(self, key: str, expires_in: int) -> str:
        return f"/{key}?put&expires={expires_in}"

    def download_url(self, key: str, expires_in: int) -> str:
        return f"https://data.example/{key}?get&expires={expires_in}"
