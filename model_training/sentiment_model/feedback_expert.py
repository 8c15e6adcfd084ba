"""The feedback expert: what people's labels teach about texts unlike the training data.

Feedback joins the heads' training rows, but a hundred labels among 32,000 base rows barely move a
linear model fitted to all of them: on Amazon product-review sentences (a domain neither training set
holds) 100 labels lifted macro-F1 by 0.015–0.033, at feedback weight 3, 10 or 30 alike
(``bench/label_levers.py``). The labels do carry the domain: a classifier on their embeddings alone
does better than the heads there. So feedback also gets an expert of its own, and a gate that says how
far a text is into the feedback's territory:

- the **gate**, a logistic regression on the embedding: a feedback row (1) against a base row (0),
  the two classes weighed equally. Texts like the base data get ≈ 0 (golden reviews and tweets: 0.02
  on average after 100 Amazon labels), texts like the labelled ones ≈ 1;
- the **expert**, a logistic regression on the embedding, fitted on the feedback rows only, class-
  balanced (a new domain's labels are few and rarely balanced);
- P = (1 − s·g)·P_heads + s·g·P_expert, ``s`` being ``feedback_expert_share``.

Below ``MIN_ROWS`` feedback rows, or with one label only, there is no expert and the heads answer
alone. Both are a matrix-vector product on the embedding the heads already computed: microseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sentiment_model.data import LABELS

MIN_ROWS = 30  # fewer feedback rows than this teach an expert mostly noise


@dataclass(frozen=True)
class FeedbackExpert:
    """The gate and the expert as one linear map of raw (unscaled) embeddings: column 0 the gate's
    logit, columns 1–3 the expert's (LABELS order)."""

    coef: NDArray[np.float64]  # (dimensions, 4)
    intercept: NDArray[np.float64]  # (4,); -inf for a label the feedback never gave
    share: float
    rows: int

    def blend(self, probabilities: NDArray[np.float64], embeddings: NDArray[np.float64]) -> NDArray[np.float64]:
        """The heads' ``probabilities`` moved towards the expert's by each text's gate."""
        # Row by row, as the heads are scored: a text's answer must not depend on its batch. Plain floats
        # after the one product: on four numbers they cost a fraction of array operations.
        blended = np.empty_like(probabilities)
        for row, (embedding, heads) in enumerate(zip(embeddings, probabilities.tolist(), strict=True)):
            gate_logit, *logits = (embedding @ self.coef + self.intercept).tolist()
            gate = self.share * (0.5 + 0.5 * math.tanh(0.5 * gate_logit))
            top = max(logits)
            expert = [math.exp(logit - top) for logit in logits]
            total = sum(expert)
            blended[row] = [(1.0 - gate) * p + gate * e / total for p, e in zip(heads, expert, strict=True)]
        return blended

    def describe(self) -> dict[str, Any]:
        return {"rows": self.rows, "share": self.share}


def fit(
    base: NDArray[np.floating[Any]],
    feedback: NDArray[np.floating[Any]],
    labels: NDArray[Any],
    *,
    share: float,
    C: float,
    max_iter: int = 3000,
) -> FeedbackExpert | None:
    """The gate (feedback rows against ``base`` rows) and the expert (on the feedback rows), or None
    when there is too little feedback to learn from or ``share`` is 0."""
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - training only

    labels = np.asarray(labels)
    if share <= 0 or len(labels) < MIN_ROWS or len(set(labels.tolist())) < 2:
        return None
    rows = np.vstack([base, feedback]).astype(np.float64)
    is_feedback = np.concatenate([np.zeros(len(base), dtype=bool), np.ones(len(feedback), dtype=bool)])
    # lbfgs is deterministic: the same data gives the same expert.
    gate = LogisticRegression(C=1.0, max_iter=max_iter, class_weight="balanced").fit(rows, is_feedback)
    expert = LogisticRegression(C=C, max_iter=max_iter, class_weight="balanced").fit(
        np.asarray(feedback, dtype=np.float64), labels
    )
    coef = np.zeros((feedback.shape[1], 1 + len(LABELS)))
    intercept = np.full(1 + len(LABELS), -np.inf)
    coef[:, 0], intercept[0] = gate.coef_[0], gate.intercept_[0]
    classes = [str(label) for label in expert.classes_]
    if len(classes) == 2:  # one logit: the second class against the first
        coef[:, 1 + LABELS.index(classes[1])] = expert.coef_[0]
        intercept[1 + LABELS.index(classes[1])] = expert.intercept_[0]
        intercept[1 + LABELS.index(classes[0])] = 0.0
    else:
        for row, label in enumerate(classes):
            coef[:, 1 + LABELS.index(label)] = expert.coef_[row]
            intercept[1 + LABELS.index(label)] = expert.intercept_[row]
    return FeedbackExpert(coef=coef, intercept=intercept, share=share, rows=len(labels))
