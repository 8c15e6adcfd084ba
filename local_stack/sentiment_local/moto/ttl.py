"""DynamoDB's time to live, which moto records (``UpdateTimeToLive``) but never carries out: a sweep that
deletes the items of each table whose TTL attribute has passed, as DynamoDB's background process does.

DynamoDB's rules, as the local sweep keeps them (DynamoDB developer guide, "How it works: time to live":
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html, and "Working with
expired items": https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ttl-expired-items.html):
the attribute holds a Number, epoch seconds; an item without it, or with another type, never expires;
an item expires once that time is equal to or less than now, and is deleted some time later (typically
within a few days), not at once, so readers treat an expired item as gone themselves. The local sweep
runs once a minute, sooner than AWS deletes; the readers' own filtering is what the tests hold to.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sentiment_local.runtime.background import Background

log = logging.getLogger(__name__)

SWEEP_SECONDS = 60.0


def ttl_attribute(dynamodb: Any, table: str) -> str | None:
    """The table's TTL attribute, if TTL is enabled on it."""
    description = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    if description.get("TimeToLiveStatus") not in {"ENABLED", "ENABLING"}:
        return None
    return str(description["AttributeName"])


def sweep(dynamodb: Any, table: str, attribute: str, now: float) -> int:
    """Delete ``table``'s items whose ``attribute`` has passed; returns how many were deleted."""
    keys = [key["AttributeName"] for key in dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]]
    scan: dict[str, Any] = {
        "TableName": table,
        # An attribute of another type than Number never expires.
        "FilterExpression": "attribute_type(#ttl, :number) AND #ttl <= :now",
        "ExpressionAttributeNames": {"#ttl": attribute},
        "ExpressionAttributeValues": {":number": {"S": "N"}, ":now": {"N": str(int(now))}},
    }
    deleted = 0
    while True:
        page = dynamodb.scan(**scan)
        for item in page["Items"]:
            dynamodb.delete_item(TableName=table, Key={key: item[key] for key in keys})
            deleted += 1
        if "LastEvaluatedKey" not in page:
            return deleted
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class TtlSweeper(Background):
    """Every ``seconds``, each of ``tables`` (names) with TTL enabled is swept."""

    def __init__(
        self, dynamodb: Any, tables: list[str], seconds: float = SWEEP_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__("dynamodb-ttl", every=seconds)
        self._dynamodb = dynamodb
        self._tables = tables
        self._clock = clock

    def sweep_once(self) -> int:
        deleted = 0
        for table in self._tables:
            attribute = ttl_attribute(self._dynamodb, table)
            if attribute is not None:
                deleted += sweep(self._dynamodb, table, attribute, self._clock())
        return deleted

    def step(self) -> None:
        if deleted := self.sweep_once():
            log.info("time to live: %d expired items deleted", deleted)

    def failure(self) -> str:
        return "time to live sweep failed"  # the next sweep tries again, as DynamoDB's background process would
