"""The pipeline's state in the registry table (see ``registry_items``): the feedback counted since the
last run, the run generation, the run slot, and the markers of the feedback objects already counted.

Counting an object (its marker and the count) and taking the run slot (with the run's item) are each
one transaction, so a crash between two writes cannot leave half a change.
"""

from __future__ import annotations

import time

from sentiment_common.dal.registry_items import FEEDBACK, PIPELINE, RUN, STATE, registry_table, run_item
from sentiment_common.records import utc_now
from sentiment_common.registry import HeldBack, PipelineState, RunRequest, TrainingRun, claimed_run

SEEN_FOR_SECONDS = 30 * 24 * 3600
STATE_KEY = {"pk": PIPELINE, "sk": STATE}


class DynamoDbPipelineStateStore:
    def __init__(self, table_name: str) -> None:
        self._table = registry_table(table_name)

    def state(self) -> PipelineState:
        item = self._table.get(PIPELINE, STATE) or {}
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
        self._table.update(
            Key=STATE_KEY,
            UpdateExpression="SET held_back = :held",
            ExpressionAttributeValues={":held": held.model_dump_json()},
        )

    def count_feedback(self, key: str, *, malformed: bool = False) -> bool:
        """Count one feedback object, once: the object's marker and the count change together.
        False for an object already counted (a duplicated or replayed notification)."""
        counter = "malformed_feedback" if malformed else "pending_feedback"
        name = self._table.name
        return self._table.transact(
            [
                {
                    "Put": {
                        "TableName": name,
                        "Item": {"pk": FEEDBACK, "sk": key, "expires_at": int(time.time()) + SEEN_FOR_SECONDS},
                        "ConditionExpression": "attribute_not_exists(sk)",
                    }
                },
                {
                    "Update": {
                        "TableName": name,
                        "Key": STATE_KEY,
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
        run = claimed_run(generation, request, utc_now())
        name = self._table.name
        claimed = self._table.transact(
            [
                {
                    "Update": {
                        "TableName": name,
                        "Key": STATE_KEY,
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
                        "TableName": name,
                        "Item": run_item(run),
                        "ConditionExpression": "attribute_not_exists(sk)",
                    }
                },
            ]
        )
        return run if claimed else None

    def mark_started(self, run_id: str, execution_arn: str) -> None:
        name = self._table.name
        self._table.write_all(
            [
                {
                    "Update": {
                        "TableName": name,
                        "Key": STATE_KEY,
                        "UpdateExpression": "SET active_started = :yes",
                        "ConditionExpression": "active_run = :run",
                        "ExpressionAttributeValues": {":yes": True, ":run": run_id},
                    }
                },
                {
                    "Update": {
                        "TableName": name,
                        "Key": {"pk": RUN, "sk": run_id},
                        "UpdateExpression": "SET execution_arn = :arn",
                        "ExpressionAttributeValues": {":arn": execution_arn},
                    }
                },
            ]
        )

    def release(self, run_id: str) -> None:
        """Free the run slot if ``run_id`` holds it."""
        self._table.update(
            Key=STATE_KEY,
            UpdateExpression="REMOVE active_run, active_started",
            ConditionExpression="active_run = :run",
            ExpressionAttributeValues={":run": run_id},
        )
