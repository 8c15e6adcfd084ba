"""The data bucket's contract as the pipeline reads it (listing, folders, reading and writing), held by
the S3 adapter (on moto) and by the in-memory fake the pipeline's unit tests use."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from pipeline_function.adapters.store import DataStore
from tests.fakes.pipeline import FakeDataStore


@pytest.fixture(params=["s3", "fake"])
def store(request: pytest.FixtureRequest) -> Iterator[DataStore]:
    if request.param == "fake":
        yield FakeDataStore("data")
        return
    request.getfixturevalue("aws")
    boto3.client("s3").create_bucket(Bucket="data")
    yield DataStore("data")


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

    assert store.read("training-runs/r/feedback/feedback.jsonl") == b'{"a": 1}\n'
    assert store.read_if_exists("training-runs/r/none.json") is None
