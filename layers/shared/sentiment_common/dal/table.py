"""One DynamoDB table, as the stores use it: the one home of the condition and retry handling.

A failed condition is an answer, not an error: ``put_once``, ``update`` and ``transact`` return
False for it (nothing was written) and let every other error through. Errors worth a retry become
:class:`~sentiment_common.errors.ServiceUnavailableError`, named after ``what`` the table holds.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3
from botocore.exceptions import ClientError

from sentiment_common.dal.transient import unavailable_when_transient

Item = dict[str, Any]


def failed_condition(error: ClientError) -> bool:
    """A conditional write or a transaction refused because a condition did not hold."""
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons", [])
        return any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons) or not reasons
    return False


def query_all(table: Any, **query: Any) -> list[Item]:
    """Every item a query matches, page after page (for item sets that stay small)."""
    items: list[Item] = []
    while True:
        page = table.query(**query)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class Table:
    def __init__(self, name: str, what: str) -> None:
        self.name = name
        self._what = what

    @cached_property
    def _table(self) -> Any:
        return boto3.resource("dynamodb").Table(self.name)

    def get(self, pk: str, sk: str) -> Item | None:
        """The item, read consistently; None when there is none."""
        with unavailable_when_transient(self._what):
            item: Item | None = self._table.get_item(Key={"pk": pk, "sk": sk}, ConsistentRead=True).get("Item")
        return item

    def delete(self, pk: str, sk: str) -> Item | None:
        """Delete the item; returns it as it was, None when there was none."""
        with unavailable_when_transient(self._what):
            old: Item | None = self._table.delete_item(Key={"pk": pk, "sk": sk}, ReturnValues="ALL_OLD").get(
                "Attributes"
            )
        return old

    def put_once(self, item: Item) -> bool:
        """Write a new item; False if one with its key exists (a retried step)."""
        return self._conditional(
            lambda: self._table.put_item(Item=item, ConditionExpression="attribute_not_exists(sk)")
        )

    def update(self, **update: Any) -> bool:
        """``UpdateItem`` with the given arguments; False if its condition failed."""
        return self._conditional(lambda: self._table.update_item(**update))

    def transact(self, items: list[Item]) -> bool:
        """All the writes or none; False if a condition failed."""
        return self._conditional(lambda: self.write_all(items))

    def write_all(self, items: list[Item]) -> None:
        """All the writes or none; a failed condition is an error here."""
        with unavailable_when_transient(self._what):
            self._table.meta.client.transact_write_items(TransactItems=items)

    def query(self, **query: Any) -> dict[str, Any]:
        """One page of a query."""
        with unavailable_when_transient(self._what):
            page: dict[str, Any] = self._table.query(**query)
        return page

    def query_all(self, **query: Any) -> list[Item]:
        with unavailable_when_transient(self._what):
            return query_all(self._table, **query)

    def _conditional(self, write: Any) -> bool:
        try:
            with unavailable_when_transient(self._what):
                write()
        except ClientError as error:
            if failed_condition(error):
                return False
            raise
        return True
