"""The registry table: models, the champion, training runs and the feedback count, in one table.

Item layout (``pk``, ``sk``):
- ``MODEL``    / version   a registered model; metrics and dataset as JSON text
- ``CHAMPION`` / ``CURRENT`` which model the service answers with
- ``RUN``      / run_id    a retraining run (run ids sort by age, so a reverse query is newest first)
- ``PIPELINE`` / ``STATE`` feedback counted since the last run, the run generation, the active run
- ``FEEDBACK`` / S3 key    a feedback object already counted (expires after 30 days)

Every change that must not half-happen (counting an object, promoting a model) is one transaction
or one conditional update.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from functools import cached_property
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from sentiment_common.dal.comments import decode_token, encode_token
from sentiment_common.dal.transient import unavailable_when_transient
from sentiment_common.errors import ConflictError, NotFoundError
from sentiment_common.models import utc_now
from sentiment_common.registry import (
    Champion,
    Decision,
    HeldBack,
    ModelRecord,
    ModelStatus,
    PipelineState,
    RunRequest,
    RunStatus,
    RunStep,
    TrainingRun,
    model_kind,
    run_id_of,
)

MODEL, CHAMPION, RUN, PIPELINE, FEEDBACK = "MODEL", "CHAMPION", "RUN", "PIPELINE", "FEEDBACK"
CURRENT, STATE = "CURRENT", "STATE"
SEEN_FOR_SECONDS = 30 * 24 * 3600
_JSON_FIELDS = ("metrics", "champion_metrics", "reasons", "dataset", "baseline")


def _failed_condition(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons", [])
        return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons) or not reasons
    return False


def _model_item(record: ModelRecord) -> dict[str, Any]:
    data = record.model_dump(mode="json")
    item = {"pk": MODEL, "sk": record.version} | {
        key: json.dumps(value) if key in _JSON_FIELDS else value for key, value in data.items() if value is not None
    }
    return item


def _model_from(item: dict[str, Any]) -> ModelRecord:
    data = {key: json.loads(value) if key in _JSON_FIELDS else value for key, value in item.items()}
    return ModelRecord.model_validate({key: value for key, value in data.items() if key not in {"pk", "sk"}})


def _run_item(run: TrainingRun) -> dict[str, Any]:
    data = run.model_dump(mode="json")
    steps = [json.dumps(step) for step in data.pop("steps")]
    item = {"pk": RUN, "sk": run.run_id, "steps": steps} | {
        key: json.dumps(value) if key in _JSON_FIELDS else value for key, value in data.items() if value is not None
    }
    return item


def _run_from(item: dict[str, Any]) -> TrainingRun:
    data = {key: json.loads(value) if key in _JSON_FIELDS else value for key, value in item.items()}
    data["steps"] = [RunStep.model_validate_json(step) for step in item.get("steps", [])]
    for number in ("feedback_count",):
        if number in data:
            data[number] = int(data[number])
    return TrainingRun.model_validate({key: value for key, value in data.items() if key not in {"pk", "sk"}})


class Registry:
    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    @cached_property
    def _table(self) -> Any:
        return boto3.resource("dynamodb").Table(self._table_name)

    @property
    def _client(self) -> Any:
        return self._table.meta.client

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        with unavailable_when_transient("the registry"):
            item: dict[str, Any] | None = self._table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get(
                "Item"
            )
        return item

    def _transact(self, items: list[dict[str, Any]]) -> bool:
        """False when a condition failed (nothing was written)."""
        try:
            with unavailable_when_transient("the registry"):
                self._client.transact_write_items(TransactItems=items)
        except ClientError as error:
            if _failed_condition(error):
                return False
            raise
        return True

    # ---- models and the champion ----

    def champion(self) -> Champion | None:
        item = self._get(CHAMPION, CURRENT)
        return (
            None if item is None else Champion.model_validate({k: v for k, v in item.items() if k not in {"pk", "sk"}})
        )

    def get_model(self, version: str) -> ModelRecord:
        item = self._get(MODEL, version)
        if item is None:
            raise NotFoundError(f"no model with version {version!r}")
        return _model_from(item)

    def list_models(self) -> list[ModelRecord]:
        """Newest first. The registry holds one item per trained model: a handful, not millions."""
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(MODEL)}
        while True:
            with unavailable_when_transient("the registry"):
                page = self._table.query(**query)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted((_model_from(item) for item in items), key=lambda model: model.created_at, reverse=True)

    def put_model(self, record: ModelRecord) -> bool:
        """Register a model once. False if that version is already registered (a retried step)."""
        try:
            with unavailable_when_transient("the registry"):
                self._table.put_item(Item=_model_item(record), ConditionExpression="attribute_not_exists(sk)")
        except ClientError as error:
            if _failed_condition(error):
                return False
            raise
        return True

    def ensure_champion(self, version: str, model_data_url: str, sha256: str, metadata: dict[str, Any]) -> bool:
        """Register a first model as champion when there is none yet. False if there already is one."""
        if self.champion() is not None:
            return False
        now = utc_now()
        kind, encoder = model_kind(metadata)
        record = ModelRecord(
            version=version,
            kind=kind,
            encoder=encoder,
            status=ModelStatus.CHAMPION,
            metrics=metadata.get("metrics", {}),
            dataset=metadata.get("dataset", {}),
            baseline=metadata.get("baseline"),
            created_at=datetime.fromisoformat(metadata["created_at"]) if "created_at" in metadata else now,
            training_run=None,
            model_data_url=model_data_url,
            sha256=sha256,
            promoted_at=now,
            reasons=["the first model"],
        )
        champion = Champion(version=version, model_data_url=model_data_url, sha256=sha256, promoted_at=now)
        return self._transact(
            [
                {"Put": {"TableName": self._table_name, "Item": _model_item(record)}},
                {
                    "Put": {
                        "TableName": self._table_name,
                        "Item": {"pk": CHAMPION, "sk": CURRENT, **champion.model_dump(mode="json", exclude_none=True)},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    def promote(self, version: str) -> Champion:
        """Make ``version`` the champion, the old one retired, in one transaction. Promoting the
        champion again changes nothing (a retried step)."""
        model = self.get_model(version)
        current = self.champion()
        if current is not None and current.version == version:
            return current
        now = utc_now()
        champion = Champion(
            version=version,
            model_data_url=model.model_data_url,
            sha256=model.sha256,
            promoted_at=now,
            previous_version=current.version if current else None,
        )
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table_name,
                    "Item": {"pk": CHAMPION, "sk": CURRENT, **champion.model_dump(mode="json", exclude_none=True)},
                    "ConditionExpression": "attribute_not_exists(pk) OR version = :previous",
                    "ExpressionAttributeValues": {":previous": current.version if current else ""},
                }
            },
            {
                "Update": {
                    "TableName": self._table_name,
                    "Key": {"pk": MODEL, "sk": version},
                    "UpdateExpression": "SET #status = :champion, promoted_at = :now",
                    "ConditionExpression": "attribute_exists(sk)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":champion": ModelStatus.CHAMPION.value, ":now": now.isoformat()},
                }
            },
        ]
        if current is not None:
            items.append(
                {
                    "Update": {
                        "TableName": self._table_name,
                        "Key": {"pk": MODEL, "sk": current.version},
                        "UpdateExpression": "SET #status = :retired",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":retired": ModelStatus.RETIRED.value},
                    }
                }
            )
        if not self._transact(items):
            raise ConflictError("the champion changed while promoting; try again")
        return champion

    # ---- runs ----

    def create_run(self, run: TrainingRun) -> bool:
        """False if the run is already recorded."""
        try:
            with unavailable_when_transient("the registry"):
                self._table.put_item(Item=_run_item(run), ConditionExpression="attribute_not_exists(sk)")
        except ClientError as error:
            if _failed_condition(error):
                return False
            raise
        return True

    def get_run(self, run_id: str) -> TrainingRun:
        item = self._get(RUN, run_id)
        if item is None:
            raise NotFoundError(f"no training run {run_id!r}")
        return _run_from(item)

    def list_runs(self, limit: int, token: str | None) -> tuple[list[TrainingRun], str | None]:
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(RUN),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if token:
            query["ExclusiveStartKey"] = decode_token(token, {"pk", "sk"})
        with unavailable_when_transient("the registry"):
            page = self._table.query(**query)
        last = page.get("LastEvaluatedKey")
        return [_run_from(item) for item in page["Items"]], encode_token(last) if last else None

    def add_step(self, run_id: str, step: str, detail: dict[str, Any]) -> None:
        entry = RunStep(step=step, finished_at=utc_now(), detail=detail).model_dump_json()
        try:
            with unavailable_when_transient("the registry"):
                self._table.update_item(
                    Key={"pk": RUN, "sk": run_id},
                    UpdateExpression="SET steps = list_append(if_not_exists(steps, :none), :step)",
                    ConditionExpression="attribute_exists(sk)",
                    ExpressionAttributeValues={":none": [], ":step": [entry]},
                )
        except ClientError as error:
            if not _failed_condition(error):
                raise
            raise NotFoundError(f"no training run {run_id!r}") from error

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set fields of a run (``candidate_version``, ``dataset``…), JSON fields encoded."""
        values = {name: json.dumps(value) if name in _JSON_FIELDS else value for name, value in fields.items()}
        try:
            with unavailable_when_transient("the registry"):
                self._table.update_item(
                    Key={"pk": RUN, "sk": run_id},
                    UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in values),
                    ConditionExpression="attribute_exists(sk)",
                    ExpressionAttributeNames={f"#{name}": name for name in values},
                    ExpressionAttributeValues={f":{name}": value for name, value in values.items()},
                )
        except ClientError as error:
            if not _failed_condition(error):
                raise
            raise NotFoundError(f"no training run {run_id!r}") from error

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        *,
        decision: Decision | None = None,
        candidate_version: str | None = None,
        metrics: dict[str, Any] | None = None,
        reasons: list[str] | None = None,
        error: str | None = None,
    ) -> bool:
        """Record the outcome and free the run slot. False if it was already recorded, or there is no
        such run (nothing is written then: a run item is whole or absent)."""
        fields: dict[str, Any] = {"status": status.value, "finished_at": utc_now().isoformat()}
        optional = {
            "decision": decision.value if decision else None,
            "candidate_version": candidate_version,
            "metrics": json.dumps(metrics) if metrics is not None else None,
            "reasons": json.dumps(reasons) if reasons is not None else None,
            "error": error,
        }
        fields |= {name: value for name, value in optional.items() if value is not None}
        finish = {
            "Update": {
                "TableName": self._table_name,
                "Key": {"pk": RUN, "sk": run_id},
                "UpdateExpression": "SET " + ", ".join(f"#{name} = :{name}" for name in fields),
                "ConditionExpression": "attribute_exists(sk) AND #status = :running",
                "ExpressionAttributeNames": {f"#{name}": name for name in fields},
                "ExpressionAttributeValues": {f":{name}": value for name, value in fields.items()}
                | {":running": RunStatus.RUNNING.value},
            }
        }
        if not self._transact([finish]):
            self.release(run_id)
            return False
        self.release(run_id)
        return True

    # ---- the feedback count and the run slot ----

    def state(self) -> PipelineState:
        item = self._get(PIPELINE, STATE) or {}
        return PipelineState(
            pending_feedback=int(item.get("pending_feedback", 0)),
            generation=int(item.get("generation", 0)),
            active_run=item.get("active_run"),
            active_started=bool(item.get("active_started", False)),
            malformed_feedback=int(item.get("malformed_feedback", 0)),
            held_back=HeldBack.model_validate_json(item["held_back"]) if item.get("held_back") else None,
        )

    def hold_back(self, held: HeldBack) -> None:
        """Record why a due run did not start (cleared when a run starts)."""
        with unavailable_when_transient("the registry"):
            self._table.update_item(
                Key={"pk": PIPELINE, "sk": STATE},
                UpdateExpression="SET held_back = :held",
                ExpressionAttributeValues={":held": held.model_dump_json()},
            )

    def count_feedback(self, key: str, *, malformed: bool = False) -> bool:
        """Count one feedback object, once: the object's marker and the count change together.
        False for an object already counted (a duplicated or replayed notification)."""
        counter = "malformed_feedback" if malformed else "pending_feedback"
        return self._transact(
            [
                {
                    "Put": {
                        "TableName": self._table_name,
                        "Item": {"pk": FEEDBACK, "sk": key, "expires_at": int(time.time()) + SEEN_FOR_SECONDS},
                        "ConditionExpression": "attribute_not_exists(sk)",
                    }
                },
                {
                    "Update": {
                        "TableName": self._table_name,
                        "Key": {"pk": PIPELINE, "sk": STATE},
                        "UpdateExpression": f"ADD {counter} :one",
                        "ExpressionAttributeValues": {":one": 1},
                    }
                },
            ]
        )

    def claim_run(self, state: PipelineState, request: RunRequest) -> TrainingRun | None:
        """Take the run slot for the next generation and record the run, in one transaction.

        ``None`` when another caller got there first (the generation moved or a run is active).
        The feedback the run will train on is subtracted from the count; what arrives meanwhile stays.
        """
        generation = state.generation + 1
        run = TrainingRun(
            run_id=run_id_of(generation),
            status=RunStatus.RUNNING,
            trigger=request.trigger,
            action=request.action,
            candidate_version=request.version,
            started_at=utc_now(),
            feedback_count=request.feedback_count,
            started_by_request=request.started_by_request,
        )
        claimed = self._transact(
            [
                {
                    "Update": {
                        "TableName": self._table_name,
                        "Key": {"pk": PIPELINE, "sk": STATE},
                        "UpdateExpression": "SET generation = :next, active_run = :run, active_started = :no "
                        "ADD pending_feedback :taken REMOVE held_back",
                        "ConditionExpression": "attribute_not_exists(active_run) AND "
                        "(attribute_not_exists(generation) OR generation = :current)",
                        "ExpressionAttributeValues": {
                            ":next": generation,
                            ":current": state.generation,
                            ":run": run.run_id,
                            ":no": False,
                            ":taken": -state.pending_feedback,
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": self._table_name,
                        "Item": _run_item(run),
                        "ConditionExpression": "attribute_not_exists(sk)",
                    }
                },
            ]
        )
        return run if claimed else None

    def mark_started(self, run_id: str, execution_arn: str) -> None:
        with unavailable_when_transient("the registry"):
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table_name,
                            "Key": {"pk": PIPELINE, "sk": STATE},
                            "UpdateExpression": "SET active_started = :yes",
                            "ConditionExpression": "active_run = :run",
                            "ExpressionAttributeValues": {":yes": True, ":run": run_id},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table_name,
                            "Key": {"pk": RUN, "sk": run_id},
                            "UpdateExpression": "SET execution_arn = :arn",
                            "ExpressionAttributeValues": {":arn": execution_arn},
                        }
                    },
                ]
            )

    def release(self, run_id: str) -> None:
        """Free the run slot if ``run_id`` holds it."""
        try:
            with unavailable_when_transient("the registry"):
                self._table.update_item(
                    Key={"pk": PIPELINE, "sk": STATE},
                    UpdateExpression="REMOVE active_run, active_started",
                    ConditionExpression="active_run = :run",
                    ExpressionAttributeValues={":run": run_id},
                )
        except ClientError as error:
            if not _failed_condition(error):
                raise
