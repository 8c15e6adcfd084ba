"""S3 keeps an object's bytes in storage, not in memory: a single PUT takes an object of up to 5 GB and a
multipart upload one of up to 5 TB (https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html),
and what serves them does not grow with them.

moto 5.2.5 keeps each object in a spool (memory up to about 5 MB, then a temporary file), but moves it whole:
- writing an object writes the body into the spool in one piece, which holds it in memory and then copies it
  out to disk: three times the body at the peak;
- ``CompleteMultipartUpload`` joins the parts into one ``bytearray``, copies that, and for a whole-object
  checksum (CRC64NVME, the default) joins them all again: four times the object;
- a GET reads the whole object into memory to answer, and a ranged GET reads it whole to cut out its range;
- the server gathers a request's body in a ``bytearray`` and copies it, and the ETag is read 16 MB at a time.

So the local stack's memory grew with the largest file a bulk job moved (its upload, the map's result files,
the merged results). Here an object is written to its spool a megabyte at a time; a multipart upload is
completed into a spool of its own by copying its parts a megabyte at a time, its checksum computed as it
goes, and the object takes that spool; a GET served over HTTP answers with the object, or its range, read
from the spool as it is sent; a request's body is read into memory once, not gathered and copied. In-process
moto (tests without a server) answers with bytes, as before.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import importlib.util
import io
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from sentiment_local.moto.patching import Patches

CHUNK = 1 << 20

_here = threading.local()  # .serving: an HTTP request is being answered; .answering: its GetObject is


class Pieces:
    """An object's bytes given as pieces read one at a time (a saved file), for an object to write."""

    def __init__(self, read: Callable[[], Iterator[bytes]]) -> None:
        self._read = read

    def __iter__(self) -> Iterator[bytes]:
        return self._read()

    @classmethod
    def of_file(cls, path: Path) -> Pieces:
        def read() -> Iterator[bytes]:
            with path.open("rb") as handle:
                while piece := handle.read(CHUNK):
                    yield piece

        return cls(read)


class Spooled:
    """A spool already holding an object's bytes (a completed multipart upload): the object takes it."""

    def __init__(self, spool: IO[bytes], size: int) -> None:
        self.spool = spool
        self.size = size


class ObjectGone(Exception):
    """The object was deleted while it was read: moto closes a deleted object's spool at once."""


def read_chunks(key: Any, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
    """Bytes ``[start, stop)`` of a moto object a megabyte at a time. Each read seeks and reads under the
    object's lock: every reader shares the spool's position. :class:`ObjectGone` when it is deleted meanwhile."""
    position, end = start, key.size if stop is None else stop
    while position < end:
        with key.lock:
            try:
                key._value_buffer.seek(position)
                piece: bytes = key._value_buffer.read(min(CHUNK, end - position))
            except ValueError as closed:  # "I/O operation on closed file"
                raise ObjectGone(key.name) from closed
        if not piece:
            return
        position += len(piece)
        yield piece


class ObjectBody:
    """A GET's answer: the object's bytes, or a range of them, read from its spool as they are sent. moto
    takes its length and cuts ranges out of it as it would out of bytes."""

    def __init__(self, key: Any, start: int = 0, stop: int | None = None) -> None:
        self._key = key
        self._start = start
        self._stop = key.size if stop is None else stop

    def __len__(self) -> int:
        return self._stop - self._start

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from read_chunks(self._key, self._start, self._stop)
        except ObjectGone:
            return  # deleted while sent: the answer ends short of its Content-Length, as a dropped connection

    def __getitem__(self, part: slice) -> ObjectBody:
        start, stop, step = part.indices(len(self))
        if step != 1:
            raise ValueError("an object's bytes are cut in ranges only")
        return ObjectBody(self._key, self._start + start, self._start + max(start, stop))


def _etag(key: Any) -> str:
    """FakeKey's ETag, the MD5 of its bytes read a megabyte at a time (moto reads 16 MB at a time)."""
    from moto.utilities.utils import md5_hash  # noqa: PLC0415

    if key._etag is None:
        hashed = md5_hash()
        for piece in read_chunks(key):
            hashed.update(piece)
        key._etag = hashed.hexdigest()
    return f'"{key._etag}"'


def _slices(data: bytes) -> Iterator[memoryview]:
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        yield view[start : start + CHUNK]


def write_value(key: Any, value: Any) -> None:
    """FakeKey's value setter, a megabyte at a time; a completed upload's spool is taken as it is."""
    if isinstance(value, Spooled):
        key._value_buffer.close()
        key._value_buffer = value.spool
        key.contentsize = value.size
        return
    if isinstance(value, str):
        value = value.encode("utf-8")
    buffer = key._value_buffer
    buffer.seek(0)
    buffer.truncate()
    size = 0
    pieces: Iterable[Any] = value if isinstance(value, Pieces) else _slices(value)
    for piece in pieces:
        buffer.write(piece)
        size += len(piece)
    key.contentsize = size


# ---- checksums a piece at a time ----


class RunningChecksum:
    """moto's ``compute_checksum`` for one algorithm, fed a piece at a time. moto computes CRC32C and
    CRC64NVME with optional libraries and falls back to CRC32 without them; where such a library is
    installed, :meth:`streams` is false and moto's own join is kept."""

    def __init__(self, algorithm: str) -> None:
        if algorithm in {"CRC32", "CRC32C", "CRC64NVME"}:
            self._crc: int | None = 0
        else:
            self._crc = None
            self._hash = hashlib.sha1(usedforsecurity=False) if algorithm == "SHA1" else hashlib.sha256()

    @staticmethod
    def streams(algorithm: str) -> bool:
        from moto.core.compat import HAS_CRT  # noqa: PLC0415

        optional = {"CRC32C": importlib.util.find_spec("crc32c") is not None, "CRC64NVME": HAS_CRT}
        return not optional.get(algorithm, False)

    def update(self, piece: bytes) -> None:
        if self._crc is None:
            self._hash.update(piece)
        else:
            self._crc = binascii.crc32(piece, self._crc)

    def digest(self) -> bytes:
        return self._hash.digest() if self._crc is None else self._crc.to_bytes(4, "big")


def _checked_parts(multipart: Any, body: Iterator[tuple[int, str]]) -> Iterator[tuple[Any, str]]:
    """The parts ``body`` lists with their ETags, checked as moto checks them; none is MalformedXML."""
    from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML  # noqa: PLC0415
    from moto.settings import S3_UPLOAD_PART_MIN_SIZE  # noqa: PLC0415

    last = None
    for number, etag in body:
        part = multipart.parts.get(number)
        part_etag = None if part is None else str(part.etag).replace('"', "")
        if part is None or part_etag != etag.replace('"', ""):
            raise InvalidPart()
        if last is not None and last.contentsize < S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        yield part, part_etag
        last = part
    if last is None:
        raise MalformedXML


def _complete(original: Callable[..., Any]) -> Callable[..., Any]:
    from moto.s3.models import MultipartChecksumBuilder  # noqa: PLC0415
    from moto.s3.utils import compute_checksum  # noqa: PLC0415
    from moto.utilities.utils import md5_hash  # noqa: PLC0415

    def complete(self: Any, body: Iterator[tuple[int, str]]) -> tuple[Any, str, tuple[str, str, int] | None]:
        """FakeMultipart.complete: the same checks and answers, the parts copied into a spool."""
        resolved = MultipartChecksumBuilder(
            self.metadata.get("x-amz-checksum-algorithm"), self.metadata.get("x-amz-checksum-type")
        )
        algorithm, kind = resolved.checksum_algorithm, resolved.checksum_type
        if not RunningChecksum.streams(algorithm):
            return original(self, body)  # type: ignore[no-any-return]
        whole = RunningChecksum(algorithm)
        part_checksums = bytearray()
        md5s = bytearray()
        spool = tempfile.SpooledTemporaryFile(max_size=_spool_size())  # noqa: SIM115 - the object keeps it
        size = count = 0
        try:
            for part, part_etag in _checked_parts(self, body):
                md5s.extend(bytes.fromhex(part_etag))
                running = RunningChecksum(algorithm) if kind == "COMPOSITE" else whole
                for piece in read_chunks(part):
                    spool.write(piece)
                    size += len(piece)
                    running.update(piece)
                if kind == "COMPOSITE":
                    part_checksums.extend(running.digest())
                count += 1
        except BaseException:
            spool.close()
            raise
        full_etag = md5_hash()
        full_etag.update(bytes(md5s))
        if kind == "COMPOSITE":
            checksum = (kind, compute_checksum(bytes(part_checksums), algorithm).decode(), count)
        else:
            checksum = (kind, base64.b64encode(whole.digest()).decode(), 1)
        return Spooled(spool, size), f"{full_etag.hexdigest()}-{count}", checksum

    return complete


def _spool_size() -> int:
    from moto.settings import get_s3_default_key_buffer_size  # noqa: PLC0415

    return int(get_s3_default_key_buffer_size())


@contextlib.contextmanager
def serving() -> Iterator[None]:
    """An HTTP request being answered: a GetObject in it answers with the object streamed."""
    _here.serving = True
    try:
        yield
    finally:
        _here.serving = False


class ObjectTransfers:
    """WSGI middleware around moto's server: a request's body is read once, into one ``bytes`` that moto
    takes as it is (werkzeug would gather it in a ``bytearray`` and copy it: twice an upload's size), and a
    GetObject answers with the object streamed from its spool."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > 0 and "wsgi.input_terminated" not in environ:
            # One allocation of the body's size; BytesIO shares it, and reading it whole hands back the same
            # object.
            environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
            environ["wsgi.input_terminated"] = True
        with serving():
            return self._app(environ, start_response)


def plug_s3_storage(patches: Patches) -> None:
    from moto.s3.models import FakeKey, FakeMultipart  # noqa: PLC0415
    from moto.s3.responses import S3Response  # noqa: PLC0415

    read_whole = cast(Callable[[Any], bytes], vars(FakeKey)["value"].fget)

    def read_value(key: Any) -> Any:
        return ObjectBody(key) if getattr(_here, "answering", False) else read_whole(key)

    patches.set(FakeKey, "value", property(read_value, write_value))
    patches.set(FakeKey, "etag", property(_etag))
    patches.set(FakeMultipart, "complete", _complete(FakeMultipart.complete))

    get_object = S3Response.get_object

    def streamed_get_object(self: Any) -> Any:
        if not getattr(_here, "serving", False):
            return get_object(self)
        _here.answering = True
        try:
            return get_object(self)
        finally:
            _here.answering = False

    patches.set(S3Response, "get_object", streamed_get_object)
