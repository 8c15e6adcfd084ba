"""Every change to a table, an object or a queue reported, so the local stack can journal it
(:mod:`sentiment_local.persistence.journal`): what DynamoDB Streams, S3 event notifications and the queues'
own durability give on AWS, where nothing written is lost on a restart (DynamoDB developer guide, "Change
data capture for DynamoDB Streams", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html).
moto keeps everything in memory; DynamoDB's changes are reported by :mod:`sentiment_local.moto.dynamodb`,
S3's and SQS's here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sentiment_local.moto.patching import Patches


class ChangeSink(Protocol):
    """Told of every change moto makes to the data the local stack keeps
    (:mod:`sentiment_local.persistence.journal`)."""

    def items_changed(self, table: str, changes: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> None:
        """Items after a write, as ``(key, item or None)`` in DynamoDB JSON; a transaction's items come
        in one call. Called while the write still holds its turn, so calls come in the writes' order."""

    def table_changed(self, table: str) -> None:
        """Any item of the table may have changed (a PartiQL statement)."""

    def object_changed(self, bucket: str, key: str) -> None:
        """An object was written or deleted; it is read once the request has finished with it."""

    def queue_changed(self, queue: str) -> None:
        """Messages were sent to, deleted from or moved out of a queue."""


def plug_change_feed(patches: Patches, changes: ChangeSink) -> None:
    """S3 and SQS tell ``changes`` which object or queue a call changed (DynamoDB does in
    :func:`plug_dynamodb`)."""
    from moto.s3.models import S3Backend  # noqa: PLC0415
    from moto.sqs.models import SQSBackend  # noqa: PLC0415

    def after(method: Callable[..., Any], report: Callable[..., None]) -> Callable[..., Any]:
        def reporting(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            finally:
                report(self, *args, **kwargs)

        return reporting

    def object_changed(self: S3Backend, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> None:
        changes.object_changed(bucket_name, key_name)

    def queue_changed(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> None:
        changes.queue_changed(queue_name)
        queue = self.queues.get(queue_name)
        if queue is not None and queue.dead_letter_queue is not None:  # a receive may move messages there
            changes.queue_changed(queue.dead_letter_queue.name)

    for name in ("put_object", "delete_object"):
        patches.set(S3Backend, name, after(getattr(S3Backend, name), object_changed))
    for name in ("send_message", "send_message_batch", "delete_message", "delete_message_batch", "receive_message",
                 "purge_queue"):  # fmt: skip
        patches.set(SQSBackend, name, after(getattr(SQSBackend, name), queue_changed))
