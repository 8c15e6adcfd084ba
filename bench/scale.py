"""Benchmark: the local stack as a team's data store, from empty to 100,000 comments.

Starts ``make up`` as a user does (its own ports and data folder) and loads 100,000 distinct real texts
(``model_training/data/base``) through ``POST /comments/batch``, 25 a batch, eight batches at a time.
At 0, 10,000, 50,000 and 100,000 stored comments it measures, one request at a time:

- ``POST /comments``, a batch of 25, ``GET /comments?limit=20`` and the same with a sentiment filter:
  p50 and p99 latency;
- the resident memory of every process of the stack (its process group);
- the restart: the stack stopped as Ctrl-C stops it, started again, until ``/health`` answers.

Targets (issue 18): at 100,000 every latency within 1.5× of its value when empty; no request over the
API function's timeout; restart to ready ≤ 30 s; the stack's memory ≤ 2 GiB. Prints a Markdown table
and the machine, and writes ``build/bench/scale.md`` and ``build/bench/scale.json``.

    PYTHONPATH=model_training:layers/shared:functions/api:functions/pending:functions/pipeline:local_stack \\
        .venv/bin/python bench/scale.py [--comments 100000] [--checkpoints 0,10000,50000,100000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from load import local_stack, percentile
from report import Row, at_most, machine, machine_line, markdown_table, number

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "bench"
BATCH = 25
CONCURRENCY = 8
SAMPLES = {"post": 200, "batch": 60, "list": 200, "filtered": 200}
RATIO = 1.5
RESTART_TARGET_S = 30
MEMORY_TARGET_MB = 2048
REQUEST_TIMEOUT_S = 60
MEASURES = ("post", "batch", "list", "filtered")
NAMES = {
    "post": "POST /comments",
    "batch": "POST /comments/batch (25)",
    "list": "GET /comments?limit=20",
    "filtered": "GET /comments?limit=20&sentiment=positive",
}


def api_timeout_s() -> float:
    """The API function's timeout in template.yaml: no request may take longer on Lambda."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)  # noqa: S506 - SafeLoader, tags dropped
    own = template["Resources"]["ApiFunction"]["Properties"].get("Timeout")
    return float(own or template["Globals"]["Function"]["Timeout"])


def texts() -> Iterator[str]:
    """Real texts, endlessly, each made distinct."""
    rows = []
    for path in sorted((ROOT / "model_training" / "data" / "base").glob("*.csv")):
        with path.open(newline="") as handle:
            rows.extend(row["text"].strip()[:4000] for row in csv.DictReader(handle) if row["text"].strip())
    n = 0
    while True:
        for text in rows:
            yield f"{text} #{n}"
            n += 1


@dataclass
class Checkpoint:
    comments: int
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # measure → p50, p99, max
    memory_mb: float = 0.0
    restart_s: float = 0.0
    load_per_second: float | None = None  # comments a second while loading up to this checkpoint
    load_p99_ms: float | None = None
    errors: int = 0


@dataclass
class Result:
    comments: int
    timeout_s: float
    checkpoints: list[Checkpoint]
    slowest_ms: float
    machine: dict[str, Any] = field(default_factory=machine)


def timed(call: Callable[[], httpx.Response]) -> tuple[float, int]:
    started = time.perf_counter()
    try:
        status = call().status_code
    except httpx.HTTPError:
        status = 0
    return (time.perf_counter() - started) * 1000, status


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(latencies, 0.50), 1),
        "p99": round(percentile(latencies, 0.99), 1),
        "max": round(max(latencies), 1),
    }


def stack_memory_mb(data: Path) -> float:
    """Resident memory of every process in the stack's process group (make, the stack, the model
    server, the function workers)."""
    pid = json.loads((data / "stack.json").read_text())["pid"]
    group = os.getpgid(pid)
    total_kb = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != group:
                continue
            status = (entry / "status").read_text()
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            continue
        total_kb += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return round(total_kb / 1024, 1)


def measure_requests(api: httpx.Client, source: Iterator[str]) -> tuple[dict[str, dict[str, float]], int, float]:
    """Each measure, one request at a time; returns the summaries, the failed requests, the slowest."""
    calls: dict[str, Callable[[], httpx.Response]] = {
        "post": lambda: api.post("/comments", json={"comment": next(source)}),
        "batch": lambda: api.post("/comments/batch", json={"comments": [next(source) for _ in range(BATCH)]}),
        "list": lambda: api.get("/comments", params={"limit": 20}),
        "filtered": lambda: api.get("/comments", params={"limit": 20, "sentiment": "positive"}),
    }
    found, errors, slowest = {}, 0, 0.0
    for name in MEASURES:
        runs = [timed(calls[name]) for _ in range(SAMPLES[name])]
        errors += sum(1 for _, status in runs if status not in {200, 201})
        latencies = [ms for ms, _ in runs]
        slowest = max(slowest, *latencies)
        found[name] = summary(latencies)
    return found, errors, slowest


def stored_by_measuring() -> int:
    return SAMPLES["post"] + SAMPLES["batch"] * BATCH


def load(api: httpx.Client, source: Iterator[str], comments: int) -> tuple[float, float, int, float]:
    """``comments`` more through the batch route, eight batches at a time: rate, p99, errors, slowest."""
    batches = [[next(source) for _ in range(BATCH)] for _ in range(comments // BATCH)]
    if not batches:
        return 0.0, 0.0, 0, 0.0
    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        runs = list(
            pool.map(lambda batch: timed(lambda: api.post("/comments/batch", json={"comments": batch})), batches)
        )
    seconds = time.perf_counter() - started
    latencies = [ms for ms, _ in runs]
    errors = sum(1 for _, status in runs if status != 200)
    return len(batches) * BATCH / seconds, percentile(latencies, 0.99), errors, max(latencies)


def restart(data: Path, stack: Any) -> tuple[Any, str, float]:
    """Stop the stack as Ctrl-C does, start it again; seconds from the start until /health answers."""
    stack.__exit__(None, None, None)
    started = time.perf_counter()
    again = local_stack(data)
    url = again.__enter__()
    with httpx.Client(base_url=url, timeout=5) as probe:
        while True:
            try:
                if probe.get("/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    return again, url, time.perf_counter() - started


def run(comments: int, checkpoints: list[int]) -> Result:
    source = texts()
    results: list[Checkpoint] = []
    slowest = 0.0
    with tempfile.TemporaryDirectory(prefix="scale-") as scratch:
        data = Path(scratch)
        stack = local_stack(data)
        url = stack.__enter__()
        stored = 0
        try:
            for target in checkpoints:
                point = Checkpoint(comments=target)
                with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as api:
                    if target > stored:
                        rate, p99, errors, worst = load(api, source, target - stored)
                        point.load_per_second, point.load_p99_ms = round(rate, 1), round(p99, 1)
                        point.errors += errors
                        slowest = max(slowest, worst)
                        stored = target
                    point.latency_ms, errors, worst = measure_requests(api, source)
                    point.errors += errors
                    slowest = max(slowest, worst)
                    stored += stored_by_measuring()
                point.memory_mb = stack_memory_mb(data)
                stack, url, point.restart_s = restart(data, stack)
                point.restart_s = round(point.restart_s, 1)
                results.append(point)
                print(json.dumps(asdict(point)), flush=True)
        finally:
            stack.__exit__(None, None, None)
    return Result(comments, api_timeout_s(), results, round(slowest, 1))


def rows(result: Result) -> list[Row]:
    table = []
    for name in MEASURES:
        for stat in ("p50", "p99"):
            values = [point.latency_ms[name][stat] for point in result.checkpoints]
            figures = " / ".join(f"{value:,.0f}" for value in values)
            table.append(
                Row(
                    f"{NAMES[name]} {stat}, ms at {', '.join(f'{p.comments:,}' for p in result.checkpoints)}",
                    f"≤ {RATIO}× empty",
                    f"{figures} ({values[-1] / values[0]:.2f}×)",
                    at_most(values[-1], RATIO * values[0]),
                )
            )
    restarts = " / ".join(f"{point.restart_s:.1f}" for point in result.checkpoints)
    memory = " / ".join(f"{point.memory_mb:,.0f}" for point in result.checkpoints)
    loads = " / ".join(number(point.load_per_second, 0) for point in result.checkpoints[1:])
    errors = sum(point.errors for point in result.checkpoints)
    table += [
        Row("Restart to ready (Ctrl-C, make up, /health 200), s", f"≤ {RESTART_TARGET_S} s", restarts,
            at_most(max(point.restart_s for point in result.checkpoints), RESTART_TARGET_S)),
        Row("Memory of the whole stack (resident, every process), MB", f"≤ {MEMORY_TARGET_MB:,} MB", memory,
            at_most(max(point.memory_mb for point in result.checkpoints), MEMORY_TARGET_MB)),
        Row(f"Slowest request of the run (the API function's timeout is {result.timeout_s:.0f} s)",
            f"< {result.timeout_s:.0f} s", number(result.slowest_ms, 0, "ms"),
            result.slowest_ms < result.timeout_s * 1000),
        Row("Failed requests", "0", str(errors), errors == 0),
        Row(f"Loading rate, {BATCH} a batch, {CONCURRENCY} at a time, to each checkpoint, comments/s", "—", loads),
    ]  # fmt: skip
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--checkpoints", default="0,10000,50000,100000")
    args = parser.parse_args(argv)
    checkpoints = sorted({int(value) for value in args.checkpoints.split(",")} | {0, args.comments})
    try:
        result = run(args.comments, checkpoints)
    except (RuntimeError, httpx.HTTPError) as error:
        print(f"scale: not measured: {error}", file=sys.stderr)
        return 1
    table = rows(result)
    report = f"{markdown_table(table)}\n\n{machine_line(result.machine)}"
    print(report)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "scale.md").write_text(report + "\n")
    (OUT / "scale.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    return 0 if all(row.passed is not False for row in table) else 1


if __name__ == "__main__":
    sys.exit(main())
