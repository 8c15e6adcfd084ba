"""The registry table's item layout, shared by the three stores over it.

Item layout (``pk``, ``sk``):
- ``MODEL``    / version   a registered model; metrics and dataset as JSON text
- ``CHAMPION`` / ``CURRENT`` which model the service answers with
- ``RUN``      / run_id    a retraining run (run ids sort by age, so a reverse query is newest first)
- ``PIPELINE`` / ``STATE`` feedback counted since the last run, the run generation, the active run
- ``FEEDBACK`` / S3 key    a feedback object already counted (expires after 30 days)
- ``REVIEWER`` / name, ``REVIEWER_KEY`` / key digest: the reviewers and their active keys
  (:class:`~sentiment_common.dal.reviewers.DynamoDbReviewers`)

:class:`~sentiment_common.dal.model_registry.ModelRegistry` keeps the models and the champion,
:class:`~sentiment_common.dal.run_ledger.RunLedger` the runs, and
:class:`~sentiment_common.dal.pipeline_state.PipelineStateStore` the count, the run slot and the markers.
Taking the run slot writes a run's item in the same transaction, and finishing a run frees the slot,
so the run item's codec lives here, once.
"""

from __future__ import annotations

import json
from typing import Any

from sentiment_common.dal.table import Item, Table
from sentiment_common.registry import ModelRecord, RunStep, TrainingRun

MODEL, CHAMPION, RUN, PIPELINE, FEEDBACK = "MODEL", "CHAMPION", "RUN", "PIPELINE", "FEEDBACK"
CURRENT, STATE = "CURRENT", "STATE"
JSON_FIELDS = ("metrics", "champion_metrics", "reasons", "dataset", "baseline", "card")


def registry_table(table_name: str) -> Table:
    return Table(table_name, "the registry")


def encode(name: str, value: Any) -> Any:
    return json.dumps(value) if name in JSON_FIELDS else value


def model_item(record: ModelRecord) -> Item:
    data = record.model_dump(mode="json")
    return {"pk": MODEL, "sk": record.version} | {
        key: encode(key, value) for key, value in data.items() if value is not None
    }


def model_from(item: Item) -> ModelRecord:
    data = {key: json.loads(value) if key in JSON_FIELDS else value for key, value in item.items()}
    return ModelRecord.model_validate({key: value for key, value in data.items() if key not in {"pk", "sk"}})


def run_item(run: TrainingRun) -> Item:
    data = run.model_dump(mode="json")
    steps = [json.dumps(step) for step in data.pop("steps")]
    return {"pk": RUN, "sk": run.run_id, "steps": steps} | {
        key: encode(key, value) for key, value in data.items() if value is not None
    }


def run_from(item: Item) -> TrainingRun:
    data = {key: json.loads(value) if key in JSON_FIELDS else value for key, value in item.items()}
    data["steps"] = [RunStep.model_validate_json(step) for step in item.get("steps", [])]
    for number in ("feedback_count",):
        if number in data:
            data[number] = int(data[number])
    return TrainingRun.model_validate({key: value for key, value in data.items() if key not in {"pk", "sk"}})
