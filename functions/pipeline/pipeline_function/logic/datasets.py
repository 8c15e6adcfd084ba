"""Import a dataset's upload: validate it row by row, then keep its accepted rows, all or nothing.

A file is refused whole, before any row is judged, when it is larger than ``MAX_UPLOAD_BYTES``, when it is
not in its declared format (a CSV with NUL bytes is a binary file; a JSON Lines file whose first line is no
JSON object is not JSON Lines), or when its header lacks ``text`` or ``label``. Otherwise each row is
accepted or rejected with its line and a reason:

- ``UNSUPPORTED_ENCODING``: the row holds bytes that are not UTF-8 (as Comprehend reports per line);
- ``MALFORMED_ROW``: a CSV row with more or fewer fields than the header, or a line that is no JSON object;
- ``EMPTY_TEXT``, ``TEXT_TOO_LONG`` (over ``MAX_TEXT_CHARS`` after trimming, as ``POST /comments``);
- ``UNKNOWN_LABEL``: not negative, neutral or positive (case and spaces ignored);
- ``DUPLICATE_TEXT``: the same text (case and spacing ignored) again with the same label: kept once;
- ``CONFLICTING_LABEL``: the same text with different labels: no row of it trains, since the file
  itself cannot say which label is right.

Only once the whole file was read are the accepted rows written, as one object, then the report; only
then does the record become ACTIVE, in one conditional write that a duplicate S3 event finds done. A
record deleted while its file was imported gets its objects removed again.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from pipeline_function.logic.labels import sha256
from pipeline_function.logic.trust import fold
from pipeline_function.ports import DataStore
from sentiment_common.datasets import (
    DATASETS_PREFIX,
    MAX_TEXT_CHARS,
    MAX_UPLOAD_BYTES,
    REJECTIONS_INLINE,
    DatasetFormat,
    DatasetStatus,
    ImportCounts,
    ImportOutcome,
    Rejection,
    dataset_of,
    report_key,
    rows_key,
    upload_key,
)
from sentiment_common.errors import NotFoundError
from sentiment_common.observability import logger
from sentiment_common.ports import DatasetFiles, Datasets
from sentiment_common.records import LABELS, utc_now

COLUMNS = ("text", "label")


class RefusedFile(Exception):
    """The file as a whole cannot be imported; the message says why."""


@dataclass(frozen=True)
class Row:
    line: int
    text: str
    label: str


@dataclass
class Validation:
    """A file's rows judged: the accepted ones, in file order, and the rejected ones with their reasons."""

    rows: int = 0
    accepted: list[Row] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def reject(self, line: int, reason: str, message: str) -> None:
        self.rejected.append(Rejection(line=line, reason=reason, message=message))

    def judge(self, line: int, text: Any, label: Any) -> None:
        """One row's text and label, as read."""
        if text is not None and not isinstance(text, str):
            self.reject(line, "MALFORMED_ROW", f"the text must be a string, not {type(text).__name__}")
            return
        if text is None or not text.strip():
            self.reject(line, "EMPTY_TEXT", "the text is empty")
            return
        if _undecodable(text) or (isinstance(label, str) and _undecodable(label)):
            self.reject(line, "UNSUPPORTED_ENCODING", "the row holds bytes that are not valid UTF-8")
            return
        text = text.strip()
        if len(text) > MAX_TEXT_CHARS:
            self.reject(line, "TEXT_TOO_LONG", f"the text has {len(text)} characters; at most {MAX_TEXT_CHARS}")
            return
        given = label.strip().lower() if isinstance(label, str) else label
        if given not in LABELS:
            # The label quoted at most 40 characters long: the first rejections sit in the dataset's record.
            self.reject(line, "UNKNOWN_LABEL", f"the label {str(label)[:40]!r} is not one of {', '.join(LABELS)}")
            return
        self.accepted.append(Row(line, text, str(given)))

    def settle_duplicates(self) -> None:
        """Keep one row per text; a text given two labels keeps none."""
        labels: dict[str, set[str]] = {}
        for row in self.accepted:
            labels.setdefault(fold(row.text), set()).add(row.label)
        kept, seen = [], set()
        for row in self.accepted:
            key = fold(row.text)
            if len(labels[key]) > 1:
                given = ", ".join(sorted(labels[key]))
                self.reject(row.line, "CONFLICTING_LABEL", f"the same text is labelled {given} elsewhere in the file")
            elif key in seen:
                self.reject(row.line, "DUPLICATE_TEXT", "the same text with the same label is on an earlier row")
            else:
                seen.add(key)
                kept.append(row)
        self.accepted = kept
        self.rejected.sort(key=lambda rejection: rejection.line)

    def counts(self) -> ImportCounts:
        labels = Counter(row.label for row in self.accepted)
        return ImportCounts(
            rows=self.rows,
            accepted=len(self.accepted),
            rejected=len(self.rejected),
            labels={label: labels[label] for label in LABELS},
        )


def _undecodable(value: str) -> bool:
    """Decoded with ``surrogateescape``, each byte that is not UTF-8 became a lone surrogate."""
    return any("\udc80" <= char <= "\udcff" for char in value)


def _lines(data: bytes) -> str:
    if b"\x00" in data:
        raise RefusedFile("the file holds NUL bytes: it is a binary file, not text")
    return data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")


def validate_csv(data: bytes) -> Validation:
    reader = csv.reader(io.StringIO(_lines(data), newline=""))
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise RefusedFile(f"the header is not CSV: {error}") from error
    if header is None:
        raise RefusedFile("the file is empty: a CSV needs a header naming text and label")
    names = [name.strip().lower() for name in header]
    missing = [column for column in COLUMNS if column not in names]
    if missing:
        raise RefusedFile(f"the header {header!r} lacks the column(s) {', '.join(missing)}")
    at = {column: names.index(column) for column in COLUMNS}
    validation, line = Validation(), reader.line_num + 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            validation.rows += 1
            validation.reject(line, "MALFORMED_ROW", f"not a CSV row: {error}")
            line = reader.line_num + 1
            continue
        if fields:  # a blank line is no row
            validation.rows += 1
            if len(fields) != len(header):
                validation.reject(line, "MALFORMED_ROW", f"{len(fields)} fields where the header names {len(header)}")
            else:
                validation.judge(line, fields[at["text"]], fields[at["label"]])
        line = reader.line_num + 1
    return validation


def validate_jsonl(data: bytes) -> Validation:
    validation, first = Validation(), True
    for number, line in enumerate(_lines(data).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if not isinstance(row, dict):
            if first:
                raise RefusedFile(f"line {number} is not a JSON object: the file is not JSON Lines")
            validation.rows += 1
            validation.reject(number, "MALFORMED_ROW", "the line is not a JSON object")
            continue
        if first:
            missing = [column for column in COLUMNS if column not in row]
            if missing:
                raise RefusedFile(f"the first object has no {', '.join(missing)} key(s)")
            first = False
        validation.rows += 1
        validation.judge(number, row.get("text"), row.get("label"))
    if first:
        raise RefusedFile("the file holds no JSON object")
    return validation


def validate(data: bytes, format: DatasetFormat) -> Validation:
    """Every row judged; :class:`RefusedFile` when the file as a whole cannot be."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise RefusedFile(f"the file has {len(data)} bytes; the import reads at most {MAX_UPLOAD_BYTES}")
    validation = validate_csv(data) if format is DatasetFormat.CSV else validate_jsonl(data)
    validation.settle_duplicates()
    return validation


def rows_csv(rows: list[Row]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows((row.text, row.label) for row in rows)
    return out.getvalue().encode()


def report_jsonl(rejections: list[Rejection]) -> bytes:
    return b"".join(rejection.model_dump_json().encode() + b"\n" for rejection in rejections)


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: int = 0  # not a dataset upload, not waiting for one (a duplicate event), or deleted


def uploads(event: dict[str, Any], bucket: str) -> Iterator[str]:
    """The dataset names whose uploads ``event`` announces in ``bucket``."""
    for record in event.get("Records") or []:
        s3 = record.get("s3", {})
        if s3.get("bucket", {}).get("name") != bucket:
            continue
        name = dataset_of(unquote_plus(s3.get("object", {}).get("key", "")))
        if name is not None:
            yield name


def on_upload(
    event: dict[str, Any], datasets: Datasets, store: DataStore, files: DatasetFiles, now: datetime | None = None
) -> ImportReport:
    report = ImportReport()
    for name in uploads(event, store.bucket):
        try:
            dataset = datasets.get(name)
        except NotFoundError:
            dataset = None
        if dataset is None or dataset.status is not DatasetStatus.SUBMITTED:
            logger.info("dataset upload skipped: not waiting for one", extra={"dataset": name})
            report.skipped += 1
            continue
        outcome = import_file(name, dataset.format, store, now or utc_now())
        if datasets.finish_import(name, outcome):
            (report.imported if outcome.status is DatasetStatus.ACTIVE else report.failed).append(name)
            logger.info("dataset imported", extra={"dataset": name, "status": outcome.status.value})
            continue
        report.skipped += 1
        try:
            datasets.get(name)
        except NotFoundError:  # deleted while imported: what was written must go too
            files.delete_under(f"{DATASETS_PREFIX}{name}/")
    return report


def import_file(name: str, format: DatasetFormat, store: DataStore, now: datetime) -> ImportOutcome:
    """Validate the upload and write what it keeps; the outcome to record."""
    data = store.read_if_exists(upload_key(name))
    try:
        if data is None:
            raise RefusedFile("the upload is gone")
        validation = validate(data, format)
    except RefusedFile as refused:
        logger.info("dataset refused", extra={"dataset": name, "reason": str(refused)})
        return ImportOutcome(
            status=DatasetStatus.FAILED,
            counts=ImportCounts.empty(),
            rejections=[],
            failure_reason=str(refused),
            imported_at=now,
        )
    store.write(report_key(name), report_jsonl(validation.rejected), "application/x-ndjson")
    if not validation.accepted:
        return ImportOutcome(
            status=DatasetStatus.FAILED,
            counts=validation.counts(),
            rejections=validation.rejected[:REJECTIONS_INLINE],
            failure_reason=f"no row was accepted: all {len(validation.rejected)} were rejected (see the report)",
            imported_at=now,
        )
    rows = rows_csv(validation.accepted)
    store.write(rows_key(name), rows, "text/csv")
    return ImportOutcome(
        status=DatasetStatus.ACTIVE,
        counts=validation.counts(),
        rejections=validation.rejected[:REJECTIONS_INLINE],
        rows_sha256=sha256(rows),
        imported_at=now,
    )
