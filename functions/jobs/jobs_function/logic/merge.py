"""MergeResults: the map's result files and the upload, read as streams, into one results file in the
input's format: every row once, in input order.

ResultWriter writes, under its prefix, one folder per map run holding ``manifest.json`` and the
``SUCCEEDED_n.json`` / ``FAILED_n.json`` / ``PENDING_n.json`` files the manifest lists, each a JSON array of
child executions whose ``Output`` is the child's answer as a string
(https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html). A redriven map run
writes another folder; a row found in several is the same row classified again, and the last one read wins.

Per row the merge keeps a few bytes in arrays indexed by the row's position (its label, three scores, the
model version's and the language's numbers, whether the language is supported, an error code), never an
object: a million rows take about 19 MB. The rows' ids
(and, for ``store: true``, their texts) come from reading the upload again.
"""

from __future__ import annotations

import codecs
import csv
import json
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs_function.logic.check import CONTENT_TYPES
from jobs_function.logic.files import readable_key, unreadable_key
from jobs_function.logic.rows import Row, rows, text_of
from jobs_function.ports import JobFiles
from jobs_function.steps import BatchResult, Merged
from sentiment_common.jobs import (
    RESULT_FIELDS,
    Job,
    JobCounts,
    JobFormat,
    JobStatus,
    JobSummary,
    RowError,
    input_key,
    map_prefix,
    results_key,
)
from sentiment_common.observability import logger
from sentiment_common.ports import CommentStore, Jobs
from sentiment_common.records import LABELS, UNDETERMINED, Comment, CommentStatus, Prediction, Scores, new_id, utc_now

NOT_DONE = 0
CLASSIFIED = 1
# Error codes follow CLASSIFIED, in RowError's order.
ERRORS = list(RowError)
COMMENT_BATCH = 25


@dataclass
class RowResults:
    """Each row's result, compactly, by position."""

    total: int
    state: bytearray = field(init=False)
    label: bytearray = field(init=False)
    scores: tuple[array[float], array[float], array[float]] = field(init=False)
    version: array[int] = field(init=False)
    versions: list[str] = field(default_factory=list)
    language: array[int] = field(init=False)  # an index into languages
    languages: list[str] = field(default_factory=lambda: [UNDETERMINED])
    unsupported: bytearray = field(init=False)

    def __post_init__(self) -> None:
        self.state = bytearray(self.total)
        self.label = bytearray(self.total)
        self.scores = (self._floats(), self._floats(), self._floats())
        self.version = array("H", bytes(2 * self.total))
        self.language = array("H", bytes(2 * self.total))
        self.unsupported = bytearray(self.total)

    def _floats(self) -> array[float]:
        return array("f", bytes(4 * self.total))

    def put(self, row: list[Any]) -> None:
        index, label, negative, neutral, positive, version, error = row[:7]
        language, supported = row[7:9] if len(row) == 9 else (UNDETERMINED, True)
        if not 0 <= index < self.total:
            return
        if error is not None:
            self.state[index] = CLASSIFIED + 1 + ERRORS.index(RowError(error))
            return
        self.state[index] = CLASSIFIED
        self.label[index] = LABELS.index(label)
        for scores, value in zip(self.scores, (negative, neutral, positive), strict=True):
            scores[index] = value
        if version not in self.versions:
            self.versions.append(version)
        self.version[index] = self.versions.index(version)
        if language not in self.languages:
            self.languages.append(language)
        self.language[index] = self.languages.index(language)
        self.unsupported[index] = not supported

    def error(self, index: int) -> RowError | None:
        state = self.state[index]
        if state == NOT_DONE:
            return RowError.NOT_PROCESSED
        return None if state == CLASSIFIED else ERRORS[state - CLASSIFIED - 1]

    def prediction(self, index: int) -> Prediction:
        label = LABELS[self.label[index]]
        values = [round(scores[index], 6) for scores in self.scores]
        return Prediction(
            label=label,
            scores=Scores(negative=values[0], neutral=values[1], positive=values[2]),
            confidence=values[self.label[index]],
            model_version=self.versions[self.version[index]],
            language=self.languages[self.language[index]],
            supported=not self.unsupported[index],
        )


_DECODER = json.JSONDecoder()
_BETWEEN = " \t\r\n,"


def json_array_items(chunks: Iterable[bytes]) -> Iterator[Any]:
    """The items of a JSON array read as a stream, one at a time: a result file holds every child's input
    and output, far more than one should hold at once for a large file."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    buffer, started = "", False
    for chunk in chunks:
        buffer += decoder.decode(chunk)
        if not started:
            buffer = buffer.lstrip()
            if not buffer:
                continue
            if buffer[0] != "[":
                raise ValueError("a result file is a JSON array")
            buffer, started = buffer[1:], True
        position = 0
        while True:
            while position < len(buffer) and buffer[position] in _BETWEEN:
                position += 1
            if position == len(buffer) or buffer[position] == "]":
                break
            try:
                item, position = _DECODER.raw_decode(buffer, position)
            except json.JSONDecodeError:
                break  # the item goes on in the next chunk
            yield item
        buffer = buffer[position:]  # once a chunk: what is left is the start of the next item
    if buffer.strip(_BETWEEN) not in {"]", ""}:
        raise ValueError("a result file ends inside an item")


def _child_outputs(files: JobFiles, job_id: str) -> Iterator[list[Any]]:
    """Every row of every successful child of every map run of the job."""
    for key in files.keys(map_prefix(job_id)):
        if not key.endswith("/manifest.json"):
            continue
        manifest = json.loads(files.read(key))
        for result in manifest.get("ResultFiles", {}).get("SUCCEEDED", []):
            for child in json_array_items(files.stream(result["Key"])):
                output = child.get("Output")
                if isinstance(output, str):
                    yield from BatchResult.model_validate_json(output).rows  # type: ignore[misc]


def _read_key(files: JobFiles, job_id: str) -> str:
    readable = readable_key(job_id)
    return readable if readable in set(files.keys(readable)) else input_key(job_id)


def collect(files: JobFiles, job: Job, total: int) -> RowResults:
    results = RowResults(total)
    for row in _child_outputs(files, job.job_id):
        results.put(list(row))
    try:
        unreadable = array("I", files.read(unreadable_key(job.job_id)))
    except FileNotFoundError:
        unreadable = array("I")
    for index in unreadable:
        results.put([index, None, None, None, None, None, RowError.UNSUPPORTED_ENCODING, None, None])
    return results


def _out(job: Job, row: Row, results: RowResults) -> dict[str, Any]:
    row_id = text_of(row.value.get(job.id_field)) if job.id_field else row.index
    error = results.error(row.index)
    if error is not None:
        return {"id": row_id, "error": error.value, "error_message": error.message}
    prediction = results.prediction(row.index)
    return {
        "id": row_id,
        "sentiment": prediction.label,
        **prediction.scores.model_dump(),
        "model_version": prediction.model_version,
        "language": prediction.language,
        "supported": prediction.supported,
        "error": "",
        "error_message": "",
    }


class _Comments:
    """Classified rows stored as comments (``store: true``), up to the limit, 25 at a time."""

    def __init__(self, store: CommentStore | None, limit: int) -> None:
        self._store, self._left, self._waiting = store, limit, list[Comment]()
        self.stored = 0

    def add(self, text: str, prediction: Prediction) -> None:
        if self._store is None or self._left <= 0:
            return
        self._left -= 1
        now = utc_now()
        self._waiting.append(
            Comment(
                comment_id=new_id(), text=text, created_at=now, status=CommentStatus.CLASSIFIED, prediction=prediction
            )
        )
        if len(self._waiting) == COMMENT_BATCH:
            self.flush()

    def flush(self) -> None:
        if self._store is not None and self._waiting:
            self._store.put_all(self._waiting)
            self.stored += len(self._waiting)
            self._waiting = []


def merge(
    job_id: str,
    files: JobFiles,
    jobs: Jobs,
    *,
    comments: CommentStore | None = None,
    store_limit: int = 0,
    final: JobStatus = JobStatus.COMPLETED,
) -> Merged:
    """Write ``jobs/{job_id}/results.{csv|jsonl}`` from what the map runs wrote so far, record the counts,
    and move the job to ``final`` (COMPLETED after the map; STOPPED or FAILED keep their status)."""
    job = jobs.get(job_id)
    total = job.counts.total or 0
    results = collect(files, job, total)
    labels: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    store = _Comments(comments if job.store else None, store_limit)
    fields = [job.text_field, *([job.id_field] if job.id_field else [])]
    key = results_key(job_id, job.format)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "results"
        with path.open("w", encoding="utf-8", newline="") as out:
            write = _writer(out, job.format)
            for row in rows(files.stream(_read_key(files, job_id)), job.format, fields):
                if row.index >= total:
                    break
                line = _out(job, row, results)
                write(line)
                if line["error"]:
                    errors[line["error"]] += 1
                else:
                    labels[line["sentiment"]] += 1
                    store.add(text_of(row.value.get(job.text_field)).strip(), results.prediction(row.index))
        files.upload(key, path, CONTENT_TYPES[job.format])
    store.flush()
    succeeded = sum(labels.values())
    counts = JobCounts(total=total, succeeded=succeeded, failed=total - succeeded)
    jobs.record_counts(job_id, counts, JobSummary(labels=dict(labels), errors=dict(errors)), stored=store.stored)
    changes = {"results_key": key, "finished_at": utc_now()}
    if final is JobStatus.COMPLETED:
        jobs.move(job_id, final, {JobStatus.IN_PROGRESS, JobStatus.STOP_REQUESTED}, **changes)
    else:
        jobs.move(job_id, final, {final}, **changes)
    logger.info("job results merged", extra={"job_id": job_id, "rows": total, "classified": succeeded})
    return Merged(job_id=job_id, results_key=key, total=total, succeeded=succeeded, failed=total - succeeded)


def _writer(out: Any, file_format: JobFormat) -> Any:
    if file_format is JobFormat.CSV:
        writer = csv.DictWriter(out, fieldnames=RESULT_FIELDS, restval="", lineterminator="\n")
        writer.writeheader()
        return writer.writerow

    def write(line: dict[str, Any]) -> None:
        out.write(json.dumps({name: line.get(name) for name in RESULT_FIELDS}) + "\n")

    return write
