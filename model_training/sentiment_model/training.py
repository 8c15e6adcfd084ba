"""Training as a library call: data in, fitted pipeline + metadata + metrics out.

When a champion (the model being served) is given, it is evaluated on the very same golden
split and feedback hold-out as the candidate, so the two sets of metrics can be compared.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentiment_model import encoder_model
from sentiment_model.artifact import ARCHIVE_FILE, ArtifactError, LoadedArtifact, load_archive_bytes
from sentiment_model.data import LABELS, Feedback, SourceReport, fold_text, read_feedback, read_split
from sentiment_model.encoder import BUNDLED, RECORD_FILE, EmbeddingCache, Encoder
from sentiment_model.evaluate import classification_metrics
from sentiment_model.model import CompiledScorer, ModelParams, TrainedModel, build_pipeline
from sentiment_model.neighbours import NeighbourCheck, compare, labelled_pool, new_labels, tfidf_vectorise
from sentiment_model.objectivity import OBJECTIVE_SOURCE
from sentiment_model.scorers import Scorer, scorer_for
from sentiment_model.sources import DEFAULT_DATA_SET, card, select, source_counts

log = logging.getLogger(__name__)

LIBRARIES = ("scikit-learn", "nltk", "numpy", "pandas", "joblib", "vaderSentiment", "onnxruntime", "tokenizers")


@dataclass
class TrainingResult:
    model: Any  # TrainedModel (tfidf) or Heads (encoder)
    metadata: dict[str, Any]
    metrics: dict[str, Any]
    encoder_dir: Path | None = None  # the encoder an encoder model ships with


@dataclass(frozen=True)
class ServedModel:
    """The model being served (the champion), loaded to compare the candidate against."""

    version: str
    artifact: LoadedArtifact


def load_champion(directory: Path | None, expected_sha256: str | None) -> ServedModel | None:
    """The champion from its channel folder: its ``model.tar.gz``, checked against the expected
    SHA-256 before anything is unpickled. No archive there means no champion to compare with."""
    if directory is None or not (directory / ARCHIVE_FILE).is_file():
        return None
    archive = directory / ARCHIVE_FILE
    if not expected_sha256:
        raise ArtifactError(f"refusing champion {archive}: no --champion-sha256 given to check it against")
    artifact = load_archive_bytes(archive.read_bytes(), expected_sha256)
    log.info("champion %s (%s) loaded from %s", artifact.metadata["version"], artifact.kind, archive)
    return ServedModel(str(artifact.metadata["version"]), artifact)


def library_versions() -> dict[str, str]:
    return {"python": platform.python_version(), **{name: package_version(name) for name in LIBRARIES}}


def sample_weights(base: pd.DataFrame, feedback: Feedback, params: ModelParams) -> np.ndarray:
    """Reviews by ``review_weight``; tweets by their annotators' confidence; feedback by
    ``feedback_weight``. Each expert sees one domain plus the feedback, so these set feedback
    against base rows within a domain (see :class:`~sentiment_model.model.GatedExperts`)."""
    confidence = base["confidence"] if "confidence" in base.columns else pd.Series(np.nan, index=base.index)
    base_weights = np.where(base["source"] == "reviews", params.review_weight, confidence.fillna(1.0).to_numpy())
    return np.concatenate([base_weights, np.full(len(feedback.train), params.feedback_weight)])


def evaluate(scorer: Scorer, frame: pd.DataFrame) -> dict[str, Any]:
    probabilities = scorer.predict_proba(frame["text"].tolist())
    predicted = [LABELS[i] for i in probabilities.argmax(axis=1)]
    return classification_metrics(frame["label"].tolist(), predicted)


def evaluate_all(scorer: Scorer, golden: pd.DataFrame, holdout: pd.DataFrame) -> dict[str, Any]:
    """Metrics per golden source, on the whole golden split, and on the feedback hold-out."""
    metrics: dict[str, Any] = {
        "golden": {source: evaluate(scorer, rows) for source, rows in golden.groupby("source")},
        "feedback_holdout": evaluate(scorer, holdout) if len(holdout) else None,
    }
    metrics["golden"]["all"] = evaluate(scorer, golden)
    return metrics


def holdout_pairs(candidate: Scorer, champion: Scorer, holdout: pd.DataFrame) -> dict[str, int]:
    """The feedback hold-out text by text, for the promotion gate's paired test: how many texts the
    candidate answers as people did where the champion did not (``holdout_gained``), and the other way
    (``holdout_lost``). Nothing without a hold-out."""
    if not len(holdout):
        return {}
    texts, truth = holdout["text"].tolist(), holdout["label"].to_numpy(dtype=str)
    ours = np.asarray(LABELS)[candidate.predict_proba(texts).argmax(axis=1)] == truth
    theirs = np.asarray(LABELS)[champion.predict_proba(texts).argmax(axis=1)] == truth
    return {
        "holdout_rows": len(holdout),
        "holdout_gained": int(np.sum(ours & ~theirs)),
        "holdout_lost": int(np.sum(theirs & ~ours)),
    }


# The monitoring's confidence bins (sentiment_common.monitoring.CONFIDENCE_EDGES; a test keeps them equal).
CONFIDENCE_EDGES = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def prediction_baseline(scorer: Scorer, golden: pd.DataFrame) -> dict[str, Any]:
    """What the model's predictions look like on data like its training data that it never fitted: the
    share of each label and of each confidence bin on the golden split. Drift is measured against it."""
    probabilities = scorer.predict_proba(golden["text"].tolist())
    labels = probabilities.argmax(axis=1)
    bins = np.searchsorted(np.array(CONFIDENCE_EDGES), probabilities.max(axis=1), side="right")
    rows = len(golden)
    return {
        "rows": rows,
        "labels": {label: round(float(np.mean(labels == index)), 6) for index, label in enumerate(LABELS)},
        "confidence_edges": list(CONFIDENCE_EDGES),
        "confidence": [round(float(np.mean(bins == index)), 6) for index in range(len(CONFIDENCE_EDGES) + 1)],
    }


def summarise(metrics: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers a registry records and compares."""
    return {
        "reviews_accuracy": metrics["golden"].get("reviews", {}).get("accuracy"),
        "tweets_macro_f1": metrics["golden"].get("tweets", {}).get("macro_f1"),
        "golden_accuracy": metrics["golden"]["all"]["accuracy"],
        "golden_macro_f1": metrics["golden"]["all"]["macro_f1"],
        "feedback_holdout_accuracy": (metrics["feedback_holdout"] or {}).get("accuracy"),
    }


def dataset_manifest(
    base_reports: dict[str, SourceReport],
    golden_reports: dict[str, SourceReport],
    feedback: Feedback,
    trained_on: dict[str, int],
) -> dict[str, Any]:
    """Counts and hashes of every input, and how many rows of each were trained on."""
    manifest: dict[str, Any] = {
        "trained_on": trained_on,
        "base": {name: report.as_dict() for name, report in base_reports.items()},
        "golden": {name: report.as_dict() for name, report in golden_reports.items()},
        "feedback": feedback.as_dict(),
    }
    manifest["sha256"] = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    return manifest


@dataclass(frozen=True)
class Fitted:
    model: Any
    scorer: Scorer
    extra_metadata: dict[str, Any]
    encoder_dir: Path | None = None
    cache: EmbeddingCache | None = None


def fit_tfidf(
    texts: pd.Series, labels: pd.Series, weights: np.ndarray, domains: np.ndarray, params: ModelParams
) -> Fitted:
    pipeline = build_pipeline(params)
    pipeline.fit(texts, labels, classifier__sample_weight=weights, classifier__domain=domains)
    model = TrainedModel.capture(pipeline)
    # The scorer is built before any champion's: that adds the champion's stems to the cache captured above.
    return Fitted(model, CompiledScorer(model), {"kind": "tfidf"})


def fit_encoder(
    texts: pd.Series,
    labels: pd.Series,
    weights: np.ndarray,
    *,
    domains: np.ndarray,
    params: ModelParams,
    encoder_dir: Path,
    cache_dir: Path | None,
) -> Fitted:
    encoder = Encoder(encoder_dir)
    cache = EmbeddingCache(cache_dir, encoder)
    known = len(cache)
    embeddings = cache.embed(texts.tolist())
    log.info(
        "embeddings: %d texts, %d from the cache (%d cached before), %d from the encoder's seed, %d encoded",
        len(texts),
        cache.hits,
        known,
        cache.seeded,
        cache.misses,
    )
    model = encoder_model.fit(texts.tolist(), embeddings, labels.to_numpy(), weights, domains=domains, params=params)
    expert, detector = model.feedback_expert, model.objectivity
    extra = {
        "kind": "encoder",
        "encoder": encoder.info.as_dict(),
        "feedback_expert": expert.describe() if expert is not None else None,
        "objectivity": detector.describe() if detector is not None else None,
    }
    return Fitted(model, encoder_model.EncoderScorer(model, cache.embed), extra, encoder_dir, cache)


def encoder_card(encoder_dir: Path) -> dict[str, Any]:
    """What the card says of an encoder: its licence, its base and the base's licence, and the data set it
    was fine-tuned on (``None``: the base model unchanged, or an encoder from before the record said)."""
    record = json.loads((encoder_dir / RECORD_FILE).read_text())
    recipe = record.get("recipe") or {}
    fine_tuned = recipe.get("fine_tuned", True)
    return {
        "name": record["name"],
        "licence": record["licence"],
        "base": (record.get("base") or {}).get("model"),
        "base_licence": (record.get("base") or {}).get("licence"),
        "fine_tuned": fine_tuned,
        "data_set": recipe.get("data_set", DEFAULT_DATA_SET) if fine_tuned else None,
    }


def check_encoder_data(encoder: dict[str, Any], data_set: str) -> None:
    """A model of a data set must not read texts with an encoder fine-tuned on rows that set leaves out."""
    if data_set != DEFAULT_DATA_SET and encoder["fine_tuned"] and encoder["data_set"] != data_set:
        raise ValueError(
            f"encoder {encoder['name']} was fine-tuned on the {encoder['data_set']!r} data set, not {data_set!r}: "
            f"it learnt from rows the {data_set!r} set leaves out (make encoder DATA={data_set} makes one that did not)"
        )


def check_neighbours(
    fitted: Fitted,
    champion: ServedModel,
    champion_scorer: Scorer,
    *,
    labelled: tuple[pd.DataFrame, pd.DataFrame],
    feedback: Feedback,
) -> NeighbourCheck:
    """The candidate against the champion where this run's new labels touch
    (:mod:`sentiment_model.neighbours`): new labels are those created after the champion."""
    created = champion.artifact.metadata.get("created_at")
    since = datetime.fromisoformat(created) if isinstance(created, str) else None
    rows = pd.concat([feedback.train, feedback.holdout], ignore_index=True)
    new = new_labels(rows, since)
    touched = rows.loc[new, ["text", "label"]].drop_duplicates("text").reset_index(drop=True)
    earlier_reviewed = rows.loc[~new & (rows["source"] == "reviewer")]
    pool = labelled_pool([*labelled, earlier_reviewed], touched["text"].tolist())
    vectorise = fitted.cache.embed if fitted.cache is not None else tfidf_vectorise(pool["text"].tolist())
    return compare(touched, pool, vectorise, candidate=fitted.scorer, champion=champion_scorer)


def sampled(base: pd.DataFrame, sample: int, seed: int) -> pd.DataFrame:
    """A quick, still stratified-by-source run's rows (tests and smoke checks): ``sample`` of each source.
    The heads' rows are drawn as they were before the plot sentences were bundled, so a sampled run's heads
    do not change with them."""
    plots = base["source"] == OBJECTIVE_SOURCE
    shuffled = base.loc[~plots].sample(frac=1.0, random_state=seed)
    drawn = base.loc[plots].sample(n=min(int(plots.sum()), sample), random_state=seed)
    return pd.concat([shuffled.groupby("source").head(sample), drawn])


def train(
    train_dir: Path,
    feedback_dir: Path | None,
    params: ModelParams,
    *,
    version: str | None = None,
    sample: int | None = None,
    seed: int = 0,
    champion: ServedModel | None = None,
    encoder_dir: Path = BUNDLED,
    cache_dir: Path | None = None,
    data_set: str = DEFAULT_DATA_SET,
) -> TrainingResult:
    started = time.perf_counter()
    encoder = encoder_card(encoder_dir) if params.kind == "encoder" else None
    if encoder:
        check_encoder_data(encoder, data_set)
    base, base_reports = read_split(train_dir / "base")
    golden, golden_reports = read_split(train_dir / "golden")
    base, golden = select(base, data_set), select(golden, data_set)
    if params.kind != "encoder":
        # The plot sentences teach the encoder kind's objectivity detector, which the tfidf kind has not.
        base = base.loc[base["source"] != OBJECTIVE_SOURCE].reset_index(drop=True)
    if sample:
        base = sampled(base, sample, seed)
    feedback = read_feedback(feedback_dir, golden_texts=set(golden["text"].map(fold_text)))
    trained_on = {str(source): int(rows) for source, rows in base["source"].value_counts().sort_index().items()}
    trained_on["feedback"] = len(feedback.train)
    manifest = dataset_manifest(base_reports, golden_reports, feedback, trained_on)

    texts = pd.concat([base["text"], feedback.train["text"]], ignore_index=True)
    labels = pd.concat([base["label"], feedback.train["label"]], ignore_index=True)
    missing = set(LABELS) - set(labels)
    if missing:
        raise ValueError(f"training data has no rows labelled {sorted(missing)}")
    domains = np.concatenate([base["source"].to_numpy(dtype=str), np.full(len(feedback.train), "feedback")])
    weights = sample_weights(base, feedback, params)
    if params.kind == "encoder":
        fitted = fit_encoder(
            texts, labels, weights, domains=domains, params=params, encoder_dir=encoder_dir, cache_dir=cache_dir
        )
    else:
        fitted = fit_tfidf(texts, labels, weights, domains, params)
    fit_seconds = time.perf_counter() - started

    metrics = evaluate_all(fitted.scorer, golden, feedback.holdout)
    summary = summarise(metrics)
    champion_summary: dict[str, Any] | None = None
    neighbour_check: NeighbourCheck | None = None
    metrics["champion"] = None
    if champion:
        champion_scorer = scorer_for(champion.artifact, fitted.cache)
        champion_metrics = evaluate_all(champion_scorer, golden, feedback.holdout)
        metrics["champion"] = {"version": champion.version, **champion_metrics}
        champion_summary = {**summarise(champion_metrics), "version": champion.version}
        log.info("champion %s on the same golden split and hold-out: %s", champion.version, champion_summary)
        labelled = (base.loc[base["source"] != OBJECTIVE_SOURCE], golden)  # plot sentences carry no label
        neighbour_check = check_neighbours(fitted, champion, champion_scorer, labelled=labelled, feedback=feedback)
        summary.update(neighbour_check.metrics())
        summary.update(holdout_pairs(fitted.scorer, champion_scorer, feedback.holdout))
        metrics["neighbours"] = neighbour_check.as_dict()
    if fitted.cache is not None:
        fitted.cache.save()
    created_at = datetime.now(UTC)
    fingerprint = hashlib.sha256(f"{manifest['sha256']}{sorted(params.as_dict().items())}".encode()).hexdigest()
    metadata = {
        "version": version or f"{created_at:%Y%m%d-%H%M%S}-{fingerprint[:8]}",
        **fitted.extra_metadata,
        "classes": list(LABELS),
        "metrics": summary,
        "champion_metrics": champion_summary,
        "neighbours": neighbour_check.as_dict() if neighbour_check else None,
        "baseline": prediction_baseline(fitted.scorer, golden),
        "dataset": manifest,
        "data": {
            **card(data_set, source_counts(base), source_counts(golden)),
            "feedback_rows": len(feedback.train),
            "encoder": encoder,
        },
        "libraries": library_versions(),
        "parameters": {**params.as_dict(), "sample": sample, "seed": seed, "data_set": data_set},
        "created_at": created_at.isoformat(timespec="seconds"),
        "training_seconds": round(fit_seconds, 1),
    }
    log.info("trained %s (%s) in %.1fs: %s", metadata["version"], params.kind, fit_seconds, summary)
    return TrainingResult(fitted.model, metadata, metrics, fitted.encoder_dir)
