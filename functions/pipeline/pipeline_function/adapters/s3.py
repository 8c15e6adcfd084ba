"""The data bucket as the pipeline sees it: training data, feedback, run inputs, model artifacts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from pipeline_function.ports import CHAMPION_POINTER, PARALLEL_READS
from sentiment_common.dal.transient import unavailable_when_transient
from sentiment_common.registry import Champion


class S3DataStore:
    """:class:`~pipeline_function.ports.DataStore` on S3."""

    @cached_property
    def _s3(self) -> Any:
        return boto3.client("s3", config=Config(max_pool_connections=PARALLEL_READS))

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def key_of(self, uri: str) -> str:
        prefix = f"s3://{self.bucket}/"
        if not uri.startswith(prefix):
            raise ValueError(f"{uri} is not in the data bucket {self.bucket}")
        return uri[len(prefix) :]

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self._s3.get_paginator("list_objects_v2")
        with unavailable_when_transient("the data bucket"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]

    def folders(self, prefix: str) -> Iterator[str]:
        # One page lists a thousand folders, whatever the number of objects in them.
        paginator = self._s3.get_paginator("list_objects_v2")
        with unavailable_when_transient("the data bucket"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                for item in page.get("CommonPrefixes", []):
                    yield item["Prefix"]

    def read(self, key: str) -> bytes:
        with unavailable_when_transient("the data bucket"):
            data: bytes = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return data

    def read_if_exists(self, key: str) -> bytes | None:
        try:
            return self.read(key)
        except ClientError as error:
            if error.response["Error"]["Code"] in {"NoSuchKey", "404"}:
                return None
            raise

    def write(self, key: str, body: bytes | bytearray, content_type: str) -> None:
        with unavailable_when_transient("the data bucket"):
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def copy(self, source_key: str, key: str) -> None:
        with unavailable_when_transient("the data bucket"):
            self._s3.copy_object(Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": source_key})

    def point_at(self, champion: Champion) -> None:
        self.write(CHAMPION_POINTER, champion.pointer(), "application/json")

    def pointer(self) -> dict[str, Any] | None:
        data = self.read_if_exists(CHAMPION_POINTER)
        return None if data is None else dict(json.loads(data))
