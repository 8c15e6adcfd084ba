"""Training on a small real sample, both kinds: outputs, repeatability, feedback, the compiled scorer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiment_model.data import LABELS
from sentiment_model.encoder import BUNDLED, Encoder, read_record
from sentiment_model.encoder_model import EncoderScorer
from sentiment_model.model import CompiledScorer, ModelParams
from sentiment_model.training import TrainingResult, train
from tests.conftest import DATA, EMBEDDING_CACHE, SAMPLE_ROWS_PER_SOURCE


def test_metadata_records_what_a_registry_needs(small_training: TrainingResult) -> None:
    metadata = small_training.metadata
    assert set(metadata) >= {"version", "classes", "metrics", "dataset", "libraries", "parameters", "created_at"}
    assert metadata["classes"] == list(LABELS)
    manifest = metadata["dataset"]
    assert manifest["base"]["reviews"]["rows"] == len(pd.read_csv(DATA / "base" / "reviews.csv"))
    assert manifest["trained_on"] == {
        "plots": SAMPLE_ROWS_PER_SOURCE,  # the objectivity detector's statements of fact
        "reviews": SAMPLE_ROWS_PER_SOURCE,
        "tweets": SAMPLE_ROWS_PER_SOURCE,
        "feedback": 0,
    }
    assert metadata["objectivity"] == {
        "objective_rows": SAMPLE_ROWS_PER_SOURCE,
        "subjective_rows": SAMPLE_ROWS_PER_SOURCE,
        **{name: getattr(ModelParams(), f"objectivity_{name}") for name in ("threshold", "weight", "power")},
    }
    assert len(manifest["golden"]["reviews"]["sha256"]) == 64
    assert len(manifest["sha256"]) == 64
    assert metadata["libraries"]["scikit-learn"]
    assert metadata["parameters"]["C"] == ModelParams().C
    # The default kind names its encoder, as the registry, /health and the page show it.
    assert metadata["kind"] == "encoder"
    record = read_record(BUNDLED)
    assert metadata["encoder"] == {
        "name": record["name"],
        "sha256": record["files"]["model.onnx"],
        "licence": "Apache-2.0",
        "dimensions": 384,
    }
    assert small_training.encoder_dir == BUNDLED


def test_a_tfidf_model_is_a_training_option(small_tfidf_training: TrainingResult) -> None:
    assert small_tfidf_training.metadata["kind"] == "tfidf"
    assert "encoder" not in small_tfidf_training.metadata
    assert small_tfidf_training.encoder_dir is None


@pytest.mark.parametrize("fixture", ["small_training", "small_tfidf_training"])
def test_metrics_cover_each_golden_source(fixture: str, request: pytest.FixtureRequest) -> None:
    result: TrainingResult = request.getfixturevalue(fixture)
    golden = result.metrics["golden"]
    assert set(golden) == {"reviews", "tweets", "all"}
    assert golden["reviews"]["rows"] == len(pd.read_csv(DATA / "golden" / "reviews.csv"))
    # far better than chance even on a small sample
    assert golden["reviews"]["accuracy"] > 0.65
    assert golden["tweets"]["macro_f1"] > 0.55
    assert result.metrics["feedback_holdout"] is None


def test_the_encoder_model_beats_tfidf_on_the_same_small_sample(
    small_training: TrainingResult, small_tfidf_training: TrainingResult
) -> None:
    encoder, tfidf = small_training.metadata["metrics"], small_tfidf_training.metadata["metrics"]
    assert encoder["reviews_accuracy"] > tfidf["reviews_accuracy"] + 0.03
    assert encoder["tweets_macro_f1"] > tfidf["tweets_macro_f1"] + 0.03


@pytest.mark.slow  # the encoder kind trained again with no cache: every text encoded afresh
def test_training_is_repeatable(small_training: TrainingResult, small_tfidf_training: TrainingResult) -> None:
    texts = ["what a waste of two hours", "my flight is at 6pm", "a triumph"]
    # The encoder kind, once from the cache and once encoding every text again: the same model.
    again = train(DATA, None, ModelParams(), sample=SAMPLE_ROWS_PER_SOURCE, seed=7, cache_dir=None)
    first = small_training.model
    np.testing.assert_array_equal(first.dense_coef, again.model.dense_coef)
    np.testing.assert_array_equal(first.sparse_coef, again.model.sparse_coef)
    assert again.metadata["dataset"]["sha256"] == small_training.metadata["dataset"]["sha256"]
    tfidf_again = train(DATA, None, ModelParams(kind="tfidf"), sample=SAMPLE_ROWS_PER_SOURCE, seed=7)
    np.testing.assert_allclose(
        CompiledScorer(small_tfidf_training.model).predict_proba(texts),
        CompiledScorer(tfidf_again.model).predict_proba(texts),
        rtol=0,
        atol=1e-12,
    )


def test_compiled_scorer_equals_the_pipeline(small_tfidf_training: TrainingResult) -> None:
    texts = [*pd.read_csv(DATA / "golden" / "tweets.csv")["text"].head(300), "", "!!!", "🙂"]
    pipeline = small_tfidf_training.model.pipeline
    order = [list(pipeline.classes_).index(label) for label in LABELS]
    expected = pipeline.predict_proba(texts)[:, order]
    actual = CompiledScorer(small_tfidf_training.model).predict_proba(texts)
    np.testing.assert_allclose(actual, expected, atol=1e-6)
    np.testing.assert_allclose(actual.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.slow
def test_feedback_teaches_the_model_and_is_evaluated_on_its_holdout(tmp_path: Path) -> None:
    phrase = "the zorblax upgrade"
    for i in range(60):
        record = {"comment_id": f"c{i}", "text": f"{phrase} number {i}", "label": "positive", "created_at": "t"}
        (tmp_path / f"{i}.json").write_text(json.dumps(record))
    without = train(DATA, None, ModelParams(kind="tfidf"), sample=400, seed=1)
    with_feedback = train(DATA, tmp_path, ModelParams(kind="tfidf"), sample=400, seed=1)
    probe = [f"{phrase} again"]
    positive = LABELS.index("positive")
    before = CompiledScorer(without.model).predict_proba(probe)[0, positive]
    after = CompiledScorer(with_feedback.model).predict_proba(probe)[0, positive]
    assert after > before + 0.2
    holdout = with_feedback.metrics["feedback_holdout"]
    assert holdout is not None and holdout["rows"] == with_feedback.metadata["dataset"]["feedback"]["holdout_rows"] > 0


def test_training_data_missing_a_class_is_refused(tmp_path: Path) -> None:
    for split in ("base", "golden"):
        (tmp_path / split).mkdir()
        (tmp_path / split / "only.csv").write_text("text,label\ngood,positive\nbad,negative\n")
    with pytest.raises(ValueError, match="neutral"):
        train(tmp_path, None, ModelParams(kind="tfidf", min_df=1))


UNSEEN = Path(__file__).resolve().parents[2] / "bench" / "data" / "unseen_domains.csv"


@pytest.mark.slow
def test_feedback_on_what_the_champion_got_wrong_teaches_similar_texts(
    small_training: TrainingResult, tmp_path: Path
) -> None:
    """Comments from domains in neither training set (support, product feedback, requests, questions):
    people correct every one the champion got wrong in one half; the candidate then gets at least half
    of the ones it got wrong in the other half right, and more than without the gate's neutral rule."""
    frame = pd.read_csv(UNSEEN)
    champion = EncoderScorer(small_training.model, Encoder(BUNDLED).encode)
    predicted = np.array(LABELS)[champion.predict_proba(frame["text"].tolist()).argmax(axis=1)]
    wrong = frame[predicted != frame["label"].to_numpy()]
    taught, held_out = wrong.iloc[::2], wrong.iloc[1::2]
    assert len(held_out) >= 5, "the champion should get enough of these wrong for the test to mean something"
    for index, row in taught.iterrows():
        record = {"comment_id": f"u{index}", "text": row["text"], "label": row["label"], "created_at": "t"}
        (tmp_path / f"u{index}.json").write_text(json.dumps(record))

    def right_after_corrections(params: ModelParams) -> float:
        candidate = train(DATA, tmp_path, params, sample=SAMPLE_ROWS_PER_SOURCE, seed=7, cache_dir=EMBEDDING_CACHE)
        scorer = EncoderScorer(candidate.model, Encoder(BUNDLED).encode)
        now = np.array(LABELS)[scorer.predict_proba(held_out["text"].tolist()).argmax(axis=1)]
        return float((now == held_out["label"].to_numpy()).mean())

    right = right_after_corrections(ModelParams())
    assert right >= 0.5, f"{right:.2f} of {len(held_out)} held-out texts right after {len(taught)} corrections"
    assert right > right_after_corrections(ModelParams(neutral_gate_weight=0.0))
