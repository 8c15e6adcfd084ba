"""The local stack's data kept on disk: saved from moto, restored into freshly created resources."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sentiment_local import moto_gaps, snapshot
from sentiment_local.resources import create_buckets, create_queues, create_tables
from sentiment_local.snapshot import Restored, Snapshot
from sentiment_local.template import Template
from tests.conftest import ROOT

BUCKET = "sentiment-dev-data-123456789012-us-east-1"  # the template names the bucket itself
COMMENTS = "snap-CommentsTable"
IDEMPOTENCY = "snap-IdempotencyTable"
REGISTRY = "snap-RegistryTable"
PENDING = "snap-PendingQueue"
DEAD_LETTERS = "snap-PendingDeadLetterQueue"

CHAMPION = b'{"version": "v1"}'
ARCHIVE = bytes(range(256)) * 40  # binary, not UTF-8
COPY_OF_ARCHIVE_KEY = "models/v1/copy.tar.gz"
ODD_KEY = "exports/a key with spaces+plus & ünïcode.txt"


@dataclass
class Aws:
    template: Template
    clients: dict[str, Any]

    def snapshot(self, directory: Path) -> Snapshot:
        return Snapshot(directory, self.template, self.clients, moto_gaps.queued_messages)

    def scan(self, table: str) -> list[dict[str, Any]]:
        items = self.clients["dynamodb"].scan(TableName=table, ConsistentRead=True)["Items"]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=repr))

    def object(self, key: str) -> tuple[bytes, str, dict[str, str]]:
        answer = self.clients["s3"].get_object(Bucket=BUCKET, Key=key)
        return answer["Body"].read(), answer["ContentType"], answer["Metadata"]

    def queue_url(self, name: str) -> str:
        return str(self.clients["sqs"].get_queue_url(QueueName=name)["QueueUrl"])


@contextmanager
def fresh_aws(create: bool = True) -> Iterator[Aws]:
    """A new moto, empty, with the template's tables, buckets and queues created."""
    with mock_aws():
        template = Template.read(ROOT / "template.yaml", prefix="snap")
        clients = {name: boto3.client(name, region_name="us-east-1") for name in ("dynamodb", "s3", "sqs")}
        assert clients["dynamodb"].list_tables()["TableNames"] == []
        assert clients["s3"].list_buckets()["Buckets"] == []
        if create:
            create_tables(template, clients["dynamodb"])
            create_buckets(template, clients["s3"])
            create_queues(template, clients["sqs"])
        yield Aws(template, clients)


def comment(n: int) -> dict[str, Any]:
    return {
        "comment_id": {"S": f"c{n:03d}"},
        "entity": {"S": "comment"},
        "created_key": {"S": f"2024-01-01T00:00:{n:02d}Z#c{n:03d}"},
        "sentiment": {"S": "positive" if n % 2 else "negative"},
        "score": {"N": str(n / 100)},
    }


RICH_ITEM = {
    "comment_id": {"S": "rich"},
    "entity": {"S": "comment"},
    "created_key": {"S": "2024-01-02T00:00:00Z#rich"},
    "sentiment": {"S": "pending"},
    "embedding": {"B": b"\x00\x01\xfe\xff binary"},
    "chunks": {"BS": [b"\x00a", b"\xffb"]},
    "labels": {"SS": ["x", "y"]},
    "scores": {"NS": ["1", "2.5"]},
    "nested": {"M": {"blob": {"B": b"\x80"}, "list": {"L": [{"B": b"\x81"}, {"S": "s"}, {"BOOL": True}]}}},
    "nothing": {"NULL": True},
}
KEY_ITEM = {"id": {"S": "request-1"}, "expiration": {"N": "1999999999"}, "data": {"S": "{}"}}
CHAMPION_ITEM = {"pk": {"S": "CHAMPION"}, "sk": {"S": "CURRENT"}, "version": {"S": "v1"}}


def write_data(aws: Aws) -> None:
    dynamodb, s3, sqs = aws.clients["dynamodb"], aws.clients["s3"], aws.clients["sqs"]
    for n in range(30):  # more than one BatchWriteItem's worth
        dynamodb.put_item(TableName=COMMENTS, Item=comment(n))
    dynamodb.put_item(TableName=COMMENTS, Item=RICH_ITEM)
    dynamodb.put_item(TableName=IDEMPOTENCY, Item=KEY_ITEM)
    dynamodb.put_item(TableName=REGISTRY, Item=CHAMPION_ITEM)
    s3.put_object(
        Bucket=BUCKET,
        Key="models/champion.json",
        Body=CHAMPION,
        ContentType="application/json",
        Metadata={"version": "v1", "registered-by": "test"},
    )
    s3.put_object(Bucket=BUCKET, Key="models/v1/model.tar.gz", Body=ARCHIVE, ContentType="application/gzip")
    s3.put_object(Bucket=BUCKET, Key=COPY_OF_ARCHIVE_KEY, Body=ARCHIVE)
    s3.put_object(Bucket=BUCKET, Key="exports/empty.csv", Body=b"", ContentType="text/csv")
    s3.put_object(Bucket=BUCKET, Key=ODD_KEY, Body=b"odd", ContentType="text/plain")
    sqs.send_message(QueueUrl=aws.queue_url(PENDING), MessageBody='{"comment_id": "rich"}')


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_save_then_restore_into_a_fresh_moto(tmp_path: Path, aws_credentials: None) -> None:
    directory = tmp_path / "snapshot"
    with fresh_aws() as aws:
        write_data(aws)
        comments, keys, registry = aws.scan(COMMENTS), aws.scan(IDEMPOTENCY), aws.scan(REGISTRY)
        aws.snapshot(directory).save()

    assert (directory / "state.json").exists()
    assert not (directory / "state.json.tmp").exists()
    assert {blob.name for blob in (directory / "blobs").iterdir()} == {
        sha(CHAMPION),
        sha(ARCHIVE),
        sha(b""),
        sha(b"odd"),
    }
    assert (directory / "blobs" / sha(ARCHIVE)).read_bytes() == ARCHIVE

    with fresh_aws() as aws:
        assert aws.scan(COMMENTS) == []  # really a new moto
        restored = aws.snapshot(directory).restore()

        assert restored == Restored(
            items=33,
            objects=5,
            messages=1,
            tables={"CommentsTable": 31, "IdempotencyTable": 1, "RegistryTable": 1},
        )
        assert aws.scan(COMMENTS) == comments
        assert aws.scan(IDEMPOTENCY) == keys
        assert aws.scan(REGISTRY) == registry == [CHAMPION_ITEM]
        rich = aws.clients["dynamodb"].get_item(TableName=COMMENTS, Key={"comment_id": {"S": "rich"}})["Item"]
        assert rich["embedding"] == {"B": b"\x00\x01\xfe\xff binary"}
        assert rich["nested"]["M"]["list"]["L"][0] == {"B": b"\x81"}
        assert aws.object("models/champion.json") == (
            CHAMPION,
            "application/json",
            {"version": "v1", "registered-by": "test"},
        )
        assert aws.object("models/v1/model.tar.gz") == (ARCHIVE, "application/gzip", {})
        assert aws.object(COPY_OF_ARCHIVE_KEY)[0] == ARCHIVE
        assert aws.object("exports/empty.csv") == (b"", "text/csv", {})
        assert aws.object(ODD_KEY) == (b"odd", "text/plain", {})
        # The queued message comes back, available at once despite the queue's delay.
        received = aws.clients["sqs"].receive_message(QueueUrl=aws.queue_url(PENDING), WaitTimeSeconds=0)
        assert [message["Body"] for message in received["Messages"]] == ['{"comment_id": "rich"}']


def test_a_saved_state_survives_a_second_round_trip(tmp_path: Path, aws_credentials: None) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    with fresh_aws() as aws:
        write_data(aws)
        comments = aws.scan(COMMENTS)
        aws.snapshot(first).save()
    with fresh_aws() as aws:
        aws.snapshot(first).restore()
        aws.snapshot(second).save()
    assert (
        json.loads((first / "state.json").read_text())["tables"]
        == json.loads((second / "state.json").read_text())["tables"]
    )
    with fresh_aws() as aws:
        aws.snapshot(second).restore()
        assert aws.scan(COMMENTS) == comments
        assert aws.object("models/v1/model.tar.gz")[0] == ARCHIVE


def test_queued_messages_are_saved_in_flight_or_not(tmp_path: Path, aws_credentials: None) -> None:
    directory = tmp_path / "snapshot"
    with fresh_aws() as aws:
        sqs = aws.clients["sqs"]
        dead_letters = aws.queue_url(DEAD_LETTERS)
        for body in ("in flight", "waiting"):
            sqs.send_message(QueueUrl=dead_letters, MessageBody=body)
        taken = sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=1)["Messages"]
        assert len(taken) == 1
        aws.snapshot(directory).save()

    state = json.loads((directory / "state.json").read_text())
    assert sorted(state["queues"]["PendingDeadLetterQueue"]) == ["in flight", "waiting"]
    assert state["queues"]["PendingQueue"] == []

    with fresh_aws() as aws:
        assert aws.snapshot(directory).restore().messages == 2
        received = aws.clients["sqs"].receive_message(QueueUrl=aws.queue_url(DEAD_LETTERS), MaxNumberOfMessages=10)
        assert sorted(message["Body"] for message in received["Messages"]) == ["in flight", "waiting"]


def test_a_deleted_object_drops_its_blob_on_the_next_save(tmp_path: Path, aws_credentials: None) -> None:
    directory = tmp_path / "snapshot"
    with fresh_aws() as aws:
        write_data(aws)
        saved = aws.snapshot(directory)
        saved.save()
        s3 = aws.clients["s3"]

        s3.delete_object(Bucket=BUCKET, Key="models/champion.json")
        s3.delete_object(Bucket=BUCKET, Key=COPY_OF_ARCHIVE_KEY)  # the same bytes are still used elsewhere
        saved.save()

        assert {blob.name for blob in (directory / "blobs").iterdir()} == {sha(ARCHIVE), sha(b""), sha(b"odd")}
        objects = json.loads((directory / "state.json").read_text())["objects"]["DataBucket"]
        assert set(objects) == {"models/v1/model.tar.gz", "exports/empty.csv", ODD_KEY}

    with fresh_aws() as aws:
        assert aws.snapshot(directory).restore().objects == 3
        listed = aws.clients["s3"].list_objects_v2(Bucket=BUCKET)["Contents"]
        assert sorted(entry["Key"] for entry in listed) == sorted(
            [ODD_KEY, "exports/empty.csv", "models/v1/model.tar.gz"]
        )


def test_a_changed_object_is_saved_again_and_a_lost_blob_is_rewritten(tmp_path: Path, aws_credentials: None) -> None:
    directory = tmp_path / "snapshot"
    with fresh_aws() as aws:
        write_data(aws)
        saved = aws.snapshot(directory)
        saved.save()

        aws.clients["s3"].put_object(
            Bucket=BUCKET, Key="models/champion.json", Body=b'{"version": "v2"}', ContentType="application/json"
        )
        (directory / "blobs" / sha(ARCHIVE)).unlink()
        saved.save()

        blobs = {blob.name for blob in (directory / "blobs").iterdir()}
        assert blobs == {sha(b'{"version": "v2"}'), sha(ARCHIVE), sha(b""), sha(b"odd")}
        assert (directory / "blobs" / sha(ARCHIVE)).read_bytes() == ARCHIVE

    with fresh_aws() as aws:
        aws.snapshot(directory).restore()
        assert aws.object("models/champion.json") == (b'{"version": "v2"}', "application/json", {})


def test_new_metadata_on_the_same_bytes_is_saved(tmp_path: Path, aws_credentials: None) -> None:
    directory = tmp_path / "snapshot"
    with fresh_aws() as aws:
        write_data(aws)
        saved = aws.snapshot(directory)
        saved.save()

        # Same bytes (so the same ETag), another content type and metadata.
        aws.clients["s3"].put_object(
            Bucket=BUCKET, Key="models/champion.json", Body=CHAMPION, ContentType="text/plain", Metadata={"v": "2"}
        )
        saved.save()

    with fresh_aws() as aws:
        aws.snapshot(directory).restore()
        assert aws.object("models/champion.json") == (CHAMPION, "text/plain", {"v": "2"})


def test_a_failed_save_keeps_the_previous_state(
    tmp_path: Path, aws_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "snapshot"
    with fresh_aws() as aws:
        write_data(aws)
        saved = aws.snapshot(directory)
        saved.save()
        before = (directory / "state.json").read_bytes()
        aws.clients["dynamodb"].delete_item(TableName=COMMENTS, Key={"comment_id": {"S": "rich"}})

        def crash(descriptor: int) -> None:
            raise OSError(f"disk gone while syncing {descriptor}")

        monkeypatch.setattr(snapshot.os, "fsync", crash)
        with pytest.raises(OSError, match="disk gone"):
            saved.save()

        assert (directory / "state.json").read_bytes() == before
        assert (directory / "blobs" / sha(ARCHIVE)).exists()  # the blobs the kept state names stay
        monkeypatch.undo()
        saved.save()
        assert not (directory / "state.json.tmp").exists()
        assert len(json.loads((directory / "state.json").read_text())["tables"]["CommentsTable"]) == 30


def test_restoring_without_a_saved_state_does_nothing(tmp_path: Path, aws_credentials: None) -> None:
    directory = tmp_path / "never-saved"
    with fresh_aws() as aws:
        empty = aws.snapshot(directory)
        assert not empty.exists()

        assert empty.restore() == Restored()

        assert aws.scan(COMMENTS) == []
        assert "Contents" not in aws.clients["s3"].list_objects_v2(Bucket=BUCKET)
        assert not directory.exists()


def test_resources_the_template_no_longer_declares_are_skipped(tmp_path: Path, aws_credentials: None) -> None:
    directory = tmp_path / "snapshot"
    with fresh_aws() as aws:
        write_data(aws)
        aws.snapshot(directory).save()

    with fresh_aws() as aws:
        del aws.template.document["Resources"]["IdempotencyTable"]
        restored = aws.snapshot(directory).restore()
        assert restored.tables == {"CommentsTable": 31, "RegistryTable": 1}
        assert restored.items == 32
        assert aws.scan(IDEMPOTENCY) == []  # the table still exists in moto, but is not the template's


def test_a_save_cut_off_while_writing_a_blob_leaves_no_partial_blob(
    tmp_path: Path, aws_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_aws() as aws:
        aws.clients["s3"].put_object(Bucket=BUCKET, Key="models/v1/model.tar.gz", Body=ARCHIVE)
        kept = aws.snapshot(tmp_path)
        real_write = Path.write_bytes

        def cut_off(path: Path, data: bytes) -> int:  # the disk fills up half way through
            real_write(path, data[: len(data) // 2])
            raise OSError("No space left on device")

        monkeypatch.setattr(Path, "write_bytes", cut_off)
        with pytest.raises(OSError, match="No space"):
            kept.save()
        monkeypatch.setattr(Path, "write_bytes", real_write)
        assert not (tmp_path / "blobs" / hashlib.sha256(ARCHIVE).hexdigest()).exists()

        kept.save()  # the next save writes the blob whole, and clears the scraps
        assert (tmp_path / "blobs" / hashlib.sha256(ARCHIVE).hexdigest()).read_bytes() == ARCHIVE
        assert [blob.suffix for blob in (tmp_path / "blobs").iterdir()] == [""]
    with fresh_aws() as aws:
        aws.snapshot(tmp_path).restore()
        assert aws.object("models/v1/model.tar.gz")[0] == ARCHIVE
