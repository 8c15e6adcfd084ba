"""The seeds' reference recipe, the anchor the benchmark compares our model with.

Porter-stemmed unigram TF-IDF + ``LogisticRegression(max_iter=1000)`` in a scikit-learn
pipeline. The analyzer lives in this module (not in the benchmark script) so that the pickled
pipeline can be loaded by the reference server, which imports it as ``reference_recipe``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from nltk.stem import PorterStemmer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

_WORD = re.compile(r"\w+")
_stemmer = PorterStemmer()


def stemmed_words(text: str) -> list[str]:
    """Lower-cased ``\\w+`` tokens, each Porter-stemmed."""
    return [_stemmer.stem(token) for token in _WORD.findall(text.lower())]


def build_reference_pipeline() -> Pipeline:
    """An unfitted copy of the seeds' pipeline."""
    return Pipeline(
        [
            ("tfidf", TfidfVectorizer(analyzer=stemmed_words)),
            ("classifier", LogisticRegression(max_iter=1000)),
        ]
    )


def train_reference(texts: Sequence[str], labels: Sequence[str]) -> Pipeline:
    """The seeds' pipeline fitted on ``texts`` and their ``labels``."""
    pipeline = build_reference_pipeline()
    pipeline.fit(list(texts), list(labels))
    return pipeline
