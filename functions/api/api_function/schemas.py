"""Request and response bodies of the HTTP API. Domain objects map to these explicitly."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from api_function.logic.datasets import DatasetView, SubmittedDataset
from api_function.logic.feedback import RecordedFeedback
from api_function.logic.monitoring import Report
from sentiment_common.datasets import (
    MAX_TEXT_CHARS,
    MAX_UPLOAD_BYTES,
    DatasetFormat,
    DatasetStatus,
    ImportCounts,
    Rejection,
)
from sentiment_common.datasets import NAME_PATTERN as DATASET_NAME
from sentiment_common.monitoring import DayFigures, Drift, SourceAgreement, VersionQuality
from sentiment_common.records import (
    MAX_COMMENT_CHARS,
    UNDETERMINED,
    Attribution,
    Comment,
    CommentStatus,
    CommentText,
    ExplainedPrediction,
    Label,
    LabelSource,
    LabelUse,
    PendingReason,
    Readiness,
    Scores,
)
from sentiment_common.registry import (
    Decision,
    EncoderRef,
    Metrics,
    ModelCard,
    ModelKind,
    ModelRecord,
    RunStatus,
    TrainingRun,
    Trigger,
)
from sentiment_common.registry import ModelStatus as RegisteredStatus
from sentiment_common.reviewers import ADMIN_REVIEWER, NAME_PATTERN, IssuedReviewer, Reviewer

MAX_BATCH = 25


# An upload's presigned PUT as a path on the page's own origin (jobs and datasets alike).
UploadPath = Annotated[
    str,
    Field(
        description="The same presigned PUT as a path on the web page's own origin (the CloudFront "
        "distribution forwards it to the bucket): what a browser page uses, since its policy lets it "
        "fetch from its own origin only"
    ),
]


class CommentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: Annotated[
        CommentText,
        Field(
            validation_alias=AliasChoices("comment", "text"),
            description=f"The text to classify: 1–{MAX_COMMENT_CHARS} characters after trimming (`text` also accepted)",
        ),
    ]


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comments: Annotated[
        list[str],
        Field(
            min_length=1,
            max_length=MAX_BATCH,
            description=f"1–{MAX_BATCH} texts; each is checked on its own and answered by position",
        ),
    ]


class FeedbackOut(BaseModel):
    feedback_id: str
    label: Annotated[Label, Field(description="The label a person gave")]
    created_at: datetime


class CommentOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    comment_id: str
    timestamp: Annotated[datetime, Field(description="When the comment was received (UTC)")]
    original_comment: str
    status: Annotated[CommentStatus, Field(description="`pending` until the model has answered")]
    sentiment: Annotated[Label | None, Field(description="The model's label; null while pending")]
    score: Annotated[
        float | None, Field(ge=-1, le=1, description="Polarity: P(positive) − P(negative); null while pending")
    ]
    confidence: Annotated[float | None, Field(description="Probability of the label; null while pending")]
    scores: Annotated[Scores | None, Field(description="Probability of each class; null while pending")]
    model_version: Annotated[str | None, Field(description="Model that classified it; null while pending")]
    uncertainty: Annotated[
        float | None,
        Field(
            ge=0,
            le=1,
            description="1 − the margin between the two likeliest classes: 1 when they tie, 0 when one class "
            "has all the probability; null while pending",
        ),
    ] = None
    language: Annotated[
        str | None,
        Field(
            description="The comment's language, as the model container identified it: ISO 639-1 (ISO 639-3 "
            "where there is none), `und` when the text says too little to tell; null while pending"
        ),
    ] = None
    supported: Annotated[
        bool | None,
        Field(
            description="Whether the model was trained for that language. When false, `sentiment` is only a "
            "guess by a model that cannot read the text: show it as such. Such a comment never joins the "
            "review queue and is left out of monitoring's figures and of training; null while pending"
        ),
    ] = None
    feedback: Annotated[FeedbackOut | None, Field(description="The latest correction, if any")] = None
    suggested_label: Annotated[
        Label | None,
        Field(
            description="The latest label the public suggested (PublicLabels=suggest), for a reviewer to confirm "
            "or correct; it never trains. Null with none"
        ),
    ] = None
    pending_reason: Annotated[
        PendingReason | None,
        Field(
            description="Why it is pending: `model_starting` while a serverless endpoint starts after idle "
            "(classified within minutes), `model_unavailable` when the model did not answer; null once classified"
        ),
    ] = None

    @classmethod
    def of(cls, comment: Comment) -> CommentOut:
        prediction = comment.prediction
        feedback = comment.feedback
        return cls(
            comment_id=comment.comment_id,
            timestamp=comment.created_at,
            original_comment=comment.text,
            status=comment.status,
            sentiment=prediction.label if prediction else None,
            score=round(prediction.scores.positive - prediction.scores.negative, 6) if prediction else None,
            confidence=prediction.confidence if prediction else None,
            scores=prediction.scores if prediction else None,
            model_version=prediction.model_version if prediction else None,
            uncertainty=prediction.uncertainty if prediction else None,
            language=prediction.language if prediction else None,
            supported=prediction.supported if prediction else None,
            feedback=FeedbackOut(feedback_id=feedback.feedback_id, label=feedback.label, created_at=feedback.created_at)
            if feedback
            else None,
            pending_reason=comment.pending_reason,
            suggested_label=comment.suggestion.label if comment.suggestion else None,
        )


class ExplanationOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    comment_id: str
    original_comment: str
    sentiment: Annotated[Label, Field(description="The label the serving model gives the comment now")]
    confidence: Annotated[float, Field(description="Probability of that label")]
    model_version: Annotated[
        str,
        Field(description="The model that explained: the one serving now, which may not be the one that classified"),
    ]
    method: Annotated[
        Literal["occlusion"],
        Field(description="Each span is left out in turn and the text scored again; at most 48 spans per text"),
    ]
    tokens_per_span: Annotated[int, Field(description="Words per span: 1, or more for a long text cut into 48")]
    tokens: Annotated[list[Attribution], Field(description="The text's spans in order, each with its weight")]
    language: Annotated[str, Field(description="The comment's language, as on the comment")] = UNDETERMINED
    supported: Annotated[
        bool, Field(description="Whether the model was trained for it; when false the weights explain a guess")
    ] = True

    @classmethod
    def of(cls, comment: Comment, explained: ExplainedPrediction) -> ExplanationOut:
        explanation = explained.explanation
        return cls(
            comment_id=comment.comment_id,
            original_comment=comment.text,
            sentiment=explained.label,
            confidence=explained.confidence,
            model_version=explained.model_version,
            method=explanation.method,
            tokens_per_span=explanation.tokens_per_span,
            tokens=explanation.tokens,
            language=explained.language,
            supported=explained.supported,
        )


class CommentPage(BaseModel):
    items: list[CommentOut]
    next_token: Annotated[str | None, Field(description="Pass back to get the next page; null on the last")]
    remaining: Annotated[
        int | None, Field(description="With needs_review=true: how many comments wait for a label; else null")
    ] = None


class BatchItemResult(CommentOut):
    index: Annotated[int, Field(description="Position of the text in the request")]


class BatchItemError(BaseModel):
    index: Annotated[int, Field(description="Position of the text in the request")]
    message: str


class BatchResponse(BaseModel):
    results: list[BatchItemResult]
    errors: list[BatchItemError]


class FeedbackRequest(BaseModel):
    # The document says what _one_subject checks: a string comment_id or a string text, not both.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["comment_id"], "properties": {"comment_id": {"type": "string"}}},
                {"required": ["text"], "properties": {"text": {"type": "string"}}},
            ]
        },
    )

    comment_id: Annotated[str | None, Field(min_length=1, max_length=64, description="A stored comment")] = None
    text: Annotated[CommentText | None, Field(description="Or a text that was never stored")] = None
    label: Annotated[Label, Field(description="The right label")]

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        if (self.comment_id is None) == (self.text is None):
            raise ValueError("give exactly one of comment_id or text")
        return self


class FeedbackResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    feedback_id: str
    comment_id: str | None
    label: Label
    predicted_label: Label | None
    model_version: str | None
    created_at: datetime
    use: Annotated[
        LabelUse,
        Field(
            description="What the label does: `training` counts toward the next retraining run and trains it; "
            "`suggestion` puts the comment at the front of the review queue for a reviewer and never trains; "
            "`ignored` is archived only (the PublicLabels setting, or a comment a reviewer already labelled)"
        ),
    ]

    @classmethod
    def of(cls, recorded: RecordedFeedback) -> FeedbackResponse:
        return cls(**recorded.record.model_dump(exclude={"text", "source", "reviewer"}), use=recorded.use)


class ReviewResponse(FeedbackResponse):
    """A reviewer's label: recorded as a feedback record that carries who gave it."""

    source: Annotated[LabelSource, Field(description="Always `reviewer` here")]
    reviewer: Annotated[str, Field(description="The reviewer the key belongs to (`admin` for the admin key)")]

    @classmethod
    def of(cls, recorded: RecordedFeedback) -> ReviewResponse:
        return cls(**recorded.record.model_dump(exclude={"text"}), use=recorded.use)


class ReviewerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str,
        Field(
            pattern=NAME_PATTERN,
            description="1-64 characters: lower-case letters, digits, `.`, `_`, `-`. Every label they give carries it",
        ),
    ]

    @model_validator(mode="after")
    def _not_admin(self) -> Self:
        if self.name == ADMIN_REVIEWER:
            raise ValueError(f"the name {ADMIN_REVIEWER!r} is kept for labels given with the admin key")
        return self


class ReviewerOut(BaseModel):
    name: str
    created_at: Annotated[datetime, Field(description="When their current key was issued")]
    active: Annotated[bool, Field(description="Their key works (not revoked)")]
    revoked_at: Annotated[datetime | None, Field(description="When their key stopped working")]
    withdrawn_at: Annotated[
        datetime | None, Field(description="When their labels were withdrawn: runs from then on leave them out")
    ]

    @classmethod
    def of(cls, reviewer: Reviewer) -> ReviewerOut:
        return cls(active=reviewer.active, **reviewer.model_dump())


class ReviewerCreated(BaseModel):
    name: str
    key: Annotated[
        str, Field(description="Shown this once: only its SHA-256 is kept. The reviewer sends it as a Bearer token")
    ]
    created_at: datetime

    @classmethod
    def of(cls, issued: IssuedReviewer) -> ReviewerCreated:
        return cls(name=issued.reviewer.name, key=issued.key, created_at=issued.reviewer.created_at)


class ReviewerList(BaseModel):
    reviewers: Annotated[list[ReviewerOut], Field(description="By name; never their keys")]


class ServingModel(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    backend: str
    status: Annotated[
        Readiness,
        Field(
            description="`ready`: it answers; `starting`: a serverless endpoint starting after idle, or an endpoint "
            "being created (comments wait as pending and are classified once it answers); `down`: missing, failed "
            "or not answering"
        ),
    ]
    reachable: Annotated[bool, Field(description="`status` is `ready`")]
    model_version: str | None
    reason: Annotated[
        str | None, Field(description="Why it is not ready, in general terms (details go to the log)")
    ] = None
    checked_at: Annotated[
        datetime | None,
        Field(
            description="When this was last seen: each API instance checks the model at most once per "
            "MODEL_PROBE_SECONDS and reports what its own calls to the model last found in between"
        ),
    ] = None
    kind: Annotated[ModelKind | None, Field(description="The answering model's kind, from the registry")] = None
    encoder: Annotated[EncoderRef | None, Field(description="Its encoder, for an encoder model")] = None


class HealthResponse(BaseModel):
    status: Annotated[
        Literal["ok", "degraded"], Field(description="`degraded` when the model does not answer (starting or down)")
    ]
    model: ServingModel


class ErrorResponse(BaseModel):
    message: str
    details: list[dict[str, Any]]


class GatewayMessage(BaseModel):
    """What API Gateway answers itself (401 and 403 from the admin authorizer)."""

    message: Annotated[str, Field(examples=["Unauthorized", "Forbidden"])]


class ModelOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    version: str
    status: Annotated[
        RegisteredStatus,
        Field(description="champion, candidate, rejected, held (for a person to promote or not) or retired"),
    ]
    metrics: Annotated[Metrics, Field(description="On the golden split (reviews, tweets) and the feedback hold-out")]
    champion_metrics: Annotated[
        Metrics | None, Field(description="The champion of the time, on the same data; null when none was compared")
    ]
    reasons: Annotated[list[str], Field(description="Why the evaluation promoted, rejected or held it")]
    dataset: Annotated[dict[str, Any], Field(description="What it was trained on: counts and SHA-256 of every input")]
    created_at: datetime
    promoted_at: datetime | None
    training_run: Annotated[str | None, Field(description="The run that trained it; null for the first model")]
    model_data_url: str
    sha256: str
    kind: Annotated[ModelKind, Field(description="encoder (heads on a sentence encoder) or tfidf")]
    encoder: Annotated[EncoderRef | None, Field(description="name, SHA-256 and licence of its encoder; null for tfidf")]
    card: Annotated[
        ModelCard | None,
        Field(
            description="The model card's data: which data set it was built with, each bundled source with its "
            "licence as the source states it, its encoder's base and licence. null for a model trained before "
            "artifacts carried them: the licences of its data are not known from the registry"
        ),
    ]

    @classmethod
    def of(cls, record: ModelRecord) -> ModelOut:
        return cls(**record.model_dump())


class ModelList(BaseModel):
    champion: Annotated[str | None, Field(description="The version the service answers with")]
    items: Annotated[list[ModelOut], Field(description="Every registered model, newest first")]


class RunStepOut(BaseModel):
    step: str
    finished_at: datetime
    detail: dict[str, Any]


class TrainingRunOut(BaseModel):
    run_id: str
    status: Annotated[RunStatus, Field(description="RUNNING, SUCCEEDED or FAILED")]
    decision: Annotated[
        Decision | None, Field(description="promoted, rejected or held (for a person); null while running or failed")
    ]
    candidate_version: str | None
    metrics: Metrics | None
    reasons: list[str]
    started_at: datetime
    finished_at: datetime | None
    trigger: Annotated[Trigger, Field(description="feedback, manual or rollback")]
    feedback_count: int | None
    error: Annotated[str | None, Field(description="Why it failed")]
    steps: Annotated[list[RunStepOut], Field(description="The steps finished so far, in order")]

    @classmethod
    def of(cls, run: TrainingRun) -> TrainingRunOut:
        return cls(**run.model_dump(exclude={"execution_arn"}))


class HeldBackOut(BaseModel):
    reason: Annotated[
        str, Field(description="Which guard held the run back (RetrainMinIntervalMinutes or RetrainMaxPerDay)")
    ]
    at: Annotated[datetime, Field(description="When the feedback reached the threshold")]
    until: Annotated[datetime, Field(description="From then, the next feedback starts the run")]


class TrainingRunPage(BaseModel):
    items: Annotated[list[TrainingRunOut], Field(description="Newest first")]
    next_token: Annotated[str | None, Field(description="Pass back to get the next page; null on the last")]
    pending_feedback: Annotated[int, Field(description="Feedback items not yet trained on")] = 0
    held_back: Annotated[
        HeldBackOut | None,
        Field(description="Why the feedback that reached the threshold has not started a run; null when nothing waits"),
    ] = None


class RunStarted(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    run_id: Annotated[str, Field(description="Follow it with GET /training/{run_id}")]
    status: RunStatus
    trigger: Trigger
    version: Annotated[str | None, Field(description="The version being promoted, for a rollback")] = None


class MonitoringOut(BaseModel):
    champion: Annotated[str | None, Field(description="The version serving now")]
    versions: Annotated[
        list[VersionQuality],
        Field(description="Agreement of people's labels with each version's predictions: the champion first"),
    ]
    daily: Annotated[list[DayFigures], Field(description="One entry per UTC day, oldest first, today last")]
    drift: Annotated[Drift | None, Field(description="The champion's drift; null with no champion")]
    review_queue: Annotated[int, Field(description="Comments waiting in the review queue")]
    agreement_by_source: Annotated[
        dict[LabelSource, SourceAgreement],
        Field(
            description="Over the days asked for: labels from the public (suggestions included) and from "
            "reviewers, and the share of each confirming the model"
        ),
    ]

    @classmethod
    def of(cls, report: Report) -> MonitoringOut:
        return cls(**vars(report))  # the report's fields, named alike


# ---- labelled files (datasets) ----


class DatasetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str,
        Field(pattern=DATASET_NAME, description="1-64 characters: lower-case letters, digits and `-`; unique"),
    ]
    format: Annotated[
        DatasetFormat,
        Field(
            description="`csv`: a header naming `text` and `label`, one row each; `jsonl`: one object per line "
            "with `text` and `label` keys. Labels: negative, neutral, positive"
        ),
    ]


class DatasetOut(BaseModel):
    name: str
    format: DatasetFormat
    status: Annotated[
        DatasetStatus,
        Field(
            description="SUBMITTED: waiting for the upload; ACTIVE: imported, the next run trains on it; "
            "FAILED: the file was refused whole (`failure_reason`); EXPIRED: no upload came in time"
        ),
    ]
    created_at: datetime
    upload_expires_at: Annotated[datetime, Field(description="When the upload URL stops working")]
    imported_at: datetime | None
    counts: Annotated[
        ImportCounts | None,
        Field(description="Rows read, accepted, rejected, accepted per label; null before the import"),
    ]
    rejections: Annotated[
        list[Rejection], Field(description="The first rejected rows, with their line and reason; all are in the report")
    ]
    failure_reason: Annotated[str | None, Field(description="Why the file was refused whole")]
    report_url: Annotated[
        str | None,
        Field(description="Presigned GET of every rejected row (JSON Lines), valid 15 minutes; null before the import"),
    ]

    @classmethod
    def of(cls, view: DatasetView) -> DatasetOut:
        dataset = view.dataset
        return cls(
            **dataset.model_dump(
                include={
                    "name",
                    "format",
                    "status",
                    "created_at",
                    "upload_expires_at",
                    "imported_at",
                    "counts",
                    "rejections",
                    "failure_reason",
                }
            ),
            report_url=view.report_url,
        )


class DatasetCreated(BaseModel):
    name: str
    format: DatasetFormat
    status: Annotated[DatasetStatus, Field(description="SUBMITTED: waiting for the upload")]
    created_at: datetime
    upload_url: Annotated[
        str,
        Field(
            description='Presigned S3 PUT for the file: `curl -T file.csv "$upload_url"`, no header needed. '
            f"At most {MAX_UPLOAD_BYTES} bytes; texts of at most {MAX_TEXT_CHARS} characters"
        ),
    ]
    upload_path: UploadPath
    upload_expires_at: Annotated[datetime, Field(description="When the upload URL stops working")]

    @classmethod
    def of(cls, submitted: SubmittedDataset) -> DatasetCreated:
        dataset = submitted.dataset
        return cls(
            name=dataset.name,
            format=dataset.format,
            status=dataset.status,
            created_at=dataset.created_at,
            upload_url=submitted.upload.url,
            upload_path=submitted.upload.path,
            upload_expires_at=dataset.upload_expires_at,
        )


class DatasetPage(BaseModel):
    items: Annotated[list[DatasetOut], Field(description="Newest first")]
    next_token: Annotated[str | None, Field(description="Pass back to get the next page; null on the last")]
