"""Presigned URLs for the data bucket's objects: the uploads of jobs and datasets, and their downloads.

- **Signature Version 4 in the query string** (``X-Amz-Expires``). botocore signs some S3 URLs with
  version 2, which buckets created since June 2020 refuse ("Authenticating Requests: Using Query
  Parameters", https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html). The
  signature covers the host alone, so a PUT with no other header (``curl -T file URL``) matches it.
- **Two addresses for one upload.** ``upload_url`` is S3's own address, for a script or ``curl``. The web
  page may only fetch from its own origin (its Content-Security-Policy says ``connect-src 'self'``), so
  ``upload_path`` is the same object's presigned path and query on the page's origin: CloudFront forwards
  ``/jobs/*/input`` and ``/datasets/*/upload`` to the bucket (``DataBucketUploads`` in the template), with
  the bucket's regional domain as the ``Host``, the domain this signature covers. A Version 4 signature
  binds the host, so the path is signed for ``{bucket}.s3.{region}.{suffix}`` whatever endpoint this
  process's other clients use (a configured ``AWS_ENDPOINT_URL`` included).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

SIGNED = Config(signature_version="s3v4")
# Virtual-hosted and regional in every region, us-east-1 included: {bucket}.s3.{region}.amazonaws.com, the
# origin domain the template gives CloudFront for the uploads.
REGIONAL_VIRTUAL_HOST = Config(
    signature_version="s3v4",
    s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"},
    ignore_configured_endpoint_urls=True,
)


class PresignedLinks:
    """Presigned PUT and GET addresses for one bucket's objects."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    @cached_property
    def _s3(self) -> Any:
        return boto3.client("s3", config=SIGNED)

    @cached_property
    def _regional(self) -> Any:
        return boto3.client("s3", config=REGIONAL_VIRTUAL_HOST)

    def upload_url(self, key: str, expires_in: int) -> str:
        # No ContentType among the signed parameters: a plain PUT matches the signature.
        url: str = self._s3.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )
        return url

    def upload_path(self, key: str, expires_in: int) -> str:
        url: str = self._regional.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}"

    def download_url(self, key: str, expires_in: int) -> str:
        url: str = self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )
        return url


def upload_host(bucket: str) -> str:
    """The host :meth:`PresignedLinks.upload_path` signs for: the bucket's regional domain."""
    s3 = boto3.client("s3", config=REGIONAL_VIRTUAL_HOST)
    url = s3.generate_presigned_url("head_bucket", Params={"Bucket": bucket})
    return str(urlsplit(url).netloc)


__all__ = ["PresignedLinks", "upload_host"]
