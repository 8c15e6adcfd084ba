"""The model registry and the retraining runs, as domain objects.

A *model* is a trained artifact with its metrics; one of them is the *champion* the service
answers with. A *run* is one execution of the retraining state machine: it trains a *candidate*,
which is promoted, rejected or held for a person, or it fails and leaves the champion as it was. A rollback is a run
too (``trigger=rollback``), so every change of champion is recorded the same way.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from sentiment_common.monitoring import Baseline


class ModelStatus(StrEnum):
    CHAMPION = "champion"
    CANDIDATE = "candidate"
    REJECTED = "rejected"
    HELD = "held"  # for a person: it changes answers near the new labels; an admin may promote it
    RETIRED = "retired"


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class Decision(StrEnum):
    PROMOTED = "promoted"
    REJECTED = "rejected"
    HELD = "held"


class Trigger(StrEnum):
    FEEDBACK = "feedback"
    MANUAL = "manual"
    ROLLBACK = "rollback"


class Action(StrEnum):
    RETRAIN = "retrain"
    PROMOTE = "promote"


Metrics = dict[str, float | None]


class EncoderRef(BaseModel):
    """The sentence encoder an encoder model reads texts with (its metadata's ``encoder``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: Annotated[str, Field(description="The encoder's name, e.g. minilm-sentiment")]
    sha256: Annotated[str, Field(description="SHA-256 of its model.onnx, checked before it loads")]
    licence: Annotated[str, Field(description="The licence of its weights, e.g. Apache-2.0")]


class ModelKind(StrEnum):
    ENCODER = "encoder"
    TFIDF = "tfidf"


def model_kind(metadata: dict[str, Any]) -> tuple[ModelKind, EncoderRef | None]:
    """An artifact's kind and encoder, from its metadata.json (no kind: a TF-IDF model from before kinds)."""
    kind = ModelKind(metadata.get("kind", ModelKind.TFIDF))
    encoder = metadata.get("encoder")
    return kind, EncoderRef.model_validate(encoder) if kind is ModelKind.ENCODER and encoder else None


class DataSourceRef(BaseModel):
    """One bundled data source a model was trained and evaluated on, with its licence as the source states it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: Annotated[str, Field(description="The source, e.g. rotten-tomatoes-reviews")]
    rows: Annotated[int, Field(description="Its rows the model was trained on")]
    golden_rows: Annotated[int, Field(description="Its rows in the golden split the model was evaluated on")]
    licence: Annotated[str, Field(description="Its licence as its source states it (SPDX id)")]
    licence_stated: Annotated[str, Field(description="Where and how the source states that licence")]
    package: Annotated[str, Field(description="The pinned package the rows come from")]
    non_commercial: Annotated[bool, Field(description="True when that licence forbids commercial use")]


class EncoderCard(BaseModel):
    """The card's word on an encoder model's encoder: its licence, its base, and what it was fine-tuned on."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    licence: Annotated[str, Field(description="The licence of the encoder's weights")]
    base: Annotated[str | None, Field(description="The model it was made from")]
    base_licence: Annotated[str | None, Field(description="The base model's licence")]
    fine_tuned: Annotated[bool, Field(description="False for the base model exported unchanged")]
    data_set: Annotated[str | None, Field(description="The data set it was fine-tuned on; null when not fine-tuned")]


class ModelCard(BaseModel):
    """Which data a model was built with and the licences that apply (its metadata's ``data``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    data_set: Annotated[
        str, Field(description="all (every bundled row) or commercial (without rows under a non-commercial licence)")
    ]
    sources: Annotated[list[DataSourceRef], Field(description="Every bundled source it was trained or evaluated on")]
    left_out: Annotated[list[str], Field(description="Bundled sources its data set leaves out")]
    licences: Annotated[list[str], Field(description="The licences of its bundled data")]
    non_commercial: Annotated[bool, Field(description="True when any of its data is under a non-commercial licence")]
    other_rows: Annotated[int, Field(description="Rows of no bundled source (uploaded datasets) it was trained on")]
    feedback_rows: Annotated[int, Field(description="Feedback rows it was trained on")] = 0
    encoder: Annotated[EncoderCard | None, Field(description="Its encoder's licence and data; null for tfidf")] = None


def model_card(metadata: dict[str, Any]) -> ModelCard | None:
    """The card from an artifact's metadata.json; None for a model trained before metadata carried it."""
    data = metadata.get("data")
    return ModelCard.model_validate(data) if isinstance(data, dict) else None


class ModelRecord(BaseModel):
    model_config = ConfigDict(frozen=True, protected_namespaces=())

    version: Annotated[str, Field(description="The model's version; its model_version in predictions")]
    status: Annotated[ModelStatus, Field(description="champion, candidate, rejected, held or retired")]
    metrics: Annotated[Metrics, Field(description="Golden-split and feedback hold-out metrics")]
    champion_metrics: Annotated[
        Metrics | None, Field(description="The then-champion's metrics on the same data, when compared")
    ] = None
    reasons: Annotated[list[str], Field(description="Why the evaluation promoted, rejected or held it")] = []
    dataset: Annotated[dict[str, Any], Field(description="What it was trained on: counts and SHA-256")]
    created_at: datetime
    training_run: Annotated[str | None, Field(description="The run that trained it; null for the first model")] = None
    model_data_url: Annotated[str, Field(description="s3:// URI of its model.tar.gz")]
    sha256: Annotated[str, Field(description="SHA-256 of model.tar.gz, checked before loading")]
    model_sha256: Annotated[
        str | None,
        Field(
            description="SHA-256 of the model.joblib inside model.tar.gz, which a SageMaker container checks "
            "before unpickling; null for a model registered before it was recorded"
        ),
    ] = None
    promoted_at: datetime | None = None
    kind: Annotated[ModelKind, Field(description="encoder (heads on a sentence encoder) or tfidf")] = ModelKind.TFIDF
    encoder: Annotated[EncoderRef | None, Field(description="The encoder model's encoder; null for tfidf")] = None
    baseline: Annotated[
        Baseline | None,
        Field(description="Its predictions on the golden split at training time, what drift is measured against"),
    ] = None
    card: Annotated[
        ModelCard | None,
        Field(description="Its data sources and licences; null for a model trained before artifacts carried them"),
    ] = None


class Champion(BaseModel):
    """The model a service answers with: the registry's champion, the pointer ``models/champion.json``
    that the ECS service follows, a model an endpoint was given. ``promoted_at`` is None for a model
    that was never promoted (a first model being set up)."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    version: Annotated[str, Field(description="The model's version")]
    model_data_url: Annotated[str, Field(description="Its model.tar.gz (s3:// URI, or a local path)")]
    sha256: Annotated[str, Field(description="SHA-256 of that model.tar.gz")]
    model_sha256: Annotated[str | None, Field(description="SHA-256 of the model.joblib inside it")] = None
    promoted_at: datetime | None = None
    previous_version: str | None = None

    def pointer(self) -> bytes:
        """The champion pointer document, the one format every writer uses and the container reads
        (``sentiment_model.serving.ChampionPointer``): version, model_data_url, sha256, promoted_at, and
        model_sha256 when it is known."""
        fields = {"version", "model_data_url", "sha256", "promoted_at"}
        if self.model_sha256 is not None:
            fields.add("model_sha256")
        return self.model_dump_json(include=fields).encode()


class RunStep(BaseModel):
    """One finished step of a run, as the step itself reported it."""

    model_config = ConfigDict(frozen=True)

    step: str
    finished_at: datetime
    detail: dict[str, Any] = {}


class TrainingRun(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: Annotated[str, Field(description="Also the state machine execution's name")]
    status: RunStatus
    trigger: Trigger
    action: Action = Action.RETRAIN
    started_at: datetime
    decision: Decision | None = None
    candidate_version: str | None = None
    metrics: Metrics | None = None
    reasons: list[str] = []
    finished_at: datetime | None = None
    execution_arn: str | None = None
    feedback_count: Annotated[int | None, Field(description="New feedback items that started it")] = None
    error: Annotated[str | None, Field(description="Why it failed")] = None
    steps: list[RunStep] = []
    started_by_request: Annotated[str | None, Field(description="The API request that started it, if any")] = None


class HeldBack(BaseModel):
    """Why the feedback that reached the threshold has not started a run yet, and until when."""

    model_config = ConfigDict(frozen=True)

    reason: Annotated[str, Field(description="Which guard held the run back, and what it allows")]
    at: Annotated[datetime, Field(description="When the threshold was reached and the run held back")]
    until: Annotated[datetime, Field(description="From then, the next feedback starts the run")]


class PipelineState(BaseModel):
    """The feedback count, the one run that may be active, and why a due run is held back."""

    model_config = ConfigDict(frozen=True)

    pending_feedback: int = 0
    generation: int = 0
    active_run: str | None = None
    active_started: bool = False
    malformed_feedback: int = 0
    held_back: HeldBack | None = None


class RunRequest(BaseModel):
    """What the state machine is started with."""

    model_config = ConfigDict(frozen=True)

    action: Action = Action.RETRAIN
    trigger: Trigger = Trigger.MANUAL
    version: str | None = None
    feedback_count: int | None = None
    started_by_request: Annotated[
        str | None, Field(description="The API request id of the call that started it; every step logs it")
    ] = None


class RunOutcome(TypedDict, total=False):
    """What finishing a run records beside its status."""

    decision: Decision | None
    candidate_version: str | None
    metrics: Metrics | None
    reasons: list[str] | None
    error: str | None


def run_id_of(generation: int) -> str:
    """Run ids are the execution names: one per generation of the pipeline state, so a duplicate or
    replayed event that finds the same generation can only ever name the same execution."""
    return f"run-{generation:06d}"


def claimed_run(generation: int, request: RunRequest, now: datetime) -> TrainingRun:
    """The run that taking the slot for ``generation`` records."""
    return TrainingRun(
        run_id=run_id_of(generation),
        status=RunStatus.RUNNING,
        trigger=request.trigger,
        action=request.action,
        candidate_version=request.version,
        started_at=now,
        feedback_count=request.feedback_count,
        started_by_request=request.started_by_request,
    )


def first_champion(
    version: str,
    model_data_url: str,
    sha256: str,
    metadata: dict[str, Any],
    now: datetime,
    *,
    model_sha256: str | None = None,
) -> tuple[ModelRecord, Champion]:
    """A first model, registered as champion from its ``metadata.json``."""
    kind, encoder = model_kind(metadata)
    record = ModelRecord(
        version=version,
        kind=kind,
        encoder=encoder,
        status=ModelStatus.CHAMPION,
        metrics=metadata.get("metrics", {}),
        dataset=metadata.get("dataset", {}),
        baseline=metadata.get("baseline"),
        card=model_card(metadata),
        created_at=datetime.fromisoformat(metadata["created_at"]) if "created_at" in metadata else now,
        training_run=None,
        model_data_url=model_data_url,
        sha256=sha256,
        model_sha256=model_sha256,
        promoted_at=now,
        reasons=["the first model"],
    )
    return record, Champion(
        version=version, model_data_url=model_data_url, sha256=sha256, model_sha256=model_sha256, promoted_at=now
    )


def promoted(model: ModelRecord, current: Champion | None, now: datetime) -> Champion:
    """The champion ``model`` becomes, in place of ``current``."""
    return Champion(
        version=model.version,
        model_data_url=model.model_data_url,
        sha256=model.sha256,
        model_sha256=model.model_sha256,
        promoted_at=now,
        previous_version=current.version if current else None,
    )
