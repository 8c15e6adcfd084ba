"""The sentiment model: a scikit-learn pipeline for training, a compiled scorer for serving.

Pipeline: word TF-IDF (stemmed 1–2-grams, negation scope, valence-lexicon cues) + character
3–5-gram TF-IDF → :class:`GatedExperts`, three logistic regressions on those same features:

- a gate: is this text a review or a tweet?
- a review expert, negative vs positive (the reviews carry no neutral label);
- a tweet expert, three classes, class-balanced (neutral dominates the tweets).

P = g·P_review + (1 − g)·P_tweet: each expert fits its own domain's labels (the reviews have no
neutral class; the tweets' three are weighed to balance). Reviews and tweets share one vocabulary
after normalisation (links, handles, numbers become placeholders); character n-grams carry the
tweets' misspellings and the reviews' rarer inflections.

scikit-learn spends most of a single prediction validating input and building sparse
matrices (0.6–1.4 ms). :class:`CompiledScorer` reads the fitted pipeline once and computes the
very same probabilities with dictionary look-ups and a few small NumPy operations; a test
checks it against ``pipeline.predict_proba`` on the golden split.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from sentiment_model.data import LABELS
from sentiment_model.text import char_features, char_words, known_stems, remember_stems, word_char_ngrams, word_features


@dataclass(frozen=True)
class ModelParams:
    """Hyper-parameters, recorded in the artifact's metadata. ``kind`` picks the model: ``encoder``
    (heads on a fine-tuned sentence encoder, :mod:`sentiment_model.encoder_model`) or ``tfidf``
    (this module's experts on TF-IDF features: less accurate, several times the throughput)."""

    kind: str = "encoder"
    C: float = 2.0  # the gate and the tweet expert
    review_C: float = 4.0  # the review expert: fewer rows, longer texts, less regularisation
    min_df: int = 2
    max_iter: int = 3000
    # Reviews are a third of the rows but half of what users send us: weigh them up.
    # (The review expert sees only reviews and feedback: there it sets feedback against reviews.)
    review_weight: float = 2.0
    # Human corrections are deliberate and recent: they count more than a base row.
    feedback_weight: float = 3.0
    # The encoder kind: embeddings scaled to sit beside the TF-IDF features under one regularisation.
    embedding_scale: float = 0.3
    # The encoder kind: what one text people called neutral weighs in the gate (a base row weighs 1).
    neutral_gate_weight: float = 9.0
    # The encoder kind: how far the feedback expert may take over where its gate says "like the
    # labelled texts" (0: no expert), and its inverse regularisation (sentiment_model.feedback_expert).
    feedback_expert_share: float = 1.0
    feedback_expert_C: float = 3.0
    # The encoder kind: how far a statement of fact moves towards neutral (sentiment_model.objectivity):
    # texts the detector scores above the threshold move, by at most the weight (0: no move), and less
    # the more the heads lean to a polarity (power). Chosen by bench/objectivity.py on held-out base rows.
    objectivity_threshold: float = 0.8
    objectivity_weight: float = 1.0
    objectivity_power: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TrainedModel:
    """What ``model.joblib`` holds: the fitted pipeline, and the stem of every word seen in
    training so that serving does not pay for stemming them again."""

    pipeline: Pipeline
    stems: dict[str, str]

    @classmethod
    def capture(cls, pipeline: Pipeline) -> TrainedModel:
        return cls(pipeline, known_stems())


REVIEWS, TWEETS = "reviews", "tweets"


class GatedExperts(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A review/tweet gate and an expert per domain, all linear in the same features.

    ``fit`` takes each row's ``domain``: ``"reviews"``, ``"tweets"``, or anything else for
    feedback (a user's text from either domain). Feedback teaches both experts (the review
    expert only its negative and positive rows) but not the gate, which only knows base rows.
    """

    def __init__(self, C: float = 2.0, review_C: float = 4.0, max_iter: int = 3000) -> None:
        self.C = C
        self.review_C = review_C
        self.max_iter = max_iter

    def fit(
        self,
        X: Any,
        y: Sequence[str] | NDArray[Any],
        sample_weight: NDArray[np.float64] | None = None,
        domain: Sequence[str] | NDArray[Any] | None = None,
    ) -> GatedExperts:
        if domain is None:
            raise ValueError("GatedExperts.fit needs each row's domain")
        labels = np.asarray(y)
        domains = np.asarray(domain)
        weights = np.ones(len(labels)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        review, tweet = domains == REVIEWS, domains == TWEETS
        feedback = ~(review | tweet)
        if not review.any() or not tweet.any():
            raise ValueError(f"training data needs both {REVIEWS} and {TWEETS} rows")
        if "positive" not in labels[review] or "negative" not in labels[review]:
            raise ValueError(f"the {REVIEWS} need both negative and positive rows")

        # lbfgs is deterministic: the same data and parameters give the same model.
        self.gate_ = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(X[~feedback], review[~feedback])
        for_review = (review | feedback) & (labels != "neutral")
        self.review_ = LogisticRegression(C=self.review_C, max_iter=self.max_iter).fit(
            X[for_review], labels[for_review], sample_weight=weights[for_review]
        )
        for_tweet = ~review
        self.tweet_ = LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight="balanced").fit(
            X[for_tweet], labels[for_tweet], sample_weight=weights[for_tweet]
        )
        self.classes_ = np.array(LABELS)
        return self

    def linear_heads(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Every logit :func:`mix` needs, as one linear map: coefficients (features x 5) and
        intercepts (5). Columns: the gate (is a review), the review expert (is positive), then
        the tweet expert's three classes in LABELS order."""
        # A binary regression's one logit is that of its second (sorted) class: True, "positive".
        order = [list(self.tweet_.classes_).index(label) for label in LABELS]
        coef = np.column_stack([self.gate_.coef_[0], self.review_.coef_[0], self.tweet_.coef_[order].T])
        intercept = np.concatenate([self.gate_.intercept_, self.review_.intercept_, self.tweet_.intercept_[order]])
        return coef.astype(np.float64), intercept.astype(np.float64)

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        coef, intercept = self.linear_heads()
        logits = np.asarray(X @ coef, dtype=np.float64) + intercept
        return np.array([mix(row) for row in logits.tolist()], dtype=np.float64).reshape(-1, len(LABELS))

    def predict(self, X: Any) -> NDArray[Any]:
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])


def _sigmoid(x: float) -> float:
    return 0.5 + 0.5 * math.tanh(0.5 * x)  # no overflow for large |x|, unlike 1 / (1 + exp(-x))


def mix(logits: Sequence[float]) -> tuple[float, float, float]:
    """One text's five logits (see :meth:`GatedExperts.linear_heads`) as its probabilities in
    LABELS order: g·P_review + (1 − g)·P_tweet, the review expert giving neutral nothing.

    Plain floats, not NumPy: on five numbers this is a tenth of the cost of array operations,
    and a single text is what a server mostly scores."""
    gate_logit, review_logit, negative, neutral, positive = logits
    gate, polarity = _sigmoid(gate_logit), _sigmoid(review_logit)
    top = max(negative, neutral, positive)
    negative, neutral, positive = math.exp(negative - top), math.exp(neutral - top), math.exp(positive - top)
    tweet_share = (1.0 - gate) / (negative + neutral + positive)
    return (
        tweet_share * negative + gate * (1.0 - polarity),
        tweet_share * neutral,
        tweet_share * positive + gate * polarity,
    )


def build_pipeline(params: ModelParams) -> Pipeline:
    def tfidf(analyzer: Callable[[str], list[str]]) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, min_df=params.min_df, dtype=np.float32)

    features = FeatureUnion(
        [
            ("words", tfidf(word_features)),
            ("chars", tfidf(char_features)),
        ]
    )
    classifier = GatedExperts(C=params.C, review_C=params.review_C, max_iter=params.max_iter)
    return Pipeline([("features", features), ("classifier", classifier)])


@dataclass(frozen=True)
class _SparseBlock:
    analyzer: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    # Per feature: idf, then idf * coef for each logit. One gather fetches everything.
    table: NDArray[np.float64]

    def feature_ids(self, text: str) -> NDArray[np.intp]:
        lookup = self.vocabulary.get
        return np.array([i for i in map(lookup, self.analyzer(text)) if i is not None], dtype=np.intp)

    def add_logits(self, text: str, logits: NDArray[np.float64]) -> None:
        ids = self.feature_ids(text)
        if not len(ids):
            return
        unique, counts = np.unique(ids, return_counts=True)
        rows = self.table[unique]
        tf = 1.0 + np.log(counts)  # sublinear tf, as the vectorizer was fitted
        weighted = tf * rows[:, 0]
        logits += (tf / math.sqrt(float(weighted @ weighted))) @ rows[:, 1:]


@dataclass(frozen=True)
class _CharBlock(_SparseBlock):
    """Character n-grams are a function of each word alone: look them up once per word."""

    cache: dict[str, NDArray[np.intp]] = field(default_factory=dict)
    CACHE_WORDS: ClassVar[int] = 500_000

    def word_ids(self, word: str) -> NDArray[np.intp]:
        cache = self.cache
        ids = cache.get(word)
        if ids is None:
            if len(cache) >= self.CACHE_WORDS:
                cache.clear()
            found = [i for i in map(self.vocabulary.get, word_char_ngrams(word)) if i is not None]
            ids = cache[word] = np.array(found, dtype=np.intp)
        return ids

    def warm(self, words: Iterable[str]) -> None:
        for word in words:
            for piece in char_words(word):
                self.word_ids(piece)

    def feature_ids(self, text: str) -> NDArray[np.intp]:
        parts = [self.word_ids(word) for word in char_words(text)]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)


def _linear_heads(classifier: GatedExperts | LogisticRegression) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The five logits of :func:`mix`. A plain multinomial regression (a model trained before the
    experts, such as a champion still being served) becomes a tweet expert whose gate always
    says "tweet": mix then gives exactly its softmax."""
    if isinstance(classifier, GatedExperts):
        return classifier.linear_heads()
    order = [list(classifier.classes_).index(label) for label in LABELS]
    coef = classifier.coef_[order].astype(np.float64).T
    no_review = np.zeros((coef.shape[0], 2))
    intercept = np.concatenate([[-math.inf, 0.0], classifier.intercept_[order].astype(np.float64)])
    return np.column_stack([no_review, coef]), intercept


def compile_blocks(features: FeatureUnion, coef: NDArray[np.float64], stems: Iterable[str]) -> list[_SparseBlock]:
    """The fitted TF-IDF blocks, each with its rows of ``coef`` (features x logits) folded into one
    look-up table. ``coef`` may have more rows than the blocks cover (dense features after them)."""
    blocks: list[_SparseBlock] = []
    offset = 0
    for _, transformer in features.transformer_list:
        if not isinstance(transformer, TfidfVectorizer) or not transformer.sublinear_tf:
            raise TypeError(f"cannot compile feature block {transformer!r}")
        idf = transformer.idf_.astype(np.float64)
        width = len(idf)
        block_coef = coef[offset : offset + width]
        block_type = _CharBlock if transformer.analyzer is char_features else _SparseBlock
        table = np.column_stack([idf, idf[:, None] * block_coef])
        blocks.append(block_type(transformer.analyzer, transformer.vocabulary_, table))
        offset += width
    for block in blocks:
        if isinstance(block, _CharBlock):
            block.warm(stems)  # every word seen in training: a server starts warm
    return blocks


def feature_width(features: FeatureUnion) -> int:
    return sum(len(transformer.idf_) for _, transformer in features.transformer_list)


class CompiledScorer:
    """Class probabilities from a fitted :func:`build_pipeline` pipeline, without scikit-learn."""

    def __init__(self, model: TrainedModel) -> None:
        remember_stems(model.stems)
        pipeline = model.pipeline
        features: FeatureUnion = pipeline.named_steps["features"]
        coef, self.intercept = _linear_heads(pipeline.named_steps["classifier"])
        if feature_width(features) != coef.shape[0]:
            raise ValueError(
                f"feature blocks cover {feature_width(features)} columns, the classifier has {coef.shape[0]}"
            )
        self.blocks = compile_blocks(features, coef, model.stems)

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        probabilities = np.empty((len(texts), len(LABELS)))
        logits = np.empty_like(self.intercept)
        for row, text in enumerate(texts):
            logits[:] = self.intercept
            for block in self.blocks:
                block.add_logits(text, logits)
            probabilities[row] = mix(logits.tolist())
        return probabilities
