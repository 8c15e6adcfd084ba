"""Compaction: each UTC day's labels copied from their objects into a few large parts (layout in
``logic/labels.py``), so that a run reads few objects whatever the number of labels.

A pass takes the days not yet sealed, oldest first. For each it lists the day's objects, reads the ones
its parts do not hold yet, writes them as new parts and then the day's index, once per part: a pass
stopped at any point loses nothing (a part no index names is never read, and the next pass writes it
again under the same name), and a pass with nothing new writes nothing. The archive's objects are never
changed or deleted: they stay the record.
"""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pipeline_function.logic.labels import (
    PARTS_AHEAD,
    READERS,
    ROWS_PER_PART,
    DamagedPartError,
    DayIndex,
    PartEntry,
    bounded_map,
    day_prefix,
    feedback_days,
    index_key,
    order,
    part_key,
    read_catalog,
    read_objects,
    read_part,
    sealable,
    sha256,
)
from pipeline_function.ports import DataStore
from sentiment_common.observability import count, logger
from sentiment_common.records import FeedbackRecord, feedback_key, utc_now

# Objects read one by one in one pass: well inside the compactor's timeout; a backlog takes a few passes.
MAX_OBJECTS_PER_PASS = 50_000


@dataclass
class CompactionReport:
    sealed: list[str] = field(default_factory=list)
    parts_written: int = 0
    objects_compacted: int = 0
    malformed: int = 0
    objects_left: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sealed": self.sealed,
            "parts_written": self.parts_written,
            "objects_compacted": self.objects_compacted,
            "malformed": self.malformed,
            "objects_left": self.objects_left,
        }


def compact(
    store: DataStore,
    now: datetime | None = None,
    *,
    rows_per_part: int = ROWS_PER_PART,
    max_objects: int = MAX_OBJECTS_PER_PASS,
) -> CompactionReport:
    """One pass over every day not yet sealed. ``now`` is taken before any listing: a day is sealed only
    if its objects were listed after the margin had passed."""
    now = now or utc_now()
    report = CompactionReport()
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        catalog = read_catalog(store, pool)
        for day in feedback_days(store):
            index = catalog.get(day)
            if index is not None and index.sealed:
                continue
            budget = max_objects - report.objects_compacted - report.malformed
            _compact_day(store, pool, _Day(day, index, now), report, rows_per_part=rows_per_part, budget=budget)
    if report.malformed:
        count("MalformedFeedbackSkipped")
    logger.info("feedback compacted", extra=report.as_dict())
    return report


@dataclass
class _Day:
    day: date
    index: DayIndex | None
    now: datetime
    parts: list[PartEntry] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)


def _held(store: DataStore, pool: Executor, day: _Day) -> set[str]:
    """The keys of the objects the day's parts hold; a damaged part makes the day start again."""
    if day.index is None:
        return set()
    held: set[str] = set()
    try:
        for part in bounded_map(pool, lambda entry: read_part(store, entry), day.index.parts, ahead=PARTS_AHEAD):
            held.update(feedback_key(record) for record in part)
    except DamagedPartError as error:
        logger.warning("compacting a day again from its objects", extra={"day": str(day.day), "reason": str(error)})
        return set()
    day.parts, day.malformed = list(day.index.parts), list(day.index.malformed_keys)
    return held


def _compact_day(
    store: DataStore, pool: Executor, day: _Day, report: CompactionReport, *, rows_per_part: int, budget: int
) -> None:
    held = _held(store, pool, day) | set(day.malformed)
    new = [key for key in store.keys(day_prefix(day.day)) if key not in held]
    taken = new[: max(budget, 0)]
    records, malformed = read_objects(store, pool, taken)
    day.malformed.extend(malformed)
    report.malformed += len(malformed)
    records.sort(key=order)
    number = _next_number(day.index)
    for start in range(0, len(records), rows_per_part):
        _write_part(store, day, number, records[start : start + rows_per_part])
        number += 1
        report.parts_written += 1
        if start + rows_per_part < len(records):  # progress kept between parts; the last one's index follows
            _write_index(store, day, sealed=False)
    report.objects_compacted += len(records)
    report.objects_left += len(new) - len(taken)
    sealed = len(taken) == len(new) and sealable(day.day, day.now)
    index = day.index
    unchanged = index is not None and (index.parts, index.malformed_keys, index.sealed) == (
        day.parts,
        day.malformed,
        sealed,
    )
    if not unchanged and (day.parts or day.malformed or sealed):
        _write_index(store, day, sealed=sealed)
    if sealed:
        report.sealed.append(f"{day.day:%Y-%m-%d}")


def _next_number(index: DayIndex | None) -> int:
    """After every part the index names, so that no new part replaces one it still names (a day started
    again after a damaged part keeps its old parts' names out of the way)."""
    if index is None or not index.parts:
        return 0
    return 1 + max(int(entry.key.rsplit("part-", 1)[1].split(".", 1)[0]) for entry in index.parts)


def _write_part(store: DataStore, day: _Day, number: int, records: list[FeedbackRecord]) -> None:
    data = b"".join(record.model_dump_json().encode() + b"\n" for record in records)
    key = part_key(day.day, number)
    store.write(key, data, "application/x-ndjson")
    day.parts.append(PartEntry(key=key, rows=len(records), bytes=len(data), sha256=sha256(data)))


def _write_index(store: DataStore, day: _Day, *, sealed: bool) -> None:
    index = DayIndex(day=day.day, sealed=sealed, parts=day.parts, malformed_keys=day.malformed, compacted_at=day.now)
    store.write(index_key(day.day), index.model_dump_json(indent=1).encode(), "application/json")
