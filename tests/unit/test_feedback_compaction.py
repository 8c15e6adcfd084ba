"""Feedback compaction and how a run reads feedback, against the in-memory bucket: each day's objects
copied into a few parts, sealed once the day is over; a run reads sealed days from their parts and the
rest object by object."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline_function.logic.compact import compact
from pipeline_function.logic.labels import DayIndex, index_key
from pipeline_function.logic.prepare import prepare
from pipeline_function.steps import PrepareInput
from sentiment_common.records import FeedbackRecord, Label, PublicLabels, feedback_key, new_id
from tests.fakes.datasets import FakeDatasets
from tests.fakes.pipeline import FakeDataStore, FakeWithdrawnReviewers
from tests.fakes.registry import FakeRegistry

DAY = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
NEXT_DAY = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
LONG_AFTER = NEXT_DAY + timedelta(hours=2)  # the day is over and the margin has passed
WITHIN_MARGIN = NEXT_DAY + timedelta(minutes=30)

# Public labels train and nothing is withdrawn: what these tests read is how labels are stored.
TRUSTING: dict[str, Any] = {
    "public_labels": PublicLabels.TRAIN,
    "withdrawals": FakeWithdrawnReviewers(),
    "datasets": FakeDatasets(),
}


class CountingStore(FakeDataStore):
    """The in-memory bucket, counting the objects read and written."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []
        self.writes: list[str] = []

    def read(self, key: str) -> bytes:
        self.reads.append(key)
        return super().read(key)

    def write(self, key: str, body: bytes | bytearray, content_type: str) -> None:
        self.writes.append(key)
        super().write(key, body, content_type)


class Stopped(Exception):
    """The compactor's Lambda ran out of time."""


class StopsBeforeTheIndex(CountingStore):
    """Stops the pass the first time it goes to write an index: its parts are written, its index is not."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped = False

    def write(self, key: str, body: bytes | bytearray, content_type: str) -> None:
        if key.endswith("index.json") and not self.stopped:
            self.stopped = True
            raise Stopped(key)
        super().write(key, body, content_type)


pytestmark = pytest.mark.usefixtures("metrics_namespace")


@pytest.fixture
def store() -> CountingStore:
    store = CountingStore()
    for split in ("base", "golden"):
        store.objects[f"data/{split}/tweets.csv"] = b"text,label\nlovely,positive\n"
    return store


def label(
    store: FakeDataStore, at: datetime, label: Label = "positive", comment_id: str | None = None, text: str = "Fine"
) -> FeedbackRecord:
    """A label as POST /feedback archives it."""
    record = FeedbackRecord(
        feedback_id=new_id(),
        comment_id=comment_id,
        text=text,
        label=label,
        predicted_label="neutral",
        model_version="v1",
        created_at=at,
    )
    store.objects[feedback_key(record)] = record.model_dump_json().encode()
    return record


def labels(store: FakeDataStore, count: int, at: datetime) -> list[FeedbackRecord]:
    return [label(store, at + timedelta(seconds=n), comment_id=f"c{n}-{at:%d}") for n in range(count)]


def index_of(store: FakeDataStore, day: datetime) -> DayIndex:
    return DayIndex.model_validate_json(store.objects[index_key(day.date())])


def dataset(store: FakeDataStore, run_id: str = "run-1") -> tuple[list[FeedbackRecord], dict[str, object]]:
    """What a run prepares: its feedback rows and the manifest's feedback figures."""
    prepare(
        PrepareInput(run_id=run_id),
        FakeRegistry.empty().runs,
        FakeRegistry.empty().models,
        store,
        now=LONG_AFTER,
        **TRUSTING,
    )
    jsonl = store.objects[f"training-runs/{run_id}/feedback/feedback.jsonl"]
    manifest = json.loads(store.objects[f"training-runs/{run_id}/manifest.json"])
    return [FeedbackRecord.model_validate_json(line) for line in jsonl.splitlines()], manifest["feedback"]


def feedback_objects(keys: Iterator[str] | list[str]) -> list[str]:
    return [key for key in keys if key.startswith("feedback/")]


# ---- compaction ----


def test_a_past_day_is_sealed_into_parts_of_bounded_rows_and_its_objects_stay(store: CountingStore) -> None:
    written = labels(store, 5, DAY)
    archive = {key: body for key, body in store.objects.items() if key.startswith("feedback/")}

    report = compact(store, LONG_AFTER, rows_per_part=2)

    index = index_of(store, DAY)
    assert index.sealed
    assert [(part.key.rsplit("/", 1)[1], part.rows) for part in index.parts] == [
        ("part-0000.jsonl", 2),
        ("part-0001.jsonl", 2),
        ("part-0002.jsonl", 1),
    ]
    rows = [
        FeedbackRecord.model_validate_json(line)
        for part in index.parts
        for line in store.objects[part.key].splitlines()
    ]
    assert rows == sorted(written, key=lambda record: record.created_at)
    assert (report.sealed, report.parts_written, report.objects_compacted) == (["2026-11-20"], 3, 5)
    assert store.writes[-1] == index_key(DAY.date())  # the index after its parts
    assert {key: body for key, body in store.objects.items() if key.startswith("feedback/")} == archive


def test_a_second_pass_with_nothing_new_writes_nothing(store: CountingStore) -> None:
    labels(store, 3, DAY)
    labels(store, 2, LONG_AFTER - timedelta(minutes=5))  # a day still open
    compact(store, LONG_AFTER)
    assert (index_of(store, DAY).sealed, index_of(store, LONG_AFTER).sealed) == (True, False)
    before = dict(store.objects)
    store.writes.clear()

    report = compact(store, LONG_AFTER + timedelta(minutes=15))

    assert store.writes == []
    assert store.objects == before
    assert (report.parts_written, report.objects_compacted, report.sealed) == (0, 0, [])


@pytest.fixture
def stops() -> StopsBeforeTheIndex:
    store = StopsBeforeTheIndex()
    for split in ("base", "golden"):
        store.objects[f"data/{split}/tweets.csv"] = b"text,label\nlovely,positive\n"
    return store


def test_a_pass_stopped_between_its_parts_and_its_index_is_completed_by_the_next(stops: StopsBeforeTheIndex) -> None:
    written = labels(stops, 5, DAY)

    with pytest.raises(Stopped):
        compact(stops, LONG_AFTER, rows_per_part=2)
    assert index_key(DAY.date()) not in stops.objects  # a part written, no index names it
    assert any(key.endswith("part-0000.jsonl") for key in stops.objects)
    between_rows, between = dataset(stops, "between")

    compact(stops, LONG_AFTER, rows_per_part=2)

    index = index_of(stops, DAY)
    assert index.sealed and [part.rows for part in index.parts] == [2, 2, 1]
    rows, manifest = dataset(stops, "after")
    assert sorted(row.feedback_id for row in rows) == sorted(record.feedback_id for record in written)
    assert (manifest["objects"], manifest["rows"]) == (5, 5)
    # and a run between the two passes read every label once, from the objects
    assert (len(between_rows), between["objects"]) == (5, 5)


def test_malformed_objects_are_left_out_and_reported_by_the_index_and_the_run(store: CountingStore) -> None:
    labels(store, 2, DAY)
    store.objects["feedback/dt=2026-11-20/broken.json"] = b"{ broken"
    elsewhere = label(FakeDataStore(), DAY)  # a record filed under another day's key
    store.objects["feedback/dt=2026-11-20/moved.json"] = elsewhere.model_dump_json().encode()

    report = compact(store, LONG_AFTER)

    index = index_of(store, DAY)
    assert index.malformed_keys == ["feedback/dt=2026-11-20/broken.json", "feedback/dt=2026-11-20/moved.json"]
    assert (index.rows, index.sealed, report.malformed) == (2, True, 2)
    rows, manifest = dataset(store)
    assert len(rows) == 2
    assert manifest["malformed"] == 2
    assert manifest["malformed_keys"] == index.malformed_keys
    assert manifest["objects"] == 4


def test_a_day_within_the_margin_stays_open_and_takes_what_arrives_late(store: CountingStore) -> None:
    labels(store, 2, DAY)
    compact(store, WITHIN_MARGIN)
    assert not index_of(store, DAY).sealed
    late = label(store, NEXT_DAY - timedelta(seconds=1), "negative", comment_id="late")

    store.reads.clear()
    rows, _ = dataset(store, "before-sealing")
    assert late.feedback_id in {row.feedback_id for row in rows}  # an open day's new objects are read one by one
    assert feedback_objects(store.reads) == [feedback_key(late)]

    compact(store, LONG_AFTER)

    index = index_of(store, DAY)
    assert index.sealed and index.rows == 3
    assert [part.rows for part in index.parts] == [2, 1]


def test_a_backlog_larger_than_a_pass_is_sealed_over_several_passes(store: CountingStore) -> None:
    labels(store, 5, DAY)

    first = compact(store, LONG_AFTER, max_objects=3)
    assert (first.objects_compacted, first.objects_left, first.sealed) == (3, 2, [])
    assert not index_of(store, DAY).sealed

    second = compact(store, LONG_AFTER, max_objects=3)
    assert (second.objects_compacted, second.objects_left, second.sealed) == (2, 0, ["2026-11-20"])
    rows, manifest = dataset(store)
    assert (len(rows), manifest["objects"]) == (5, 5)


# ---- how a run reads feedback ----


def test_a_run_reads_sealed_days_from_their_parts_and_todays_objects_one_by_one(store: CountingStore) -> None:
    labels(store, 40, DAY)
    labels(store, 30, DAY + timedelta(days=1))
    compact(store, DAY + timedelta(days=2, hours=2), rows_per_part=25)
    today = labels(store, 3, DAY + timedelta(days=2, hours=3))
    store.reads.clear()

    rows, manifest = dataset(store)

    assert (len(rows), manifest["objects"], manifest["rows"]) == (73, 73, 73)
    parts = [key for key in store.reads if key.endswith(".jsonl") and key.startswith("feedback-compacted/")]
    assert len(parts) == 4  # 25 + 15, 25 + 5
    assert sorted(feedback_objects(store.reads)) == sorted(feedback_key(record) for record in today)


def test_the_latest_label_wins_across_parts_and_objects(store: CountingStore) -> None:
    label(store, DAY, "negative", comment_id="c1")
    label(store, DAY + timedelta(hours=1), "neutral", text="Meh.")
    compact(store, LONG_AFTER)
    label(store, LONG_AFTER, "positive", comment_id="c1")
    label(store, LONG_AFTER, "negative", text="  MEH. ")

    rows, manifest = dataset(store)

    assert sorted((row.comment_id or "", row.label) for row in rows) == [("", "negative"), ("c1", "positive")]
    assert (manifest["objects"], manifest["superseded"]) == (4, 2)


def test_the_same_feedback_gives_the_same_dataset_before_and_after_compaction(store: CountingStore) -> None:
    for n in range(30):
        label(store, DAY + timedelta(minutes=n), "negative" if n % 3 else "positive", comment_id=f"c{n % 7}")
    before_rows, before = dataset(store, "before")

    compact(store, LONG_AFTER, rows_per_part=8)
    after_rows, after = dataset(store, "after")

    assert after_rows == before_rows
    assert after == before
    assert (after["rows"], after["superseded"]) == (7, 23)


def test_a_damaged_part_makes_the_run_read_its_day_from_the_objects(store: CountingStore) -> None:
    written = labels(store, 4, DAY)
    compact(store, LONG_AFTER, rows_per_part=2)
    first = index_of(store, DAY).parts[0].key
    store.objects[first] = store.objects[first].replace(b'"positive"', b'"negative"')

    rows, manifest = dataset(store)

    assert [row.label for row in rows] == ["positive"] * 4
    assert {row.feedback_id for row in rows} == {record.feedback_id for record in written}
    assert manifest["objects"] == 4
