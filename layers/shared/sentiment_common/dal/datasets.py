"""The datasets: records in the registry table (admin-owned items, like the reviewers), files in the data bucket.

Item layout (``pk``, ``sk``): ``DATASET`` / name, the :class:`~sentiment_common.datasets.Dataset` with its
counts and inline rejections as JSON text. A ``SUBMITTED`` item carries ``expires_at`` (the table's TTL),
a day after its upload URL expires, so an upload that never arrives leaves nothing behind; the import
removes it. An admin's datasets are dozens, not millions: a listing reads them all and pages in memory.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from pydantic import TypeAdapter

from sentiment_common.dal.presigned import PresignedLinks
from sentiment_common.dal.registry_items import registry_table
from sentiment_common.dal.table import Item
from sentiment_common.dal.transient import unavailable_when_transient
from sentiment_common.datasets import Dataset, DatasetStatus, ImportOutcome
from sentiment_common.errors import ConflictError, InvalidInputError, NotFoundError

DATASET = "DATASET"
JSON_FIELDS = ("counts", "rejections")
TTL_MARGIN = timedelta(days=1)
_INSTANT = TypeAdapter(datetime)


def _instant(at: datetime) -> str:
    """A time as the items hold it (ISO 8601, as pydantic writes it), so that strings compare as times."""
    return str(_INSTANT.dump_python(at, mode="json"))


def _dataset_from(item: Item) -> Dataset:
    data = {key: json.loads(value) if key in JSON_FIELDS else value for key, value in item.items()}
    kept = {key: value for key, value in data.items() if key not in {"pk", "sk", "expires_at"}}
    return Dataset.model_validate(kept | {"name": item["sk"]})


def _token(dataset: Dataset) -> str:
    after = json.dumps([_instant(dataset.created_at), dataset.name]).encode()
    return base64.urlsafe_b64encode(after).decode()


def _after(token: str) -> tuple[str, str]:
    try:
        created, name = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as error:
        raise InvalidInputError("next_token was not issued by this API") from error
    if not isinstance(created, str) or not isinstance(name, str):
        raise InvalidInputError("next_token was not issued by this API")
    return created, name


class DynamoDbDatasets:
    def __init__(self, table_name: str) -> None:
        self._table = registry_table(table_name)

    def create(self, dataset: Dataset, now: datetime) -> Dataset:
        expires = int((dataset.upload_expires_at + TTL_MARGIN).timestamp())
        written = self._table.update(
            Key={"pk": DATASET, "sk": dataset.name},
            UpdateExpression=_set(_fields(dataset)) + ", expires_at = :ttl" + _remove(_absent(dataset)),
            # A name is free when nobody has it, or when its dataset waited for an upload past the URL's expiry.
            ConditionExpression="attribute_not_exists(pk) OR (#status = :submitted AND #upload_expires_at <= :now)",
            ExpressionAttributeNames={f"#{key}": key for key in (*_fields(dataset), *_absent(dataset))},
            ExpressionAttributeValues={f":{key}": value for key, value in _fields(dataset).items()}
            | {":ttl": expires, ":submitted": DatasetStatus.SUBMITTED.value, ":now": _instant(now)},
        )
        if not written:
            raise ConflictError(f"a dataset named {dataset.name!r} exists; delete it first, or choose another name")
        return dataset

    def get(self, name: str) -> Dataset:
        item = self._table.get(DATASET, name)
        if item is None:
            raise NotFoundError(f"no dataset named {name!r}")
        return _dataset_from(item)

    def finish_import(self, name: str, outcome: ImportOutcome) -> bool:
        values = _fields(outcome)
        return self._table.update(
            Key={"pk": DATASET, "sk": name},
            UpdateExpression=_set(values) + " REMOVE expires_at",
            ConditionExpression="#status = :submitted",
            ExpressionAttributeNames={f"#{key}": key for key in values},
            ExpressionAttributeValues={f":{key}": value for key, value in values.items()}
            | {":submitted": DatasetStatus.SUBMITTED.value},
        )

    def delete(self, name: str) -> Dataset:
        old = self._table.delete(DATASET, name)
        if old is None:
            raise NotFoundError(f"no dataset named {name!r}")
        return _dataset_from(old)

    def active(self) -> list[Dataset]:
        return sorted(
            (dataset for dataset in self._all() if dataset.status is DatasetStatus.ACTIVE),
            key=lambda dataset: dataset.name,
        )

    def _all(self) -> list[Dataset]:
        return [_dataset_from(item) for item in self._table.query_all(KeyConditionExpression=Key("pk").eq(DATASET))]

    def list(self, limit: int, token: str | None) -> tuple[list[Dataset], str | None]:
        everything = sorted(self._all(), key=lambda dataset: (_instant(dataset.created_at), dataset.name), reverse=True)
        if token is not None:
            after = _after(token)
            everything = [dataset for dataset in everything if (_instant(dataset.created_at), dataset.name) < after]
        page = everything[:limit]
        return page, _token(page[-1]) if len(everything) > limit else None


def _fields(model: Dataset | ImportOutcome) -> dict[str, Any]:
    data = model.model_dump(mode="json", exclude_none=True)
    return {key: json.dumps(value) if key in JSON_FIELDS else value for key, value in data.items() if key != "name"}


def _set(values: dict[str, Any]) -> str:
    return "SET " + ", ".join(f"#{key} = :{key}" for key in values)


def _remove(names: list[str]) -> str:
    return " REMOVE " + ", ".join(f"#{name}" for name in names) if names else ""


def _absent(model: Dataset) -> list[str]:
    """The fields a replaced record must lose (an expired record never has them, but say so)."""
    data = model.model_dump(mode="json")
    return [key for key, value in data.items() if value is None]


class S3DatasetFiles(PresignedLinks):
    """:class:`~sentiment_common.ports.DatasetFiles` in the data bucket."""

    def delete_under(self, prefix: str) -> int:
        deleted = 0
        with unavailable_when_transient("the data bucket"):
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if keys:
                    self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                    deleted += len(keys)
        return deleted


__all__ = ["DynamoDbDatasets", "S3DatasetFiles"]
