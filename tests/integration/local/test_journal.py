"""The local stack's data across restarts: moto's server with the journal in front, in a process of its
own (``journal_server.py``), stopped cleanly, killed mid-write, compacting, or with a damaged journal."""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from moto import mock_aws

from sentiment_local.moto import gaps as moto_gaps
from sentiment_local.persistence.journal import Journal, JournalError
from sentiment_local.resources import create_tables
from sentiment_local.runtime.functions import Runner
from sentiment_template.reader import Template
from tests.conftest import ROOT

# Each test starts a server, kills or stops it and starts it again: seconds each (make check leaves them out).
pytestmark = pytest.mark.slow

HARNESS = Path(__file__).with_name("journal_server.py")
TEMPLATE = Template.read(ROOT / "template.yaml", prefix="journal")
COMMENTS = TEMPLATE.physical_name("CommentsTable")
REGISTRY = TEMPLATE.physical_name("RegistryTable")
BUCKET = TEMPLATE.physical_name("DataBucket")
PENDING = TEMPLATE.physical_name("PendingQueue")
DEAD_LETTERS = TEMPLATE.physical_name("PendingDeadLetterQueue")
START_TIMEOUT_S = 60
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=2, read_timeout=10)


@dataclass
class Server:
    """One journal server process on a data folder."""

    data: Path
    process: subprocess.Popen[str]
    url: str
    restored: dict[str, Any]

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=NO_RETRIES,
        )

    def queue_url(self, name: str) -> str:
        return f"{self.url}/123456789012/{name}"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=30) == 0

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.process.poll() is None:
            server.kill()


def start(data: Path, started: list[Server], compact_bytes: int | None = None) -> Server:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            str(ROOT / part) for part in ("local_stack", "deploy", "stack_template", "layers/shared", ".")
        ),
    }
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(name, None)
    arguments = [sys.executable, str(HARNESS), str(data)] + ([str(compact_bytes)] if compact_bytes else [])
    process = subprocess.Popen(arguments, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(timeout=START_TIMEOUT_S)
        raise AssertionError(f"the journal server did not start:\n{process.stderr.read() if process.stderr else ''}")
    answer = json.loads(line)
    server = Server(data, process, answer["url"], answer["restored"])
    started.append(server)
    return server


# ---- what is written, and how it is read back ----


def comment(n: int | str, sentiment: str = "positive") -> dict[str, Any]:
    return {
        "comment_id": {"S": f"c{n}"},
        "entity": {"S": "comment"},
        "created_key": {"S": f"2026-12-03T00:00:00Z#c{n}"},
        "sentiment": {"S": sentiment},
        "text": {"S": f"comment {n}"},
    }


RICH_ITEM = {
    "comment_id": {"S": "rich"},
    "entity": {"S": "comment"},
    "created_key": {"S": "2026-12-03T00:00:01Z#rich"},
    "sentiment": {"S": "pending"},
    "embedding": {"B": b"\x00\x01\xfe\xff binary"},
    "chunks": {"BS": [b"\x00a", b"\xffb"]},
    "labels": {"SS": ["x", "y"]},
    "scores": {"NS": ["1", "2.5"]},
    "nested": {"M": {"blob": {"B": b"\x80"}, "list": {"L": [{"B": b"\x81"}, {"S": "s"}, {"BOOL": True}]}}},
    "nothing": {"NULL": True},
}
ARCHIVE = bytes(range(256)) * 40  # binary, not UTF-8
ODD_KEY = "exports/a key with spaces+plus & ünïcode.txt"


def scan(server: Server, table: str) -> list[dict[str, Any]]:
    pages = server.client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    items = [item for page in pages for item in page["Items"]]
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=repr))


def objects(server: Server) -> dict[str, tuple[bytes, str, dict[str, str]]]:
    s3 = server.client("s3")
    found = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for listed in page.get("Contents", []):
            answer = s3.get_object(Bucket=BUCKET, Key=listed["Key"])
            found[listed["Key"]] = (answer["Body"].read(), answer["ContentType"], answer["Metadata"])
    return found


def bodies(server: Server, queue: str) -> Counter[str]:
    """Every message a queue holds, taken out of it (in flight ones once they are visible again)."""
    sqs = server.client("sqs")
    found: Counter[str] = Counter()
    while True:
        messages = sqs.receive_message(QueueUrl=server.queue_url(queue), MaxNumberOfMessages=10, VisibilityTimeout=600)
        if not messages.get("Messages"):
            return found
        found.update(message["Body"] for message in messages["Messages"])


def write_everything(server: Server) -> None:
    dynamodb, s3, sqs = server.client("dynamodb"), server.client("s3"), server.client("sqs")
    for n in range(120):  # more than a base line's worth
        dynamodb.put_item(TableName=COMMENTS, Item=comment(n))
    dynamodb.put_item(TableName=COMMENTS, Item=RICH_ITEM)
    dynamodb.update_item(  # a sort key of an index changes: the item moves between partitions
        TableName=COMMENTS,
        Key={"comment_id": {"S": "c1"}},
        UpdateExpression="SET sentiment = :s",
        ExpressionAttributeValues={":s": {"S": "negative"}},
    )
    dynamodb.delete_item(TableName=COMMENTS, Key={"comment_id": {"S": "c2"}})
    dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": COMMENTS, "Item": comment(f"t{n}")}} for n in range(25)]
    )
    with pytest.raises(ClientError):  # fails as a whole: nothing of it is stored
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": COMMENTS, "Item": comment("never")}},
                {"Delete": {"TableName": COMMENTS, "Key": {"comment_id": {"S": "c3"}}}},
                {"ConditionCheck": {"TableName": COMMENTS, "Key": {"comment_id": {"S": "missing"}},
                                    "ConditionExpression": "attribute_exists(comment_id)"}},
            ]
        )  # fmt: skip
    dynamodb.batch_write_item(RequestItems={COMMENTS: [{"PutRequest": {"Item": comment(f"b{n}")}} for n in range(25)]})
    dynamodb.put_item(TableName=REGISTRY, Item={"pk": {"S": "CHAMPION"}, "sk": {"S": "CURRENT"}})
    s3.put_object(Bucket=BUCKET, Key="models/champion.json", Body=b'{"version": "v0"}', ContentType="application/json")
    s3.put_object(
        Bucket=BUCKET,
        Key="models/champion.json",  # written again: the last one counts
        Body=b'{"version": "v1"}',
        ContentType="application/json",
        Metadata={"version": "v1", "registered-by": "test"},
    )
    s3.put_object(Bucket=BUCKET, Key="models/v1/model.tar.gz", Body=ARCHIVE, ContentType="application/gzip")
    s3.copy_object(
        Bucket=BUCKET,
        Key="models/v1/copy.tar.gz",
        CopySource={"Bucket": BUCKET, "Key": "models/v1/model.tar.gz"},
        MetadataDirective="REPLACE",
        Metadata={"copied": "yes"},
        ContentType="application/x-tar",
    )
    s3.put_object(Bucket=BUCKET, Key="exports/empty.csv", Body=b"", ContentType="text/csv")
    s3.put_object(Bucket=BUCKET, Key=ODD_KEY, Body=b"odd", ContentType="text/plain")
    s3.put_object(Bucket=BUCKET, Key="exports/gone.csv", Body=b"gone")
    s3.delete_object(Bucket=BUCKET, Key="exports/gone.csv")
    pending = server.queue_url(PENDING)
    for body in ("first", "second", "third"):
        sqs.send_message(QueueUrl=pending, MessageBody=body, DelaySeconds=0)
    (done,) = sqs.receive_message(QueueUrl=pending, MaxNumberOfMessages=1)["Messages"]
    sqs.delete_message(QueueUrl=pending, ReceiptHandle=done["ReceiptHandle"])
    sqs.receive_message(QueueUrl=pending, MaxNumberOfMessages=1, VisibilityTimeout=600)  # in flight, kept
    sqs.send_message(QueueUrl=server.queue_url(DEAD_LETTERS), MessageBody="dead")


@dataclass
class Seen:
    comments: list[dict[str, Any]]
    registry: list[dict[str, Any]]
    objects: dict[str, tuple[bytes, str, dict[str, str]]]


def seen(server: Server) -> Seen:
    return Seen(scan(server, COMMENTS), scan(server, REGISTRY), objects(server))


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGKILL"])
def test_everything_written_is_back_after_a_restart(tmp_path: Path, servers: list[Server], stop: str) -> None:
    # Given a stack that wrote every kind of data
    first = start(tmp_path, servers)
    assert first.restored["items"] == 0
    write_everything(first)
    before = seen(first)

    # When it stops, cleanly or killed, and starts again
    first.stop() if stop == "SIGTERM" else first.kill()
    second = start(tmp_path, servers)

    # Then every item, object and message is back, exactly
    assert len(before.comments) == 120 + 1 - 1 + 25 + 25
    assert second.restored["items"] == len(before.comments) + 1
    assert seen(second) == before
    assert {item["comment_id"]["S"]: item["sentiment"]["S"] for item in before.comments}["c1"] == "negative"
    assert "cnever" not in {item["comment_id"]["S"] for item in before.comments}
    assert before.objects["models/champion.json"] == (
        b'{"version": "v1"}', "application/json", {"version": "v1", "registered-by": "test"}
    )  # fmt: skip
    assert before.objects["models/v1/copy.tar.gz"] == (ARCHIVE, "application/x-tar", {"copied": "yes"})
    assert "exports/gone.csv" not in before.objects
    assert bodies(second, PENDING) == Counter({"second": 1, "third": 1})
    assert bodies(second, DEAD_LETTERS) == Counter({"dead": 1})
    # And the restored index answers as the table does
    newest = second.client("dynamodb").query(
        TableName=COMMENTS,
        IndexName="BySentiment",
        KeyConditionExpression="sentiment = :s",
        ExpressionAttributeValues={":s": {"S": "negative"}},
    )["Items"]
    assert [item["comment_id"]["S"] for item in newest] == ["c1"]


def test_a_second_restart_after_more_writes_keeps_both(tmp_path: Path, servers: list[Server]) -> None:
    first = start(tmp_path, servers)
    first.client("dynamodb").put_item(TableName=COMMENTS, Item=comment("before"))
    first.kill()
    second = start(tmp_path, servers)
    second.client("dynamodb").put_item(TableName=COMMENTS, Item=comment("after"))
    second.client("dynamodb").delete_item(TableName=COMMENTS, Key={"comment_id": {"S": "cbefore"}})
    second.kill()

    third = start(tmp_path, servers)

    assert [item["comment_id"]["S"] for item in scan(third, COMMENTS)] == ["cafter"]


# ---- killed while writing, compacting or not ----


@dataclass
class Writer:
    """Writes until the server goes away; remembers what was acknowledged and what was only tried."""

    server: Server
    name: str
    transactions: dict[str, bool] = field(default_factory=dict)  # id → acknowledged
    objects: dict[str, bytes] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def run(self, stop: threading.Event) -> None:
        dynamodb, s3, sqs = (self.server.client(name) for name in ("dynamodb", "s3", "sqs"))
        for n in itertools.count():
            if stop.is_set():
                return
            batch = f"{self.name}-{n}"
            self.transactions[batch] = False
            try:
                dynamodb.transact_write_items(
                    TransactItems=[{"Put": {"TableName": COMMENTS, "Item": comment(f"{batch}-{i}")}} for i in range(10)]
                )
                self.transactions[batch] = True
                body = f"message {batch}".encode() * (n % 7)
                s3.put_object(Bucket=BUCKET, Key=f"feedback/{batch}.json", Body=body)
                self.objects[f"feedback/{batch}.json"] = body
                sqs.send_message(QueueUrl=self.server.queue_url(PENDING), MessageBody=batch, DelaySeconds=0)
                self.messages.append(batch)
            except (ClientError, BotoCoreError):
                return  # the server is gone


@pytest.mark.parametrize("compact_bytes", [None, 4096], ids=["journal", "compacting"])
def test_a_kill_mid_write_keeps_every_acknowledged_write_and_no_half_transaction(
    tmp_path: Path, servers: list[Server], compact_bytes: int | None
) -> None:
    # Given six clients writing transactions, objects and messages as fast as they can
    first = start(tmp_path, servers, compact_bytes)
    stop = threading.Event()
    writers = [Writer(first, f"w{n}") for n in range(6)]
    threads = [threading.Thread(target=writer.run, args=(stop,)) for writer in writers]
    for thread in threads:
        thread.start()
    time.sleep(3)

    # When the server is killed in the middle of it
    first.kill()
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    if compact_bytes:
        assert "journal-1.jsonl" not in os.listdir(tmp_path / "journal"), "no compaction happened"
    second = start(tmp_path, servers)

    # Then every acknowledged write is back, once; every transaction is all there or not at all
    stored = Counter(item["comment_id"]["S"].rsplit("-", 1)[0].removeprefix("c") for item in scan(second, COMMENTS))
    tried = {batch: acknowledged for writer in writers for batch, acknowledged in writer.transactions.items()}
    assert sum(tried.values()) > 30
    assert {batch for batch, acknowledged in tried.items() if acknowledged} <= set(stored)
    assert set(stored.values()) <= {10}
    assert set(stored) <= set(tried)
    found = {key: data for key, (data, _, _) in objects(second).items()}
    for writer in writers:
        for key, data in writer.objects.items():
            assert found[key] == data
    queued = bodies(second, PENDING)
    assert all(count == 1 for count in queued.values())
    assert {message for writer in writers for message in writer.messages} <= set(queued)


def test_compaction_keeps_everything_and_leaves_one_base_one_journal_and_the_blobs_in_use(
    tmp_path: Path, servers: list[Server]
) -> None:
    # Given a server that compacts after every few kilobytes, and an object rewritten many times
    server = start(tmp_path, servers, compact_bytes=2048)
    dynamodb, s3 = server.client("dynamodb"), server.client("s3")
    for n in range(200):
        dynamodb.put_item(TableName=COMMENTS, Item=comment(n))
        if n % 20 == 0:
            s3.put_object(Bucket=BUCKET, Key="models/champion.json", Body=f"version {n}".encode())
    s3.put_object(Bucket=BUCKET, Key="kept.bin", Body=ARCHIVE)
    journal = tmp_path / "journal"
    assert not (journal / "journal-1.jsonl").exists(), "no compaction happened while writing"

    # When it is killed after compacting, and starts again (which compacts once more)
    server.kill()
    restarted = start(tmp_path, servers)

    # Then everything is back, in one base and its empty journal, with only the blobs still named
    assert len(scan(restarted, COMMENTS)) == 200
    assert objects(restarted)["models/champion.json"][0] == b"version 180"
    names = sorted(path.name for path in journal.iterdir() if path.is_file())
    generation = names[0].removeprefix("base-").removesuffix(".jsonl")
    assert names == [f"base-{generation}.jsonl", f"journal-{generation}.jsonl"]
    assert (journal / names[1]).stat().st_size == 0
    assert {blob.name for blob in (journal / "blobs").iterdir()} == {
        hashlib.sha256(b"version 180").hexdigest(),
        hashlib.sha256(ARCHIVE).hexdigest(),
    }


# ---- a damaged journal ----


def journal_file(data: Path) -> Path:
    (found,) = (data / "journal").glob("journal-*.jsonl")
    return found


def five_comments_then_killed(data: Path, servers: list[Server]) -> list[bytes]:
    """The journal's lines after five comments, one line each, and a kill."""
    first = start(data, servers)
    for n in range(5):
        first.client("dynamodb").put_item(TableName=COMMENTS, Item=comment(n))
    first.kill()
    lines = journal_file(data).read_bytes().splitlines(keepends=True)
    assert len(lines) == 5
    return lines


def test_a_line_cut_short_is_dropped_and_the_lines_before_it_kept(tmp_path: Path, servers: list[Server]) -> None:
    lines = five_comments_then_killed(tmp_path, servers)
    journal_file(tmp_path).write_bytes(b"".join(lines[:4]) + lines[4][: len(lines[4]) // 2])

    second = start(tmp_path, servers)

    assert [item["comment_id"]["S"] for item in scan(second, COMMENTS)] == ["c0", "c1", "c2", "c3"]


def test_a_transaction_is_one_line_so_it_comes_back_whole_or_not_at_all(tmp_path: Path, servers: list[Server]) -> None:
    # Given a comment, then a transaction of 25 written to the journal
    first = start(tmp_path, servers)
    dynamodb = first.client("dynamodb")
    dynamodb.put_item(TableName=COMMENTS, Item=comment("alone"))
    dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": COMMENTS, "Item": comment(f"t{n}")}} for n in range(25)]
    )
    first.kill()
    lines = journal_file(tmp_path).read_bytes().splitlines(keepends=True)
    assert len(lines) == 2

    # When the crash came while the transaction's line was being written
    journal_file(tmp_path).write_bytes(lines[0] + lines[1][:-100])
    second = start(tmp_path, servers)

    # Then none of the transaction is back, and what came before it is
    assert [item["comment_id"]["S"] for item in scan(second, COMMENTS)] == ["calone"]


def test_a_damaged_line_drops_itself_and_what_follows(tmp_path: Path, servers: list[Server]) -> None:
    lines = five_comments_then_killed(tmp_path, servers)
    lines[2] = lines[2].replace(b"comment 2", b"comment X")  # same length, wrong checksum
    journal_file(tmp_path).write_bytes(b"".join(lines))

    second = start(tmp_path, servers)

    assert [item["comment_id"]["S"] for item in scan(second, COMMENTS)] == ["c0", "c1"]
    second.stop()
    assert "line 3 is cut short or damaged" in (second.process.stderr.read() if second.process.stderr else "")


def test_resources_the_template_no_longer_declares_are_skipped(tmp_path: Path, servers: list[Server]) -> None:
    first = start(tmp_path, servers)
    first.client("dynamodb").put_item(TableName=COMMENTS, Item=comment(1))
    first.stop()
    payload = json.dumps([["item", "OldTable", '{"id":{"S":"x"}}', {"id": {"S": "x"}}]]).encode()
    with journal_file(tmp_path).open("ab") as journal:
        journal.write(b"%08x %s\n" % (zlib.crc32(payload), payload))

    second = start(tmp_path, servers)

    assert second.restored["tables"] == {"CommentsTable": 1}


# ---- saving waits for the restore; the old format is read once ----


def test_nothing_is_saved_before_the_restore_has_run(tmp_path: Path, aws_credentials: None) -> None:
    with mock_aws():
        journal = Journal(tmp_path / "journal", TEMPLATE)
        runner = Runner([], endpoint="http://127.0.0.1:1", logs_dir=tmp_path / "logs")
        undo = moto_gaps.install(runner, lambda: "http://127.0.0.1:1", changes=journal)
        try:
            dynamodb = boto3.client("dynamodb", region_name="us-east-1")
            create_tables(TEMPLATE, dynamodb)
            with pytest.raises(JournalError, match="not been restored"):
                dynamodb.put_item(TableName=COMMENTS, Item=comment(1))
            assert not (tmp_path / "journal").exists()

            journal.restore()
            dynamodb.put_item(TableName=COMMENTS, Item=comment(2))
            journal.close()
        finally:
            undo()
            runner.close()
    assert b"c2" in journal_file(tmp_path).read_bytes()


def test_a_format_1_snapshot_is_read_once_then_replaced(tmp_path: Path, servers: list[Server]) -> None:
    # Given the data folder of an older version: one state.json rewritten every two seconds, and blobs
    legacy = tmp_path / "snapshot"
    (legacy / "blobs").mkdir(parents=True)
    digest = hashlib.sha256(ARCHIVE).hexdigest()
    (legacy / "blobs" / digest).write_bytes(ARCHIVE)
    binary = {"$base64": base64.b64encode(b"\x00\xff").decode()}
    state = {
        "format": 1,
        "tables": {"CommentsTable": [{**comment(1), "embedding": {"B": binary}}], "RegistryTable": []},
        "objects": {"DataBucket": {"models/v1/model.tar.gz": {"etag": '"x"', "sha256": digest,
                                   "content_type": "application/gzip", "metadata": {"version": "v1"}}}},
        "queues": {"PendingQueue": ['{"comment_id": "c1"}']},
    }  # fmt: skip
    (legacy / "state.json").write_text(json.dumps(state))

    # When the stack starts, and once more
    first = start(tmp_path, servers)
    first.stop()
    second = start(tmp_path, servers)

    # Then the data is there, in the new format only
    assert first.restored == {"items": 1, "objects": 1, "messages": 1, "tables": {"CommentsTable": 1}}
    (item,) = scan(second, COMMENTS)
    assert item["embedding"] == {"B": b"\x00\xff"}
    assert objects(second) == {"models/v1/model.tar.gz": (ARCHIVE, "application/gzip", {"version": "v1"})}
    assert bodies(second, PENDING) == Counter({'{"comment_id": "c1"}': 1})
    assert not legacy.exists()
