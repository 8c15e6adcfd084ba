"""Prepare a run's dataset: the base and golden data, the feedback labels that train (``logic.trust``:
the policy on public labels, reviewers first, the latest label per comment), the champion to compare
with, and a manifest of it all with counts (per source, and of what was dropped and why) and SHA-256.
Feedback is read as ``logic/labels.py`` describes: compacted days in a few parts, the rest object by
object, in parallel.

Layout written for the training job (its channels)::

    data/base/*.csv, data/golden/*.csv          train     (uploaded once; golden is never trained on)
    training-runs/<run>/feedback/feedback.jsonl  feedback  (one object per line)
    training-runs/<run>/champion/model.tar.gz    champion  (or a note that there is none)
    training-runs/<run>/manifest.json

When datasets are ACTIVE (``sentiment_common.datasets``), the run's train channel is its own instead:
``training-runs/<run>/train/`` holds copies of ``data/base`` and ``data/golden`` and, in ``base/``, one
``dataset-<name>.csv`` per dataset. The training job reads every ``base/*.csv`` as base data, so a
dataset's rows train as base rows of their own source: weight 1 (a feedback label weighs 3: one person's
deliberate correction, where a file is a bulk of rows nobody reviewed one by one), teaching both experts
as feedback does (a source that is neither reviews nor tweets), never the golden split or the feedback
hold-out the gate judges on. A dataset row whose text (folded) is in the golden split is left out, so an
upload cannot make the candidate look better on the very texts it is judged by.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import Any

from pipeline_function.errors import NoBaseDataError
from pipeline_function.logic.labels import READERS, read_feedback, sha256
from pipeline_function.logic.trust import Dropped, fold, ranked_labels, refusal
from pipeline_function.ports import DataStore
from pipeline_function.steps import PreparedDataset, PrepareInput
from sentiment_common.datasets import Dataset, rows_key
from sentiment_common.observability import count, logger
from sentiment_common.ports import Datasets, ModelRegistry, RunLedger, WithdrawnReviewers
from sentiment_common.records import LABELS, LabelSource, PublicLabels, utc_now
from sentiment_common.registry import RunStatus, TrainingRun

DATA_PREFIX = "data/"
RUNS_PREFIX = "training-runs/"
JOBS_PREFIX = "training-jobs/"
MALFORMED_KEYS_LISTED = 20


def _csv_rows(data: bytes) -> list[list[str]]:
    """A labelled CSV's data rows (after its header)."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline="")))
    return [row for row in rows[1:] if row]


def _csv_manifest(store: DataStore, split: str) -> tuple[dict[str, Any], int]:
    """Each CSV of the split (bytes, SHA-256) and how many data rows they hold in all."""
    files, rows = {}, 0
    for key in sorted(store.keys(f"{DATA_PREFIX}{split}/")):
        if key.endswith(".csv"):
            data = store.read(key)
            files[key[len(DATA_PREFIX) :]] = {"bytes": len(data), "sha256": sha256(data)}
            rows += len(_csv_rows(data))
    if not files:
        raise NoBaseDataError(
            f"s3://{store.bucket}/{DATA_PREFIX}{split}/ holds no CSV file; upload the training data "
            "(make upload-data) before retraining"
        )
    return files, rows


def _golden_texts(store: DataStore, golden: dict[str, Any]) -> set[str]:
    texts: set[str] = set()
    for name in golden:
        rows = list(csv.DictReader(io.StringIO(store.read(f"{DATA_PREFIX}{name}").decode(), newline="")))
        texts.update(fold(row["text"]) for row in rows if row.get("text"))
    return texts


def _dataset_channel(
    store: DataStore, active: list[Dataset], base: dict[str, Any], golden: dict[str, Any], run_prefix: str
) -> tuple[str, dict[str, dict[str, Any]]]:
    """The run's own train channel: base and golden as they are, plus each dataset's rows (those not in the
    golden split). Returns its prefix and what each dataset gave (rows, rows left out, SHA-256)."""
    channel = f"{run_prefix}train/"
    for name in (*base, *golden):
        store.copy(f"{DATA_PREFIX}{name}", f"{channel}{name}")
    judged_on = _golden_texts(store, golden)
    given: dict[str, dict[str, Any]] = {}
    for dataset in active:
        data = store.read(rows_key(dataset.name))
        if sha256(data) != dataset.rows_sha256:
            logger.warning("dataset left out: its rows are not those imported", extra={"dataset": dataset.name})
            given[dataset.name] = {"rows": 0, "left_out": "its rows object does not match the import's SHA-256"}
            continue
        rows = _csv_rows(data)
        kept = [row for row in rows if fold(row[0]) not in judged_on]
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("text", "label"))
        writer.writerows(kept)
        body = out.getvalue().encode()
        store.write(f"{channel}base/dataset-{dataset.name}.csv", body, "text/csv")
        given[dataset.name] = {
            "rows": len(kept),
            "golden_overlap_excluded": len(rows) - len(kept),
            "imported_at": dataset.imported_at.isoformat() if dataset.imported_at else None,
            "sha256": sha256(body),
        }
    return channel, given


def prepare(
    request: PrepareInput,
    runs: RunLedger,
    models: ModelRegistry,
    store: DataStore,
    now: datetime | None = None,
    *,
    public_labels: PublicLabels,
    withdrawals: WithdrawnReviewers,
    datasets: Datasets,
) -> PreparedDataset:
    now = now or utc_now()
    run_id = request.run_id
    # A run started from the console or CLI has no record yet.
    runs.create_run(
        TrainingRun(
            run_id=run_id,
            status=RunStatus.RUNNING,
            trigger=request.request.trigger,
            started_at=now,
            execution_arn=request.execution_arn,
        )
    )
    (base, base_rows), (golden, _) = _csv_manifest(store, "base"), _csv_manifest(store, "golden")

    with ThreadPoolExecutor(max_workers=READERS) as pool:
        feedback = read_feedback(
            store, pool, admit=partial(refusal, policy=public_labels, withdrawn=withdrawals.withdrawn())
        )
    malformed, objects = feedback.malformed, feedback.objects
    # The fold refused what cannot train and kept the latest label per item *and labeller*, so ranking
    # still sees a reviewer's label under a later public one.
    kept, dropped = ranked_labels(feedback.labels.kept())
    dropped.update(feedback.labels.refused)
    dropped[Dropped.SUPERSEDED] += feedback.labels.superseded
    superseded = dropped[Dropped.SUPERSEDED]
    labels = Counter(record.label for record in kept)
    sources = Counter(record.source for record in kept)
    lines = bytearray()  # grown in place: a million rows are a few hundred MB, not held twice while joined
    for record in kept:
        lines += record.model_dump_json().encode()
        lines += b"\n"
    run_prefix = f"{RUNS_PREFIX}{run_id}/"
    store.write(f"{run_prefix}feedback/feedback.jsonl", lines, "application/x-ndjson")

    active = datasets.active()
    train_prefix, given = DATA_PREFIX, dict[str, dict[str, Any]]()
    if active:
        train_prefix, given = _dataset_channel(store, active, base, golden, run_prefix)
    training_rows = base_rows + sum(entry["rows"] for entry in given.values()) + len(kept)
    for entry in given.values():
        entry["share"] = round(entry["rows"] / training_rows, 6) if training_rows else 0.0

    champion = models.champion()
    if champion is not None:
        store.copy(store.key_of(champion.model_data_url), f"{run_prefix}champion/model.tar.gz")
    else:
        store.write(f"{run_prefix}champion/NONE.txt", b"no champion to compare with\n", "text/plain")

    manifest = {
        "run_id": run_id,
        "created_at": now.isoformat(),
        "base": base,
        "golden": golden,
        "feedback": {
            "objects": objects,
            "malformed": len(malformed),
            "malformed_keys": malformed[:MALFORMED_KEYS_LISTED],
            "superseded": superseded,
            "public_labels": public_labels.value,
            "sources": {source.value: sources[source] for source in LabelSource},
            "dropped": {reason.value: dropped[reason] for reason in Dropped},
            "rows": len(kept),
            "labels": {label: labels[label] for label in LABELS},
            "sha256": sha256(lines),
        },
        "datasets": given,
        "training_rows": training_rows,
        "champion": {"version": champion.version, "sha256": champion.sha256} if champion else None,
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True).encode()
    store.write(f"{run_prefix}manifest.json", manifest_bytes, "application/json")
    if malformed:
        count("MalformedFeedbackSkipped")

    version = f"{now:%Y%m%d-%H%M%S}-{run_id}"
    dataset = PreparedDataset(
        candidate_version=version,
        training_job_name=f"sentiment-{version}",
        train_uri=store.uri(train_prefix),
        feedback_uri=store.uri(f"{run_prefix}feedback/"),
        champion_uri=store.uri(f"{run_prefix}champion/"),
        champion_version=champion.version if champion else None,
        champion_sha256=champion.sha256 if champion else "",
        output_uri=store.uri(JOBS_PREFIX),
        manifest_uri=store.uri(f"{run_prefix}manifest.json"),
        manifest_sha256=sha256(manifest_bytes),
        feedback_rows=len(kept),
    )
    summary = {
        "feedback_rows": len(kept),
        "malformed": len(malformed),
        "superseded": superseded,
        "not_trained": sum(dropped.values()) - superseded,
        "datasets": {name: {"rows": entry["rows"], "share": entry["share"]} for name, entry in given.items()},
    }
    runs.update_run(run_id, candidate_version=version)
    runs.add_step(run_id, "prepare", summary | {"manifest": dataset.manifest_uri})
    read = {"parts": feedback.parts, "objects_read_one_by_one": feedback.objects_read_one_by_one}
    logger.info("dataset prepared", extra={"run_id": run_id, **summary, **read})
    return dataset
