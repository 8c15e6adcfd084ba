"""The data bucket's job files on S3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from sentiment_common.dal.aws import client
from sentiment_common.dal.transient import unavailable_when_transient

CHUNK = 1 << 20


class S3JobFiles:
    """:class:`~jobs_function.ports.JobFiles` on S3."""

    _s3 = client("s3")

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def _body(self, key: str) -> Any:
        try:
            with unavailable_when_transient("the data bucket"):
                return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as error:
            if error.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                raise FileNotFoundError(key) from error
            raise

    def stream(self, key: str) -> Iterator[bytes]:
        body = self._body(key)
        with unavailable_when_transient("the data bucket"):
            yield from body.iter_chunks(CHUNK)

    def read(self, key: str) -> bytes:
        with unavailable_when_transient("the data bucket"):
            data: bytes = self._body(key).read()
        return data

    def write(self, key: str, body: bytes, content_type: str) -> None:
        with unavailable_when_transient("the data bucket"):
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def upload(self, key: str, path: Path, content_type: str) -> None:
        with unavailable_when_transient("the data bucket"):
            self._s3.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        with unavailable_when_transient("the data bucket"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]
