"""The sentiment model: a scikit-learn pipeline for training, a compiled scorer for serving.

Pipeline: word TF-IDF (stemmed 1–2-grams, negation scope, valence-lexicon cues) + character
3–5-gram TF-IDF → multinomial logistic regression. Reviews and tweets share one vocabulary
after normalisation (links, handles, numbers become placeholders); character n-grams carry the
tweets' misspellings and the reviews' rarer inflections; sample weights balance the domains.

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
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from sentiment_model.data import LABELS
from sentiment_model.text import char_features, char_words, known_stems, remember_stems, word_char_ngrams, word_features


@dataclass(frozen=True)
class ModelParams:
    """Hyper-parameters, recorded in the artifact's metadata."""

    C: float = 2.0
    min_df: int = 2
    max_iter: int = 3000
    # Reviews are a third of the rows but half of what users send us: weigh them up.
    review_weight: float = 2.0
    # Human corrections are deliberate and recent: they count more than a base row.
    feedback_weight: float = 3.0

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


def build_pipeline(params: ModelParams) -> Pipeline:
    def tfidf(analyzer: Callable[[str], list[str]]) -> TfidfVectorizer:
        return TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, min_df=params.min_df, dtype=np.float32)

    features = FeatureUnion(
        [
            ("words", tfidf(word_features)),
            ("chars", tfidf(char_features)),
        ]
    )
    # lbfgs is deterministic: the same data and parameters give the same model.
    classifier = LogisticRegression(C=params.C, max_iter=params.max_iter)
    return Pipeline([("features", features), ("classifier", classifier)])


@dataclass(frozen=True)
class _SparseBlock:
    analyzer: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    # Per feature: idf, then idf * coef for each class. One gather fetches everything.
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


class CompiledScorer:
    """Class probabilities from a fitted :func:`build_pipeline` pipeline, without scikit-learn."""

    def __init__(self, model: TrainedModel) -> None:
        remember_stems(model.stems)
        pipeline = model.pipeline
        classifier: LogisticRegression = pipeline.named_steps["classifier"]
        features: FeatureUnion = pipeline.named_steps["features"]
        order = [list(classifier.classes_).index(label) for label in LABELS]
        coef = classifier.coef_[order].astype(np.float64).T  # features x classes, in LABELS order
        self.intercept = classifier.intercept_[order].astype(np.float64)
        self.blocks: list[_SparseBlock] = []
        offset = 0
        for _, transformer in features.transformer_list:
            if not isinstance(transformer, TfidfVectorizer) or not transformer.sublinear_tf:
                raise TypeError(f"cannot compile feature block {transformer!r}")
            idf = transformer.idf_.astype(np.float64)
            width = len(idf)
            block_coef = coef[offset : offset + width]
            block_type = _CharBlock if transformer.analyzer is char_features else _SparseBlock
            table = np.column_stack([idf, idf[:, None] * block_coef])
            self.blocks.append(block_type(transformer.analyzer, transformer.vocabulary_, table))
            offset += width
        if offset != coef.shape[0]:
            raise ValueError(f"feature blocks cover {offset} columns, the classifier has {coef.shape[0]}")
        for block in self.blocks:
            if isinstance(block, _CharBlock):
                block.warm(model.stems)  # every word seen in training: a server starts warm

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        logits = np.tile(self.intercept, (len(texts), 1))
        for row, text in enumerate(texts):
            for block in self.blocks:
                block.add_logits(text, logits[row])
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits
