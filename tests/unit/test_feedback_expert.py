"""The feedback expert: people's labels answer for texts like the labelled ones, and only for them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray

from sentiment_model import encoder_model, feedback_expert
from sentiment_model.data import LABELS
from sentiment_model.encoder import BUNDLED, Encoder
from sentiment_model.encoder_model import EncoderScorer
from sentiment_model.model import ModelParams
from sentiment_model.training import TrainingResult
from tests.conftest import DATA

DIMENSIONS = 384
BASE_AXIS, FEEDBACK_AXIS, POLARITY_AXIS = 0, 1, 2


def unit_rows(
    rng: np.random.Generator, rows: int, axis: int, polarity: NDArray[np.float64] | None = None
) -> NDArray[np.float64]:
    """Unit vectors near one axis (a region of embedding space), a polarity along another."""
    vectors = rng.normal(scale=0.05, size=(rows, DIMENSIONS))
    vectors[:, axis] += 1.0
    if polarity is not None:
        vectors[:, POLARITY_AXIS] += polarity
    return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def a_new_domain(rng: np.random.Generator, rows: int) -> tuple[NDArray[np.float64], NDArray[np.str_]]:
    """Texts of a domain the base data does not hold: negative when the polarity is below zero."""
    polarity = rng.choice([-0.5, 0.5], size=rows)
    return unit_rows(rng, rows, FEEDBACK_AXIS, polarity), np.where(polarity < 0, "negative", "positive")


def test_texts_like_the_labelled_ones_get_the_labels_answer_and_others_the_heads() -> None:
    rng = np.random.default_rng(0)
    base = unit_rows(rng, 2000, BASE_AXIS)
    taught, labels = a_new_domain(rng, 80)
    expert = feedback_expert.fit(base, taught, labels, share=1.0, C=3.0)
    assert expert is not None

    new, truth = a_new_domain(rng, 200)
    like_base = unit_rows(rng, 200, BASE_AXIS)
    heads_say_neutral = np.tile([0.1, 0.8, 0.1], (200, 1))
    on_new = expert.blend(heads_say_neutral, new)
    on_base = expert.blend(heads_say_neutral, like_base)

    assert (np.array(LABELS)[on_new.argmax(axis=1)] == truth).mean() > 0.95
    np.testing.assert_allclose(on_base, heads_say_neutral, atol=0.05)
    np.testing.assert_allclose(on_new.sum(axis=1), 1.0, atol=1e-12)


def test_a_texts_answer_does_not_depend_on_its_batch() -> None:
    rng = np.random.default_rng(1)
    taught, labels = a_new_domain(rng, 60)
    expert = feedback_expert.fit(unit_rows(rng, 500, BASE_AXIS), taught, labels, share=1.0, C=3.0)
    assert expert is not None
    texts = np.vstack([a_new_domain(rng, 5)[0], unit_rows(rng, 5, BASE_AXIS)])
    heads = np.tile([0.2, 0.3, 0.5], (10, 1))
    together = expert.blend(heads, texts)
    alone = np.vstack([expert.blend(heads[i : i + 1], texts[i : i + 1]) for i in range(10)])
    np.testing.assert_array_equal(together, alone)


@pytest.mark.parametrize(
    ("rows", "labels", "share"),
    [
        (feedback_expert.MIN_ROWS - 1, ("negative", "positive"), 1.0),  # too few to learn from
        (feedback_expert.MIN_ROWS, ("positive",), 1.0),  # one label: nothing to tell apart
        (feedback_expert.MIN_ROWS, ("negative", "positive"), 0.0),  # switched off
    ],
)
def test_no_expert_without_enough_to_learn_or_when_switched_off(
    rows: int, labels: tuple[str, ...], share: float
) -> None:
    rng = np.random.default_rng(2)
    taught = unit_rows(rng, rows, FEEDBACK_AXIS)
    given = np.resize(np.array(labels), rows)
    assert feedback_expert.fit(unit_rows(rng, 200, BASE_AXIS), taught, given, share=share, C=3.0) is None


def test_the_heads_fit_carries_an_expert_for_the_feedback_rows() -> None:
    """``encoder_model.fit`` trains the expert on the rows whose domain is feedback, against the base rows."""
    rng = np.random.default_rng(3)
    frames = [
        pd.read_csv(DATA / "base" / f"{source}.csv").head(150).assign(domain=source) for source in ("reviews", "tweets")
    ]
    base = pd.concat(frames, ignore_index=True)
    taught, labels = a_new_domain(rng, 40)
    texts = [*base["text"], *(f"the gadget number {i} arrived" for i in range(40))]
    embeddings = np.vstack([unit_rows(rng, len(base), BASE_AXIS), taught])
    model = encoder_model.fit(
        texts,
        embeddings,
        np.concatenate([base["label"].to_numpy(), labels]),
        np.ones(len(texts)),
        domains=np.concatenate([base["domain"].to_numpy(), np.full(40, "feedback")]),
        params=ModelParams(),
    )
    assert model.feedback_expert is not None and model.feedback_expert.rows == 40
    switched_off = encoder_model.fit(
        texts,
        embeddings,
        np.concatenate([base["label"].to_numpy(), labels]),
        np.ones(len(texts)),
        domains=np.concatenate([base["domain"].to_numpy(), np.full(40, "feedback")]),
        params=ModelParams(feedback_expert_share=0.0),
    )
    assert switched_off.feedback_expert is None


def test_the_scorer_answers_with_the_expert_where_it_knows_the_texts(small_training: TrainingResult) -> None:
    """Served: a text whose embedding is like the labelled texts' gets their label; the heads alone
    would not give it (the stand-in embeddings mean nothing to them)."""
    rng = np.random.default_rng(4)
    base = unit_rows(rng, 1000, BASE_AXIS)
    taught, labels = a_new_domain(rng, 60)
    expert = feedback_expert.fit(base, taught, labels, share=1.0, C=3.0)
    new, truth = a_new_domain(rng, 20)
    vectors = {f"new text {i}": row for i, row in enumerate(new)}

    def embed(texts: Sequence[str]) -> NDArray[np.float32]:
        return np.stack([vectors[text] for text in texts]).astype(np.float32)

    heads_only = EncoderScorer(small_training.model, embed)
    with_expert = EncoderScorer(replace(small_training.model, feedback_expert=expert), embed)
    texts = list(vectors)
    before = np.array(LABELS)[heads_only.predict_proba(texts).argmax(axis=1)]
    after = np.array(LABELS)[with_expert.predict_proba(texts).argmax(axis=1)]
    assert (after == truth).mean() > 0.9
    assert (before == truth).mean() < 0.8


def test_a_model_trained_without_enough_feedback_says_it_has_no_expert(small_training: TrainingResult) -> None:
    assert small_training.model.feedback_expert is None
    assert small_training.metadata["feedback_expert"] is None


def test_a_model_trained_before_the_expert_scores_as_it_did(small_training: TrainingResult) -> None:
    """A pickled model from before the expert has no such attribute: it reads as None and scores."""
    model = small_training.model
    state = {key: value for key, value in model.__dict__.items() if key != "feedback_expert"}
    old = object.__new__(type(model))
    object.__setattr__(old, "__dict__", state)
    assert old.feedback_expert is None
    texts = ["what a waste of two hours", "my flight is at 6pm"]
    encode = Encoder(BUNDLED).encode
    np.testing.assert_array_equal(
        EncoderScorer(old, encode).predict_proba(texts), EncoderScorer(model, encode).predict_proba(texts)
    )
