"""The objectivity move: a statement of fact the heads are unsure of goes to neutral; an opinion keeps its answer."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray
from scipy import sparse

from sentiment_model import encoder_model, objectivity
from sentiment_model.data import LABELS
from sentiment_model.encoder import BUNDLED, EmbeddingCache, Encoder
from sentiment_model.encoder_model import EncoderScorer
from sentiment_model.model import ModelParams
from sentiment_model.objectivity import OBJECTIVE_SOURCE, Objectivity
from sentiment_model.training import TrainingResult
from tests.conftest import DATA, EMBEDDING_CACHE

DIMENSIONS = 8
FACT_AXIS, OPINION_AXIS = 0, 1


def rows(rng: np.random.Generator, count: int, axis: int) -> NDArray[np.float64]:
    vectors = rng.normal(scale=0.1, size=(count, DIMENSIONS))
    vectors[:, axis] += 1.0
    return np.asarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def features(vectors: NDArray[np.float64]) -> sparse.csr_matrix:
    """Stand-in feature rows: no TF-IDF columns, the vectors as the embedding part."""
    return sparse.csr_matrix(vectors)


@pytest.fixture(scope="module")
def detector() -> Objectivity:
    rng = np.random.default_rng(0)
    fitted = objectivity.fit(
        features(rows(rng, 300, FACT_AXIS)),
        features(rows(rng, 300, OPINION_AXIS)),
        sparse_width=0,
        threshold=0.6,
        weight=1.0,
        power=4.0,
    )
    assert fitted is not None
    return fitted


def logits(detector: Objectivity, vectors: NDArray[np.float64]) -> NDArray[np.float64]:
    """The detector's logits as the scorer computes them (here the features are the embedding part alone)."""
    return np.asarray(vectors @ detector.dense_coef + detector.intercept)


def test_a_fact_the_heads_are_unsure_of_goes_to_neutral_and_an_opinion_keeps_its_answer(detector: Objectivity) -> None:
    rng = np.random.default_rng(1)
    fact, opinion = logits(detector, rows(rng, 1, FACT_AXIS)), logits(detector, rows(rng, 1, OPINION_AXIS))
    unsure = np.array([[0.5, 0.2, 0.3]])  # negative, by a little
    sure = np.array([[0.95, 0.03, 0.02]])

    assert detector.scores(fact)[0] > 0.9
    assert detector.scores(opinion)[0] < 0.1
    assert LABELS[int(detector.blend(unsure, fact).argmax())] == "neutral"
    np.testing.assert_array_equal(detector.blend(unsure, opinion), unsure)  # below the threshold: untouched
    assert LABELS[int(detector.blend(sure, fact).argmax())] == "negative"  # the heads lean hard: barely moved
    np.testing.assert_allclose(detector.blend(sure, fact), sure, atol=1e-4)
    np.testing.assert_allclose(detector.blend(unsure, fact).sum(axis=1), 1.0, atol=1e-12)


def test_the_move_grows_with_the_heads_doubt_and_the_detectors_certainty(detector: Objectivity) -> None:
    rng = np.random.default_rng(2)
    fact = logits(detector, rows(rng, 1, FACT_AXIS))
    leaning = [np.array([[0.5 + lean / 2, 0.0, 0.5 - lean / 2]]) for lean in (0.0, 0.3, 0.6)]
    neutral = [float(detector.blend(p, fact)[0, 1]) for p in leaning]
    assert neutral[0] > neutral[1] > neutral[2] > 0.0
    halfway = detector.__class__(**{**detector.__dict__, "weight": 0.5})
    assert float(halfway.blend(leaning[0], fact)[0, 1]) < neutral[0]


def test_a_texts_answer_does_not_depend_on_its_batch(detector: Objectivity) -> None:
    rng = np.random.default_rng(3)
    scored = logits(detector, np.vstack([rows(rng, 5, FACT_AXIS), rows(rng, 5, OPINION_AXIS)]))
    probabilities = rng.dirichlet(np.ones(3), size=10)
    together = detector.blend(probabilities, scored)
    alone = np.vstack([detector.blend(probabilities[i : i + 1], scored[i : i + 1]) for i in range(10)])
    np.testing.assert_array_equal(together, alone)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"threshold": 1.0, "weight": 1.0, "power": 1.0}, "threshold"),
        ({"threshold": 0.5, "weight": 1.5, "power": 1.0}, "weight"),
        ({"threshold": 0.5, "weight": 1.0, "power": -1.0}, "power"),
    ],
)
def test_settings_out_of_range_are_refused(settings: dict[str, float], message: str) -> None:
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match=message):
        objectivity.fit(
            features(rows(rng, 20, FACT_AXIS)),
            features(rows(rng, 20, OPINION_AXIS)),
            sparse_width=0,
            threshold=settings["threshold"],
            weight=settings["weight"],
            power=settings["power"],
        )


def test_no_detector_without_plot_sentences_or_with_weight_zero() -> None:
    rng = np.random.default_rng(5)
    facts, opinions = features(rows(rng, 20, FACT_AXIS)), features(rows(rng, 20, OPINION_AXIS))
    assert objectivity.fit(facts[:0], opinions, sparse_width=0, threshold=0.6, weight=1.0, power=4.0) is None
    assert objectivity.fit(facts, opinions, sparse_width=0, threshold=0.6, weight=0.0, power=4.0) is None


def test_plot_sentences_teach_the_detector_and_nothing_else() -> None:
    """``encoder_model.fit`` with the plot rows gives the same heads as without them, and a detector."""
    frames = [pd.read_csv(DATA / "base" / f"{source}.csv").head(120) for source in ("reviews", "tweets")]
    plots = pd.read_csv(DATA / "base" / f"{OBJECTIVE_SOURCE}.csv").head(120)
    rng = np.random.default_rng(6)
    sources = ["reviews"] * 120 + ["tweets"] * 120

    def fit(with_plots: bool) -> encoder_model.EncoderModel:
        texts = [*frames[0]["text"], *frames[1]["text"], *(plots["text"] if with_plots else [])]
        labels = [*frames[0]["label"], *frames[1]["label"], *(plots["label"] if with_plots else [])]
        domains = [*sources, *([OBJECTIVE_SOURCE] * 120 if with_plots else [])]
        embeddings = np.vstack(
            [rows(np.random.default_rng(7), 240, OPINION_AXIS), *([rows(rng, 120, FACT_AXIS)] if with_plots else [])]
        )
        return encoder_model.fit(
            texts, embeddings, np.array(labels), np.ones(len(texts)), domains=np.array(domains), params=ModelParams()
        )

    with_plots, without = fit(True), fit(False)
    assert without.objectivity is None
    assert with_plots.objectivity is not None
    assert (with_plots.objectivity.objective_rows, with_plots.objectivity.subjective_rows) == (120, 120)
    np.testing.assert_array_equal(with_plots.sparse_coef, without.sparse_coef)
    np.testing.assert_array_equal(with_plots.dense_coef, without.dense_coef)
    np.testing.assert_array_equal(with_plots.intercept, without.intercept)


def test_served_statements_of_fact_go_to_neutral_and_opinions_keep_their_answer(
    small_training: TrainingResult,
) -> None:
    """The detector fitted in a training run on the bundled rows, through the scorer a server uses."""
    model = small_training.model
    assert model.objectivity is not None
    scorer = EncoderScorer(model, EmbeddingCache(EMBEDDING_CACHE, Encoder(BUNDLED)).embed)
    facts = ["The meeting is at 3pm in room 4", "The train leaves from platform 2 at noon"]
    opinions = ["I loved every minute of it, wonderful acting", "What a waste of money, truly awful"]
    texts = facts + opinions
    embeddings = np.asarray(scorer.embed(texts), dtype=np.float64)
    objective = Objectivity.scores(scorer.logits(texts, embeddings)[:, encoder_model.LOGITS])
    assert min(objective[: len(facts)]) > 0.6
    assert max(objective[len(facts) :]) < 0.4
    # The sampled run's detector (1,500 plot sentences) is surest of the first; the bench measures the rest.
    assert [LABELS[i] for i in scorer.predict_proba(texts).argmax(axis=1)] == [
        "neutral",
        "negative",
        "positive",
        "negative",
    ]
    without = EncoderScorer(replace(model, objectivity=None), scorer.embed)
    assert LABELS[int(without.predict_proba(facts[:1]).argmax())] == "negative"
