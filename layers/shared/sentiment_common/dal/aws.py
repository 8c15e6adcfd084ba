"""How an adapter holds its boto3 client or its DynamoDB table: made on first use, once."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3


def client(service: str) -> cached_property[Any]:
    """A boto3 client for ``service``, as an attribute made on first use: a cold start pays only for the
    clients its first request needs, and a test's moto is in place by then."""

    def make(_adapter: object) -> Any:
        return boto3.client(service)

    return cached_property(make)


class TableAdapter:
    """An adapter over one DynamoDB table, named at construction and reached on first use."""

    def __init__(self, table_name: str) -> None:
        self._table_name = table_name

    @cached_property
    def _table(self) -> Any:
        return boto3.resource("dynamodb").Table(self._table_name)
