"""The registry's three stores in memory, with the semantics of the DynamoDB adapters: writes that
happen once (a retry answers False), one run slot per generation, each feedback object counted once,
runs listed newest first a page at a time. ``tests/contract`` holds both to the same behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Unpack

from sentiment_common.dal.comments import decode_token, encode_token
from sentiment_common.errors import ConflictError, NotFoundError
from sentiment_common.records import utc_now
from sentiment_common.registry import (
    Champion,
    HeldBack,
    ModelRecord,
    ModelStatus,
    PipelineState,
    RunOutcome,
    RunRequest,
    RunStatus,
    RunStep,
    TrainingRun,
    claimed_run,
    first_champion,
    promoted,
)


@dataclass
class RegistryData:
    """What the registry table holds, shared by the three stores as the table is."""

    models: dict[str, ModelRecord] = field(default_factory=dict)
    champion: Champion | None = None
    runs: dict[str, TrainingRun] = field(default_factory=dict)
    state: PipelineState = field(default_factory=PipelineState)
    counted: set[str] = field(default_factory=set)  # the FEEDBACK markers


class FakeModelRegistry:
    def __init__(self, data: RegistryData) -> None:
        self.data = data

    def champion(self) -> Champion | None:
        return self.data.champion

    def get_model(self, version: str) -> ModelRecord:
        if version not in self.data.models:
            raise NotFoundError(f"no model with version {version!r}")
        return self.data.models[version]

    def list_models(self) -> list[ModelRecord]:
        return sorted(self.data.models.values(), key=lambda model: model.created_at, reverse=True)

    def put_model(self, record: ModelRecord) -> bool:
        if record.version in self.data.models:
            return False
        self.data.models[record.version] = record
        return True

    def ensure_champion(
        self, version: str, model_data_url: str, sha256: str, metadata: dict[str, Any], model_sha256: str | None = None
    ) -> bool:
        if self.data.champion is not None:
            return False
        record, self.data.champion = first_champion(
            version, model_data_url, sha256, metadata, utc_now(), model_sha256=model_sha256
        )
        self.data.models[version] = record
        return True

    def promote(self, version: str) -> Champion:
        model = self.get_model(version)
        current = self.data.champion
        if current is not None and current.version == version:
            return current
        now = utc_now()
        self.data.champion = promoted(model, current, now)
        self.data.models[version] = model.model_copy(update={"status": ModelStatus.CHAMPION, "promoted_at": now})
        if current is not None and current.version in self.data.models:
            retired = self.data.models[current.version].model_copy(update={"status": ModelStatus.RETIRED})
            self.data.models[current.version] = retired
        return self.data.champion


class FakeRunLedger:
    def __init__(self, data: RegistryData) -> None:
        self.data = data

    def create_run(self, run: TrainingRun) -> bool:
        if run.run_id in self.data.runs:
            return False
        self.data.runs[run.run_id] = run
        return True

    def get_run(self, run_id: str) -> TrainingRun:
        if run_id not in self.data.runs:
            raise NotFoundError(f"no training run {run_id!r}")
        return self.data.runs[run_id]

    def list_runs(self, limit: int, token: str | None) -> tuple[list[TrainingRun], str | None]:
        newest_first = sorted(self.data.runs, reverse=True)
        if token:
            after = decode_token(token, {"pk", "sk"}, partition={"pk": "RUN"})["sk"]
            newest_first = [run_id for run_id in newest_first if run_id < after]
        page = newest_first[:limit]
        more = len(newest_first) > limit
        return [self.data.runs[run_id] for run_id in page], encode_token(
            {"pk": "RUN", "sk": page[-1]}
        ) if more else None

    def add_step(self, run_id: str, step: str, detail: dict[str, Any]) -> None:
        run = self.get_run(run_id)
        entry = RunStep(step=step, finished_at=utc_now(), detail=detail)
        self.data.runs[run_id] = run.model_copy(update={"steps": [*run.steps, entry]})

    def update_run(self, run_id: str, **fields: Any) -> None:
        run = self.get_run(run_id)
        self.data.runs[run_id] = TrainingRun.model_validate(run.model_dump() | fields)

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        **outcome: Unpack[RunOutcome],
    ) -> bool:
        run = self.data.runs.get(run_id)
        finished = run is not None and run.status is RunStatus.RUNNING
        if run is not None and finished:
            self.data.runs[run_id] = TrainingRun.model_validate(
                run.model_dump()
                | {"status": status, "finished_at": utc_now()}
                | {name: value for name, value in outcome.items() if value is not None}
            )
        FakePipelineStateStore(self.data).release(run_id)
        return finished


class FakePipelineStateStore:
    def __init__(self, data: RegistryData) -> None:
        self.data = data

    def state(self) -> PipelineState:
        return self.data.state

    def hold_back(self, held: HeldBack) -> None:
        self._set(held_back=held)

    def count_feedback(self, key: str, *, malformed: bool = False) -> bool:
        if key in self.data.counted:
            return False
        self.data.counted.add(key)
        counter = "malformed_feedback" if malformed else "pending_feedback"
        self._set(**{counter: getattr(self.data.state, counter) + 1})
        return True

    def claim_run(self, state: PipelineState, request: RunRequest) -> TrainingRun | None:
        current = self.data.state
        run = claimed_run(state.generation + 1, request, utc_now())
        if current.active_run is not None or current.generation != state.generation or run.run_id in self.data.runs:
            return None
        self._set(
            generation=state.generation + 1,
            active_run=run.run_id,
            active_started=False,
            pending_feedback=current.pending_feedback - state.pending_feedback,
            held_back=None,
        )
        self.data.runs[run.run_id] = run
        return run

    def mark_started(self, run_id: str, execution_arn: str) -> None:
        if self.data.state.active_run != run_id:
            raise ConflictError(f"run {run_id} does not hold the run slot")
        self._set(active_started=True)
        self.data.runs[run_id] = self.data.runs[run_id].model_copy(update={"execution_arn": execution_arn})

    def release(self, run_id: str) -> None:
        if self.data.state.active_run == run_id:
            self._set(active_run=None, active_started=False)

    def _set(self, **fields: Any) -> None:
        self.data.state = self.data.state.model_copy(update=fields)


@dataclass(frozen=True)
class FakeRegistry:
    """The three stores over one in-memory table."""

    models: FakeModelRegistry
    runs: FakeRunLedger
    pipeline: FakePipelineStateStore

    @classmethod
    def empty(cls) -> FakeRegistry:
        data = RegistryData()
        return cls(FakeModelRegistry(data), FakeRunLedger(data), FakePipelineStateStore(data))
