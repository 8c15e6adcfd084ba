"""S3 in the local stack holds an object's bytes on disk, not in memory, on the way in and out: an upload is
read once, a multipart upload is completed a megabyte at a time, a GET (ranged or not) is answered from the
object's spool as it is sent, and the journal saves and restores an object a megabyte at a time. Each is
measured with tracemalloc against the object's size, on moto's server as ``make up`` runs it."""

from __future__ import annotations

import functools
import hashlib
import http.client
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from werkzeug.serving import make_server

from sentiment_local.moto import data as moto_data
from sentiment_local.moto.gaps import install
from sentiment_local.moto.s3 import CHUNK, ObjectBody, ObjectGone, ObjectTransfers, RunningChecksum, read_chunks
from sentiment_local.persistence.journal import Journal
from sentiment_local.runtime.functions import Runner
from sentiment_template.reader import ACCOUNT, Template
from tests.conftest import ROOT

BUCKET = "storage"
PART = 8 * 1024 * 1024
SIZE = 6 * PART  # 48 MiB: far above what any step may hold at once


@pytest.fixture
def server(aws_credentials: None, tmp_path: Path) -> Iterator[str]:
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - the server only where a test runs one
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    app = ObjectTransfers(DomainDispatcherApplication(create_backend_app))
    served = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=served.serve_forever, daemon=True).start()
    runner = Runner([], endpoint="http://127.0.0.1:1", logs_dir=tmp_path / "logs")
    undo = install(runner, lambda: "http://127.0.0.1:1")
    url = f"http://127.0.0.1:{served.server_port}"
    s3(url).create_bucket(Bucket=BUCKET)
    # What a server's first GET loads (its answer's model) is not what a GET holds of an object.
    s3(url).put_object(Bucket=BUCKET, Key="warm-up", Body=b"0123456789")
    raw_get(url, "warm-up", {"Range": "bytes=2-5"})()
    try:
        yield url
    finally:
        undo()
        runner.close()
        served.shutdown()
        served.server_close()


@functools.cache
def s3(url: str) -> Any:
    """One client per server, made once: a client's making loads botocore's models (megabytes)."""
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", config=Config(retries={"max_attempts": 1}))


def content(size: int = SIZE) -> bytes:
    block = hashlib.sha256(b"seed").digest() * (CHUNK // 32)
    return (block * (size // len(block) + 1))[:size]


def peak_while(action: Callable[[], Any]) -> tuple[Any, int]:
    """What ``action`` returns, and the most memory Python held at once while it ran, above what it held
    before (every thread's: the server answers on threads of this process)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = action()
        return result, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def multipart(url: str, key: str, data: bytes, **create: Any) -> tuple[Any, dict[str, Any]]:
    """A multipart upload of ``data`` in 8 MiB parts, up to its completion: the client, the upload and the
    parts list to complete it with."""
    client = s3(url)
    upload = client.create_multipart_upload(Bucket=BUCKET, Key=key, **create)["UploadId"]
    parts = []
    for number, start in enumerate(range(0, len(data), PART), start=1):
        answer = client.upload_part(
            Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=data[start : start + PART]
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]} | _part_checksums(answer))
    return client, {"Bucket": BUCKET, "Key": key, "UploadId": upload, "MultipartUpload": {"Parts": parts}}


def _part_checksums(answer: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in answer.items() if name.startswith("Checksum") and name != "ChecksumType"}


def presigned(url: str, method: str, key: str) -> str:
    """The path and query of a presigned ``method`` on ``key``: moto answers an anonymous request 403."""
    operation = {"GET": "get_object", "PUT": "put_object"}[method]
    signed = s3(url).generate_presigned_url(operation, Params={"Bucket": BUCKET, "Key": key})
    return str(signed).removeprefix(url)


def raw_get(url: str, key: str, headers: dict[str, str] | None = None) -> Callable[[], tuple[int, str, int]]:
    """A GET of ``key``, presigned now: when called, its status and the SHA-256 and size of the bytes read
    over HTTP a megabyte at a time."""
    path = presigned(url, "GET", key)
    return lambda: _read(url, path, headers or {})


def _read(url: str, path: str, headers: dict[str, str]) -> tuple[int, str, int]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        hashed, size = hashlib.sha256(), 0
        while piece := answer.read(CHUNK):
            hashed.update(piece)
            size += len(piece)
        return answer.status, hashed.hexdigest(), size
    finally:
        connection.close()


# ---- the same answers as moto's own ----


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_a_running_checksum_is_the_one_moto_computes_over_the_whole(algorithm: str) -> None:
    from moto.s3.utils import compute_checksum  # noqa: PLC0415

    data = content(3 * CHUNK + 12345)
    running = RunningChecksum(algorithm)
    for start in range(0, len(data), CHUNK):
        running.update(data[start : start + CHUNK])
    assert running.digest() == compute_checksum(data, algorithm, encode_base64=False)


@pytest.mark.parametrize(
    "create",
    [{}, {"ChecksumAlgorithm": "CRC32"}, {"ChecksumAlgorithm": "SHA256"}, {"ChecksumAlgorithm": "SHA1"}],
    ids=["default", "crc32", "sha256", "sha1"],
)
def test_a_completed_upload_answers_as_moto_would(server: str, create: dict[str, Any]) -> None:
    from moto.s3.models import MultipartChecksumBuilder, s3_backends  # noqa: PLC0415

    # Given three parts uploaded, the last one short
    data = content(2 * PART + 777)
    client, request = multipart(server, "ours", data, **create)
    # When the upload is completed
    answer = client.complete_multipart_upload(**request)
    head = client.head_object(Bucket=BUCKET, Key="ours")
    # Then its ETag is S3's (the MD5 of the parts' MD5s, and their count), its checksum is the one moto's own
    # builder makes from the parts, and its bytes are the parts' in order
    pieces = [data[start : start + PART] for start in range(0, len(data), PART)]
    md5s = b"".join(hashlib.md5(piece).digest() for piece in pieces)  # noqa: S324 - S3's ETag
    assert answer["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'  # noqa: S324
    builder = MultipartChecksumBuilder(create.get("ChecksumAlgorithm"), None)
    for piece in pieces:
        builder.addPart(piece)
    stored = s3_backends[ACCOUNT]["aws"].buckets[BUCKET].keys["ours"]
    assert (stored.checksum_type, stored.checksum_value, stored.checksum_parts) == builder.build()
    assert head["ContentLength"] == len(data)
    assert raw_get(server, "ours")()[1] == hashlib.sha256(data).hexdigest()


def test_a_completion_refuses_what_moto_refuses(server: str) -> None:
    client, request = multipart(server, "refused", content(PART + 10))
    wrong = [{"PartNumber": 1, "ETag": '"0"'}]
    with pytest.raises(client.exceptions.ClientError, match="InvalidPart"):
        client.complete_multipart_upload(**request | {"MultipartUpload": {"Parts": wrong}})
    small, small_request = multipart(server, "small", content(100))
    two = small.upload_part(Bucket=BUCKET, Key="small", UploadId=small_request["UploadId"], PartNumber=2, Body=b"x")
    parts = small_request["MultipartUpload"]["Parts"] + [{"PartNumber": 2, "ETag": two["ETag"]}]
    with pytest.raises(small.exceptions.ClientError, match="EntityTooSmall"):
        small.complete_multipart_upload(**small_request | {"MultipartUpload": {"Parts": parts}})


# ---- memory that does not grow with the object ----


def test_completing_a_multipart_upload_holds_no_copy_of_the_object(server: str) -> None:
    # Given a 48 MiB upload in six parts
    data = content()
    client, request = multipart(server, "whole.json", data)
    del data
    # When it is completed
    answer, peak = peak_while(lambda: client.complete_multipart_upload(**request))
    # Then no step held the object (moto joins the parts, copies them, and joins them again for the checksum)
    assert answer["ETag"].endswith('-6"')
    assert peak < SIZE // 4, f"completing held {peak / 2**20:.1f} MiB for a {SIZE / 2**20:.0f} MiB object"
    assert raw_get(server, "whole.json")()[1:] == (hashlib.sha256(content()).hexdigest(), SIZE)


def test_what_a_get_holds_does_not_grow_with_the_object(server: str) -> None:
    # Given a 12 MiB object and a 48 MiB one
    s3(server).put_object(Bucket=BUCKET, Key="small.csv", Body=content(SIZE // 4))
    s3(server).put_object(Bucket=BUCKET, Key="big.csv", Body=content())
    # When each is read whole
    small, small_peak = peak_while(raw_get(server, "small.csv"))
    big, big_peak = peak_while(raw_get(server, "big.csv"))
    # Then each arrives whole, and the bigger one took no more memory to send (moto reads it whole: +36 MiB)
    assert small == (200, hashlib.sha256(content(SIZE // 4)).hexdigest(), SIZE // 4)
    assert big == (200, hashlib.sha256(content()).hexdigest(), SIZE)
    assert big_peak - small_peak < SIZE // 4, f"{big_peak / 2**20:.1f} MiB against {small_peak / 2**20:.1f} MiB"


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        (f"bytes={PART}-{PART + CHUNK - 1}", PART, PART + CHUNK),
        ("bytes=-1000", -1000, None),
        ("bytes=11000000-", 11_000_000, None),
    ],
    ids=["range", "suffix", "open-ended"],
)
def test_a_ranged_get_answers_its_range_and_holds_no_more_for_a_bigger_object(
    server: str, header: str, start: int, stop: int | None
) -> None:
    # Given a 12 MiB object and a 48 MiB one
    small_data, big_data = content(SIZE // 4), content()
    s3(server).put_object(Bucket=BUCKET, Key="small.csv", Body=small_data)
    s3(server).put_object(Bucket=BUCKET, Key="big.csv", Body=big_data)
    # When the same range is asked of each
    small, small_peak = peak_while(raw_get(server, "small.csv", {"Range": header}))
    big, big_peak = peak_while(raw_get(server, "big.csv", {"Range": header}))
    # Then each answers its range, and the bigger object took no more memory (moto reads it whole to cut it)
    for answer, data in ((small, small_data), (big, big_data)):
        part = data[start:stop]
        assert answer == (206, hashlib.sha256(part).hexdigest(), len(part))
    assert big_peak - small_peak < SIZE // 4, f"{big_peak / 2**20:.1f} MiB against {small_peak / 2**20:.1f} MiB"


def test_an_upload_is_held_once(server: str, tmp_path: Path) -> None:
    # Given a 48 MiB file on disk, sent as a plain PUT
    source = tmp_path / "upload.csv"
    source.write_bytes(content())
    host, port = server.removeprefix("http://").split(":")

    def put() -> int:
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        try:
            with source.open("rb") as body:
                connection.request(
                    "PUT", presigned(server, "PUT", "upload.csv"), body=body, headers={"Content-Length": str(SIZE)}
                )
            return connection.getresponse().status
        finally:
            connection.close()

    status, peak = peak_while(put)
    # Then the server held its bytes once (werkzeug gathers a body in a bytearray and copies it; moto wrote
    # it to the spool in one piece, which copies it again as the spool moves to disk, and read it 16 MB at a
    # time for its ETag)
    assert status == 200
    assert peak < SIZE * 1.4, f"a PUT held {peak / 2**20:.1f} MiB for a {SIZE / 2**20:.0f} MiB body"
    assert raw_get(server, "upload.csv")()[1:] == (hashlib.sha256(content()).hexdigest(), SIZE)


def test_the_journal_reads_and_restores_an_object_a_megabyte_at_a_time(server: str, tmp_path: Path) -> None:
    # Given a 48 MiB object
    s3(server).put_object(Bucket=BUCKET, Key="kept.csv", Body=content())
    saved = tmp_path / "kept.bin"

    def save() -> None:
        stored = moto_data.stored_object(BUCKET, "kept.csv")
        assert stored is not None
        with saved.open("wb") as out:
            for piece in stored[0]:
                out.write(piece)

    # When it is read out to a file, and loaded back from it
    _, read_peak = peak_while(save)
    _, load_peak = peak_while(lambda: moto_data.load_object(BUCKET, "restored.csv", saved, {}))
    # Then neither held the object
    assert read_peak < SIZE // 4 and load_peak < SIZE // 4, (read_peak, load_peak)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(content()).hexdigest()
    assert raw_get(server, "restored.csv")()[1:] == (hashlib.sha256(content()).hexdigest(), SIZE)


# ---- an object deleted while it is read ----


def test_an_object_deleted_while_it_is_read_is_gone_not_garbage(server: str) -> None:
    from moto.s3.models import s3_backends  # noqa: PLC0415

    s3(server).put_object(Bucket=BUCKET, Key="doomed.csv", Body=content())
    key = s3_backends[ACCOUNT]["aws"].buckets[BUCKET].keys["doomed.csv"]
    pieces = read_chunks(key)
    assert len(next(pieces)) == CHUNK
    s3(server).delete_object(Bucket=BUCKET, Key="doomed.csv")  # moto closes its spool at once
    with pytest.raises(ObjectGone):
        next(pieces)
    assert list(ObjectBody(key)) == []  # a GET in flight ends short, as a dropped connection


def test_the_journal_reads_again_an_object_deleted_while_it_was_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an object deleted while the journal copies it, then replaced (or gone) by the time it looks again
    answers: list[Any] = []

    def torn() -> Iterator[bytes]:
        yield b"first megabyte"
        raise ObjectGone("doomed.csv")

    answers += [(torn(), {}), (iter([b"what replaced it"]), {"Content-Type": "text/csv"}), (torn(), {}), None]
    monkeypatch.setattr(moto_data, "stored_object", lambda bucket, key: answers.pop(0))
    journal = Journal(tmp_path / "journal", Template.read(ROOT / "template.yaml"))
    # Then what is recorded is what is there when it is read again, and no half-written blob is left
    replaced = journal._object_entry("bucket", "doomed.csv")
    assert replaced == {
        "sha256": hashlib.sha256(b"what replaced it").hexdigest(),
        "size": 16,
        "headers": {"Content-Type": "text/csv"},
    }
    assert journal._object_entry("bucket", "doomed.csv") is None
    blobs = sorted(path.name for path in (tmp_path / "journal" / "blobs").iterdir())
    assert blobs == [hashlib.sha256(b"what replaced it").hexdigest()]
