"""Presigned S3 URLs, taken as S3 takes them; moto takes any, expired or forged.

- **Signature Version 4 only.** A bucket created after 24 June 2020 refuses requests signed with
  Signature Version 2 (Amazon S3 user guide, "AWS Signature Version 2 turned off (deprecated) for
  Amazon S3", https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingAWSSDK.html#UsingAWSSDK-sig2-deprecation),
  and every bucket the template makes is such a bucket. botocore still presigns S3 URLs with Version 2
  unless told otherwise, so a URL made with a plain ``boto3.client("s3")`` works on moto and fails on AWS:
  here it is refused, 400 ``InvalidRequest``, as S3 refuses it. Presign with
  ``Config(signature_version="s3v4")``.
- **Expiry.** ``X-Amz-Expires`` is between 1 and 604,800 seconds (seven days), else 400
  ``AuthorizationQueryParametersError``; a URL used after ``X-Amz-Date`` + ``X-Amz-Expires`` gets 403
  ``AccessDenied`` "Request has expired" (Amazon S3 API reference, "Authenticating Requests: Using Query
  Parameters (AWS Signature Version 4)",
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
- **The signature.** Recomputed from the request as that page says (canonical request with
  ``UNSIGNED-PAYLOAD``, string to sign, the derived signing key) for every key whose secret the local
  stack knows (the roles' keys); a mismatch gets 403 ``SignatureDoesNotMatch``. Keys it does not know (an
  administrator's) are not checked for their signature, as IAM does not check them here either.

Error bodies are S3's (Amazon S3 API reference, "Error responses",
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html), so the SDK and a browser read what
they read on AWS.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote
from xml.sax.saxutils import escape

from sentiment_template.policies import SECRET_ACCESS_KEY

MAX_EXPIRES_S = 604_800  # seven days
ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class Refused:
    status: str
    code: str
    message: str
    extra: Mapping[str, str]

    def body(self) -> bytes:
        fields = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in self.extra.items())
        return (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{self.code}</Code>'
            f"<Message>{escape(self.message)}</Message>{fields}</Error>"
        ).encode()


SecretFor = Callable[[str], str | None]
"""The secret key of an access key, if the local stack knows it."""


def role_secret(access_key: str) -> str | None:
    """The secret of the keys the local stack gives its roles (temporary keys, ``ASIA…``); None for any
    other key (an administrator's, a test's), whose signature is not checked."""
    return SECRET_ACCESS_KEY if access_key.startswith("ASIA") else None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _canonical_query(raw_query: str) -> str:
    pairs = [(_encode(name), _encode(value)) for name, value in parse_qsl(raw_query, keep_blank_values=True)]
    return "&".join(f"{name}={value}" for name, value in sorted(pairs) if name != "X-Amz-Signature")


def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(environ: Mapping[str, Any], query: Mapping[str, str], secret: str) -> str:
    """The Version 4 signature of a presigned request, computed as S3 computes it."""
    raw_uri = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/"))
    path = raw_uri.split("?", 1)[0] or "/"
    canonical_uri = quote(unquote(path), safe="/~")
    signed = query["X-Amz-SignedHeaders"].split(";")
    headers = {name: str(environ.get("HTTP_" + name.upper().replace("-", "_"), "")).strip() for name in signed}
    if "content-type" in signed:
        headers["content-type"] = str(environ.get("CONTENT_TYPE", "")).strip()
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed)
    canonical_request = "\n".join(
        [
            str(environ.get("REQUEST_METHOD", "GET")).upper(),
            canonical_uri,
            _canonical_query(str(environ.get("QUERY_STRING", ""))),
            canonical_headers,
            ";".join(signed),
            query.get("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"),
        ]
    )
    _, date, region, service, _ = query["X-Amz-Credential"].split("/")
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, query["X-Amz-Date"], scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    return hmac.new(_signing_key(secret, date, region, service), to_sign.encode(), hashlib.sha256).hexdigest()


def check(environ: Mapping[str, Any], secret_for: SecretFor, now: float | None = None) -> Refused | None:
    """Why S3 would refuse this request's query-string authentication; None if it would take it (or if the
    request is not authenticated in its query string)."""
    query = dict(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
    if "AWSAccessKeyId" in query and "Signature" in query:
        return Refused(
            "400 Bad Request",
            "InvalidRequest",
            "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
            {},
        )
    if query.get("X-Amz-Algorithm") != ALGORITHM:
        return None
    return _check_version_4(environ, query, secret_for, time.time() if now is None else now)


def _check_version_4(
    environ: Mapping[str, Any], query: Mapping[str, str], secret_for: SecretFor, now: float
) -> Refused | None:
    try:
        expires = int(query["X-Amz-Expires"])
        signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
        access_key = query["X-Amz-Credential"].split("/")[0]
        given = query["X-Amz-Signature"]
    except (KeyError, ValueError):
        return Refused(
            "400 Bad Request",
            "AuthorizationQueryParametersError",
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
            "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
            {},
        )
    if not 1 <= expires <= MAX_EXPIRES_S:
        return Refused(
            "400 Bad Request",
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds) that is; 604800"
            if expires > MAX_EXPIRES_S
            else "X-Amz-Expires must be non-negative",
            {},
        )
    if now > signed_at + expires:
        return Refused(
            "403 Forbidden",
            "AccessDenied",
            "Request has expired",
            {"X-Amz-Expires": str(expires), "Expires": _iso(signed_at + expires), "ServerTime": _iso(now)},
        )
    secret = secret_for(access_key)
    if secret is not None and not hmac.compare_digest(signature(environ, query, secret), given):
        return Refused(
            "403 Forbidden",
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            {"AWSAccessKeyId": access_key},
        )
    return None


@dataclass
class PresignedUrls:
    """WSGI middleware in front of moto: a presigned request S3 would refuse is refused here."""

    app: Any
    secret_for: SecretFor

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        refused = check(environ, self.secret_for)
        if refused is None:
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        return self._refuse(refused, start_response)

    @staticmethod
    def _refuse(refused: Refused, start_response: Any) -> Iterator[bytes]:
        body = refused.body()
        start_response(refused.status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
        yield body
