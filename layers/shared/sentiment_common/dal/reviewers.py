"""The reviewers, in the registry table (admin-owned items, like the models; see ``registry_items``).

Item layout (``pk``, ``sk``):
- ``REVIEWER``     / name    the reviewer: the digest of their current key, created, revoked, withdrawn
- ``REVIEWER_KEY`` / digest  an active key: the reviewer's name. The reviewer authorizer reads this one
  item (GetItem, consistent) per call; revoking deletes it, so a revoked key finds nothing at once.

Creating and revoking write both items in one transaction, so a key item never outlives its reviewer's
revocation and never exists without its reviewer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from sentiment_common.dal.registry_items import registry_table
from sentiment_common.dal.table import Item
from sentiment_common.errors import ConflictError, NotFoundError
from sentiment_common.reviewers import Reviewer

REVIEWER, REVIEWER_KEY = "REVIEWER", "REVIEWER_KEY"


def _reviewer_from(item: Item) -> Reviewer:
    return Reviewer.model_validate({k: v for k, v in item.items() if k not in {"pk", "sk", "key_sha256"}})


class DynamoDbReviewers:
    def __init__(self, table_name: str) -> None:
        self._table = registry_table(table_name)

    def create(self, name: str, key_sha256: str, at: datetime) -> Reviewer:
        reviewer = Reviewer(name=name, created_at=at)
        table = self._table.name
        written = self._table.transact(
            [
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": REVIEWER, "sk": name, "key_sha256": key_sha256}
                        | reviewer.model_dump(mode="json", exclude_none=True),
                        # A revoked name may be given a new key; an active or withdrawn one may not.
                        "ConditionExpression": "attribute_not_exists(pk) OR "
                        "(attribute_exists(revoked_at) AND attribute_not_exists(withdrawn_at))",
                    }
                },
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": REVIEWER_KEY, "sk": key_sha256, "name": name},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
        if not written:
            raise ConflictError(
                f"a reviewer named {name!r} is active or was withdrawn; revoke them first, or choose another name"
            )
        return reviewer

    def get(self, name: str) -> Reviewer:
        return _reviewer_from(self._item(name))

    def list(self) -> list[Reviewer]:
        """An admin's reviewers: dozens, not millions, so one query (paged through) is enough."""
        items = self._table.query_all(KeyConditionExpression=Key("pk").eq(REVIEWER))
        return sorted((_reviewer_from(item) for item in items), key=lambda reviewer: reviewer.name)

    def revoke(self, name: str, at: datetime) -> Reviewer:
        item = self._item(name)
        if "revoked_at" in item:
            return _reviewer_from(item)
        table = self._table.name
        revoked = self._table.transact(
            [
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": REVIEWER, "sk": name},
                        "UpdateExpression": "SET revoked_at = :at",
                        "ConditionExpression": "key_sha256 = :key AND attribute_not_exists(revoked_at)",
                        "ExpressionAttributeValues": {":at": at.isoformat(), ":key": item["key_sha256"]},
                    }
                },
                {"Delete": {"TableName": table, "Key": {"pk": REVIEWER_KEY, "sk": item["key_sha256"]}}},
            ]
        )
        if not revoked:  # revoked (or re-created) meanwhile: what is stored now is the answer
            return self.get(name)
        return _reviewer_from(item | {"revoked_at": at.isoformat()})

    def withdraw(self, name: str, at: datetime) -> Reviewer:
        self.revoke(name, at)
        self._table.update(
            Key={"pk": REVIEWER, "sk": name},
            UpdateExpression="SET withdrawn_at = if_not_exists(withdrawn_at, :at)",
            ConditionExpression=Attr("pk").exists(),
            ExpressionAttributeValues={":at": at.isoformat()},
        )
        return self.get(name)

    def reviewer_for(self, key_sha256: str) -> str | None:
        item = self._table.get(REVIEWER_KEY, key_sha256)
        return None if item is None else str(item["name"])

    def withdrawn(self) -> set[str]:
        items = self._table.query_all(
            KeyConditionExpression=Key("pk").eq(REVIEWER), FilterExpression=Attr("withdrawn_at").exists()
        )
        return {str(item["sk"]) for item in items}

    def _item(self, name: str) -> dict[str, Any]:
        item = self._table.get(REVIEWER, name)
        if item is None:
            raise NotFoundError(f"no reviewer named {name!r}")
        return item
