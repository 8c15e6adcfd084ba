"""Presigned S3 URLs are taken as S3 takes them: Signature Version 4 only, within their expiry, and with
the signature the key's secret gives. The URLs are made by botocore, as the functions make them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from sentiment_local.iam.presigned import check, role_secret
from sentiment_template.policies import access_key_for, credentials_for

ROLE = "arn:aws:iam::123456789012:role/sentiment-local-ApiFunctionRole"
ENDPOINT = "http://127.0.0.1:5000"
SIGNED_AT = 1_800_000_000.0


def _client(signature_version: str | None = "s3v4") -> Any:
    keys = credentials_for(ROLE)
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=keys["AWS_SESSION_TOKEN"],
        config=Config(signature_version=signature_version) if signature_version else None,
    )


def _presign(method: str = "put_object", key: str = "jobs/job-1/input", expires: int = 3600, **client: Any) -> str:
    return str(
        _client(**client).generate_presigned_url(
            method, Params={"Bucket": "sentiment-local-data", "Key": key}, ExpiresIn=expires
        )
    )


def _environ(url: str, method: str = "PUT") -> dict[str, Any]:
    """What the local stack's server hands its middleware for a request to ``url``."""
    parts = urlsplit(url)
    return {
        "REQUEST_METHOD": method,
        "RAW_URI": f"{parts.path}?{parts.query}",
        "PATH_INFO": parts.path,
        "QUERY_STRING": parts.query,
        "HTTP_HOST": parts.netloc,
    }


def _signed_at(url: str) -> float:
    from datetime import UTC, datetime  # noqa: PLC0415

    stamp = dict(part.split("=", 1) for part in urlsplit(url).query.split("&"))["X-Amz-Date"]
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("method", "http", "key"),
    [
        ("put_object", "PUT", "jobs/job-1/input"),
        ("get_object", "GET", "jobs/job-1/results.csv"),
        ("put_object", "PUT", "datasets/support tickets/upload"),
        ("get_object", "GET", "jobs/ünïcode & more+/results.jsonl"),
    ],
)
def test_a_url_botocore_presigns_with_version_4_is_taken(method: str, http: str, key: str) -> None:
    url = _presign(method, key)
    assert check(_environ(url, http), role_secret, now=_signed_at(url) + 10) is None


def test_a_url_presigned_with_botocores_default_s3_signer_is_refused_as_a_new_bucket_refuses_it() -> None:
    url = _presign(signature_version=None)
    assert "AWSAccessKeyId=" in url, "botocore's default S3 presigning is Signature Version 2"
    refused = check(_environ(url), role_secret)
    assert refused is not None
    assert (refused.status, refused.code) == ("400 Bad Request", "InvalidRequest")
    assert "AWS4-HMAC-SHA256" in refused.message


def test_an_expired_url_is_refused_with_the_time_it_expired() -> None:
    url = _presign(expires=60)
    signed_at = _signed_at(url)
    assert check(_environ(url), role_secret, now=signed_at + 60) is None
    refused = check(_environ(url), role_secret, now=signed_at + 61)
    assert refused is not None
    assert (refused.status, refused.code, refused.message) == ("403 Forbidden", "AccessDenied", "Request has expired")
    assert b"<X-Amz-Expires>60</X-Amz-Expires>" in refused.body()


def test_an_expiry_beyond_seven_days_is_refused() -> None:
    url = _presign(expires=3600).replace("X-Amz-Expires=3600", "X-Amz-Expires=604801")
    refused = check(_environ(url), role_secret, now=_signed_at(url))
    assert refused is not None
    assert refused.code == "AuthorizationQueryParametersError"


@pytest.mark.parametrize(
    "forge",
    [
        lambda url: url.replace("jobs/job-1/input", "jobs/job-2/input"),  # another key
        lambda url: url.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200"),  # a longer life
    ],
)
def test_a_url_changed_after_signing_is_refused(forge: Any) -> None:
    url = forge(_presign())
    refused = check(_environ(url), role_secret, now=_signed_at(url) + 1)
    assert refused is not None
    assert (refused.status, refused.code) == ("403 Forbidden", "SignatureDoesNotMatch")


def test_the_method_is_part_of_the_signature() -> None:
    url = _presign("get_object")
    refused = check(_environ(url, "PUT"), role_secret, now=_signed_at(url) + 1)
    assert refused is not None and refused.code == "SignatureDoesNotMatch"


def test_requests_signed_in_their_headers_are_left_to_the_rest_of_the_stack() -> None:
    assert check({"REQUEST_METHOD": "GET", "PATH_INFO": "/bucket/key", "QUERY_STRING": ""}, role_secret) is None


def test_only_the_roles_keys_have_their_signature_checked() -> None:
    assert role_secret(access_key_for(ROLE)) is not None
    assert role_secret("local") is None
