"""Benchmark: what 100 people's labels on a new domain teach the model, lever by lever, offline.

The same arithmetic as ``bench/active_learning.py`` without a stack: the same Amazon split and seeds,
the base model trained once, the 2,000-sentence pool scored by it, 100 labels chosen by the review
queue (smallest margin between the two likeliest classes, texts in languages the model was not trained
for left out, as the API does) or drawn at random (three seeds), and the 1,200 held-out sentences
scored by the model retrained with those labels as feedback. One label in five is held out for the
promotion check, by a hash of its comment id, as in a run (here ids are fixed: ``c<pool index>``).

Heads are refitted as ``encoder_model.fit`` fits them, on features computed once (the TF-IDF blocks
fitted on the base rows; a run refits them with the feedback, a difference of a few words), and
started from the previous fit's coefficients (lbfgs converges to the same optimum, within its
tolerance, in a fraction of the time). ``--check`` also runs ``training.train`` itself on the queue's
labels, to show how close the shortcut is.

Each lever is scored on the Amazon test split (macro-F1), and on what it must not break: golden reviews
accuracy, golden tweets macro-F1, and macro-F1 on ``bench/data/unseen_domains.csv``. None of them is
trained on.

    PYTHONPATH=model_training:bench .venv/bin/python bench/label_levers.py
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from active_learning import LABELLED, RANDOM_SEEDS, split
from report import machine, machine_line
from sentiment_model import encoder_model, feedback_expert, objectivity
from sentiment_model.data import FEEDBACK_HOLDOUT_BUCKETS, LABELS, in_bucket_zero, read_split
from sentiment_model.encoder import BUNDLED, EmbeddingCache, Encoder
from sentiment_model.language import identify
from sentiment_model.model import ModelParams, build_pipeline, feature_width
from sentiment_model.objectivity import OBJECTIVE_SOURCE, Objectivity

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "model_training" / "data"
UNSEEN = ROOT / "bench" / "data" / "unseen_domains.csv"
CACHE = ROOT / "build" / "embeddings"
OUT = ROOT / "build" / "bench"

Probabilities = NDArray[np.float64]


def progress(message: str) -> None:
    print(f"label levers: {message}", file=sys.stderr, flush=True)


def macro_f1(truth: Sequence[str] | NDArray[Any], probabilities: Probabilities) -> float:
    predicted = [LABELS[i] for i in probabilities.argmax(axis=1)]
    return float(f1_score(list(truth), predicted, average="macro", labels=list(LABELS)))


@dataclass
class Texts:
    """A labelled set: its texts, labels, features (TF-IDF + scaled embedding) and raw embeddings."""

    text: list[str]
    label: NDArray[Any]
    x: sparse.csr_matrix
    embedding: NDArray[np.float32]

    def take(self, rows: Sequence[int]) -> Texts:
        index = np.asarray(rows, dtype=int)
        return Texts([self.text[i] for i in index], self.label[index], self.x[index], self.embedding[index])


@dataclass
class Heads:
    """The seven logits of ``encoder_model.mix`` as one linear map, and the objectivity move after them."""

    coef: NDArray[np.float64]
    intercept: NDArray[np.float64]
    objectivity: Objectivity | None = None

    def logits(self, x: sparse.csr_matrix) -> NDArray[np.float64]:
        finite = np.isfinite(self.intercept)
        logits = np.full((x.shape[0], len(self.intercept)), -np.inf)
        logits[:, finite] = np.asarray(x @ self.coef[:, finite]) + self.intercept[finite]
        return logits

    def predict_proba(self, x: sparse.csr_matrix) -> Probabilities:
        probabilities = encoder_model.mix(self.logits(x))
        detector = self.objectivity
        if detector is None:
            return probabilities
        objective = np.asarray(x @ np.concatenate([detector.sparse_coef, detector.dense_coef])) + detector.intercept
        return detector.blend(probabilities, objective)


@dataclass
class Feedback:
    """Labelled pool rows as a run trains on them: the hold-out fifth removed; per-row weights."""

    rows: Texts
    weights: NDArray[np.float64]


@dataclass
class Bench:
    params: ModelParams
    base: Texts
    domains: NDArray[Any]
    base_weights: NDArray[np.float64]
    test: Texts
    pool: Texts
    supported: NDArray[np.bool_]
    golden: dict[str, Texts]
    unseen: Texts
    embed: Callable[[Sequence[str]], NDArray[np.float32]]
    # Fitted once: a run's detector learns from the base rows only, so feedback does not change it.
    objectivity: Objectivity | None = None
    warm: dict[tuple[str, tuple[str, ...]], tuple[NDArray[np.float64], NDArray[np.float64]]] = field(
        default_factory=dict
    )
    fitted: dict[tuple[tuple[int, ...], bytes], Heads] = field(default_factory=dict)

    def _regression(self, name: str, x: Any, y: NDArray[Any], weights: NDArray[np.float64], **options: Any) -> Any:
        classes = tuple(sorted(set(y.tolist())))
        model = LogisticRegression(max_iter=self.params.max_iter, warm_start=True, **options)
        start = self.warm.get((name, classes))
        if start is not None:
            model.coef_, model.intercept_ = start[0].copy(), start[1].copy()
        model.fit(x, y, sample_weight=weights)
        self.warm[(name, classes)] = (model.coef_.copy(), model.intercept_.copy())
        return model

    def fit(self, feedback: Feedback | None, params: ModelParams | None = None) -> Heads:
        """``encoder_model.fit`` on the precomputed features."""
        params = params or self.params
        rows, weights = (feedback.rows, feedback.weights) if feedback else (None, np.empty(0))
        x = sparse.vstack([self.base.x, rows.x], format="csr") if rows else self.base.x
        y = np.concatenate([self.base.label, rows.label]) if rows else self.base.label
        w = np.concatenate([self.base_weights, weights])
        d = np.concatenate([self.domains, np.full(len(weights), "feedback")])
        review, tweet = d == encoder_model.REVIEWS, d == encoder_model.TWEETS
        is_feedback = ~(review | tweet)
        for_gate = ~is_feedback | (is_feedback & (y == "neutral"))
        gate_w = np.where(is_feedback, params.neutral_gate_weight, 1.0)
        gate = self._regression("gate", x[for_gate], review[for_gate], gate_w[for_gate], C=params.C)
        for_review = review | is_feedback
        review_expert = self._regression("review", x[for_review], y[for_review], w[for_review], C=params.review_C)
        for_tweet = ~review
        tweet_expert = self._regression(
            "tweet", x[for_tweet], y[for_tweet], w[for_tweet], C=params.C, class_weight="balanced"
        )
        width = x.shape[1]
        review_coef, review_intercept = encoder_model._in_label_order(review_expert, width)
        tweet_coef, tweet_intercept = encoder_model._in_label_order(tweet_expert, width)
        coef = np.column_stack([gate.coef_[0], review_coef, tweet_coef])
        intercept = np.concatenate([gate.intercept_, review_intercept, tweet_intercept]).astype(np.float64)
        return Heads(coef, intercept, self.objectivity)


def load(params: ModelParams) -> Bench:
    started = time.perf_counter()
    rows, _ = read_split(DATA / "base")
    base = rows.loc[rows["source"] != OBJECTIVE_SOURCE].reset_index(drop=True)  # the heads' rows, as a run's
    plots = rows.loc[rows["source"] == OBJECTIVE_SOURCE, "text"].tolist()
    golden, _ = read_split(DATA / "golden")
    test_rows, pool_rows = split()
    unseen = pd.read_csv(UNSEEN)
    encoder = Encoder(BUNDLED)
    cache = EmbeddingCache(CACHE, encoder)
    features = build_pipeline(params).named_steps["features"]
    base_x = features.fit_transform(base["text"].tolist())

    def texts(text: list[str], label: Sequence[str], fitted: Any = None) -> Texts:
        embedding = cache.embed(text)
        tfidf = fitted if fitted is not None else features.transform(text)
        x = sparse.hstack(
            [tfidf, sparse.csr_matrix(embedding * params.embedding_scale)], format="csr", dtype=np.float64
        )
        return Texts(text, np.asarray(label), x, embedding)

    pool = texts([t for t, _ in pool_rows], [label for _, label in pool_rows])
    bench = Bench(
        params=params,
        base=texts(base["text"].tolist(), base["label"].tolist(), base_x),
        domains=base["source"].to_numpy(dtype=str),
        base_weights=base_weights(base, params),
        test=texts([t for t, _ in test_rows], [label for _, label in test_rows]),
        pool=pool,
        supported=np.array([language.supported for language in identify(pool.text)]),
        golden={
            str(source): texts(rows["text"].tolist(), rows["label"].tolist())
            for source, rows in golden.groupby("source")
        },
        unseen=texts(unseen["text"].tolist(), unseen["label"].tolist()),
        embed=cache.embed,
    )
    bench.objectivity = objectivity.fit(
        texts(plots, ["neutral"] * len(plots)).x,
        bench.base.x[bench.domains == objectivity.SUBJECTIVE_SOURCE],
        sparse_width=feature_width(features),
        threshold=params.objectivity_threshold,
        weight=params.objectivity_weight,
        power=params.objectivity_power,
        max_iter=params.max_iter,
    )
    cache.save()
    progress(f"features for base, golden, pool, test and unseen rows in {time.perf_counter() - started:.0f} s")
    return bench


def base_weights(base: pd.DataFrame, params: ModelParams) -> NDArray[np.float64]:
    confidence = base["confidence"] if "confidence" in base.columns else pd.Series(np.nan, index=base.index)
    return np.where(base["source"] == "reviews", params.review_weight, confidence.fillna(1.0).to_numpy())


def comment_id(index: int) -> str:
    return f"c{index}"


def trained_part(chosen: Sequence[int]) -> list[int]:
    """The chosen pool rows a run trains on: one in five is held out by a hash of its comment id."""
    key = "comment:{}"
    return [i for i in chosen if not in_bucket_zero(key.format(comment_id(i)), FEEDBACK_HOLDOUT_BUCKETS)]


def margins(probabilities: Probabilities) -> NDArray[np.float64]:
    top = np.sort(probabilities, axis=1)
    return np.round(top[:, -1] - top[:, -2], 6)


def queue(bench: Bench, probabilities: Probabilities, count: int = LABELLED) -> list[int]:
    """Smallest margin first, the comment id breaking ties; unsupported languages never queue."""
    margin = margins(probabilities)
    candidates = np.flatnonzero(bench.supported)
    order = sorted(candidates.tolist(), key=lambda i: (margin[i], comment_id(i)))
    return order[:count]


def random_draw(bench: Bench, seed: int) -> list[int]:
    return random.Random(seed).sample(range(len(bench.pool.text)), LABELLED)  # noqa: S311 - a fixed draw


@dataclass(frozen=True)
class Scores:
    amazon: float
    reviews_accuracy: float
    tweets_macro_f1: float
    unseen: float

    @classmethod
    def of(cls, bench: Bench, predict: Callable[[Texts], Probabilities]) -> Scores:
        reviews = bench.golden["reviews"]
        reviews_predicted = [LABELS[i] for i in predict(reviews).argmax(axis=1)]
        return cls(
            amazon=round(macro_f1(bench.test.label, predict(bench.test)), 4),
            reviews_accuracy=round(float(accuracy_score(reviews.label, reviews_predicted)), 4),
            tweets_macro_f1=round(macro_f1(bench.golden["tweets"].label, predict(bench.golden["tweets"])), 4),
            unseen=round(macro_f1(bench.unseen.label, predict(bench.unseen)), 4),
        )


# A lever: how the chosen rows become a model's predictions. It gets the bench, the base heads and the
# pool rows a run trains on, and returns a predictor over any labelled set.
Lever = Callable[[Bench, Heads, list[int]], Callable[[Texts], Probabilities]]


def retrained(
    weight: float | Callable[[Bench, Texts], NDArray[np.float64]] = 3.0,
    *,
    expert_share: float = 0.0,
    heads: bool = True,
) -> Lever:
    """Heads refitted with the labels at ``weight`` (or the base heads, ``heads=False``), and the feedback
    expert of :mod:`sentiment_model.feedback_expert` over them when ``expert_share`` > 0."""

    def lever(bench: Bench, base: Heads, rows: list[int]) -> Callable[[Texts], Probabilities]:
        taught = bench.pool.take(rows)
        weights = weight(bench, taught) if callable(weight) else np.full(len(rows), float(weight))
        key = (tuple(rows), weights.tobytes())
        if not heads:
            fitted = base
        elif key in bench.fitted:
            fitted = bench.fitted[key]
        else:
            fitted = bench.fitted[key] = bench.fit(Feedback(taught, weights))
        expert = feedback_expert.fit(
            bench.base.embedding, taught.embedding, taught.label, share=expert_share, C=bench.params.feedback_expert_C
        )
        if expert is None:
            return lambda texts: fitted.predict_proba(texts.x)
        return lambda texts: expert.blend(fitted.predict_proba(texts.x), texts.embedding.astype(np.float64))

    return lever


def memory(k: int, share: float) -> Lever:
    """A nearest-neighbour memory over the labelled texts' embeddings, blended into the base heads'
    answer: P = (1 − share·c)·P + share·c·(the k nearest labels, weighed by cosine), c the nearest
    labelled text's cosine (0 when negative)."""

    def lever(bench: Bench, base: Heads, rows: list[int]) -> Callable[[Texts], Probabilities]:
        taught = bench.pool.take(rows)
        onehot = np.eye(len(LABELS))[[LABELS.index(label) for label in taught.label]]

        def predict(texts: Texts) -> Probabilities:
            similarity = np.maximum(texts.embedding @ taught.embedding.T, 0.0)
            nearest = np.argsort(-similarity, axis=1)[:, :k]
            weights = np.take_along_axis(similarity, nearest, axis=1)
            votes = (onehot[nearest] * weights[..., None]).sum(axis=1) / (weights.sum(axis=1, keepdims=True) + 1e-9)
            closeness = share * weights[:, :1]
            return np.asarray((1.0 - closeness) * base.predict_proba(texts.x) + closeness * votes)

        return predict

    return lever


@dataclass
class Arm:
    name: str
    chosen: list[int]


def arms(bench: Bench, base: Heads) -> list[Arm]:
    pool = base.predict_proba(bench.pool.x)
    return [
        Arm("queue", queue(bench, pool)),
        *(Arm(f"random-{seed}", random_draw(bench, seed)) for seed in RANDOM_SEEDS),
    ]


def queue_near_first(bench: Bench, base: Heads, weight: float = 0.5) -> list[int]:
    """Margin plus ``weight`` × the text's largest cosine to a base row: uncertain texts unlike the
    training data first (a per-text key, as the review queue's index needs)."""
    nearest = (bench.pool.embedding @ bench.base.embedding.T).max(axis=1)
    key = margins(base.predict_proba(bench.pool.x)) + weight * nearest
    return sorted(np.flatnonzero(bench.supported).tolist(), key=lambda i: (key[i], comment_id(i)))[:LABELLED]


def queue_clustered(bench: Bench, base: Heads) -> list[int]:
    """The pool's embeddings in 100 k-means clusters; the smallest margin of each."""
    from sklearn.cluster import KMeans  # noqa: PLC0415 - this arm only

    candidates = np.flatnonzero(bench.supported)
    margin = margins(base.predict_proba(bench.pool.x))
    clusters = KMeans(LABELLED, n_init=3, random_state=0).fit_predict(bench.pool.embedding[candidates])
    return [int(min(candidates[clusters == c], key=lambda i: margin[i])) for c in range(LABELLED)]


def queue_rescored(bench: Bench, base: Heads, rounds: int = 10) -> list[int]:
    """Runs of ``LABELLED / rounds`` labels; after each, the queue re-scored by the base heads with the
    feedback expert fitted on the labels so far (a retraining run per round, its heads left as they were)."""
    chosen: list[int] = []
    probabilities = base.predict_proba(bench.pool.x)
    for _ in range(rounds):
        taken = set(chosen)
        margin = margins(probabilities)
        order = sorted(np.flatnonzero(bench.supported).tolist(), key=lambda i: (margin[i], comment_id(i)))
        chosen += [i for i in order if i not in taken][: LABELLED // rounds]
        taught = bench.pool.take(trained_part(chosen))
        expert = feedback_expert.fit(bench.base.embedding, taught.embedding, taught.label, share=1.0, C=3.0)
        probabilities = base.predict_proba(bench.pool.x)
        if expert is not None:
            probabilities = expert.blend(probabilities, bench.pool.embedding.astype(np.float64))
    return chosen


QUEUES: dict[str, Callable[[Bench, Heads], list[int]]] = {
    "queue: margin + 0.5·nearest base cosine": queue_near_first,
    "queue: smallest margin of each of 100 clusters": queue_clustered,
    "queue: re-scored after every 10 labels": queue_rescored,
}


def measure(bench: Bench, base: Heads, lever: Lever, chosen: list[Arm]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for arm in chosen:
        started = time.perf_counter()
        predict = lever(bench, base, trained_part(arm.chosen))
        results[arm.name] = Scores.of(bench, predict).__dict__
        results[arm.name]["seconds"] = round(time.perf_counter() - started, 1)
    draws = [results[f"random-{seed}"]["amazon"] for seed in RANDOM_SEEDS]
    results["random_mean"] = round(float(np.mean(draws)), 4)
    for arm in chosen[len(RANDOM_SEEDS) + 1 :]:
        progress(f"{arm.name}: {results[arm.name]}")
    results["random_spread"] = round(max(draws) - min(draws), 4)
    return results


def row(name: str, before: Scores, result: dict[str, Any]) -> str:
    queue_scores = result["queue"]
    extra = [key for key in result if key.startswith("queue: ")]
    draws = [result[f"random-{seed}"]["amazon"] for seed in RANDOM_SEEDS]
    worst = {
        key: min(result[arm][key] for arm in ("queue", *(f"random-{seed}" for seed in RANDOM_SEEDS)))
        for key in ("reviews_accuracy", "tweets_macro_f1", "unseen")
    }
    return (
        f"| {name} | {queue_scores['amazon']:.4f} ({queue_scores['amazon'] - before.amazon:+.4f}) | "
        f"{result['random_mean']:.4f} ({result['random_mean'] - before.amazon:+.4f}; "
        f"{min(draws):.4f}–{max(draws):.4f}) | {worst['reviews_accuracy']:.4f} | {worst['tweets_macro_f1']:.4f} | "
        f"{worst['unseen']:.4f} |" + "".join(f"\n|   {key} | {result[key]['amazon']:.4f} | | | | |" for key in extra)
    )


def by_distance(scale: float) -> Callable[[Bench, Texts], NDArray[np.float64]]:
    """Today's 3 for a labelled text that is a base row, more the farther it is from the base data:
    ``3 · (1 + scale · (1 − its largest cosine to a base row's embedding))``."""

    def weights(bench: Bench, taught: Texts) -> NDArray[np.float64]:
        nearest = (taught.embedding @ bench.base.embedding.T).max(axis=1)
        return np.asarray(3.0 * (1.0 + scale * (1.0 - nearest)))

    return weights


LEVERS: dict[str, Lever] = {
    "feedback weight 3 (today)": retrained(3.0),
    "feedback weight 10": retrained(10.0),
    "feedback weight 30": retrained(30.0),
    "feedback weight by distance (3 + 30·d)": retrained(by_distance(10.0)),
    "kNN memory (k 10, share 0.5), base heads": memory(10, 0.5),
    "feedback expert (share 1), base heads": retrained(expert_share=1.0, heads=False),
    "feedback expert (share 0.8), heads with weight 3": retrained(3.0, expert_share=0.8),
    "feedback expert (share 1), heads with weight 3": retrained(3.0, expert_share=1.0),
}


def check_with_train(bench: Bench, chosen: list[Arm]) -> dict[str, Any]:
    """``training.train`` itself on each arm's labels, as a run calls it (feedback records in the format
    the API writes; the hold-out fifth by the comment's hash): the same scores as the levers'."""
    from sentiment_model.training import train  # noqa: PLC0415 - only for --check

    figures: dict[str, Any] = {}
    for arm in chosen[: len(RANDOM_SEEDS) + 1]:
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            for i in arm.chosen:
                record = {
                    "feedback_id": f"f{i}",
                    "comment_id": comment_id(i),
                    "text": bench.pool.text[i],
                    "label": str(bench.pool.label[i]),
                    "created_at": "2026-01-01T00:00:00+00:00",
                    "source": "public",
                }
                (folder / f"f{i}.json").write_text(json.dumps(record))
            started = time.perf_counter()
            result = train(DATA, folder, bench.params, cache_dir=CACHE)
            seconds = round(time.perf_counter() - started, 1)
        scorer = encoder_model.EncoderScorer(result.model, bench.embed)
        scores = Scores.of(bench, lambda texts, scorer=scorer: scorer.predict_proba(texts.text))  # type: ignore[misc]
        figures[arm.name] = {**scores.__dict__, "training_seconds": seconds}
        progress(f"training.train, {arm.name}: {figures[arm.name]}")
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="levers to measure (names as printed); all when absent")
    parser.add_argument("--check", action="store_true", help="also run training.train on the queue's labels")
    parser.add_argument("--queues", action="store_true", help="also measure other queue orders (extra arms)")
    args = parser.parse_args(argv)
    params = ModelParams()
    bench = load(params)
    started = time.perf_counter()
    base = bench.fit(None)
    progress(f"base heads in {time.perf_counter() - started:.0f} s")
    before = Scores.of(bench, lambda texts: base.predict_proba(texts.x))
    chosen = arms(bench, base)
    if args.queues:
        chosen += [Arm(name, pick(bench, base)) for name, pick in QUEUES.items()]
    report: dict[str, Any] = {"machine": machine(), "before": before.__dict__, "levers": {}}
    lines = [
        f"No labels: Amazon {before.amazon:.4f}, golden reviews accuracy {before.reviews_accuracy:.4f}, "
        f"tweets macro-F1 {before.tweets_macro_f1:.4f}, unseen domains {before.unseen:.4f}",
        "",
        "| lever | queue | random: mean (range) | reviews acc. (worst arm) | tweets F1 (worst) | unseen F1 (worst) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    print("\n".join(lines), flush=True)
    for name, lever in LEVERS.items():
        if args.only and name not in args.only:
            continue
        result = measure(bench, base, lever, chosen)
        report["levers"][name] = result
        print(row(name, before, result), flush=True)
    if args.check:
        report["train_check"] = check_with_train(bench, chosen)
        draws = [report["train_check"][f"random-{seed}"]["amazon"] for seed in RANDOM_SEEDS]
        print(
            f"\ntraining.train itself: queue {report['train_check']['queue']['amazon']:.4f}, random "
            f"{np.mean(draws):.4f} ({min(draws):.4f}–{max(draws):.4f})"
        )
    print()
    print(machine_line(machine()))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "label_levers.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
