"""One way to get class probabilities from any artifact, whatever its kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from sentiment_model.artifact import LoadedArtifact
from sentiment_model.encoder import EmbeddingCache
from sentiment_model.encoder_model import EncoderScorer
from sentiment_model.model import CompiledScorer


class Scorer(Protocol):
    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float64]: ...


def scorer_for(artifact: LoadedArtifact, cache: EmbeddingCache | None = None) -> Scorer:
    """The artifact's scorer. An encoder model reads its embeddings from ``cache`` when the cache
    belongs to the very same encoder (same SHA-256), else from its own encoder."""
    if artifact.encoder is None:
        return CompiledScorer(artifact.model)
    if cache is not None and cache.encoder.info.sha256 == artifact.encoder.info.sha256:
        return EncoderScorer(artifact.model, cache.embed)
    return EncoderScorer(artifact.model, artifact.encoder.encode)
