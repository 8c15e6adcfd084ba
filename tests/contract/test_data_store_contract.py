"""The data bucket's contract as the pipeline reads it (addresses, listing, folders, reading, writing and
the champion pointer), held by the S3 adapter (on moto) and by the in-memory fake the pipeline's unit
tests use."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from pipeline_function.adapters.s3 import S3DataStore
from pipeline_function.ports import DataStore
from sentiment_common.registry import Champion
from tests.contract.conftest import implementation
from tests.fakes.pipeline import FakeDataStore


@pytest.fixture(params=["s3", "fake"])
def store(request: pytest.FixtureRequest) -> DataStore:
    def on_moto() -> S3DataStore:
        boto3.client("s3").create_bucket(Bucket="data")
        return S3DataStore("data")

    return implementation(request, lambda: FakeDataStore("data"), on_moto)


def test_the_folders_right_under_a_prefix_are_listed_once_each_in_order(store: DataStore) -> None:
    # Given objects in two days' folders, one deeper, and one object directly under the prefix
    for key in (
        "feedback/dt=2026-11-21/b.json",
        "feedback/dt=2026-11-20/a.json",
        "feedback/dt=2026-11-20/c.json",
        "feedback/dt=2026-11-21/deeper/d.json",
        "feedback/loose.json",
        "feedback-compacted/dt=2026-11-20/index.json",
    ):
        store.write(key, b"{}", "application/json")

    # When the folders under feedback/ are listed
    folders = list(store.folders("feedback/"))

    # Then each day's folder comes once, in order; objects and other prefixes are not folders
    assert folders == ["feedback/dt=2026-11-20/", "feedback/dt=2026-11-21/"]
    day = "feedback/dt=2026-11-20/"
    assert list(store.keys(day)) == [f"{day}a.json", f"{day}c.json"]


def test_what_is_written_is_read_back_as_bytes_whatever_buffer_it_came_in(store: DataStore) -> None:
    store.write("training-runs/r/feedback/feedback.jsonl", bytearray(b'{"a": 1}\n'), "application/x-ndjson")
    store.copy("training-runs/r/feedback/feedback.jsonl", "training-runs/r/copy.jsonl")

    assert store.read("training-runs/r/feedback/feedback.jsonl") == b'{"a": 1}\n'
    assert store.read("training-runs/r/copy.jsonl") == b'{"a": 1}\n'
    assert store.read_if_exists("training-runs/r/none.json") is None


def test_an_address_names_the_bucket_and_only_its_own_addresses_have_a_key(store: DataStore) -> None:
    uri = store.uri("models/v1/model.tar.gz")

    assert uri == "s3://data/models/v1/model.tar.gz"
    assert store.key_of(uri) == "models/v1/model.tar.gz"
    for elsewhere in ("s3://database/models/v1/model.tar.gz", "https://data/models/v1/model.tar.gz"):
        with pytest.raises(ValueError, match="is not in the data bucket data"):
            store.key_of(elsewhere)


def test_the_champion_pointer_names_what_it_was_pointed_at(store: DataStore) -> None:
    assert store.pointer() is None
    champion = Champion(
        version="v2",
        model_data_url="s3://data/models/v2/model.tar.gz",
        sha256="ab" * 32,
        promoted_at=datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
    )

    store.point_at(champion)

    pointer = store.pointer()
    assert pointer is not None
    assert (pointer["version"], pointer["model_data_url"], pointer["sha256"]) == (
        "v2",
        champion.model_data_url,
        "ab" * 32,
    )
