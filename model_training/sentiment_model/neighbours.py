"""Where the new labels touch: the candidate against the champion on the texts a run's new labels
are about and on their nearest labelled neighbours.

Golden figures are aggregates over thousands of texts, and the feedback hold-out is drawn from the
very labels being judged: a few hundred labels flipping one phrase leave the first unmoved and make
the second agree with them. What such labels do show is local: the candidate now answers the
phrase's *neighbours* (texts people labelled, which the champion answered as they did) otherwise.

- **New labels** are feedback rows created after the champion was (its ``metadata.json``
  ``created_at``): the champion cannot have been trained on them. Without a champion date every
  feedback row is new.
- **Labelled texts** are the base data, the golden split and earlier feedback given by a named
  reviewer: texts people labelled that are not among the new labels. A labelled text that *is* one of
  the touched texts is not its own neighbour (correcting it is what the label asks for).
- **Nearest**: cosine similarity of the vectors the model already computes (the encoder's
  embeddings, mostly from the embedding cache; TF-IDF vectors of the pool for the tfidf kind), the
  ``K`` nearest of each touched text, pooled without repeats.

Measured: on the neighbours the champion answered as people did, how many the candidate answers
otherwise (``neighbour_flips``, and their share); on the touched texts, how many answers changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer

from sentiment_model.data import LABELS, fold_text
from sentiment_model.scorers import Scorer

log = logging.getLogger(__name__)

K = 10  # nearest labelled texts per touched text
MAX_EXAMPLES = 10
CHUNK = 256  # touched texts per similarity block: bounds the memory of one matrix product

Vectorise = Callable[[Sequence[str]], Any]  # texts → rows (dense array or sparse matrix)


@dataclass(frozen=True)
class NeighbourCheck:
    """What the candidate changes where the new labels touch."""

    touched: int
    touched_changed: int
    touched_agreed: int  # touched texts the champion answered as people called their nearest labelled texts
    touched_flips: int  # of those, answered otherwise by the candidate
    neighbours: int
    champion_agreed: int
    flips: int
    seconds: float
    examples: list[dict[str, str]] = field(default_factory=list)

    @property
    def flip_share(self) -> float | None:
        return round(self.flips / self.champion_agreed, 4) if self.champion_agreed else None

    @property
    def touched_flip_share(self) -> float | None:
        return round(self.touched_flips / self.touched_agreed, 4) if self.touched_agreed else None

    def metrics(self) -> dict[str, float | None]:
        """The headline numbers, recorded beside the golden ones in ``metadata.json``'s ``metrics``."""
        return {
            "touched_texts": self.touched,
            "touched_changed": self.touched_changed,
            "touched_agreed": self.touched_agreed,
            "touched_flips": self.touched_flips,
            "touched_flip_share": self.touched_flip_share,
            "neighbours": self.neighbours,
            "neighbours_champion_agreed": self.champion_agreed,
            "neighbour_flips": self.flips,
            "neighbour_flip_share": self.flip_share,
        }

    def as_dict(self) -> dict[str, Any]:
        return {**self.metrics(), "k": K, "seconds": self.seconds, "examples": self.examples}


def new_labels(feedback: pd.DataFrame, since: datetime | None) -> pd.Series:
    """Which feedback rows are new to the champion: created after ``since`` (rows without a date
    count as new: nothing shows the champion saw them)."""
    if since is None:
        return pd.Series(True, index=feedback.index)
    created = pd.to_datetime(feedback["created_at"].replace("", None), utc=True, errors="coerce", format="ISO8601")
    return pd.Series(created.isna() | (created > pd.Timestamp(since)), index=feedback.index)


def labelled_pool(frames: Sequence[pd.DataFrame], touched: Sequence[str]) -> pd.DataFrame:
    """Texts people labelled, once each (a later frame's label wins), without the touched texts."""
    pool = pd.concat([frame[["text", "label"]] for frame in frames], ignore_index=True)
    folded = pool["text"].map(fold_text)
    pool = pool.loc[~folded.isin({fold_text(text) for text in touched})]
    return pool.loc[~pool["text"].map(fold_text).duplicated(keep="last")].reset_index(drop=True)


def tfidf_vectorise(pool_texts: Sequence[str]) -> Vectorise:
    """Vectors for a model without an encoder: TF-IDF of words, fitted on the pool (rows unit length)."""
    vectoriser = TfidfVectorizer(sublinear_tf=True, min_df=1, ngram_range=(1, 2)).fit(pool_texts)
    return vectoriser.transform  # type: ignore[no-any-return]


def _unit_rows(vectors: Any) -> Any:
    if isinstance(vectors, np.ndarray):
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)
    return vectors  # TF-IDF rows are already unit length


def nearest(touched: Any, pool: Any, k: int = K) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """For each touched row, the indices of the ``k`` most cosine-similar pool rows and their
    similarities, the closest first: two arrays of shape (touched rows, k)."""
    touched, pool = _unit_rows(touched), _unit_rows(pool)
    k = min(k, pool.shape[0])
    indices = np.empty((touched.shape[0], k), np.int64)
    similarities = np.empty((touched.shape[0], k), np.float64)
    for start in range(0, touched.shape[0], CHUNK):
        similarity = touched[start : start + CHUNK] @ pool.T
        similarity = similarity.toarray() if hasattr(similarity, "toarray") else np.asarray(similarity)
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        top_similarity = np.take_along_axis(similarity, top, axis=1)
        order = np.argsort(-top_similarity, axis=1, kind="stable")
        indices[start : start + CHUNK] = np.take_along_axis(top, order, axis=1)
        similarities[start : start + CHUNK] = np.take_along_axis(top_similarity, order, axis=1)
    return indices, similarities


def neighbourhood_labels(labels: NDArray[np.str_], similarities: NDArray[np.float64]) -> NDArray[np.str_]:
    """What people called each touched text's nearest labelled texts: per row of ``labels`` (people's
    labels of the row's neighbours), the label with the largest summed similarity."""
    votes = np.stack([np.where(labels == label, similarities, 0.0).sum(axis=1) for label in LABELS], axis=1)
    return np.asarray(np.array(LABELS)[votes.argmax(axis=1)], dtype=str)


def _answers(scorer: Scorer, texts: Sequence[str]) -> NDArray[np.str_]:
    if not texts:
        return np.array([], dtype=str)
    return np.asarray(np.array(LABELS)[scorer.predict_proba(list(texts)).argmax(axis=1)], dtype=str)


def compare(
    touched: pd.DataFrame,
    pool: pd.DataFrame,
    vectorise: Vectorise,
    *,
    candidate: Scorer,
    champion: Scorer,
    k: int = K,
) -> NeighbourCheck:
    """Candidate against champion on the touched texts (``text``, ``label``: the new label) and on
    their nearest neighbours in ``pool`` (``text``, ``label``: people's label)."""
    started = time.perf_counter()
    touched_texts = touched["text"].tolist()
    if not touched_texts or pool.empty:
        return NeighbourCheck(len(touched_texts), 0, 0, 0, 0, 0, 0, 0.0)
    indices, similarities = nearest(vectorise(touched_texts), vectorise(pool["text"].tolist()), k)
    people = pool["label"].to_numpy(dtype=str)

    # The neighbours, once each: the champion answered as people did, the candidate now otherwise.
    chosen = np.unique(indices)
    texts, truth = pool["text"].to_numpy(dtype=str)[chosen], people[chosen]
    before, after = _answers(champion, texts.tolist()), _answers(candidate, texts.tolist())
    agreed = before == truth
    flipped = agreed & (after != truth)

    # The touched texts: the champion answered as people called their neighbours, the candidate now otherwise.
    local = neighbourhood_labels(people[indices], similarities)
    touched_before, touched_after = _answers(champion, touched_texts), _answers(candidate, touched_texts)
    touched_agreed = touched_before == local
    touched_flipped = touched_agreed & (touched_after != local)

    examples = [
        {"text": text, "label": label, "champion": old, "candidate": new, "why": "a nearest labelled text"}
        for text, label, old, new in zip(texts[flipped], truth[flipped], before[flipped], after[flipped], strict=True)
    ][: MAX_EXAMPLES // 2]
    examples += [
        {"text": text, "label": label, "champion": old, "candidate": new, "why": "a text the new labels are about"}
        for text, label, old, new in zip(
            np.array(touched_texts)[touched_flipped],
            local[touched_flipped],
            touched_before[touched_flipped],
            touched_after[touched_flipped],
            strict=True,
        )
    ][: MAX_EXAMPLES - len(examples)]
    check = NeighbourCheck(
        touched=len(touched_texts),
        touched_changed=int((touched_before != touched_after).sum()),
        touched_agreed=int(touched_agreed.sum()),
        touched_flips=int(touched_flipped.sum()),
        neighbours=len(chosen),
        champion_agreed=int(agreed.sum()),
        flips=int(flipped.sum()),
        seconds=round(time.perf_counter() - started, 2),
        examples=examples,
    )
    log.info("where the new labels touch: %s", check.metrics())
    return check
