"""The retraining runs, in the registry table (see ``registry_items``): one item per run, newest first."""

from __future__ import annotations

from enum import Enum
from typing import Any, Unpack

from boto3.dynamodb.conditions import Key

from sentiment_common.dal.comments import decode_token, encode_token
from sentiment_common.dal.pipeline_state import DynamoDbPipelineStateStore
from sentiment_common.dal.registry_items import RUN, encode, registry_table, run_from, run_item
from sentiment_common.errors import NotFoundError
from sentiment_common.records import utc_now
from sentiment_common.registry import RunOutcome, RunStatus, RunStep, TrainingRun


class DynamoDbRunLedger:
    def __init__(self, table_name: str) -> None:
        self._table = registry_table(table_name)
        self._slot = DynamoDbPipelineStateStore(table_name)

    def create_run(self, run: TrainingRun) -> bool:
        """False if the run is already recorded."""
        return self._table.put_once(run_item(run))

    def get_run(self, run_id: str) -> TrainingRun:
        item = self._table.get(RUN, run_id)
        if item is None:
            raise NotFoundError(f"no training run {run_id!r}")
        return run_from(item)

    def list_runs(self, limit: int, token: str | None) -> tuple[list[TrainingRun], str | None]:
        query: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(RUN),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if token:
            query["ExclusiveStartKey"] = decode_token(token, {"pk", "sk"}, partition={"pk": RUN})
        page = self._table.query(**query)
        last = page.get("LastEvaluatedKey")
        return [run_from(item) for item in page["Items"]], encode_token(last) if last else None

    def add_step(self, run_id: str, step: str, detail: dict[str, Any]) -> None:
        entry = RunStep(step=step, finished_at=utc_now(), detail=detail).model_dump_json()
        self._update_existing(
            run_id,
            UpdateExpression="SET steps = list_append(if_not_exists(steps, :none), :step)",
            ExpressionAttributeValues={":none": [], ":step": [entry]},
        )

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set fields of a run (``candidate_version``, ``dataset``…), JSON fields encoded."""
        values = {name: encode(name, value) for name, value in fields.items()}
        self._update_existing(
            run_id,
            UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in values),
            ExpressionAttributeNames={f"#{name}": name for name in values},
            ExpressionAttributeValues={f":{name}": value for name, value in values.items()},
        )

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        **outcome: Unpack[RunOutcome],
    ) -> bool:
        """Record the outcome and free the run slot. False if it was already recorded, or there is no
        such run (nothing is written then: a run item is whole or absent)."""
        fields: dict[str, Any] = {"status": status.value, "finished_at": utc_now().isoformat()}
        recorded = {name: value for name, value in outcome.items() if value is not None}
        fields |= {
            name: value.value if isinstance(value, Enum) else encode(name, value) for name, value in recorded.items()
        }
        finish = {
            "Update": {
                "TableName": self._table.name,
                "Key": {"pk": RUN, "sk": run_id},
                "UpdateExpression": "SET " + ", ".join(f"#{name} = :{name}" for name in fields),
                "ConditionExpression": "attribute_exists(sk) AND #status = :running",
                "ExpressionAttributeNames": {f"#{name}": name for name in fields},
                "ExpressionAttributeValues": {f":{name}": value for name, value in fields.items()}
                | {":running": RunStatus.RUNNING.value},
            }
        }
        finished = self._table.transact([finish])
        self._slot.release(run_id)
        return finished

    def _update_existing(self, run_id: str, **update: Any) -> None:
        if not self._table.update(Key={"pk": RUN, "sk": run_id}, ConditionExpression="attribute_exists(sk)", **update):
            raise NotFoundError(f"no training run {run_id!r}")
