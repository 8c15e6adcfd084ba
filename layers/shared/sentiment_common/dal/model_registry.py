"""The registered models and the champion, in the registry table (see ``registry_items``).

Registering a first champion and promoting are each one transaction.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from sentiment_common.dal.registry_items import CHAMPION, CURRENT, MODEL, model_from, model_item, registry_table
from sentiment_common.errors import ConflictError, NotFoundError
from sentiment_common.records import utc_now
from sentiment_common.registry import Champion, ModelRecord, ModelStatus, first_champion, promoted


def _champion_item(champion: Champion) -> dict[str, Any]:
    return {"pk": CHAMPION, "sk": CURRENT, **champion.model_dump(mode="json", exclude_none=True)}


class DynamoDbModelRegistry:
    def __init__(self, table_name: str) -> None:
        self._table = registry_table(table_name)

    def champion(self) -> Champion | None:
        item = self._table.get(CHAMPION, CURRENT)
        return (
            None if item is None else Champion.model_validate({k: v for k, v in item.items() if k not in {"pk", "sk"}})
        )

    def get_model(self, version: str) -> ModelRecord:
        item = self._table.get(MODEL, version)
        if item is None:
            raise NotFoundError(f"no model with version {version!r}")
        return model_from(item)

    def list_models(self) -> list[ModelRecord]:
        """Newest first. The registry holds one item per trained model: a handful, not millions."""
        items = self._table.query_all(KeyConditionExpression=Key("pk").eq(MODEL))
        return sorted((model_from(item) for item in items), key=lambda model: model.created_at, reverse=True)

    def put_model(self, record: ModelRecord) -> bool:
        """Register a model once. False if that version is already registered (a retried step)."""
        return self._table.put_once(model_item(record))

    def ensure_champion(
        self, version: str, model_data_url: str, sha256: str, metadata: dict[str, Any], model_sha256: str | None = None
    ) -> bool:
        """Register a first model as champion when there is none yet. False if there already is one."""
        if self.champion() is not None:
            return False
        record, champion = first_champion(
            version, model_data_url, sha256, metadata, utc_now(), model_sha256=model_sha256
        )
        name = self._table.name
        return self._table.transact(
            [
                {"Put": {"TableName": name, "Item": model_item(record)}},
                {
                    "Put": {
                        "TableName": name,
                        "Item": _champion_item(champion),
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
        champion = promoted(model, current, now)
        name = self._table.name
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": name,
                    "Item": _champion_item(champion),
                    "ConditionExpression": "attribute_not_exists(pk) OR version = :previous",
                    "ExpressionAttributeValues": {":previous": current.version if current else ""},
                }
            },
            {
                "Update": {
                    "TableName": name,
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
                        "TableName": name,
                        "Key": {"pk": MODEL, "sk": current.version},
                        "UpdateExpression": "SET #status = :retired",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":retired": ModelStatus.RETIRED.value},
                    }
                }
            )
        if not self._table.transact(items):
            raise ConflictError("the champion changed while promoting; try again")
        return champion
