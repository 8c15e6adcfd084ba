"""What the pipeline's logic needs besides the registry and the stores the API shares with it, in memory:
the data bucket, the SageMaker endpoint, and whose labels were withdrawn (``tests/contract`` holds each to
the behaviour of its boto3 adapter); and the pipeline's world on them, for the steps' tests."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from pipeline_function.logic.trigger import TriggerReport, on_feedback
from pipeline_function.ports import CHAMPION_POINTER, DataStore, EndpointStatus, ModelRelease
from sentiment_common.ports import ModelRegistry, PipelineStateStore, RetrainWorkflow, RunLedger
from sentiment_common.records import FeedbackRecord, Label, LabelSource, PublicLabels, feedback_key, new_id
from sentiment_common.registry import Champion
from sentiment_common.runs import RunGuard
from tests.fakes.registry import FakeRegistry
from tests.fakes.stores import FakeRetrainWorkflow

S3_EVENT = json.loads((Path(__file__).resolve().parents[2] / "events" / "s3-feedback-object-created.json").read_text())


class FakeDataStore:
    """The bucket's objects in a dict, under the addresses the S3 adapter gives them."""

    def __init__(self, bucket: str = "data-bucket") -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def key_of(self, uri: str) -> str:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not uri.startswith("s3://") or bucket != self.bucket:
            raise ValueError(f"{uri} is not in the data bucket {self.bucket}")
        return key

    def keys(self, prefix: str) -> Iterator[str]:
        yield from sorted(key for key in self.objects if key.startswith(prefix))

    def folders(self, prefix: str) -> Iterator[str]:
        below = (key[len(prefix) :] for key in self.objects if key.startswith(prefix))
        yield from sorted({f"{prefix}{rest.split('/', 1)[0]}/" for rest in below if "/" in rest})

    def read(self, key: str) -> bytes:
        return self.objects[key]

    def read_if_exists(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def write(self, key: str, body: bytes | bytearray, content_type: str) -> None:
        self.objects[key] = bytes(body)

    def copy(self, source_key: str, key: str) -> None:
        self.objects[key] = self.objects[source_key]

    def point_at(self, champion: Champion) -> None:
        self.write(CHAMPION_POINTER, champion.pointer(), "application/json")

    def pointer(self) -> dict[str, Any] | None:
        data = self.read_if_exists(CHAMPION_POINTER)
        return None if data is None else dict(json.loads(data))


class FakeModelEndpoint:
    """An endpoint that takes each release at once, or as a test sets its status: ``status`` is what
    DescribeEndpoint answers, ``config_name`` the configuration it serves, ``releases`` what was deployed."""

    def __init__(self, name: str = "sentiment", config_name: str = "sentiment-v1") -> None:
        self.name = name
        self.status = "InService"
        self.config_name = config_name
        self.failure_reason: str | None = None
        self.releases: list[ModelRelease] = []

    def describe(self) -> EndpointStatus:
        return EndpointStatus(self.status, self.config_name, self.failure_reason)

    def deploy(self, release: ModelRelease) -> str:
        self.releases.append(release)
        self.config_name = f"sentiment-{release.version}-{release.run_id}"
        return self.config_name


class FakeWithdrawnReviewers:
    """The names of reviewers whose labels were withdrawn, as a test sets them."""

    def __init__(self, *names: str) -> None:
        self.names = set(names)

    def withdrawn(self) -> set[str]:
        return set(self.names)


# ---- the pipeline's world, as its steps see it, and what tests do to it ----

THRESHOLD = 10
# Runs from feedback as often as the threshold allows; the guard's own tests give theirs.
UNGUARDED = RunGuard(min_interval=timedelta(0), max_per_day=1_000_000)


def model_archive(metadata: dict[str, Any], model: bytes = b"\x80\x04 any bytes stand for the model") -> bytes:
    """A model.tar.gz as training writes it: metadata.json and model.joblib."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("metadata.json", json.dumps(metadata).encode()), ("model.joblib", model)):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Pipeline:
    """The stores the steps run on (in memory, or the boto3 adapters on moto), with feedback as the API
    writes it, S3's notification of it, and the trigger's work for one notification."""

    models: ModelRegistry
    runs: RunLedger
    state_store: PipelineStateStore
    store: DataStore
    workflow: RetrainWorkflow

    @property
    def bucket(self) -> str:
        return self.store.bucket

    def feedback(
        self,
        label: Label = "positive",
        *,
        text: str = "A fine film",
        comment_id: str | None = None,
        created_at: datetime | None = None,
        feedback_id: str | None = None,
        reviewer: str | None = None,
        supported: bool | None = None,
    ) -> tuple[str, FeedbackRecord]:
        record = FeedbackRecord(
            feedback_id=feedback_id or new_id(),
            comment_id=comment_id,
            text=text,
            label=label,
            predicted_label="neutral",
            model_version="v1",
            created_at=created_at or datetime.now(UTC),
            source=LabelSource.REVIEWER if reviewer else LabelSource.PUBLIC,
            reviewer=reviewer,
            supported=supported,
        )
        return self.put(feedback_key(record), record.model_dump_json().encode()), record

    def put(self, key: str, body: bytes, content_type: str = "application/json") -> str:
        self.store.write(key, body, content_type)
        return key

    def event(self, *keys: str, bucket: str | None = None) -> dict[str, Any]:
        """The bucket's notification for ``keys``, shaped like events/s3-feedback-object-created.json."""
        (template,) = S3_EVENT["Records"]
        records = []
        for key in keys:
            record = json.loads(json.dumps(template))
            record["s3"]["bucket"] |= {"name": bucket or self.bucket, "arn": f"arn:aws:s3:::{bucket or self.bucket}"}
            record["s3"]["object"]["key"] = quote_plus(key, safe="/")
            records.append(record)
        return {"Records": records}

    def notify(
        self,
        *keys: str,
        guard: RunGuard = UNGUARDED,
        bucket: str | None = None,
        public_labels: PublicLabels = PublicLabels.TRAIN,
    ) -> TriggerReport:
        """The trigger function's work for one notification naming ``keys`` (in ``bucket``, this one's unless
        given). Public labels train unless the test says otherwise: most tests count labels."""
        return on_feedback(
            self.event(*keys, bucket=bucket),
            self.state_store,
            self.runs,
            self.store,
            self.workflow,
            threshold=THRESHOLD,
            guard=guard,
            public_labels=public_labels,
        )


class FakePipeline(Pipeline):
    """The pipeline on the fakes: the registry, the bucket and the state machine in memory."""

    workflow: FakeRetrainWorkflow
    store: FakeDataStore

    def __init__(self) -> None:
        registry = FakeRegistry.empty()
        super().__init__(registry.models, registry.runs, registry.pipeline, FakeDataStore(), FakeRetrainWorkflow())

    def executions(self) -> dict[str, str]:
        """Execution name → status."""
        return dict(self.workflow.statuses)

    def execution_input(self, name: str) -> dict[str, Any]:
        return dict(json.loads(self.workflow.requests[name].model_dump_json(exclude_none=True)))

    def stop(self, name: str) -> None:
        self.workflow.finish(name, "ABORTED")
