"""How much a text states a fact rather than an opinion, and the answer moved towards neutral by it.

The heads learn neutral from the tweets alone, where the neutral rows are mostly questions and news
about airlines and products, and the critics' reviews have no neutral label at all. So a statement of
fact in other words ("The meeting is at 3pm in room 4", "It is a table") got a polar answer, whichever
expert the gate chose. Taught as neutral rows, plot summaries cost the critics' snippets their polarity
(measured in ``docs/benchmarks.md``); taught as what they are, statements of fact, they say something
the heads cannot:

- the **detector**: a logistic regression on the heads' own features (the TF-IDF words and characters
  beside the scaled embedding), sentences of film plot summaries (objective, the ``plots`` source)
  against the critics' snippets (subjective, the ``reviews`` source), the two classes weighed equally:
  Pang and Lee's subjectivity data, from the same bundled file as the reviews. Its probability ``o``
  that a text is a statement of fact. On the embedding alone it told them apart less well (held-out
  AUC 0.962 against 0.975) and took critics' plot-like praise for fact;
- the **move**: ``w = weight · clip((o − threshold) / (1 − threshold), 0, 1) · (1 − |P(negative) −
  P(positive)|)^power`` of the answer goes to neutral, ``P' = (1 − w)·P + w·[0, 1, 0]``. Only texts
  the detector is sure of move, and the less the heads lean to one polarity the more: an opinion
  stated plainly ("the screen is too dim") keeps its answer.

``threshold``, ``weight`` and ``power`` were chosen by ``bench/objectivity.py`` on base rows held out
from the heads, the detector and the encoder that read them, never on the golden split or any outside
measuring set. Serving computes the detector's logit in the same pass as the heads' (one more column
of the same look-up tables and of the same product with the embedding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

from sentiment_model.data import LABELS

OBJECTIVE_SOURCE = "plots"  # base/plots.csv: statements of fact, taught to the detector only
SUBJECTIVE_SOURCE = "reviews"
DETECTOR_C = 1.0  # the detector's inverse regularisation (held-out AUC 0.975 at 1, 0.977 at 4 and 16)
NEGATIVE, NEUTRAL, POSITIVE = (LABELS.index(label) for label in ("negative", "neutral", "positive"))


@dataclass(frozen=True)
class Objectivity:
    """The detector as one more linear head on the heads' features, and the move's three constants."""

    sparse_coef: NDArray[np.float64]  # (TF-IDF features,)
    dense_coef: NDArray[np.float64]  # (embedding dimensions,), for embeddings already scaled
    intercept: float
    threshold: float
    weight: float
    power: float
    objective_rows: int
    subjective_rows: int

    @staticmethod
    def scores(logits: NDArray[np.float64]) -> NDArray[np.float64]:
        """``o`` for each of the detector's logits: the probability that the text states a fact."""
        return np.array([0.5 + 0.5 * math.tanh(0.5 * float(logit)) for logit in logits])

    def blend(self, probabilities: NDArray[np.float64], logits: NDArray[np.float64]) -> NDArray[np.float64]:
        """``probabilities`` (LABELS order) moved towards neutral by each text's ``o`` (from its ``logits``)."""
        # Row by row, as the heads are scored: a text's answer must not depend on its batch.
        moved = np.array(probabilities, dtype=np.float64, copy=True)
        for row, objective in enumerate(self.scores(logits).tolist()):
            sure = min(max((objective - self.threshold) / (1.0 - self.threshold), 0.0), 1.0)
            lean = abs(moved[row, NEGATIVE] - moved[row, POSITIVE])
            share = self.weight * sure * (1.0 - lean) ** self.power
            if share > 0.0:
                moved[row] *= 1.0 - share
                moved[row, NEUTRAL] += share
        return moved

    def describe(self) -> dict[str, Any]:
        return {
            "objective_rows": self.objective_rows,
            "subjective_rows": self.subjective_rows,
            "threshold": self.threshold,
            "weight": self.weight,
            "power": self.power,
        }


def fit(
    objective: sparse.csr_matrix,
    subjective: sparse.csr_matrix,
    *,
    sparse_width: int,
    threshold: float,
    weight: float,
    power: float,
    C: float = DETECTOR_C,
    max_iter: int = 3000,
) -> Objectivity | None:
    """The detector on ``objective`` against ``subjective`` rows of the heads' features (the first
    ``sparse_width`` columns TF-IDF, the rest the scaled embedding), or None when ``weight`` is 0 or
    either side is empty (a training channel without plot sentences, a quick sampled run of one source)."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - training only

    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"objectivity threshold must be in [0, 1), not {threshold}")
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"objectivity weight must be in [0, 1], not {weight}")
    if power < 0.0:
        raise ValueError(f"objectivity power must not be negative, not {power}")
    if weight == 0.0 or objective.shape[0] == 0 or subjective.shape[0] == 0:
        return None
    rows = sparse.vstack([objective, subjective], format="csr", dtype=np.float64)
    is_objective = np.concatenate([np.ones(objective.shape[0], dtype=bool), np.zeros(subjective.shape[0], dtype=bool)])
    # lbfgs is deterministic: the same rows give the same detector.
    detector = LogisticRegression(C=C, max_iter=max_iter, class_weight="balanced").fit(rows, is_objective)
    coef = np.asarray(detector.coef_[0], dtype=np.float64)
    return Objectivity(
        sparse_coef=coef[:sparse_width],
        dense_coef=coef[sparse_width:],
        intercept=float(detector.intercept_[0]),
        threshold=threshold,
        weight=weight,
        power=power,
        objective_rows=objective.shape[0],
        subjective_rows=subjective.shape[0],
    )
