"""Domain objects, shared by every function. API schemas and storage items map to and from these."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

MAX_COMMENT_CHARS = 5000

# The one rule for a comment's text, wherever it arrives: trimmed of Unicode's White_Space (what
# pydantic's strip_whitespace removes; Python's str.strip() removes more, such as "\x1c"), then 1 to
# MAX_COMMENT_CHARS characters. NOT_BLANK documents the trimming in JSON Schema, whose \s is
# ECMAScript's, a slightly different set.
WHITE_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = "[^\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
CommentText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_COMMENT_CHARS),
    Field(json_schema_extra={"pattern": NOT_BLANK}),
]
_COMMENT_TEXT: TypeAdapter[str] = TypeAdapter(CommentText)


def checked_comment(text: str) -> tuple[str | None, str | None]:
    """``CommentText``'s verdict on one text of a batch: the text to store, or why it cannot be."""
    try:
        return _COMMENT_TEXT.validate_python(text), None
    except ValidationError:
        trimmed = text.strip(WHITE_SPACE)
    if not trimmed:
        return None, "comment is empty"
    return None, f"comment has {len(trimmed)} characters; the limit is {MAX_COMMENT_CHARS}"


Label = Literal["negative", "neutral", "positive"]
LABELS: tuple[Label, ...] = ("negative", "neutral", "positive")


class CommentStatus(StrEnum):
    CLASSIFIED = "classified"
    PENDING = "pending"


class Readiness(StrEnum):
    """Whether the model answers, as GET /health reports it."""

    READY = "ready"  # it answers
    STARTING = "starting"  # a serverless endpoint starting after idle, or an endpoint being created: it will answer
    DOWN = "down"  # missing, failed, or not answering where it should


class PendingReason(StrEnum):
    """Why a comment was stored pending instead of classified."""

    MODEL_STARTING = "model_starting"  # a serverless endpoint starting after idle: classified within minutes
    MODEL_UNAVAILABLE = "model_unavailable"  # the model did not answer: classified once it does again


UNDETERMINED = "und"  # BCP 47's code for a language that cannot be told
LANGUAGE_CODE = r"^[a-z]{2,3}$"


class Scores(BaseModel):
    model_config = ConfigDict(frozen=True)

    negative: Annotated[float, Field(ge=0, le=1)]
    neutral: Annotated[float, Field(ge=0, le=1)]
    positive: Annotated[float, Field(ge=0, le=1)]


class Prediction(BaseModel):
    """One answer of the model container (its ``/invocations`` contract)."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    label: Annotated[Label, Field(description="The most likely class")]
    scores: Annotated[Scores, Field(description="Probability of each class; they sum to 1")]
    confidence: Annotated[float, Field(ge=0, le=1, description="Probability of the chosen label")]
    model_version: Annotated[str, Field(min_length=1, description="Version of the model that answered")]
    # The model container identifies each text's language; a model from before it did answers neither
    # field, and its texts read as undetermined and supported, as every text was then.
    language: Annotated[
        str,
        Field(
            pattern=LANGUAGE_CODE,
            description="The text's language (ISO 639-1, or ISO 639-3 where there is none); "
            f"'{UNDETERMINED}' when the text says too little to tell",
        ),
    ] = UNDETERMINED
    supported: Annotated[
        bool,
        Field(
            description="Whether the model was trained for the text's language. When false the label is a "
            "guess from a model that cannot read the text: it is shown as such, kept out of the review "
            "queue, of monitoring's figures and of training"
        ),
    ] = True

    @property
    def counted_as(self) -> str:
        """What the ``CommentClassified`` metric's ``label`` says: the label, or ``unsupported``."""
        return self.label if self.supported else "unsupported"

    @property
    def margin(self) -> float:
        """How far the likeliest class is ahead of the next: small when the model hesitates."""
        scores = self.scores
        first, second = sorted((scores.negative, scores.neutral, scores.positive), reverse=True)[:2]
        return round(first - second, 6)

    @property
    def uncertainty(self) -> float:
        """1 − margin: the review queue asks about the highest first (margin sampling)."""
        return round(1 - self.margin, 6)

    def rounded(self, digits: int = 6) -> Prediction:
        """As stored: probabilities to ``digits`` decimals, so what is returned is what is read back."""
        scores = Scores(**{label: round(value, digits) for label, value in self.scores.model_dump().items()})
        return self.model_copy(update={"scores": scores, "confidence": round(self.confidence, digits)})


class Attribution(BaseModel):
    """One word (or group of words) of a text, and how far it pushed the model toward its label."""

    model_config = ConfigDict(frozen=True)

    text: Annotated[str, Field(description="The word or words, as they appear in the text")]
    start: Annotated[int, Field(ge=0, description="Offset of the first character in the text")]
    end: Annotated[int, Field(ge=0, description="Offset just past the last character")]
    weight: Annotated[
        float,
        Field(
            ge=-1,
            le=1,
            description="How much the label's probability drops when these words are left out: positive "
            "pushed toward the label, negative away from it",
        ),
    ]


class Explanation(BaseModel):
    """The container's ``explanation`` of one prediction (its ``"explain": true`` invocation)."""

    model_config = ConfigDict(frozen=True)

    method: Annotated[Literal["occlusion"], Field(description="How the weights were computed")]
    label: Label
    tokens_per_span: Annotated[int, Field(ge=1, description="Words per span: 1 unless the text is long")]
    tokens: list[Attribution]


class ExplainedPrediction(Prediction):
    explanation: Explanation


class LabelSource(StrEnum):
    """Who gave a label: anyone on the internet, or a named reviewer holding a key an admin issued."""

    PUBLIC = "public"
    REVIEWER = "reviewer"


class PublicLabels(StrEnum):
    """What a public label does: the template's ``PublicLabels``. Anyone can send one, so by default it
    only suggests: ten anonymous labels were once enough to flip a phrase's answer through a promoted run."""

    TRAIN = "train"  # it trains, as a reviewer's label does
    SUGGEST = "suggest"  # it puts the comment at the front of the review queue; a reviewer decides
    IGNORE = "ignore"  # it is archived, nothing more


class LabelUse(StrEnum):
    """What became of one label, as ``POST /feedback`` answers."""

    TRAINING = "training"  # it counts toward the next run and trains it
    SUGGESTION = "suggestion"  # a reviewer sees it in the review queue; it never trains
    IGNORED = "ignored"  # archived only
    KEPT = "kept"  # the comment's label from now on, and never trains: the model was not trained for its language


def label_use(source: LabelSource, policy: PublicLabels) -> LabelUse:
    """A reviewer's label always trains; a public one as the policy says."""
    if source is LabelSource.REVIEWER or policy is PublicLabels.TRAIN:
        return LabelUse.TRAINING
    return LabelUse.SUGGESTION if policy is PublicLabels.SUGGEST else LabelUse.IGNORED


class FeedbackMark(BaseModel):
    """The latest correction a person gave for a comment (or, as a comment's ``suggestion``, the latest
    public label that only suggests)."""

    model_config = ConfigDict(frozen=True)

    feedback_id: str
    label: Label
    created_at: datetime
    source: LabelSource = LabelSource.PUBLIC
    reviewer: str | None = None  # the reviewer's name when source is reviewer


class Comment(BaseModel):
    model_config = ConfigDict(frozen=True)

    comment_id: str
    text: str
    created_at: datetime
    status: CommentStatus
    prediction: Prediction | None = None
    feedback: FeedbackMark | None = None
    pending_reason: PendingReason | None = None  # why it was stored pending; None once classified
    suggestion: FeedbackMark | None = None  # the latest public label that only suggests (PublicLabels=suggest)
    # The last explanation computed for it, kept so that asking again costs no scoring while the same
    # model version serves (GET /comments/{id}/explanation).
    explanation: ExplainedPrediction | None = None


class FeedbackRecord(BaseModel):
    """What ``POST /feedback`` writes to ``feedback/dt=YYYY-MM-DD/<feedback_id>.json``; training reads it.

    Records written before labels carried their source read as public: they came from the public route.
    """

    model_config = ConfigDict(frozen=True, protected_namespaces=())

    feedback_id: str
    comment_id: str | None
    text: str
    label: Label
    predicted_label: Label | None
    model_version: str | None
    created_at: datetime
    source: LabelSource = LabelSource.PUBLIC
    reviewer: str | None = None  # the reviewer's name when source is reviewer
    # The comment's language and whether the model was trained for it, when the comment was classified;
    # None for a text given without a comment, and in records from before answers carried a language.
    # A label on a comment the model could not read never trains (the training job also identifies the
    # language of texts given alone).
    language: str | None = None
    supported: bool | None = None


FEEDBACK_PREFIX = "feedback/"


def feedback_key(record: FeedbackRecord) -> str:
    """Where a label is kept in the data bucket; its creation is what starts retraining."""
    return f"{FEEDBACK_PREFIX}dt={record.created_at:%Y-%m-%d}/{record.feedback_id}.json"


def new_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)
