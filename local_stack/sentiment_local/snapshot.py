"""Keep the local stack's data across restarts: moto holds everything in memory, this keeps it on disk.

``state.json`` lists every table's items, every bucket's objects (by SHA-256, the bytes in ``blobs/``)
and every queue's messages, for the resources the template declares. It is replaced atomically, so a
crash leaves the previous complete state. Restoring writes it all back through the AWS APIs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment_local.template import Template

FORMAT = 1
BATCH = 25  # BatchWriteItem's limit


def _encode(value: Any) -> Any:
    """DynamoDB JSON with binary values made JSON-safe."""
    if isinstance(value, bytes | bytearray):
        return {"$base64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_encode(item) for item in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$base64"}:
            return base64.b64decode(value["$base64"])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


@dataclass
class Restored:
    items: int = 0
    objects: int = 0
    messages: int = 0
    tables: dict[str, int] = field(default_factory=dict)


class Snapshot:
    def __init__(
        self,
        directory: Path,
        template: Template,
        clients: dict[str, Any],
        queued_messages: Callable[[str], list[str]],
    ) -> None:
        self.directory = directory
        self._blobs = directory / "blobs"
        self._state = directory / "state.json"
        self._template = template
        self._dynamodb = clients["dynamodb"]
        self._s3 = clients["s3"]
        self._sqs = clients["sqs"]
        self._queued_messages = queued_messages

    def exists(self) -> bool:
        return self._state.exists()

    def _previous_objects(self) -> dict[str, dict[str, Any]]:
        if not self._state.exists():
            return {}
        objects: dict[str, dict[str, Any]] = json.loads(self._state.read_text()).get("objects", {})
        return objects

    def save(self) -> None:
        self._blobs.mkdir(parents=True, exist_ok=True)
        previous = self._previous_objects()
        state: dict[str, Any] = {"format": FORMAT, "tables": {}, "objects": {}, "queues": {}}
        for logical_id in self._template.of_type("AWS::DynamoDB::Table"):
            name = self._template.physical_name(logical_id)
            items: list[Any] = []
            for page in self._dynamodb.get_paginator("scan").paginate(TableName=name, ConsistentRead=True):
                items.extend(_encode(item) for item in page["Items"])
            state["tables"][logical_id] = items
        for logical_id in self._template.of_type("AWS::S3::Bucket"):
            state["objects"][logical_id] = self._save_bucket(logical_id, previous.get(logical_id, {}))
        for logical_id in self._template.of_type("AWS::SQS::Queue"):
            state["queues"][logical_id] = self._queued_messages(self._template.physical_name(logical_id))
        scratch = self._state.with_suffix(".json.tmp")
        scratch.write_text(json.dumps(state))
        with scratch.open("rb") as handle:
            os.fsync(handle.fileno())
        scratch.replace(self._state)
        self._collect_garbage(state)

    def _save_bucket(self, logical_id: str, previous: dict[str, Any]) -> dict[str, Any]:
        bucket = self._template.physical_name(logical_id)
        objects: dict[str, Any] = {}
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for listed in page.get("Contents", []):
                key, etag = listed["Key"], listed["ETag"]
                known = previous.get(key)
                if known and known["etag"] == etag and (self._blobs / known["sha256"]).exists():
                    # The ETag covers the bytes only: a rewrite with the same bytes may have changed
                    # the content type or metadata, which a HEAD reads without the body.
                    head = self._s3.head_object(Bucket=bucket, Key=key)
                    objects[key] = {
                        **known,
                        "content_type": head.get("ContentType", "binary/octet-stream"),
                        "metadata": head.get("Metadata", {}),
                    }
                    continue
                answer = self._s3.get_object(Bucket=bucket, Key=key)
                data = answer["Body"].read()
                digest = hashlib.sha256(data).hexdigest()
                blob = self._blobs / digest
                if not blob.exists():  # written whole or not at all: a blob that exists is complete
                    scratch = blob.with_suffix(".tmp")
                    scratch.write_bytes(data)
                    scratch.replace(blob)
                objects[key] = {
                    "etag": etag,
                    "sha256": digest,
                    "content_type": answer.get("ContentType", "binary/octet-stream"),
                    "metadata": answer.get("Metadata", {}),
                }
        return objects

    def _collect_garbage(self, state: dict[str, Any]) -> None:
        used = {entry["sha256"] for objects in state["objects"].values() for entry in objects.values()}
        for blob in self._blobs.iterdir():
            if blob.name not in used:
                with contextlib.suppress(FileNotFoundError):
                    blob.unlink()

    def restore(self) -> Restored:
        """Write the saved state into freshly created resources; resources the template dropped are skipped."""
        restored = Restored()
        if not self._state.exists():
            return restored
        state = json.loads(self._state.read_text())
        tables = self._template.of_type("AWS::DynamoDB::Table")
        for logical_id, items in state.get("tables", {}).items():
            if logical_id in tables:
                self._restore_items(self._template.physical_name(logical_id), items)
                restored.tables[logical_id] = len(items)
                restored.items += len(items)
        buckets = self._template.of_type("AWS::S3::Bucket")
        for logical_id, objects in state.get("objects", {}).items():
            if logical_id in buckets:
                self._restore_objects(self._template.physical_name(logical_id), objects)
                restored.objects += len(objects)
        queues = self._template.of_type("AWS::SQS::Queue")
        for logical_id, bodies in state.get("queues", {}).items():
            if logical_id in queues:
                self._restore_messages(self._template.physical_name(logical_id), bodies)
                restored.messages += len(bodies)
        return restored

    def _restore_items(self, table: str, items: list[Any]) -> None:
        for start in range(0, len(items), BATCH):
            pending: dict[str, Any] = {
                table: [{"PutRequest": {"Item": _decode(item)}} for item in items[start : start + BATCH]]
            }
            while pending:
                pending = self._dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems", {})

    def _restore_objects(self, bucket: str, objects: dict[str, Any]) -> None:
        for key, entry in objects.items():
            self._s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=(self._blobs / entry["sha256"]).read_bytes(),
                ContentType=entry["content_type"],
                Metadata=entry["metadata"],
            )

    def _restore_messages(self, queue: str, bodies: list[str]) -> None:
        url = self._sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(n), "MessageBody": body, "DelaySeconds": 0}
                for n, body in enumerate(bodies[start : start + 10])
            ]
            self._sqs.send_message_batch(QueueUrl=url, Entries=entries)
