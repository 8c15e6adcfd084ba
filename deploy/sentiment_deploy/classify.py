"""``make classify FILE=… COLUMN=…``: a file of comments through a bulk classification job, against
``make up`` or a deployed stack alike. It starts the job (``POST /jobs``), uploads the file straight to
the presigned URL the API answers with (the file never passes through the API), shows a progress bar
while the job runs, and writes the results file beside the input (``tickets.csv`` →
``tickets.results.csv``). Ctrl-C cancels the job; the rows already done stay in its results, and
``POST /jobs/{job_id}/resume`` runs the rest."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx

from sentiment_deploy.stack import DeployError

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
ENDED = {"COMPLETED", "FAILED", "STOPPED"}
RESULTS_WAIT_S = 60  # at most, after a job ended, for its results file
CHUNK_BYTES = 1 << 20  # read and sent a mebibyte at a time: a file of any size is never held whole
POLL_S = 2.0
BAR_WIDTH = 30


@dataclass(frozen=True)
class Request:
    """What the job is asked to do with the file."""

    file: Path
    text_field: str
    id_field: str | None = None
    format: str | None = None  # from the file's extension when not given
    store: bool = False

    def file_format(self) -> str:
        if self.format:
            if self.format not in set(FORMATS.values()):
                raise DeployError(f"FORMAT must be csv or jsonl, not {self.format!r}")
            return self.format
        found = FORMATS.get(self.file.suffix.lower())
        if found is None:
            raise DeployError(
                f"{self.file.name}: say the file's format with FORMAT=csv or FORMAT=jsonl "
                f"(known extensions: {', '.join(sorted(FORMATS))})"
            )
        return found

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"format": self.file_format(), "text_field": self.text_field}
        if self.id_field:
            body["id_field"] = self.id_field
        if self.store:
            body["store"] = True
        return body

    def results_path(self) -> Path:
        """Beside the input, in its format: ``tickets.csv`` → ``tickets.results.csv``."""
        return self.file.with_name(f"{self.file.stem}.results.{self.file_format()}")


def progress_line(job: dict[str, Any], width: int = BAR_WIDTH) -> str:
    """``[#########.....................]  31,000/100,000 rows  1,204 rows/s  12 failed  IN_PROGRESS``"""
    total = int(job.get("total") or 0)
    done = int(job.get("succeeded") or 0) + int(job.get("failed") or 0)
    filled = min(width, width * done // total) if total else 0
    counts = f"{done:,}/{total:,} rows" if total else f"{done:,} rows"
    rate = job.get("rows_per_second")
    parts = [f"[{'#' * filled}{'.' * (width - filled)}]", counts]
    if rate:
        parts.append(f"{float(rate):,.0f} rows/s")
    if job.get("failed"):
        parts.append(f"{int(job['failed']):,} failed")
    parts.append(str(job.get("status", "")))
    return "  ".join(parts)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


def _answer(response: httpx.Response, doing: str) -> dict[str, Any]:
    if response.is_success:
        return dict(response.json())
    try:
        message = response.json().get("message", response.text)
    except ValueError:
        message = response.text
    raise DeployError(f"{doing}: {response.status_code} {message}")


class Classifier:
    """One job's way through the API: start, upload, follow, fetch."""

    def __init__(self, api: httpx.Client, out: TextIO = sys.stderr, poll_s: float = POLL_S) -> None:
        self.api = api
        self.out = out
        self.poll_s = poll_s

    def start(self, request: Request) -> dict[str, Any]:
        return _answer(self.api.post("/jobs", json=request.body()), "starting the job")

    def upload(self, upload_url: str, path: Path) -> None:
        """A plain PUT of the file's bytes, streamed, with its length (S3 refuses a chunked PUT)."""
        headers = {"Content-Length": str(path.stat().st_size)}
        response = httpx.put(upload_url, content=_chunks(path), headers=headers, timeout=None)  # noqa: S113 - a large file takes as long as it takes
        if not response.is_success:
            raise DeployError(f"uploading {path.name}: S3 answered {response.status_code} {response.text[:300]}")

    def follow(self, job_id: str, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
        """The job once it has ended and its results are written (a stopped or failed job takes its status a
        moment before; one that ended before its rows were counted has none), a progress line redrawn at
        every poll meanwhile."""
        waited_for_results = 0.0
        while True:
            job = _answer(self.api.get(f"/jobs/{job_id}"), f"following job {job_id}")
            self.out.write(f"\r{progress_line(job)}\033[K")
            self.out.flush()
            if job.get("status") in ENDED:
                if job.get("results_ready") or job.get("total") is None or waited_for_results >= RESULTS_WAIT_S:
                    self.out.write("\n")
                    return job
                waited_for_results += self.poll_s
            sleep(self.poll_s)

    def cancel(self, job_id: str) -> dict[str, Any]:
        return _answer(self.api.post(f"/jobs/{job_id}/cancel"), f"cancelling job {job_id}")

    def download(self, job_id: str, destination: Path) -> dict[str, Any]:
        """The results file written to ``destination`` (streamed, through a temporary name); the answer of
        ``GET /jobs/{job_id}/results``, with its counts per label and per error."""
        results = _answer(self.api.get(f"/jobs/{job_id}/results"), f"fetching job {job_id}'s results")
        partial = destination.with_name(destination.name + ".part")
        with httpx.stream("GET", results["download_url"], timeout=None) as response:  # noqa: S113
            if not response.is_success:
                raise DeployError(f"downloading the results: S3 answered {response.status_code}")
            with partial.open("wb") as handle:
                for chunk in response.iter_bytes(CHUNK_BYTES):
                    handle.write(chunk)
        partial.replace(destination)
        return results

    def run(self, request: Request) -> Iterator[str]:
        """The whole way, saying each step; cancels the job on Ctrl-C."""
        if not request.file.is_file():
            raise DeployError(f"{request.file}: no such file")
        job = self.start(request)
        job_id = str(job["job_id"])
        yield f"job {job_id}: uploading {request.file.name} ({request.file.stat().st_size:,} bytes)"
        try:
            self.upload(str(job["upload_url"]), request.file)
            job = self.follow(job_id)
        except KeyboardInterrupt:
            self.cancel(job_id)
            yield f"job {job_id}: cancel requested; the rows already done stay in its results"
            job = self.follow(job_id)
        if job["status"] == "FAILED":
            raise DeployError(f"job {job_id} failed: {job.get('message') or job.get('reason') or 'no reason given'}")
        destination = request.results_path()
        results = self.download(job_id, destination)
        yield f"job {job_id}: {job['status']}; results in {destination}"
        labels = results.get("labels") or {}
        if labels:
            yield "  " + ", ".join(f"{label} {count:,}" for label, count in labels.items())
        errors = results.get("errors") or {}
        if errors:
            yield "  errors: " + ", ".join(f"{code} {count:,}" for code, count in errors.items())
