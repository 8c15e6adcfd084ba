"""Benchmark: a file of comments through a bulk classification job on ``make up``, upload to results file.

Starts ``make up`` as a user does (free ports, its own data folder, the model it serves by default),
writes a CSV of ``--rows`` real texts (``model_training/data/base/*.csv`` in turn, each with its own
counter so no two rows are the same) and then, side by side in one run:

1. **The model server's own batch throughput**: ``POST /invocations`` with batches of the job's batch
   size, as many at once as the job's map runs children, for ``--server-seconds``: rows per second.
2. **The job**, as ``make classify`` runs it: ``POST /jobs``, a plain PUT of the file to the presigned
   URL, ``GET /jobs/{id}`` every second until it ends, the results file downloaded. Timed from the
   upload's first byte to the results file on disk; the longest time between two changes of the
   job's counts (how often progress moves); the whole stack's memory (every process of ``make up``'s
   group, resident set) sampled every half second, against its idle figure measured before.

The job's rows per second over the server's is the pipeline's overhead as a ratio (goal ≥ 0.7): one
figure measured on one machine at one time, so it carries over to other CPUs better than either alone.
Prints a Markdown table with the machine and writes ``build/bench/bulk_jobs.md`` (raw numbers in
``build/bench/bulk_jobs.json``). Exits non-zero when the job does not complete or a results row is
missing, doubled or out of order.

    .venv/bin/python bench/bulk_jobs.py [--rows 100000] [--server-seconds 30]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from loadtest import free_port, local_stack_env, running_local_stack
from report import Row, cpu_flags, machine, machine_line, markdown_table, number
from sentiment_deploy.classify import Classifier, Request
from sentiment_template.reader import ROOT, Template

OUT = ROOT / "build" / "bench"
MAX_COMMENT_CHARS = 5000
IDLE_SETTLE_S = 10
MEMORY_SAMPLE_S = 0.5
TARGET_SECONDS_100K = 300  # upload to results, 100,000 rows, 2 cores
TARGET_PROGRESS_GAP_S = 5
TARGET_MEMORY_MB = 500  # above idle, for any file size
TARGET_RATIO = 0.7
WARM_UP_ROWS = 1000


def real_texts() -> list[str]:
    texts: list[str] = []
    sources = []
    for path in sorted((ROOT / "model_training" / "data" / "base").glob("*.csv")):
        with path.open(newline="") as handle:
            sources.append([row["text"].strip() for row in csv.DictReader(handle)])
    for row in zip(*sources, strict=False):
        texts.extend(text for text in row if text and len(text) < MAX_COMMENT_CHARS - 12)
    return texts


def write_file(path: Path, rows: int, texts: list[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ticket", "body"])
        for n in range(rows):
            writer.writerow([f"t{n:07d}", f"{texts[n % len(texts)]} #{n}"])


def group_memory_mb(group: int) -> float:
    """Resident memory of every process in the process group, in MB."""
    total_pages = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) != group:  # field 5 of stat, pgrp
                continue
            total_pages += int(Path(entry.path, "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total_pages * os.sysconf("SC_PAGE_SIZE") / 1e6


@dataclass
class MemorySampler:
    group: int
    peak_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> MemorySampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(MEMORY_SAMPLE_S):
            self.peak_mb = max(self.peak_mb, group_memory_mb(self.group))


def server_throughput(model_url: str, texts: list[str], batch: int, concurrency: int, seconds: float) -> float:
    """Rows per second the model server itself classifies, ``concurrency`` batches at once."""
    deadline = time.monotonic() + seconds
    done = [0] * concurrency

    def client(slot: int) -> None:
        with httpx.Client(base_url=model_url, timeout=120) as server:
            n = slot * batch
            while time.monotonic() < deadline:
                body = {"instances": [f"{texts[(n + i) % len(texts)]} #{n + i}" for i in range(batch)]}
                server.post("/invocations", json=body).raise_for_status()
                done[slot] += batch
                n += batch * concurrency

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(client, range(concurrency)))
    return sum(done) / (time.monotonic() - started)


class Watched(Classifier):
    """``make classify``'s way through the API, with the time of every change of the counts kept."""

    def __init__(self, api: httpx.Client) -> None:
        super().__init__(api, out=open(os.devnull, "w"), poll_s=1.0)  # noqa: SIM115 - lives as long as the run
        self.changes: list[tuple[float, int]] = []

    def follow(self, job_id: str, sleep: Any = time.sleep) -> dict[str, Any]:
        while True:
            job = self.api.get(f"/jobs/{job_id}").json()
            done = int(job.get("succeeded") or 0) + int(job.get("failed") or 0)
            if not self.changes or self.changes[-1][1] != done:
                self.changes.append((time.monotonic(), done))
            if job.get("status") in {"COMPLETED", "FAILED", "STOPPED"}:
                return dict(job)
            sleep(self.poll_s)


def run_job(watched: Watched, request: Request) -> dict[str, Any]:
    """Submit, upload, follow to the end and download, as ``make classify`` does; the job as it ended."""
    job = watched.start(request)
    watched.upload(str(job["upload_url"]), request.file)
    ended = watched.follow(str(job["job_id"]))
    if ended["status"] != "COMPLETED":
        raise RuntimeError(f"the job ended {ended['status']}: {ended.get('reason')}")
    watched.download(str(job["job_id"]), request.results_path())
    return ended


def check_results(path: Path, rows: int) -> dict[str, int]:
    """Every row once, in order; counts per label and per error."""
    counts: dict[str, int] = {}
    with path.open(newline="") as handle:
        for n, row in enumerate(csv.DictReader(handle)):
            if row["id"] != f"t{n:07d}":
                raise RuntimeError(f"results row {n} is {row['id']!r}, not t{n:07d}: missing, doubled or out of order")
            label = row["error"] or row["sentiment"]
            counts[label] = counts.get(label, 0) + 1
    if sum(counts.values()) != rows:
        raise RuntimeError(f"{sum(counts.values())} results rows for {rows} input rows")
    return counts


def measure(rows: int, server_seconds: float) -> dict[str, Any]:
    template = Template.read(ROOT / "template.yaml")
    batch = int(template.parameter("JobBatchSize"))
    concurrency = int(template.parameter("JobMaxConcurrency"))
    texts = real_texts()
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as folder:
        data = Path(folder)
        source = data / "comments.csv"
        write_file(source, rows, texts)
        port, model_port = free_port(), free_port()
        env = local_stack_env(data / "stack", port, MODEL_PORT=str(model_port))
        (data / "stack").mkdir()
        with running_local_stack(["make", "--no-print-directory", "up"], env, data / "make-up.log") as group:
            time.sleep(IDLE_SETTLE_S)
            idle_mb = group_memory_mb(group)
            server = server_throughput(f"http://127.0.0.1:{model_port}", texts, batch, concurrency, server_seconds)
            key = (data / "stack" / "admin-api-key").read_text().strip()
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60, headers=headers) as api:
                # A small job first, so that the functions a job runs have their environments, as on a stack
                # that has run one before; its peak, against the big job's, says whether memory grows with
                # the file.
                warm_source = data / "warm-up.csv"
                write_file(warm_source, WARM_UP_ROWS, texts)
                warm_request = Request(warm_source, "body", id_field="ticket")
                with MemorySampler(group) as warm_memory:
                    run_job(Watched(api), warm_request)
                time.sleep(IDLE_SETTLE_S)
                warm_idle_mb = group_memory_mb(group)
                watched = Watched(api)
                request = Request(source, "body", id_field="ticket")
                with MemorySampler(group) as memory:
                    began = time.monotonic()
                    ended = run_job(watched, request)
                    seconds = time.monotonic() - began
        counts = check_results(request.results_path(), rows)
    gaps = [b[0] - a[0] for a, b in zip(watched.changes, watched.changes[1:], strict=False)]
    job_rate = float(ended.get("rows_per_second") or rows / seconds)
    return {
        "rows": rows,
        "batch": batch,
        "concurrency": concurrency,
        "seconds": seconds,
        "end_to_end_rows_per_second": rows / seconds,
        "job_rows_per_second": job_rate,
        "server_rows_per_second": server,
        "ratio": job_rate / server,
        "longest_progress_gap_s": max(gaps, default=seconds),
        "idle_mb": idle_mb,
        "warm_idle_mb": warm_idle_mb,
        "warm_up_rows": WARM_UP_ROWS,
        "warm_up_peak_mb": warm_memory.peak_mb,
        "peak_mb": memory.peak_mb,
        "results": counts,
    }


def rows_for(raw: dict[str, Any]) -> list[Row]:
    scale = raw["rows"] / 100_000
    grown = raw["peak_mb"] - raw["warm_idle_mb"]
    with_file = raw["peak_mb"] - raw["warm_up_peak_mb"]
    return [
        Row(
            f"{raw['rows']:,} rows, upload to results file",
            f"≤ {TARGET_SECONDS_100K * scale:.0f} s",
            f"{raw['seconds']:.0f} s ({raw['end_to_end_rows_per_second']:,.0f} rows/s)",
            raw["seconds"] <= TARGET_SECONDS_100K * scale,
        ),
        Row(
            "job rows/s over the model server's own batch throughput",
            f"≥ {TARGET_RATIO}",
            f"{raw['ratio']:.2f} ({raw['job_rows_per_second']:,.0f} / {raw['server_rows_per_second']:,.0f})",
            raw["ratio"] >= TARGET_RATIO,
        ),
        Row(
            "longest wait between progress updates",
            f"≤ {TARGET_PROGRESS_GAP_S} s",
            f"{raw['longest_progress_gap_s']:.1f} s",
            raw["longest_progress_gap_s"] <= TARGET_PROGRESS_GAP_S,
        ),
        Row(
            "the whole stack's peak memory over its idle figure (after one small job)",
            f"≤ +{TARGET_MEMORY_MB} MB",
            f"+{number(grown, 0)} MB (idle {raw['warm_idle_mb']:,.0f} MB; {raw['idle_mb']:,.0f} MB before any job)",
            grown <= TARGET_MEMORY_MB,
        ),
        Row(
            f"peak memory, this file's job over a {raw['warm_up_rows']:,}-row job's",
            "",
            f"{with_file:+,.0f} MB",
            None,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--server-seconds", type=float, default=30)
    args = parser.parse_args(argv)
    try:
        raw = measure(args.rows, args.server_seconds)
    except (RuntimeError, httpx.HTTPError) as error:
        print(f"bench: bulk job: {error}", file=sys.stderr)
        return 1
    info = machine()
    table = markdown_table(rows_for(raw))
    info["flags"] = cpu_flags()
    markdown = (
        f"{machine_line(info)}; CPU flags: {info['flags']}\n\n{table}\n\n"
        f"batches of {raw['batch']}, {raw['concurrency']} at once"
    )
    print(markdown)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bulk_jobs.md").write_text(markdown + "\n")
    (OUT / "bulk_jobs.json").write_text(json.dumps({"machine": info, "raw": raw}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
