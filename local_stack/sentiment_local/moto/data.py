"""What moto holds, read and loaded directly (for the journal, which saves it and loads it back on start): the
items of a table, the objects of a bucket, the messages of a queue; and what IAM reads of a resource that
moto knows better than the request (a secret's ARN with its suffix, a CloudFront distribution's tags)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sentiment_local.moto.dynamodb import ORDER_ATTRIBUTE
from sentiment_local.moto.s3 import Pieces, read_chunks, write_value
from sentiment_template.reader import ACCOUNT, REGION


def queue_messages(queue_name: str) -> list[tuple[str, str]]:
    """``(message id, body)`` of each message a queue holds, in flight or not, oldest first; none when
    the queue does not exist."""
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    queue = sqs_backends[ACCOUNT][REGION].queues.get(queue_name)
    return [] if queue is None else [(str(message.id), str(message.body)) for message in list(queue._messages)]


def stored_object(bucket: str, key: str) -> tuple[Iterator[bytes], dict[str, str]] | None:
    """An object's bytes, read a megabyte at a time as they are taken, and its headers (``Content-Type`` and
    ``x-amz-meta-*`` among them); None when there is none (or its latest version is a delete marker)."""
    from moto.s3.models import FakeKey, s3_backends  # noqa: PLC0415

    found = s3_backends[ACCOUNT]["aws"].buckets.get(bucket)
    current = None if found is None else found.keys.get(key)
    if not isinstance(current, FakeKey):
        return None
    return read_chunks(current), {str(name): str(value) for name, value in current.metadata.items()}


class NoSuchTable(KeyError):
    """The table is not there (the stack's deletion removed it)."""


def table_items(table_name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every item of a table as ``(key, item)`` in DynamoDB JSON. Read while writes go on: each item is
    read whole or read again (a write changing it meanwhile is journaled after it anyway)."""
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415

    table: Any = dynamodb_backends[ACCOUNT][REGION].tables.get(table_name)
    if table is None:
        raise NoSuchTable(table_name)
    keys = [name for name in (table.hash_key_attr, table.range_key_attr) if name]
    stored = list(table.items.values())  # one C-level copy: no write can interleave
    items = [item for group in stored for item in list(group.values())] if table.range_key_attr else stored
    found = []
    for item in items:
        while True:
            try:
                attributes = item.to_json()["Attributes"]
                break
            except RuntimeError:  # changed while read: "dictionary changed size during iteration"
                continue
        found.append(({name: attributes[name] for name in keys}, attributes))
    return found


def load_items(table_name: str, items: list[dict[str, Any]]) -> None:
    """Saved items (DynamoDB JSON) straight into a table. They were checked when first written, so the
    per-attribute size sums moto makes for every new item (quadratic in its attributes) are skipped."""
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict  # noqa: PLC0415

    table: Any = dynamodb_backends[ACCOUNT][REGION].get_table(table_name)
    for attributes in items:
        item: Any = Item.__new__(Item)
        item.hash_key = DynamoType(attributes[table.hash_key_attr])
        item.range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
        item.attrs = LimitedSizeDict()
        dict.update(item.attrs, {name: DynamoType(value) for name, value in attributes.items()})
        if item.range_key is None:
            table.items[item.hash_key] = item
        else:
            table.items[item.hash_key][item.range_key] = item
    vars(table).pop(ORDER_ATTRIBUTE, None)  # ordered again on first use


def load_object(bucket: str, key: str, saved: Path, headers: dict[str, str]) -> None:
    """A saved object straight into its bucket from its file, a megabyte at a time, with its headers,
    notifying nothing."""
    from moto.s3.models import s3_backends  # noqa: PLC0415

    stored = s3_backends[ACCOUNT]["aws"].put_object(bucket, key, b"", disable_notification=True)
    write_value(stored, Pieces.of_file(saved))
    stored.set_metadata(dict(headers), replace=True)


def load_messages(queue_name: str, bodies: list[str]) -> list[str]:
    """Saved messages sent again, oldest first and at once (their delay was served before); returns their
    new ids."""
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    backend = sqs_backends[ACCOUNT][REGION]
    return [str(backend.send_message(queue_name, body, delay_seconds=0).id) for body in bodies]


def secret_arn(secret_id: str) -> str:
    """A secret's ARN, which IAM checks, from the name or ARN a request gives (moto makes up its suffix,
    as Secrets Manager does)."""
    from moto.secretsmanager.models import secretsmanager_backends  # noqa: PLC0415

    secret = secretsmanager_backends[ACCOUNT][REGION].secrets.get(secret_id)
    if secret is not None:
        return str(secret.arn)
    return (
        secret_id if secret_id.startswith("arn:") else f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret_id}"
    )


def resource_tags(arn: str) -> dict[str, str]:
    """The tags of the resource ``arn`` names, where a policy's ``aws:ResourceTag`` condition reads them:
    a CloudFront distribution (the page's, tagged with its stack's name as CloudFormation tags it)."""
    if not arn.startswith("arn:aws:cloudfront::"):
        return {}
    from moto.cloudfront.models import cloudfront_backends  # noqa: PLC0415

    backend = cloudfront_backends[ACCOUNT]["global"]
    distribution = backend.distributions.get(arn.rsplit("/", 1)[-1])
    if distribution is None:
        return {}
    listed = backend.list_tags_for_resource(distribution.arn)
    return {str(tag["Key"]): str(tag["Value"]) for tag in listed.get("Tags", [])}
