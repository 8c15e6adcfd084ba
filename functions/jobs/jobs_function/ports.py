"""What the job steps need from the outside besides the jobs table and the comment store (in
``sentiment_common.ports``): the data bucket's job files. Its S3 adapter and in-memory fake are held to
one contract suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol


class JobFiles(Protocol):
    """Files under ``jobs/`` in the data bucket: read as a stream, never whole, however large."""

    bucket: str

    def stream(self, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks; ``FileNotFoundError`` when there is none."""
        ...

    def read(self, key: str) -> bytes:
        """A small object whole (a manifest, a list); ``FileNotFoundError`` when there is none."""
        ...

    def write(self, key: str, body: bytes, content_type: str) -> None: ...

    def upload(self, key: str, path: Path, content_type: str) -> None:
        """A file on local disk, however large."""
        ...

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix``, in order."""
        ...
