"""The gated experts: how their five logits become three probabilities, what each part learns
from, and that a model trained before them (one multinomial regression) still scores the same."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from sentiment_model.data import LABELS
from sentiment_model.model import CompiledScorer, GatedExperts, TrainedModel, mix
from sentiment_model.training import TrainingResult
from tests.conftest import DATA

NEGATIVE, NEUTRAL, POSITIVE = range(3)


def softmax(logits: list[float]) -> list[float]:
    exps = [math.exp(value - max(logits)) for value in logits]
    return [value / sum(exps) for value in exps]


@pytest.mark.parametrize(
    "logits",
    [
        (0.0, 0.0, 0.0, 0.0, 0.0),
        (3.0, -2.0, 1.0, 0.5, -1.0),
        (-4.0, 5.0, -3.0, 2.0, 0.1),
        (800.0, -800.0, 900, 0, -900),
    ],
)
def test_the_mix_is_a_distribution(logits: tuple[float, ...]) -> None:
    probabilities = mix(logits)

    assert all(0.0 <= value <= 1.0 for value in probabilities)
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-12)


def test_a_sure_review_gate_gives_the_review_expert_and_no_neutral() -> None:
    probabilities = mix((50.0, math.log(3.0), 9.0, 9.0, -9.0))  # the review expert: P(positive) = 0.75

    assert probabilities[NEUTRAL] == pytest.approx(0.0, abs=1e-12)
    assert probabilities[POSITIVE] == pytest.approx(0.75, abs=1e-12)
    assert probabilities[NEGATIVE] == pytest.approx(0.25, abs=1e-12)


def test_a_sure_tweet_gate_gives_the_tweet_experts_softmax() -> None:
    tweet = [0.3, 1.7, -0.4]

    assert mix((-math.inf, 5.0, *tweet)) == pytest.approx(softmax(tweet), abs=1e-15)


def test_an_even_gate_averages_the_experts() -> None:
    tweet = [1.0, 0.0, -1.0]
    expected = [0.5 * p for p in softmax(tweet)]
    expected[NEGATIVE] += 0.5 * 0.5
    expected[POSITIVE] += 0.5 * 0.5

    assert mix((0.0, 0.0, *tweet)) == pytest.approx(expected, abs=1e-12)


def test_fitting_needs_each_rows_domain_and_both_domains() -> None:
    features = np.eye(4)
    labels = ["negative", "positive", "neutral", "positive"]
    with pytest.raises(ValueError, match="domain"):
        GatedExperts().fit(features, labels)
    with pytest.raises(ValueError, match="both reviews and tweets"):
        GatedExperts().fit(features, labels, domain=["tweets"] * 4)
    with pytest.raises(ValueError, match="negative and positive"):
        GatedExperts().fit(features, labels, domain=["reviews", "tweets", "reviews", "tweets"])


def test_feedback_teaches_the_experts_but_not_the_gate() -> None:
    rng = np.random.default_rng(3)
    features = rng.normal(size=(60, 5))
    labels = np.array(["negative", "positive", "neutral"] * 20)
    domains = np.array(["reviews"] * 20 + ["tweets"] * 30 + ["feedback"] * 10)
    domains[:20][labels[:20] == "neutral"] = "tweets"  # reviews are never neutral
    base = domains != "feedback"

    experts = GatedExperts().fit(features, labels, domain=domains)
    gate_alone = LogisticRegression(C=2.0, max_iter=3000).fit(features[base], domains[base] == "reviews")
    without_feedback = GatedExperts().fit(features[base], labels[base], domain=domains[base])

    np.testing.assert_allclose(experts.gate_.coef_, gate_alone.coef_)
    assert not np.allclose(experts.tweet_.coef_, without_feedback.tweet_.coef_)
    assert not np.allclose(experts.review_.coef_, without_feedback.review_.coef_)
    assert list(experts.review_.classes_) == ["negative", "positive"]


def test_the_trained_model_is_gated_experts_and_scores_both_domains(small_tfidf_training: TrainingResult) -> None:
    classifier = small_tfidf_training.model.pipeline.named_steps["classifier"]
    scorer = CompiledScorer(small_tfidf_training.model)
    reviews = pd.read_csv(DATA / "golden" / "reviews.csv")["text"].head(200).tolist()

    assert isinstance(classifier, GatedExperts)
    # The gate knows a critic's snippet from a tweet: reviews come out (almost) never neutral.
    neutral = scorer.predict_proba(reviews)[:, LABELS.index("neutral")]
    assert float(np.median(neutral)) < 0.1


def test_a_model_from_before_the_experts_scores_exactly_as_it_did(small_tfidf_training: TrainingResult) -> None:
    """A champion trained as one multinomial regression must still load and score the same."""
    features = small_tfidf_training.model.pipeline.named_steps["features"]
    texts = pd.read_csv(DATA / "golden" / "tweets.csv")["text"].head(300).tolist()
    reviews = pd.read_csv(DATA / "golden" / "reviews.csv").head(300)
    tweets = pd.read_csv(DATA / "golden" / "tweets.csv").head(300)
    train_texts = [*reviews["text"], *tweets["text"]]
    single = LogisticRegression(C=2.0, max_iter=3000).fit(
        features.transform(train_texts), [*reviews["label"], *tweets["label"]]
    )
    old = TrainedModel(Pipeline([("features", features), ("classifier", single)]), small_tfidf_training.model.stems)

    order = [list(single.classes_).index(label) for label in LABELS]
    expected = old.pipeline.predict_proba(texts)[:, order]
    np.testing.assert_allclose(CompiledScorer(old).predict_proba(texts), expected, atol=1e-6)
