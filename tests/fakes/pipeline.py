"""What the pipeline's logic needs besides the registry, in memory: the data bucket, the retraining
state machine and the monitoring counters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from pipeline_function.adapters.store import DataStore
from sentiment_common.monitoring import DayCounts
from sentiment_common.registry import RunRequest


class FakeDataStore(DataStore):
    """The bucket's objects in a dict; addresses and the champion pointer as the adapter makes them."""

    def __init__(self, bucket: str = "data-bucket") -> None:
        super().__init__(bucket)
        self.objects: dict[str, bytes] = {}

    def keys(self, prefix: str) -> Iterator[str]:
        yield from sorted(key for key in self.objects if key.startswith(prefix))

    def read(self, key: str) -> bytes:
        return self.objects[key]

    def read_if_exists(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def write(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def copy(self, source_key: str, key: str) -> None:
        self.objects[key] = self.objects[source_key]


class FakeWorkflow:
    """Executions by name; starting one twice finds the first, as Step Functions does."""

    def __init__(self) -> None:
        self.executions: dict[str, tuple[str, RunRequest]] = {}

    def execution_arn(self, run_id: str) -> str:
        return f"arn:aws:states:us-east-1:123456789012:execution:retrain:{run_id}"

    def start(self, run_id: str, request: RunRequest) -> str:
        self.executions.setdefault(run_id, ("RUNNING", request))
        return self.execution_arn(run_id)

    def status(self, run_id: str) -> str | None:
        return self.executions[run_id][0] if run_id in self.executions else None

    def end(self, run_id: str, status: str) -> None:
        self.executions[run_id] = (status, self.executions[run_id][1])


class FakeMonitoringStore:
    def __init__(self, days: list[DayCounts] | None = None, queue: int = 0) -> None:
        self.counted = days or []
        self.queue = queue

    def days(self, first: date, last: date) -> list[DayCounts]:
        return [day for day in self.counted if first <= day.day <= last]

    def queue_size(self) -> int:
        return self.queue
