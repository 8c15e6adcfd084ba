"""Benchmark: PrepareDataset at 0, 10,000, 100,000 and 1,000,000 labels on the local stack.

Starts ``make up`` as a user does (its own ports and data folder; no retraining run started by feedback,
no scheduled compaction during the measures) and runs the function's own handler, as Lambda would, in a
process of its own with the function's environment and role (IAM enforced from the template), against
the stack's S3 and DynamoDB. Each measure is that process's wall time, CPU time and peak resident memory.

1. 0 labels.
2. ``--open`` labels of today written as ``POST /feedback`` writes them (one object each, the S3
   notifications delivered) and not compacted: what one object read one by one costs.
3. The scheduled compactor's own handler, with its role, over them: objects compacted a second.
4. The labels of past days up to each count, generated straight into the bucket as the compactor
   leaves them (parts of 20,000 rows and each day's index; their archive objects are not written, as a
   run never reads a sealed day's objects), 50,000 a day, one in ten relabelling an earlier comment.

From the slope between the two largest counts it prints the largest number of labels the function's
defaults (Timeout, MemorySize in template.yaml) can take, and from step 2 the largest number of objects
not yet compacted a run can read, with Lambda's CPU share at that memory size (a full vCPU at 1,769 MB)
applied to the CPU time measured here. Writes ``build/bench/prepare.md`` and ``build/bench/prepare.json``.

    .venv/bin/python bench/prepare_scale.py [--counts 0,10000,100000,1000000] [--open 2000]

(with the PYTHONPATH the Makefile exports, as ``make bench`` runs it)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from load import local_stack
from loadtest import free_port
from report import Row, at_most, cpu_flags, machine, machine_line, markdown_table, number

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "bench"
PER_DAY = 50_000
RELABEL_EVERY = 10
FULL_VCPU_MB = 1769  # Lambda: "at 1,769 MB, a function has the equivalent of one vCPU"
WELL_INSIDE = 0.5  # a measure passes when it takes at most half the timeout and half the memory
RESULT = "PREPARE-BENCH-RESULT "


@dataclass
class Measure:
    name: str
    labels: int
    open_objects: int
    seconds: float
    cpu_seconds: float
    peak_mb: float
    rows: int

    def lambda_seconds(self, memory_mb: int) -> float:
        """On Lambda at ``memory_mb``: the CPU time stretched by its share of a vCPU, or the wall time."""
        return max(self.seconds, self.cpu_seconds * FULL_VCPU_MB / memory_mb)


def function_limits(function: str) -> tuple[int, int]:
    """The function's Timeout (s) and MemorySize (MB) in template.yaml."""
    sys.path.insert(0, str(ROOT / "stack_template"))
    from sentiment_template.reader import Template  # noqa: PLC0415 - the template reader, only here

    spec = Template.read(ROOT / "template.yaml").function(function, "")
    return int(spec.timeout), int(spec.memory)


# ---- the function, in a process of its own ----


def child(logical_id: str, run_id: str) -> None:
    """Runs in the measured process: the handler, as Lambda calls it."""
    import importlib  # noqa: PLC0415

    from sentiment_template.reader import Template  # noqa: PLC0415

    handler_path = Template.read(ROOT / "template.yaml").resources[logical_id]["Properties"]["Handler"]
    module_name, attribute = handler_path.rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), attribute)

    class Context:
        function_name = logical_id
        memory_limit_in_mb = 1024
        invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{logical_id}"
        aws_request_id = run_id

    event = {"run_id": run_id} if logical_id == "PrepareDatasetFunction" else {"id": run_id}
    started, cpu = time.perf_counter(), time.process_time()
    answer = handler(event, Context())
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = int(answer.get("feedback_rows", answer.get("objects_compacted", 0)))
    print(RESULT + json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mb": peak_mb, "rows": rows}))


def run_function(moto_url: str, logical_id: str, run_id: str, data: Path) -> dict[str, Any]:
    from sentiment_template import policies  # noqa: PLC0415
    from sentiment_template.reader import Template  # noqa: PLC0415

    template = Template.read(ROOT / "template.yaml")
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("AWS_")},
        **template.function_environment(logical_id, moto_url),
        **policies.credentials_for(template.execution_role_arn(logical_id)),
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    log = data / f"{logical_id}-{run_id}.log"
    with log.open("w") as output:
        subprocess.run(
            [sys.executable, __file__, "--child", logical_id, run_id],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=True,
        )
    line = next(line for line in log.read_text().splitlines() if line.startswith(RESULT))
    return dict(json.loads(line[len(RESULT) :]))


# ---- labels, as the API writes them and as the compactor leaves them ----


def texts() -> Iterator[str]:
    rows = []
    for path in sorted((ROOT / "model_training" / "data" / "base").glob("*.csv")):
        with path.open(newline="") as handle:
            rows.extend(row["text"].strip()[:500] for row in csv.DictReader(handle) if row["text"].strip())
    while True:
        yield from rows


def record(n: int, at: datetime, text: str) -> Any:
    """A reviewer's label: under the default PublicLabels (suggest) only reviewers' labels train, so these
    are the labels a run keeps, the most it can be asked to hold."""
    from sentiment_common.records import FeedbackRecord, LabelSource  # noqa: PLC0415

    comment = n - RELABEL_EVERY * 7 if n % RELABEL_EVERY == 0 and n >= RELABEL_EVERY * 7 else n
    return FeedbackRecord(
        feedback_id=f"{n:032x}",
        comment_id=f"bench-{comment:09d}",
        text=text,
        label=("negative", "neutral", "positive")[n % 3],
        predicted_label="neutral",
        model_version="bench",
        created_at=at,
        source=LabelSource.REVIEWER,
        reviewer=f"reviewer-{n % 20}",
    )


def admin_s3(moto_url: str) -> Any:
    """The stack's S3 as its administrator (the local stack's own key), who lays out the data."""
    local = "local"
    return boto3.client(
        "s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id=local, aws_secret_access_key=local
    )


def write_open_objects(s3: Any, bucket: str, first: int, count: int, source: Iterator[str]) -> None:
    from sentiment_common.records import feedback_key  # noqa: PLC0415

    now = datetime.now(UTC)
    records = [record(first + n, now - timedelta(seconds=n % 60), next(source)) for n in range(count)]

    def put(labelled: Any) -> None:
        s3.put_object(Bucket=bucket, Key=feedback_key(labelled), Body=labelled.model_dump_json().encode())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, records))


def write_sealed_days(
    s3: Any, bucket: str, first: int, count: int, *, first_day: datetime, source: Iterator[str]
) -> int:
    """``count`` labels in whole past days, compacted by the compactor's own code in memory and put into
    the bucket as it leaves them. Returns the number of days written."""
    from pipeline_function.logic.compact import compact  # noqa: PLC0415
    from sentiment_common.records import feedback_key  # noqa: PLC0415

    days = 0
    for start in range(0, count, PER_DAY):
        day = first_day - timedelta(days=days)
        memory = memory_store(bucket)
        for n in range(start, min(start + PER_DAY, count)):
            labelled = record(first + n, day + timedelta(seconds=(n - start) % 80_000), next(source))
            memory.objects[feedback_key(labelled)] = labelled.model_dump_json().encode()
        compact(memory, datetime.now(UTC))
        for key, body in memory.objects.items():
            if key.startswith("feedback-compacted/"):
                s3.put_object(Bucket=bucket, Key=key, Body=body)
        days += 1
    return days


def memory_store(bucket: str) -> Any:
    """The data bucket in a dict (the tests' fake), for the compactor to lay out one generated day."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes.pipeline import FakeDataStore  # noqa: PLC0415

    return FakeDataStore(bucket)


def wait_for_quiet(log: Path, quiet_seconds: float = 10, limit_seconds: float = 900) -> None:
    """Until the function's log has not grown for ``quiet_seconds``: the notifications are all handled."""
    deadline, size, since = time.monotonic() + limit_seconds, -1, time.monotonic()
    while time.monotonic() < deadline:
        now_size = log.stat().st_size if log.exists() else 0
        if now_size != size:
            size, since = now_size, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            return
        time.sleep(1)


# ---- the run ----


def measure(counts: list[int], open_objects: int) -> tuple[list[Measure], dict[str, Any]]:
    data = Path(tempfile.mkdtemp(prefix="bench-prepare-"))
    moto_port = free_port()
    moto_url = f"http://127.0.0.1:{moto_port}"
    quiet = {"MOTO_PORT": str(moto_port), "RETRAIN_THRESHOLD": "100000000", "COMPACTION_SCHEDULE": "rate(7 days)"}
    measures: list[Measure] = []
    extra: dict[str, Any] = {}
    source = texts()
    with local_stack(data, **quiet):
        bucket = json.loads((data / "stack.json").read_text())["functions"]["ApiFunction"]["DATA_BUCKET"]
        s3 = admin_s3(moto_url)

        def prepare(name: str, labels: int, open_now: int) -> Measure:
            found = run_function(moto_url, "PrepareDatasetFunction", f"bench-{len(measures)}", data)
            taken = Measure(name, labels, open_now, **found)
            measures.append(taken)
            print(f"  {name}: {taken.seconds:.1f} s, {taken.peak_mb:.0f} MB", flush=True)
            return taken

        written = 0
        prepare("0 labels", 0, 0)
        write_open_objects(s3, bucket, written, open_objects, source)
        wait_for_quiet(data / "logs" / "FeedbackTriggerFunction.log")
        written += open_objects
        prepare(f"{open_objects:,} objects not compacted", written, open_objects)
        compacted = run_function(moto_url, "CompactFeedbackFunction", "bench-compact", data)
        extra["compaction"] = compacted | {"objects_per_second": compacted["rows"] / compacted["seconds"]}
        first_day = (datetime.now(UTC) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
        days = 0
        for count in sorted(c for c in counts if c > 0):
            if count > written:
                before = first_day - timedelta(days=days)
                days += write_sealed_days(s3, bucket, written, count - written, first_day=before, source=source)
                written = count
            prepare(f"{count:,} labels", count, 0)
    return measures, extra


def report(measures: list[Measure], extra: dict[str, Any]) -> tuple[list[Row], dict[str, Any]]:
    timeout, memory = function_limits("PrepareDatasetFunction")
    rows: list[Row] = []
    for taken in measures:
        lambda_s = taken.lambda_seconds(memory)
        rows.append(
            Row(
                f"prepare, {taken.name}",
                f"≤ {WELL_INSIDE * timeout:.0f} s on Lambda, ≤ {WELL_INSIDE * memory:.0f} MB",
                f"{taken.seconds:.1f} s here ({taken.cpu_seconds:.1f} s CPU; about {lambda_s:.1f} s on Lambda), "
                f"{taken.peak_mb:.0f} MB",
                at_most(lambda_s, WELL_INSIDE * timeout) and at_most(taken.peak_mb, WELL_INSIDE * memory),
            )
        )
    labelled = sorted((m for m in measures if m.open_objects == 0), key=lambda m: m.labels)
    small, large = labelled[-2], labelled[-1]
    per_label_s = (large.lambda_seconds(memory) - small.lambda_seconds(memory)) / (large.labels - small.labels)
    per_label_mb = (large.peak_mb - small.peak_mb) / (large.labels - small.labels)
    base = labelled[0]
    most_by_time = (timeout - base.lambda_seconds(memory)) / per_label_s
    most_by_memory = (memory - base.peak_mb) / per_label_mb if per_label_mb > 0 else float("inf")
    most_labels = int(min(most_by_time, most_by_memory))
    opened = next(m for m in measures if m.open_objects)
    per_object_s = (opened.lambda_seconds(memory) - base.lambda_seconds(memory)) / opened.open_objects
    most_open = int((timeout - base.lambda_seconds(memory)) / per_object_s)
    compaction = extra["compaction"]
    rows += [
        Row("compactor: objects compacted a second", "—", number(compaction["objects_per_second"], 0)),
        Row(
            f"largest number of labels the defaults take ({timeout} s, {memory} MB)",
            "—",
            f"{most_labels:,} ({'memory' if most_by_memory < most_by_time else 'time'} runs out first: "
            f"{per_label_s * 1e6:.1f} µs and {per_label_mb * 1024:.2f} KB a label)",
        ),
        Row(
            "largest number of objects not yet compacted a run can read",
            "—",
            f"{most_open:,} ({per_object_s * 1e3:.2f} ms an object)",
        ),
    ]
    figures = {
        "timeout_s": timeout,
        "memory_mb": memory,
        "per_label_s": per_label_s,
        "per_label_mb": per_label_mb,
        "most_labels": most_labels,
        "per_open_object_s": per_object_s,
        "most_open_objects": most_open,
        "compaction": compaction,
    }
    return rows, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="0,10000,100000,1000000")
    parser.add_argument("--open", type=int, default=2000, help="objects of today, not compacted, for step 2")
    parser.add_argument("--child", nargs=2, metavar=("FUNCTION", "RUN_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    counts = [int(count) for count in args.counts.split(",")]
    if args.open not in counts:  # the open objects, compacted, are the first count above zero
        counts.append(args.open)
    measures, extra = measure(counts, args.open)
    rows, figures = report(measures, extra)
    table = markdown_table(rows)
    text = f"{table}\n\n{machine_line(machine())}; CPU flags: {cpu_flags()}\n"
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "prepare.md").write_text(text)
    results = {
        "machine": machine() | {"flags": cpu_flags()},
        "measures": [asdict(m) for m in measures],
        "figures": figures,
    }
    (OUT / "prepare.json").write_text(json.dumps(results, indent=2))
    return 0 if all(row.passed is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
