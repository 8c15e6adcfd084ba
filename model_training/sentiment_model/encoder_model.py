"""The encoder model: a fine-tuned sentence encoder, frozen, and linear heads retrained in every run.

Features: the encoder's embedding of the text (384 numbers that carry its meaning across domains,
:mod:`sentiment_model.encoder`) next to the TF-IDF model's word and character features (which
carry the exact words: a product's name, a new domain's jargon, what people's feedback teaches).
The embedding is scaled by ``embedding_scale`` so that one regularisation suits both.

Heads, arranged as the TF-IDF model's experts (:class:`~sentiment_model.model.GatedExperts`): a
gate (is this text like a review or like a tweet?), a review expert and a tweet expert, mixed as
P = g·P_review + (1 − g)·P_tweet. The critics' reviews carry no neutral label (fresh or rotten is a
forced choice), so the review expert rarely says neutral and formal prose goes to it: "The meeting is
at 3pm in room 4" was called negative. Feedback changes that in two ways. The review expert learns
every label it is given, neutral included. And the gate learns from every text people call neutral
(weighted ``neutral_gate_weight``) that it is not a text for the review expert, so texts like it go to
the tweet expert, which knows neutral from its data and from feedback. Any text can be answered
neutral.

Every run refits all of it in seconds; only texts never seen before are encoded (the
:class:`~sentiment_model.encoder.EmbeddingCache`). Serving computes the same probabilities without
scikit-learn: the TF-IDF part through the compiled look-up tables of :mod:`sentiment_model.model`,
the embedding part as one matrix product for the whole batch.

People's labels also train a feedback expert of their own, which answers for texts like the labelled
ones and unlike the base data (:mod:`sentiment_model.feedback_expert`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.pipeline import FeatureUnion

from sentiment_model import feedback_expert, objectivity
from sentiment_model.data import LABELS
from sentiment_model.feedback_expert import FeedbackExpert
from sentiment_model.model import ModelParams, _SparseBlock, build_pipeline, compile_blocks, feature_width
from sentiment_model.objectivity import OBJECTIVE_SOURCE, Objectivity
from sentiment_model.text import known_stems, remember_stems

REVIEWS, TWEETS = "reviews", "tweets"
KIND = "encoder"
# Logit columns: the gate, the review expert's three labels, the tweet expert's three (LABELS order).
GATE, REVIEW, TWEET = slice(0, 1), slice(1, 4), slice(4, 7)
LOGITS = 7

Embed = Callable[[Sequence[str]], NDArray[np.float32]]


@dataclass(frozen=True)
class EncoderModel:
    """What ``model.joblib`` holds for the encoder kind."""

    features: FeatureUnion  # the fitted TF-IDF word and character blocks
    stems: dict[str, str]  # every word's stem seen in training (serving starts warm)
    sparse_coef: NDArray[np.float64]  # (TF-IDF features, 7)
    dense_coef: NDArray[np.float64]  # (embedding dimensions, 7), for embeddings already scaled
    intercept: NDArray[np.float64]  # (7,); -inf for a label an expert never saw
    embedding_scale: float
    # None below feedback_expert.MIN_ROWS feedback rows, and in models trained before it existed.
    feedback_expert: FeedbackExpert | None = None
    # None without plot sentences to learn from, with objectivity_weight 0, and in models trained before it.
    objectivity: Objectivity | None = None


def mix(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    """Rows of seven logits as probabilities in LABELS order: g·P_review + (1 − g)·P_tweet."""
    gate = 0.5 + 0.5 * np.tanh(0.5 * logits[:, GATE])
    return np.asarray(gate * _softmax(logits[:, REVIEW]) + (1.0 - gate) * _softmax(logits[:, TWEET]))


def _softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


def _in_label_order(classifier: Any, width: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A fitted logistic regression as (coef (features, 3), intercept (3,)) in LABELS order. A binary
    one has one logit (its second class against its first); a label it never saw gets -inf."""
    classes = [str(label) for label in classifier.classes_]
    coef = np.zeros((width, len(LABELS)))
    intercept = np.full(len(LABELS), -np.inf)
    if len(classes) == 2:
        first, second = LABELS.index(classes[0]), LABELS.index(classes[1])
        coef[:, second], intercept[second] = classifier.coef_[0], classifier.intercept_[0]
        intercept[first] = 0.0
        return coef, intercept
    for row, label in enumerate(classes):
        coef[:, LABELS.index(label)] = classifier.coef_[row]
        intercept[LABELS.index(label)] = classifier.intercept_[row]
    return coef, intercept


def fit(
    texts: Sequence[str],
    embeddings: NDArray[np.floating[Any]],
    labels: Sequence[str] | NDArray[Any],
    weights: NDArray[np.float64],
    *,
    domains: Sequence[str] | NDArray[Any],
    params: ModelParams,
) -> EncoderModel:
    """The gate on base rows only; each expert on its domain plus every feedback row; the objectivity
    detector on the plot sentences (domain ``plots``, which teach nothing else) against the reviews."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - training only

    y, d, embeddings = np.asarray(labels), np.asarray(domains), np.asarray(embeddings)
    objective = d == OBJECTIVE_SOURCE
    objective_texts, objective_embeddings = (
        [text for text, o in zip(texts, objective, strict=True) if o],
        embeddings[objective],
    )
    if objective.any():
        keep = ~objective
        texts = [text for text, kept in zip(texts, keep.tolist(), strict=True) if kept]
        y, d, embeddings, weights = y[keep], d[keep], embeddings[keep], np.asarray(weights)[keep]
    review, tweet = d == REVIEWS, d == TWEETS
    feedback = ~(review | tweet)
    if not review.any() or not tweet.any():
        raise ValueError(f"training data needs both {REVIEWS} and {TWEETS} rows")
    features: FeatureUnion = build_pipeline(params).named_steps["features"]
    x = sparse.hstack(
        [features.fit_transform(list(texts)), sparse.csr_matrix(embeddings * params.embedding_scale)],
        format="csr",
        dtype=np.float64,
    )
    # lbfgs is deterministic: the same data and parameters give the same model.
    # The gate learns from base rows, and from feedback that calls a text neutral: the reviews' labels
    # are a forced choice, so a text people call neutral is not one for the review expert to judge.
    for_gate = ~feedback | (feedback & (y == "neutral"))
    gate_weights = np.where(feedback, params.neutral_gate_weight, 1.0)
    gate = LogisticRegression(C=params.C, max_iter=params.max_iter).fit(
        x[for_gate], review[for_gate], sample_weight=gate_weights[for_gate]
    )
    for_review = review | feedback
    review_expert = LogisticRegression(C=params.review_C, max_iter=params.max_iter).fit(
        x[for_review], y[for_review], sample_weight=weights[for_review]
    )
    for_tweet = ~review
    tweet_expert = LogisticRegression(C=params.C, max_iter=params.max_iter, class_weight="balanced").fit(
        x[for_tweet], y[for_tweet], sample_weight=weights[for_tweet]
    )
    width = x.shape[1]
    review_coef, review_intercept = _in_label_order(review_expert, width)
    tweet_coef, tweet_intercept = _in_label_order(tweet_expert, width)
    coef = np.column_stack([gate.coef_[0], review_coef, tweet_coef])
    intercept = np.concatenate([gate.intercept_, review_intercept, tweet_intercept]).astype(np.float64)
    split = feature_width(features)
    # The detector reads the heads' features: the vocabulary is the heads' (the plot sentences add no word).
    detector = objectivity.fit(
        sparse.hstack(
            [features.transform(objective_texts), sparse.csr_matrix(objective_embeddings * params.embedding_scale)],
            format="csr",
        )
        if objective_texts
        else x[:0],
        x[review],
        sparse_width=split,
        threshold=params.objectivity_threshold,
        weight=params.objectivity_weight,
        power=params.objectivity_power,
        max_iter=params.max_iter,
    )
    expert = feedback_expert.fit(
        embeddings[~feedback],
        embeddings[feedback],
        y[feedback],
        share=params.feedback_expert_share,
        C=params.feedback_expert_C,
        max_iter=params.max_iter,
    )
    return EncoderModel(
        features=features,
        stems=known_stems(),
        sparse_coef=coef[:split],
        dense_coef=coef[split:],
        intercept=intercept,
        embedding_scale=params.embedding_scale,
        feedback_expert=expert,
        objectivity=detector,
    )


class EncoderScorer:
    """Class probabilities (LABELS order) for texts, without scikit-learn."""

    def __init__(self, model: EncoderModel, embed: Embed) -> None:
        remember_stems(model.stems)
        self.model = model
        self.embed = embed
        # The objectivity detector, when there is one, is an eighth column of the same tables and product.
        detector = model.objectivity
        sparse_coef, dense_coef, intercept = model.sparse_coef, model.dense_coef, model.intercept
        if detector is not None:
            sparse_coef = np.column_stack([sparse_coef, detector.sparse_coef])
            dense_coef = np.column_stack([dense_coef, detector.dense_coef])
            intercept = np.append(intercept, detector.intercept)
        self.columns = len(intercept)
        self.intercept = intercept
        self.blocks: list[_SparseBlock] = compile_blocks(model.features, sparse_coef, model.stems)
        self.dense = dense_coef * model.embedding_scale

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        embeddings = np.asarray(self.embed(texts), dtype=np.float64)
        logits = self.logits(texts, embeddings)
        probabilities = mix(logits[:, :LOGITS])
        if self.model.objectivity is not None:
            probabilities = self.model.objectivity.blend(probabilities, logits[:, LOGITS])
        expert = self.model.feedback_expert
        return probabilities if expert is None else expert.blend(probabilities, embeddings)

    def logits(self, texts: Sequence[str], embeddings: NDArray[np.float64]) -> NDArray[np.float64]:
        """For each text the heads' seven logits (the gate's, then each expert's, LABELS order), and the
        objectivity detector's eighth when the model has one."""
        # Row by row, not one matrix product: BLAS sums a matrix product in another order than a
        # vector product, so a text's scores would change in the last digits with its batch.
        logits = np.array([row @ self.dense for row in embeddings]).reshape(len(texts), self.columns) + self.intercept
        finite = np.isfinite(self.intercept)
        row_logits = np.zeros(self.columns)
        for row, text in enumerate(texts):
            row_logits[:] = 0.0
            for block in self.blocks:
                block.add_logits(text, row_logits)
            logits[row, finite] += row_logits[finite]
        return logits
