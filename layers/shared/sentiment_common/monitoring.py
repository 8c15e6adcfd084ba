"""Live quality and drift, as domain objects and the arithmetic on them.

- **Agreement**: of the feedback people gave on a model's predictions, the share that confirms the
  label. Per model version it is read from a confusion matrix of (predicted, given) counts where each
  comment counts once, with its latest label that trains; per day it counts the feedback given that day,
  suggestions included, in all and per source (the public, reviewers): anyone can send a public label,
  so the two are read apart.
- **Drift**: the labels and confidences of recent comments against the champion's *baseline*, the
  same figures on the golden split at training time (data from the training distribution the model
  never fitted). Each is a population stability index, PSI = Σ (a − e) · ln(a / e) over the bins, with
  shares of 0 raised to :data:`SMOOTHING`. Read it as the usual rule of thumb: below 0.1 stable,
  0.1–0.25 a moderate shift, above 0.25 a large one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from sentiment_common.errors import NotFoundError
from sentiment_common.records import LABELS, Label, LabelSource, Prediction

if TYPE_CHECKING:
    from sentiment_common.ports import ModelRegistry

if TYPE_CHECKING:  # the ports name this module's figures
    from sentiment_common.ports import ModelRegistry

# Upper edges of the confidence bins; the last bin ends at 1. A three-class label's confidence is at
# least 1/3, so the first bin is [1/3, 0.5). Training records its baseline over the same bins
# (sentiment_model.training.CONFIDENCE_EDGES; a test keeps the two equal).
CONFIDENCE_EDGES: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
BINS = len(CONFIDENCE_EDGES) + 1
SMOOTHING = 1e-4
DRIFT_WINDOW_DAYS = 7  # recent comments: today and the six days before (UTC)
MIN_DRIFT_COMMENTS = 50  # fewer comments than this in the window give no drift figure
SERIES_DAYS = 30


def confidence_bin(confidence: float) -> int:
    """Index of the bin holding ``confidence``."""
    return next((index for index, edge in enumerate(CONFIDENCE_EDGES) if confidence < edge), BINS - 1)


def psi(actual: Sequence[float], expected: Sequence[float]) -> float:
    """Population stability index of two distributions over the same bins (each given as counts or shares)."""
    if len(actual) != len(expected):
        raise ValueError(f"{len(actual)} bins against {len(expected)}")
    actual_shares, expected_shares = _shares(actual), _shares(expected)
    return round(sum((a - e) * math.log(a / e) for a, e in zip(actual_shares, expected_shares, strict=True)), 6)


def _shares(counts: Sequence[float]) -> list[float]:
    total = sum(counts)
    if total <= 0:
        raise ValueError("a distribution needs at least one observation")
    return [max(count / total, SMOOTHING) for count in counts]


class Baseline(BaseModel):
    """The model's predictions on the golden split when it was trained: what "no drift" looks like."""

    model_config = ConfigDict(frozen=True)

    rows: Annotated[int, Field(ge=1, description="Golden texts scored")]
    labels: Annotated[dict[Label, float], Field(description="Share of each predicted label")]
    confidence_edges: Annotated[list[float], Field(description="Upper edges of the confidence bins")]
    confidence: Annotated[list[float], Field(description="Share of predictions in each confidence bin")]


class DayCounts(BaseModel):
    """What one UTC day's comments and feedback add up to."""

    model_config = ConfigDict(frozen=True)

    day: date
    labels: dict[Label, int] = Field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    confidence_sum: float = 0.0
    confidence_bins: list[int] = Field(default_factory=lambda: [0] * BINS)
    feedback: int = 0
    agreed: int = 0
    feedback_by_source: dict[LabelSource, int] = Field(default_factory=lambda: dict.fromkeys(LabelSource, 0))
    agreed_by_source: dict[LabelSource, int] = Field(default_factory=lambda: dict.fromkeys(LabelSource, 0))
    unsupported: dict[str, int] = Field(default_factory=dict)  # by language: in no other figure

    @property
    def comments(self) -> int:
        return sum(self.labels.values())


class VersionCounts(BaseModel):
    """Feedback on one model version's predictions: (predicted, given) → comments, latest label each."""

    model_config = ConfigDict(frozen=True)

    version: str
    matrix: dict[Label, dict[Label, int]]

    @classmethod
    def empty(cls, version: str) -> VersionCounts:
        return cls(version=version, matrix={predicted: dict.fromkeys(LABELS, 0) for predicted in LABELS})

    @property
    def count(self) -> int:
        return sum(sum(row.values()) for row in self.matrix.values())

    @property
    def agreed(self) -> int:
        return sum(self.matrix[label][label] for label in LABELS)


class LabelAgreement(BaseModel):
    count: Annotated[int, Field(description="Feedback on predictions of this label")]
    agreement: Annotated[float | None, Field(description="Share of it confirming the label; null with none")]


class SourceAgreement(BaseModel):
    count: Annotated[int, Field(description="Labels from this source on classified comments")]
    agreement: Annotated[float | None, Field(description="Share of them confirming the model's label; null with none")]


class VersionQuality(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_version: str
    champion: Annotated[bool, Field(description="Whether it is serving now")]
    count: Annotated[int, Field(description="Comments it classified that people labelled")]
    agreement: Annotated[float | None, Field(description="Share of those labels that confirm its prediction")]
    per_label: Annotated[dict[Label, LabelAgreement], Field(description="The same, by predicted label")]
    confusion: Annotated[
        dict[Label, dict[Label, int]],
        Field(description="confusion[predicted][given]: comments the model called `predicted` that people labelled"),
    ]


class DayFigures(BaseModel):
    date: date
    comments: Annotated[dict[Label, int], Field(description="Comments classified that day, by label")]
    mean_confidence: Annotated[float | None, Field(description="Mean confidence of those; null with none")]
    feedback: Annotated[int, Field(description="Feedback given that day on classified comments")]
    agreement: Annotated[float | None, Field(description="Share of that feedback confirming the label")]
    by_source: Annotated[
        dict[LabelSource, SourceAgreement],
        Field(description="The same for the public's labels (suggestions included) and reviewers' labels apart"),
    ]
    unsupported: Annotated[
        dict[str, int],
        Field(
            description="Comments that day in languages the model was not trained for, by language. They are in "
            "no other figure: not in `comments`, the confidence, the agreement or drift"
        ),
    ] = Field(default_factory=dict)


class Distribution(BaseModel):
    recent: Annotated[list[float], Field(description="Shares in the window")]
    baseline: Annotated[list[float], Field(description="Shares on the golden split at training time")]
    psi: Annotated[float, Field(description="Population stability index of recent against baseline")]


class Drift(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_version: Annotated[str, Field(description="The champion, whose baseline is compared")]
    window_days: Annotated[int, Field(description="Recent = classified in the last this many UTC days, today included")]
    comments: Annotated[int, Field(description="Comments classified in the window")]
    labels: Annotated[Distribution | None, Field(description="Over negative, neutral, positive")] = None
    confidence: Annotated[Distribution | None, Field(description="Over the confidence bins")] = None
    confidence_edges: list[float] = Field(default_factory=lambda: list(CONFIDENCE_EDGES))
    psi: Annotated[float | None, Field(description="The larger of the two: what PredictionDrift reports")] = None
    reason: Annotated[str | None, Field(description="Why there is no figure, when there is none")] = None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def version_quality(counts: VersionCounts, champion: bool) -> VersionQuality:
    per_label = {
        label: LabelAgreement(
            count=sum(counts.matrix[label].values()),
            agreement=_share(counts.matrix[label][label], sum(counts.matrix[label].values())),
        )
        for label in LABELS
    }
    return VersionQuality(
        model_version=counts.version,
        champion=champion,
        count=counts.count,
        agreement=_share(counts.agreed, counts.count),
        per_label=per_label,
        confusion=counts.matrix,
    )


def day_figures(day: DayCounts) -> DayFigures:
    return DayFigures(
        date=day.day,
        comments=day.labels,
        mean_confidence=round(day.confidence_sum / day.comments, 6) if day.comments else None,
        feedback=day.feedback,
        agreement=_share(day.agreed, day.feedback),
        by_source=source_agreement([day]),
        unsupported=day.unsupported,
    )


def source_agreement(days: Sequence[DayCounts]) -> dict[LabelSource, SourceAgreement]:
    """Per source, over ``days``: how many labels, and the share confirming the model."""
    agreements = {}
    for source in LabelSource:
        given = sum(day.feedback_by_source.get(source, 0) for day in days)
        agreed = sum(day.agreed_by_source.get(source, 0) for day in days)
        agreements[source] = SourceAgreement(count=given, agreement=_share(agreed, given))
    return agreements


def drift(version: str, baseline: Baseline | None, recent: Sequence[DayCounts]) -> Drift:
    """The champion's drift over ``recent`` days (the window), or why there is no figure."""
    comments = sum(day.comments for day in recent)
    figure = Drift(model_version=version, window_days=DRIFT_WINDOW_DAYS, comments=comments)
    if baseline is None:
        return figure.model_copy(update={"reason": "the champion was trained before baselines were recorded"})
    if tuple(baseline.confidence_edges) != CONFIDENCE_EDGES:
        return figure.model_copy(update={"reason": "the champion's baseline uses other confidence bins"})
    if comments < MIN_DRIFT_COMMENTS:
        return figure.model_copy(
            update={"reason": f"{comments} comments in the window; drift needs at least {MIN_DRIFT_COMMENTS}"}
        )
    labels = [sum(day.labels[label] for day in recent) for label in LABELS]
    bins = [sum(day.confidence_bins[index] for day in recent) for index in range(BINS)]
    label_drift = _distribution(labels, [baseline.labels.get(label, 0.0) for label in LABELS])
    confidence_drift = _distribution(bins, baseline.confidence)
    return figure.model_copy(
        update={
            "labels": label_drift,
            "confidence": confidence_drift,
            "psi": max(label_drift.psi, confidence_drift.psi),
        }
    )


def champion_drift(models: ModelRegistry, recent: list[DayCounts]) -> Drift | None:
    """The champion's drift over ``recent`` (the window's days); None with no champion."""
    champion = models.champion()
    if champion is None:
        return None
    try:
        baseline = models.get_model(champion.version).baseline
    except NotFoundError:  # a champion pointer naming an unregistered model: nothing to compare with
        baseline = None
    return drift(champion.version, baseline, recent)


def _distribution(recent: Sequence[int], baseline: Sequence[float]) -> Distribution:
    total = sum(recent)
    return Distribution(
        recent=[round(count / total, 6) for count in recent],
        baseline=[round(share, 6) for share in baseline],
        psi=psi(recent, baseline),
    )


# ---- the counters: what each event adds, and how a counter set reads ----

# The counter sets, by (pk, sk): one per UTC day, one per model version, and the review queue's size.
DAY, VERSION, QUEUE, OPEN = "DAY", "VERSION", "QUEUE", "OPEN"
UNSUPPORTED = "unsupported_"  # + a language: a DAY counter of comments in it, the model not trained for it
Additions = Mapping[str, int | Decimal]


class CountingRules:
    """What classifying and labelling add to which counter set. The monitoring table's adapter and the
    in-memory fake share these rules and differ only in :meth:`_add`, which adds to one counter set."""

    def classified(self, predictions: Iterable[Prediction], day: date, queued: bool = True) -> None:
        """Comments classified on ``day``; ``queued`` when they joined the review queue. A comment in a
        language the model was not trained for counts only as that: its guessed label and confidence would
        skew the figures and drift, and it never joins the queue."""
        predictions = list(predictions)
        if not predictions:
            return
        additions: Counter[str] = Counter()
        confidence = Decimal(0)
        read = [prediction for prediction in predictions if prediction.supported]
        for prediction in read:
            additions[f"label_{prediction.label}"] += 1
            additions[f"bin_{confidence_bin(prediction.confidence)}"] += 1
            confidence += Decimal(str(prediction.confidence))
        additions.update(f"{UNSUPPORTED}{p.language}" for p in predictions if not p.supported)
        self._add(DAY, day.isoformat(), {**additions, "confidence_sum": confidence})
        if queued and read:
            self._add(QUEUE, OPEN, {"open": len(read)})

    def labelled(
        self,
        prediction: Prediction,
        given: Label,
        previous: Label | None,
        day: date,
        first: bool,
        *,
        source: LabelSource = LabelSource.PUBLIC,
    ) -> None:
        """Feedback ``given`` on ``day`` for a classified comment whose latest label was ``previous``.
        ``first``: nobody had labelled it, so it leaves the review queue. A label on a comment in a language
        the model was not trained for counts nowhere: the model's answer was only a guess."""
        if not prediction.supported:
            return
        self._add(DAY, day.isoformat(), day_additions(prediction, given, source))
        cells: Counter[str] = Counter({f"cell_{prediction.label}_{given}": 1})
        if previous is not None:
            cells[f"cell_{prediction.label}_{previous}"] -= 1
        changes = {name: value for name, value in cells.items() if value}
        if changes:
            self._add(VERSION, prediction.model_version, changes)
        if first:
            self._add(QUEUE, OPEN, {"open": -1})

    def suggested(self, prediction: Prediction, given: Label, day: date) -> None:
        """A public label that only suggests: it counts toward the public's agreement that day, and
        nowhere else (the comment's label, and so the version's cells, are unchanged)."""
        if not prediction.supported:
            return
        self._add(DAY, day.isoformat(), day_additions(prediction, given, LabelSource.PUBLIC))

    def _add(self, pk: str, sk: str, additions: Additions) -> None:
        raise NotImplementedError


def day_additions(prediction: Prediction, given: Label, source: LabelSource) -> dict[str, int]:
    """What one label adds to its day: to the feedback in all and to its source's."""
    agreed = int(given == prediction.label)
    return {"feedback": 1, "agreed": agreed, f"feedback_{source}": 1, f"agreed_{source}": agreed}


def day_counts(day: date, counters: Mapping[str, Any]) -> DayCounts:
    """A ``DAY`` counter set read back; counters never added to read 0."""
    return DayCounts(
        day=day,
        labels={label: int(counters.get(f"label_{label}", 0)) for label in LABELS},
        confidence_sum=float(counters.get("confidence_sum", 0)),
        confidence_bins=[int(counters.get(f"bin_{index}", 0)) for index in range(BINS)],
        feedback=int(counters.get("feedback", 0)),
        agreed=int(counters.get("agreed", 0)),
        feedback_by_source={source: int(counters.get(f"feedback_{source}", 0)) for source in LabelSource},
        agreed_by_source={source: int(counters.get(f"agreed_{source}", 0)) for source in LabelSource},
        unsupported={
            name.removeprefix(UNSUPPORTED): int(value)
            for name, value in sorted(counters.items())
            if name.startswith(UNSUPPORTED) and int(value)
        },
    )


def version_counts(version: str, counters: Mapping[str, Any]) -> VersionCounts:
    """A ``VERSION`` counter set read back as its confusion matrix."""
    matrix = {
        predicted: {given: int(counters.get(f"cell_{predicted}_{given}", 0)) for given in LABELS}
        for predicted in LABELS
    }
    return VersionCounts(version=version, matrix=matrix)
