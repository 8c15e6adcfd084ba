"""The ports: what the logic needs of each store, as protocols.

The functions' logic takes these, never a boto3-backed class. The adapters in ``sentiment_common.dal``
(and the pipeline's ``adapters``) implement them over AWS; the in-memory fakes in ``tests/fakes`` implement
them for unit tests, and the contract tests in ``tests/contract`` hold both to the same behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Literal, Protocol, Unpack

from sentiment_common.datasets import Dataset, ImportOutcome
from sentiment_common.jobs import Job, JobCounts, JobProgress, JobStatus, JobSummary
from sentiment_common.monitoring import DayCounts, VersionCounts
from sentiment_common.records import (
    Comment,
    ExplainedPrediction,
    FeedbackMark,
    FeedbackRecord,
    Label,
    LabelSource,
    Prediction,
)
from sentiment_common.registry import (
    Champion,
    HeldBack,
    ModelRecord,
    PipelineState,
    RunOutcome,
    RunRequest,
    RunStatus,
    TrainingRun,
)
from sentiment_common.reviewers import Reviewer

# ---- comments, feedback, the pending queue, the workflow, the monitoring counters ----

Classified = Literal["queued", "labelled", "unsupported", "skipped"]
"""What became of a pending comment the model has now answered for (:meth:`CommentStore.classify_pending`)."""


class CommentStore(Protocol):
    """Comments by id, newest first (all or by sentiment), and the review queue; pages carry opaque tokens
    that a listing refuses (``InvalidInputError``) unless it issued them. A comment past its retention
    is gone to every method, whether or not it has been deleted yet."""

    def put_new(self, comment: Comment) -> None:
        """Refuses an id already stored."""

    def put_all(self, comments: list[Comment]) -> None:
        """All or nothing."""

    def get(self, comment_id: str) -> Comment:
        """``NotFoundError`` when there is no such comment."""

    def review_queue(self, limit: int, token: str | None) -> tuple[list[Comment], str | None]:
        """Classified comments nobody has labelled, smallest margin first."""

    def list(self, sentiment: str | None, limit: int, token: str | None) -> tuple[list[Comment], str | None]:
        """Newest first; ``sentiment`` is a label or ``pending``, ``None`` lists everything."""

    def classify_pending(self, comment_id: str, prediction: Prediction) -> Classified:
        """Store the model's answer, only while the comment is still pending."""

    def mark_feedback(self, comment_id: str, mark: FeedbackMark) -> Comment:
        """Record the latest label on an existing comment; returns the comment as it was before. A public
        label leaves a comment a reviewer labelled as it was."""

    def suggest(self, comment_id: str, mark: FeedbackMark) -> Comment:
        """Record a public label that only suggests; a comment in the review queue moves to its front, a
        labelled one keeps its label. Returns the comment as it was before."""

    def keep_explanation(self, comment_id: str, explained: ExplainedPrediction) -> None:
        """Keep the comment's latest explanation (read back as ``Comment.explanation``); nothing if it is gone."""


class FeedbackArchive(Protocol):
    """The feedback records retraining reads; creating one is what starts retraining."""

    def put(self, record: FeedbackRecord) -> str:
        """Returns the record's key."""

    def delete(self, key: str) -> None: ...


class RetryQueue(Protocol):
    """The ids of comments stored as pending while the model was unreachable."""

    def enqueue(self, comment_ids: list[str]) -> None:
        """``ServiceUnavailableError`` unless every id was accepted."""


class RetrainWorkflow(Protocol):
    """The retraining state machine: one execution per run, named by the run's id."""

    def execution_arn(self, run_id: str) -> str: ...

    def start(self, run_id: str, request: RunRequest) -> str:
        """Starting a run already started finds the first execution."""

    def status(self, run_id: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED; None when there is no such execution."""


class MonitoringCounters(Protocol):
    """Counts of what was classified and labelled, by day and by model version, and the review queue's size.
    Counting never fails the caller."""

    def classified(self, predictions: Iterable[Prediction], day: date, queued: bool = True) -> None: ...

    def labelled(
        self,
        prediction: Prediction,
        given: Label,
        previous: Label | None,
        day: date,
        first: bool,
        *,
        source: LabelSource = LabelSource.PUBLIC,
    ) -> None: ...

    def suggested(self, prediction: Prediction, given: Label, day: date) -> None:
        """A public label that only suggests: counted in the public's agreement, not in the version's."""

    def days(self, first: date, last: date) -> list[DayCounts]:
        """Every day from ``first`` to ``last``, days with nothing included."""

    def versions(self) -> list[VersionCounts]: ...

    def queue_size(self) -> int: ...


class WithdrawnReviewers(Protocol):
    """Reviewers whose labels an admin withdrew: the next run trains on none of them."""

    def withdrawn(self) -> set[str]:
        """Their names."""
        ...


# ---- the model registry, the run ledger and the pipeline's state ----


class ModelRegistry(Protocol):
    """The registered models and the champion."""

    def champion(self) -> Champion | None: ...

    def get_model(self, version: str) -> ModelRecord:
        """:class:`~sentiment_common.errors.NotFoundError` for a version never registered."""
        ...

    def list_models(self) -> list[ModelRecord]:
        """Newest first."""
        ...

    def put_model(self, record: ModelRecord) -> bool:
        """Register a model once; False if that version is already registered."""
        ...

    def ensure_champion(
        self, version: str, model_data_url: str, sha256: str, metadata: dict[str, Any], model_sha256: str | None = None
    ) -> bool:
        """Register a first model as champion; False if there already is one. ``model_sha256``: of the
        model.joblib inside the archive (:mod:`sentiment_common.artifacts`)."""
        ...

    def promote(self, version: str) -> Champion:
        """Make a registered version the champion, the old one retired; promoting the champion again
        changes nothing. :class:`~sentiment_common.errors.ConflictError` if the champion changed meanwhile."""
        ...


class RunLedger(Protocol):
    """The retraining runs, newest first."""

    def create_run(self, run: TrainingRun) -> bool:
        """False if the run is already recorded."""
        ...

    def get_run(self, run_id: str) -> TrainingRun: ...

    def list_runs(self, limit: int, token: str | None) -> tuple[list[TrainingRun], str | None]:
        """A page of at most ``limit`` runs and the token of the next page (None after the last)."""
        ...

    def add_step(self, run_id: str, step: str, detail: dict[str, Any]) -> None: ...

    def update_run(self, run_id: str, **fields: Any) -> None: ...

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        **outcome: Unpack[RunOutcome],
    ) -> bool:
        """Record a running run's outcome and free the run slot; False if it was already recorded or
        there is no such run."""
        ...


class PipelineStateStore(Protocol):
    """The feedback count, the run slot, and which feedback objects were counted."""

    def state(self) -> PipelineState: ...

    def hold_back(self, held: HeldBack) -> None: ...

    def count_feedback(self, key: str, *, malformed: bool = False) -> bool:
        """Count an object once; False for one already counted."""
        ...

    def claim_run(self, state: PipelineState, request: RunRequest) -> TrainingRun | None:
        """Take the slot for the generation after ``state``'s and record the run; None if taken."""
        ...

    def mark_started(self, run_id: str, execution_arn: str) -> None: ...

    def release(self, run_id: str) -> None:
        """Free the run slot if ``run_id`` holds it."""
        ...


# ---- the reviewers ----


class Reviewers(Protocol):
    """Named reviewers and their keys (stored as SHA-256 digests only); see ``sentiment_common.reviewers``."""

    def create(self, name: str, key_sha256: str, at: datetime) -> Reviewer:
        """A new reviewer, or a revoked one given a new key. :class:`~sentiment_common.errors.ConflictError`
        if the name is active or withdrawn."""
        ...

    def get(self, name: str) -> Reviewer:
        """:class:`~sentiment_common.errors.NotFoundError` for a name never created."""
        ...

    def list(self) -> list[Reviewer]:
        """By name."""
        ...

    def revoke(self, name: str, at: datetime) -> Reviewer:
        """The key stops working at once; revoking again changes nothing."""
        ...

    def withdraw(self, name: str, at: datetime) -> Reviewer:
        """Their labels leave training (and their key is revoked); withdrawing again changes nothing."""
        ...

    def reviewer_for(self, key_sha256: str) -> str | None:
        """The name of the active reviewer holding the key with this digest, else None: one read."""
        ...

    def withdrawn(self) -> set[str]:
        """The names whose labels no run may train on."""
        ...


# ---- the labelled files (datasets) ----


class Datasets(Protocol):
    """The datasets' records (``sentiment_common.datasets``); their files are :class:`DatasetFiles`'."""

    def create(self, dataset: Dataset, now: datetime) -> Dataset:
        """Record a new dataset. :class:`~sentiment_common.errors.ConflictError` if the name is taken by a
        dataset that has not expired at ``now``; an expired one is replaced."""
        ...

    def get(self, name: str) -> Dataset:
        """:class:`~sentiment_common.errors.NotFoundError` for a name not recorded (or deleted)."""
        ...

    def finish_import(self, name: str, outcome: ImportOutcome) -> bool:
        """Record an import's outcome, only while the dataset is SUBMITTED: False if it was already imported,
        failed, or is gone (a duplicate event, or a delete meanwhile)."""
        ...

    def delete(self, name: str) -> Dataset:
        """Remove the record; returns it as it was. NotFoundError if there is none."""
        ...

    def active(self) -> list[Dataset]:
        """Every ACTIVE dataset, by name: what a run trains on."""
        ...

    def list(self, limit: int, token: str | None) -> tuple[list[Dataset], str | None]:
        """Newest first; a page of at most ``limit`` and the token of the next (None after the last). A token
        this store did not issue is refused (:class:`~sentiment_common.errors.InvalidInputError`)."""
        ...


class DatasetFiles(Protocol):
    """The datasets' objects in the data bucket: the upload, the accepted rows, the report."""

    def upload_url(self, key: str, expires_in: int) -> str:
        """A presigned PUT: any client can upload with it, no header needed."""
        ...

    def upload_path(self, key: str, expires_in: int) -> str:
        """The same PUT as a path and query on the web page's origin, which forwards it to the bucket."""
        ...

    def download_url(self, key: str, expires_in: int) -> str:
        """A presigned GET."""
        ...

    def delete_under(self, prefix: str) -> int:
        """Delete every object under ``prefix``; returns how many."""
        ...


# ---- bulk classification jobs ----


class Jobs(Protocol):
    """One record per job, listed newest first with opaque page tokens (``InvalidInputError`` for a token
    it did not issue). Status changes are conditional on the status before, so a late or repeated event
    never moves a finished job back."""

    def put_new(self, job: Job, expires_at: datetime) -> None:
        """Store a submitted job, forgotten at ``expires_at`` unless it starts; refuses an id already stored."""
        ...

    def get(self, job_id: str) -> Job:
        """``NotFoundError`` when there is no such job."""
        ...

    def list(self, limit: int, token: str | None) -> tuple[list[Job], str | None]:
        """Newest first."""
        ...

    def move(self, job_id: str, to: JobStatus, allowed: Iterable[JobStatus], **changes: Any) -> Job | None:
        """Set the status (and any of ``started_at``, ``finished_at``, ``reason``, ``execution_arn``,
        ``results_key``) only while the job's status is one of ``allowed``; the job as it is now, or None
        when its status was not allowed (nothing written). A started job is no longer forgotten."""
        ...

    def record_counts(self, job_id: str, counts: JobCounts, summary: JobSummary | None = None, stored: int = 0) -> None:
        """The rows' counts (and the results' summary when there is one)."""
        ...


class JobWorkflow(Protocol):
    """The classify state machine: one execution per job, named by the job's id."""

    def execution_arn(self, job_id: str) -> str:
        """The ARN the job's execution has, started or not."""
        ...

    def start(self, job_id: str, job_input: dict[str, Any]) -> str:
        """Start the execution named ``job_id``; an execution of that name already existing is success (a
        duplicate S3 event, a second upload). The execution's ARN."""
        ...

    def stop(self, execution_arn: str, cause: str) -> None:
        """Abort the execution (and so its map run); stopping a finished one changes nothing."""
        ...

    def redrive(self, execution_arn: str) -> None:
        """Run again, from where it failed or was stopped, what did not succeed (RedriveExecution):
        a redriven map run runs only its children that did not succeed. ``ConflictError`` with the
        reason when Step Functions refuses; ``NotFoundError`` when the execution does not exist."""
        ...

    def progress(self, execution_arn: str) -> JobProgress:
        """The execution's status and its map run's item counts; ``NotFoundError`` when it does not exist."""
        ...


class JobLinks(Protocol):
    """Presigned URLs for a job's files in the data bucket."""

    def upload_url(self, key: str, expires_in: int) -> str:
        """A PUT URL needing no header (``curl -T file URL``)."""
        ...

    def upload_path(self, key: str, expires_in: int) -> str:
        """The same PUT as a path and query on the web page's origin, which forwards it to the bucket."""
        ...

    def download_url(self, key: str, expires_in: int) -> str: ...
