"""The ports: what the logic needs of each store, as protocols.

The functions' logic takes these, never a boto3-backed class. The adapters in ``sentiment_common.dal``
(and the pipeline's ``adapters``) implement them over AWS; the in-memory fakes in ``tests/fakes`` implement
them for unit tests, and the contract tests in ``tests/contract`` hold both to the same behaviour.
"""

from __future__ import annotations

from typing import Any, Protocol, Unpack

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

# ---- comments, feedback, the pending queue, the workflow, the monitoring counters ----


# ---- the model registry, the run ledger and the pipeline's state ----


class ModelRegistryPort(Protocol):
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

    def ensure_champion(self, version: str, model_data_url: str, sha256: str, metadata: dict[str, Any]) -> bool:
        """Register a first model as champion; False if there already is one."""
        ...

    def promote(self, version: str) -> Champion:
        """Make a registered version the champion, the old one retired; promoting the champion again
        changes nothing. :class:`~sentiment_common.errors.ConflictError` if the champion changed meanwhile."""
        ...


class RunLedgerPort(Protocol):
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


class PipelineStatePort(Protocol):
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
