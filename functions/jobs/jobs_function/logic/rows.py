"""An uploaded file's rows, read as a stream: CSV with a header row, or JSON Lines.

Rows are numbered from 0 in the order the Distributed Map's ItemReader numbers its items
(``$$.Map.Item.Index``): CSV records after the header (a quoted field may span lines), JSON Lines
lines. A line that is not valid UTF-8 is read with each bad byte replaced by U+FFFD and its row is
reported unreadable: the map's reader needs text, so such rows are read from a copy made readable, and
their results say ``UNSUPPORTED_ENCODING`` whatever the model made of the replaced text.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from jobs_function.errors import MissingFieldError, NotCsvError, NotJsonLinesError
from sentiment_common.jobs import JobFormat

# csv's own limit is 128 KiB a field; a row may be long (its text gets DOCUMENT_SIZE_EXCEEDED), not endless.
MAX_FIELD_BYTES = 1 << 20


@dataclass(frozen=True)
class Row:
    index: int
    value: dict[str, Any]
    readable: bool
    line: str  # the row as text (U+FFFD for bad bytes), as the readable copy holds it


def lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The stream's lines, each with its line ending."""
    rest = b""
    for chunk in chunks:
        rest += chunk
        *complete, rest = rest.split(b"\n")
        for line in complete:
            yield line + b"\n"
    if rest:
        yield rest


class _Decoded:
    """Decodes lines one by one, remembering whether any since the last look was not UTF-8."""

    def __init__(self, raw: Iterable[bytes]) -> None:
        self._raw = iter(raw)
        self.dirty = False
        self.text: list[str] = []

    def __iter__(self) -> Iterator[str]:
        for line in self._raw:
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                text = line.decode("utf-8", errors="replace")
                self.dirty = True
            self.text.append(text)
            yield text

    def take(self) -> tuple[bool, str]:
        dirty, text = self.dirty, "".join(self.text)
        self.dirty, self.text = False, []
        return not dirty, text


def rows(chunks: Iterable[bytes], file_format: JobFormat, fields: list[str]) -> Iterator[Row]:
    """Every data row; ``JobFileError`` when the file is not of the format or lacks one of ``fields``."""
    decoded = _Decoded(lines(chunks))
    if file_format is JobFormat.CSV:
        return _csv_rows(decoded, fields)
    return _jsonl_rows(decoded, fields)


def header(chunks: Iterable[bytes]) -> str:
    """A CSV file's header line, as text (the readable copy starts with it)."""
    for line in lines(chunks):
        return line.decode("utf-8", errors="replace")
    return ""


def _csv_rows(decoded: _Decoded, fields: list[str]) -> Iterator[Row]:
    csv.field_size_limit(MAX_FIELD_BYTES)
    reader = csv.reader(decoded, strict=True)
    try:
        names = next(reader, None)
        decoded.take()
        if not names:
            raise NotCsvError("the file is empty: a CSV file starts with a header row")
        missing = [field for field in fields if field not in names]
        if missing:
            raise MissingFieldError(f"the header has no column {', '.join(map(repr, missing))}; it has {names}")
        for index, record in enumerate(reader):
            readable, text = decoded.take()
            if len(record) != len(names):
                raise NotCsvError(f"row {index} has {len(record)} fields; the header has {len(names)}")
            yield Row(index, dict(zip(names, record, strict=True)), readable, text)
    except csv.Error as error:
        raise NotCsvError(f"the file is not CSV: {error}") from error


def _jsonl_rows(decoded: _Decoded, fields: list[str]) -> Iterator[Row]:
    for index, text in enumerate(decoded):
        readable, _ = decoded.take()
        if not text.strip():
            raise NotJsonLinesError(f"line {index + 1} is empty; JSON Lines has one object per line")
        try:
            value = json.loads(text)
        except ValueError as error:
            if not readable:
                # The replaced bytes broke the JSON: the row is still a row, unreadable.
                yield Row(index, {}, False, json.dumps({fields[0]: ""}) + "\n")
                continue
            raise NotJsonLinesError(f"line {index + 1} is not JSON: {error}") from error
        if not isinstance(value, dict):
            raise NotJsonLinesError(f"line {index + 1} is not a JSON object")
        missing = [field for field in fields if field not in value]
        if missing and readable:
            raise MissingFieldError(f"line {index + 1} has no field {', '.join(map(repr, missing))}")
        yield Row(index, value, readable, text if text.endswith("\n") else text + "\n")


def text_of(value: Any) -> str:
    """A row's text field as text: JSON numbers and booleans as written, null as empty."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)
