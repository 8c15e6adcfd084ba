"""People's labels as they are kept, and as a run reads them.

The archive holds one object per label, ``feedback/dt=YYYY-MM-DD/<feedback_id>.json``: it is the record,
and the object's creation is what notifies the trigger. Reading a hundred thousand of those one by one
takes longer than a step may run, so the compactor (``logic/compact.py``, on a schedule) copies each
UTC day's labels into a few large objects, read in parallel instead::

    feedback-compacted/dt=YYYY-MM-DD/part-0000.jsonl   up to ROWS_PER_PART records, one per line
    feedback-compacted/dt=YYYY-MM-DD/index.json        the day's parts (rows, SHA-256 each), the
                                                       objects skipped as malformed, and whether the
                                                       day is sealed; written after its parts

A day is sealed once its objects were listed more than SEAL_MARGIN after the day ended: the API names a
label's day by the moment it writes it, and no request lasts that long, so no object can join a sealed
day. A run reads a sealed day from its parts alone. Any other day (today, yesterday within the margin, a
day the compactor has not reached) is listed, and the objects no part holds yet are read one by one.
A part whose bytes do not match its index is not trusted: its day is read from its objects.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline_function.logic.trust import Dropped, subject
from pipeline_function.ports import PARALLEL_READS, DataStore
from sentiment_common.observability import logger
from sentiment_common.records import FEEDBACK_PREFIX, FeedbackRecord, feedback_key

COMPACTED_PREFIX = "feedback-compacted/"
INDEX_NAME = "index.json"
SEAL_MARGIN = timedelta(hours=1)
ROWS_PER_PART = 20_000  # about 7 MB of JSON lines: a few seconds to read, parse and hash
READERS = PARALLEL_READS
# Parts read ahead of the fold: each is a few MB of JSON and then tens of MB of records, so more than a few
# in flight would cost more memory than the labels kept; parsing holds the GIL, so more would not be faster.
PARTS_AHEAD = 4

In = TypeVar("In")
Out = TypeVar("Out")


def sha256(data: bytes | bytearray) -> str:
    return hashlib.sha256(data).hexdigest()


class PartEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    rows: Annotated[int, Field(ge=0)]
    bytes: Annotated[int, Field(ge=0)]
    sha256: str


class DayIndex(BaseModel):
    """What the compactor has made of one day's objects."""

    model_config = ConfigDict(frozen=True)

    day: date
    sealed: Annotated[bool, Field(description="No object can join the day any more; its parts are the day")]
    parts: list[PartEntry]
    malformed_keys: Annotated[list[str], Field(description="The day's objects that are not a label")]
    compacted_at: datetime

    @property
    def rows(self) -> int:
        return sum(part.rows for part in self.parts)


def day_prefix(day: date) -> str:
    return f"{FEEDBACK_PREFIX}dt={day:%Y-%m-%d}/"


def index_key(day: date) -> str:
    return f"{COMPACTED_PREFIX}dt={day:%Y-%m-%d}/{INDEX_NAME}"


def part_key(day: date, number: int) -> str:
    return f"{COMPACTED_PREFIX}dt={day:%Y-%m-%d}/part-{number:04d}.jsonl"


def day_of(folder: str) -> date | None:
    """``feedback/dt=2026-11-22/`` → that day; a folder not named so is no day."""
    name = folder.rstrip("/").rsplit("/", 1)[-1]
    if not name.startswith("dt="):
        return None
    try:
        return date.fromisoformat(name[3:])
    except ValueError:
        return None


def sealable(day: date, listed_at: datetime) -> bool:
    """Whether objects listed at ``listed_at`` are all the day will ever hold."""
    return listed_at >= datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC) + SEAL_MARGIN


def feedback_days(store: DataStore) -> list[date]:
    return sorted({day for folder in store.folders(FEEDBACK_PREFIX) if (day := day_of(folder)) is not None})


def bounded_map(pool: Executor, work: Callable[[In], Out], items: Iterable[In], ahead: int = READERS) -> Iterator[Out]:
    """``pool.map`` that holds at most ``ahead`` results not yet taken: a run's memory holds a few parts
    at a time, not every part read ahead of the fold."""
    items = iter(items)
    pending = [pool.submit(work, item) for item in islice(items, ahead)]
    while pending:
        result = pending.pop(0).result()
        pending.extend(pool.submit(work, item) for item in islice(items, 1))
        yield result


def read_catalog(store: DataStore, pool: Executor) -> dict[date, DayIndex]:
    """Every day's index; an index that cannot be read leaves its day to be read from its objects."""

    def read(key: str) -> DayIndex | None:
        try:
            return DayIndex.model_validate_json(store.read(key))
        except (ValidationError, ValueError) as error:
            logger.warning("ignoring an unreadable index", extra={"key": key, "reason": str(error)[:200]})
            return None

    keys = [key for key in store.keys(COMPACTED_PREFIX) if key.endswith(f"/{INDEX_NAME}")]
    return {index.day: index for index in bounded_map(pool, read, keys) if index is not None}


class DamagedPartError(Exception):
    """A part's bytes are not those its index names."""


def read_part(store: DataStore, entry: PartEntry) -> list[FeedbackRecord]:
    data = store.read(entry.key)
    if len(data) != entry.bytes or sha256(data) != entry.sha256:
        raise DamagedPartError(f"{entry.key} does not match its index ({len(data)} bytes, {sha256(data)})")
    try:
        return [FeedbackRecord.model_validate_json(line) for line in data.splitlines()]
    except ValidationError as error:  # only the compactor writes parts; its own lines always validate
        raise DamagedPartError(f"{entry.key} holds a line that is not a label: {str(error)[:200]}") from error


def read_object(store: DataStore, key: str) -> FeedbackRecord | str:
    """The label an archive object holds, or why it holds none. An object must sit where the API puts
    its record: one elsewhere (another day) would escape that day's sealing."""
    try:
        record = FeedbackRecord.model_validate_json(store.read(key))
    except (ValidationError, UnicodeDecodeError, ValueError) as error:
        return str(error)[:200]
    if feedback_key(record) != key:
        return f"holds feedback {record.feedback_id}, whose key is {feedback_key(record)}"
    return record


def read_objects(store: DataStore, pool: Executor, keys: list[str]) -> tuple[list[FeedbackRecord], list[str]]:
    """The labels in ``keys``, read in parallel; malformed ones are skipped and reported, never fatal."""
    records, malformed = [], []
    found_all = bounded_map(pool, lambda key: read_object(store, key), keys, ahead=4 * READERS)
    for key, found in zip(keys, found_all, strict=True):
        if isinstance(found, str):
            malformed.append(key)
            logger.warning("skipping malformed feedback", extra={"key": key, "reason": found})
        else:
            records.append(found)
    return records, malformed


def identity(record: FeedbackRecord) -> str:
    """What a label is about (``trust.subject``) and who gave it: the fold keeps one label per pair, so
    the trust rule can still rank a reviewer's label above a later public one, or fall back to another
    reviewer's when one reviewer's labels are withdrawn."""
    return f"{subject(record)}|{record.source}|{record.reviewer or ''}"


def order(record: FeedbackRecord) -> tuple[datetime, str]:
    return record.created_at, record.feedback_id


@dataclass
class LatestLabels:
    """The latest label per comment (or per text), kept while labels stream past in any order: memory
    grows with the items labelled, not with the labels read."""

    admit: Callable[[FeedbackRecord], Dropped | None] | None = None  # why a label is refused, if it is
    read: int = 0
    refused: Counter[Dropped] = field(default_factory=Counter)
    _latest: dict[str, FeedbackRecord] = field(default_factory=dict)
    _shared: dict[Any, Any] = field(default_factory=dict)
    _handed_over: int = 0

    def add(self, records: Iterable[FeedbackRecord]) -> None:
        latest = self._latest
        for record in records:
            self.read += 1
            if self.admit is not None and (reason := self.admit(record)) is not None:
                self.refused[reason] += 1
                continue
            item = identity(record)
            held = latest.get(item)
            if held is None or order(record) >= order(held):
                latest[item] = self._slim(record)

    def _slim(self, record: FeedbackRecord) -> FeedbackRecord:
        """The record, sharing what a million kept records repeat. Pydantic gives each instance its own
        set of the fields its input named (728 bytes of a label's 1,500 in memory) and its own copy of
        each short string: the labels, the model version. Kept records are never changed (the model is
        frozen, and a copy copies the set first), so equal values can be one object. A run's peak
        memory is mostly its kept records (see docs/benchmarks.md)."""
        shared = self._shared
        fields = record.__pydantic_fields_set__
        object.__setattr__(record, "__pydantic_fields_set__", shared.setdefault(frozenset(fields), fields))
        values = record.__dict__
        for name in ("label", "predicted_label", "model_version"):
            if (value := values[name]) is not None:
                values[name] = shared.setdefault(value, value)
        return record

    def kept(self) -> list[FeedbackRecord]:
        """The records kept, oldest first, handed over: the fold forgets them and its index of items (a
        few hundred MB at a million labels), so the caller holds the only copy."""
        kept = sorted(self._latest.values(), key=order)
        self._handed_over += len(kept)
        self._latest, self._shared = {}, {}
        return kept

    @property
    def superseded(self) -> int:
        return self.read - len(self._latest) - self._handed_over - self.refused.total()


@dataclass
class FeedbackRead:
    """What a run read: the labels folded, the archive objects they stand for, the malformed ones, and
    how they were read (compacted parts, objects one by one)."""

    labels: LatestLabels
    malformed: list[str]
    parts: int
    objects_read_one_by_one: int

    @property
    def objects(self) -> int:
        return self.labels.read + len(self.malformed)


def read_feedback(
    store: DataStore, pool: Executor, admit: Callable[[FeedbackRecord], Dropped | None] | None = None
) -> FeedbackRead:
    """Every label in the archive: sealed days from their parts, other days' parts plus their objects
    that no part holds yet. Labels ``admit`` refuses are counted, not kept."""
    labels = LatestLabels(admit=admit)
    trusted, covered = _read_parts(store, pool, read_catalog(store, pool), labels)
    malformed = [key for index in trusted.values() for key in index.malformed_keys]
    one_by_one = 0
    for day in feedback_days(store):
        index = trusted.get(day)
        if index is not None and index.sealed:
            continue
        known = covered.get(day, set()) | set(index.malformed_keys if index else ())
        keys = [key for key in store.keys(day_prefix(day)) if key not in known]
        records, bad = read_objects(store, pool, keys)
        labels.add(records)
        malformed.extend(bad)
        one_by_one += len(keys)
    parts = sum(len(index.parts) for index in trusted.values())
    return FeedbackRead(labels=labels, malformed=malformed, parts=parts, objects_read_one_by_one=one_by_one)


def _read_parts(
    store: DataStore, pool: Executor, catalog: dict[date, DayIndex], labels: LatestLabels
) -> tuple[dict[date, DayIndex], dict[date, set[str]]]:
    """Fold every day's parts into ``labels`` as they arrive. Returns the indexes trusted (a day with a
    damaged part is left to its objects: the labels its other parts gave are the same records, so the fold
    keeps them and only the count read is taken back) and, for the days still open, the keys of the
    objects their parts hold."""
    covered: dict[date, set[str]] = {}
    folded: dict[date, int] = {}
    damaged: set[date] = set()

    def read(item: tuple[DayIndex, PartEntry]) -> tuple[DayIndex, list[FeedbackRecord] | None]:
        index, entry = item
        try:
            return index, read_part(store, entry)
        except DamagedPartError as error:
            logger.warning("reading a day from its objects", extra={"day": str(index.day), "reason": str(error)})
            return index, None

    days_parts = [(index, entry) for index in catalog.values() for entry in index.parts]
    for index, records in bounded_map(pool, read, days_parts, ahead=PARTS_AHEAD):
        day = index.day
        if day in damaged:
            continue
        if records is None:
            damaged.add(day)
            labels.read -= folded.pop(day, 0)
            covered.pop(day, None)
            continue
        labels.add(records)
        folded[day] = folded.get(day, 0) + len(records)
        if not index.sealed:
            covered.setdefault(day, set()).update(feedback_key(record) for record in records)
    return {day: index for day, index in catalog.items() if day not in damaged}, covered
