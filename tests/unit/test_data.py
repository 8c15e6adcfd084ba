"""Data loading: bad rows skipped and reported, the golden rule, feedback handling."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sentiment_model import data
from tests.conftest import DATA


def test_committed_golden_split_follows_the_documented_rule() -> None:
    for source in ("reviews", "tweets"):
        base = pd.read_csv(DATA / "base" / f"{source}.csv", dtype=str, keep_default_na=False)
        golden = pd.read_csv(DATA / "golden" / f"{source}.csv", dtype=str, keep_default_na=False)
        rebase, regolden = data.split_golden(pd.concat([base, golden], ignore_index=True))
        assert sorted(regolden["text"]) == sorted(golden["text"])
        assert sorted(rebase["text"]) == sorted(base["text"])


def test_no_movie_has_reviews_on_both_sides() -> None:
    base = pd.read_csv(DATA / "base" / "reviews.csv")
    golden = pd.read_csv(DATA / "golden" / "reviews.csv")
    assert set(base["movie"]).isdisjoint(golden["movie"])
    assert golden["movie"].nunique() >= 50


def test_no_golden_films_plot_is_learnt_from() -> None:
    """The plot sentences are of films whose reviews are not golden, by the same rule."""
    plots = pd.read_csv(DATA / "base" / "plots.csv", dtype=str, keep_default_na=False)
    golden = pd.read_csv(DATA / "golden" / "reviews.csv")
    assert set(plots["label"]) == {"neutral"}
    assert set(plots["movie"]).isdisjoint(golden["movie"])
    rebase, regolden = data.split_golden(plots)
    assert regolden.empty and len(rebase) == len(plots)


def test_no_golden_text_is_in_the_training_data() -> None:
    base = pd.concat([pd.read_csv(DATA / "base" / f) for f in ("plots.csv", "reviews.csv", "tweets.csv")])
    golden = pd.concat([pd.read_csv(DATA / "golden" / f) for f in ("reviews.csv", "tweets.csv")])
    assert not set(base["text"].map(data.fold_text)) & set(golden["text"].map(data.fold_text))


def test_bad_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("text,label\ngood film,positive\n,negative\n   ,neutral\nmeh,sarcastic\nBad film, NEGATIVE \n")
    frame, report = data.read_labelled_csv(path)
    assert frame["text"].tolist() == ["good film", "Bad film"]
    assert frame["label"].tolist() == ["positive", "negative"]
    assert dict(report.skipped) == {"no_text": 2, "unknown_label": 1}
    assert report.sha256 == data.sha256_file(path)


def test_a_file_without_the_needed_columns_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("comment,sentiment\nhi,positive\n")
    with pytest.raises(ValueError, match="needs 'text' and 'label' columns"):
        data.read_labelled_csv(path)


def _write_feedback(folder: Path, name: str, **record: object) -> None:
    target = folder / "dt=2026-11-22" / f"{name}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(record))


def test_feedback_latest_label_wins_and_bad_objects_are_skipped(tmp_path: Path) -> None:
    _write_feedback(
        tmp_path, "a1", comment_id="c1", text="the crew was rude", label="neutral", created_at="2026-11-22T10:00:00Z"
    )
    _write_feedback(
        tmp_path, "a2", comment_id="c1", text="the crew was rude", label="negative", created_at="2026-11-22T11:00:00Z"
    )
    _write_feedback(
        tmp_path, "b", comment_id="c2", text="lovely flight", label="delighted", created_at="2026-11-22T11:00:00Z"
    )
    (tmp_path / "dt=2026-11-22" / "broken.json").write_bytes(b"\xff{not json")
    feedback = data.read_feedback(tmp_path, golden_texts=set())
    rows = pd.concat([feedback.train, feedback.holdout])
    assert rows[["text", "label"]].values.tolist() == [["the crew was rude", "negative"]]
    assert feedback.superseded == 1
    assert dict(feedback.report.skipped) == {"unreadable": 1, "unknown_label": 1}


def test_feedback_never_enters_the_golden_split(tmp_path: Path) -> None:
    golden_text = pd.read_csv(DATA / "golden" / "tweets.csv")["text"].iloc[0]
    _write_feedback(tmp_path, "g", comment_id="c9", text=golden_text.upper(), label="positive", created_at="x")
    feedback = data.read_feedback(tmp_path, golden_texts={data.fold_text(golden_text)})
    assert feedback.golden_overlap == 1
    assert len(feedback.train) + len(feedback.holdout) == 0


def test_feedback_holdout_is_deterministic_and_about_one_in_five(tmp_path: Path) -> None:
    for i in range(200):
        _write_feedback(
            tmp_path, f"f{i}", comment_id=f"c{i}", text=f"comment number {i}", label="positive", created_at="t"
        )
    first = data.read_feedback(tmp_path, golden_texts=set())
    second = data.read_feedback(tmp_path, golden_texts=set())
    assert first.holdout["key"].tolist() == second.holdout["key"].tolist()
    assert 20 <= len(first.holdout) <= 60
    assert set(first.holdout["key"]).isdisjoint(first.train["key"])


def test_missing_feedback_folder_means_no_feedback(tmp_path: Path) -> None:
    feedback = data.read_feedback(tmp_path / "absent", golden_texts=set())
    assert len(feedback.train) == 0 and len(feedback.holdout) == 0


def test_feedback_on_texts_in_languages_the_model_was_not_trained_for_is_left_out(tmp_path: Path) -> None:
    texts = {
        "c1": "Das ist das schlechteste Handy, das ich je hatte.",
        "c2": "C'est le pire téléphone que j'aie jamais eu.",
        "c3": "The worst phone I ever had.",
        "c4": "ok 👍",  # too few letters to tell: answered, and learned from, as any text
    }
    for comment_id, text in texts.items():
        _write_feedback(tmp_path, comment_id, comment_id=comment_id, text=text, label="negative", created_at="t")
    feedback = data.read_feedback(tmp_path, golden_texts=set())
    rows = pd.concat([feedback.train, feedback.holdout])
    assert sorted(rows["text"]) == sorted([texts["c3"], texts["c4"]])
    assert feedback.unsupported_language == 2
    assert feedback.as_dict()["unsupported_language_excluded"] == 2
