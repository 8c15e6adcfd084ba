"""The sentiment model: a scikit-learn pipeline for training, a compiled scorer for serving.

Pipeline: word TF-IDF (stemmed 1–2-grams, negation scope, valence-lexicon cues) + character
2–5-gram TF-IDF → multinomial logistic regression. Reviews and tweets share one vocabulary
after normalisation (links, handles, numbers become placeholders); character n-grams carry the
tweets' misspellings and the reviews' rarer inflections; sample weights balance the domains.

scikit-learn spends most of a single prediction validating input and building sparse
matrices (0.6–1.4 ms). :class:`CompiledScorer` reads the fitted pipeline once and computes the
very same probabilities with dictionary look-ups and a few small NumPy operations; a test
checks it against ``pipeline.predict_proba`` on the golden split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from sentiment_model.data import LABELS
from sentiment_model.text import char_features, word_features


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
    idf: NDArray[np.float64]
    weights: NDArray[np.float64]  # idf_j * coef[:, j], one row per feature

    def add_logits(self, text: str, logits: NDArray[np.float64]) -> None:
        lookup = self.vocabulary.get
        ids = [i for i in map(lookup, self.analyzer(text)) if i is not None]
        if not ids:
            return
        unique, counts = np.unique(ids, return_counts=True)
        tf = 1.0 + np.log(counts)
        norm = math.sqrt(float(np.dot(tf * self.idf[unique], tf * self.idf[unique])))
        logits += (tf / norm) @ self.weights[unique]


class CompiledScorer:
    """Class probabilities from a fitted :func:`build_pipeline` pipeline, without scikit-learn."""

    def __init__(self, pipeline: Pipeline) -> None:
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
            self.blocks.append(_SparseBlock(transformer.analyzer, transformer.vocabulary_, idf, idf[:, None] * block_coef))
            offset += width
        if offset != coef.shape[0]:
            raise ValueError(f"feature blocks cover {offset} columns, the classifier has {coef.shape[0]}")

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        logits = np.tile(self.intercept, (len(texts), 1))
        for row, text in enumerate(texts):
            for block in self.blocks:
                block.add_logits(text, logits[row])
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits
