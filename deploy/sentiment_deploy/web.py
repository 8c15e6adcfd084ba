"""Publish the web page to a deployed stack.

Uploads every file under ``frontend/`` (but its README) to the stack's web bucket, deletes what is no
longer there, and asks CloudFront to drop its copies. The stack is found by name; its outputs
``WebBucketName``, ``WebDistributionId`` and ``WebUrl`` say where everything goes.

    python -m sentiment_deploy publish-web                  # the stack named in samconfig.toml's default environment
    python -m sentiment_deploy publish-web --config-env prod
    python -m sentiment_deploy publish-web --stack-name my-stack --region eu-west-1
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiment_deploy.stack import DeployError, find_stack

SKIPPED_FILES = {"README.md"}  # at the top of the source folder: notes for developers, not the page

# The system's MIME tables differ between machines (some say application/javascript, some know no
# .svg); browsers refuse ES modules and sniffing-protected files served with the wrong type.
CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}
# An HTML page names the current scripts and styles, so it is revalidated on every load; the files
# it names may be a few minutes stale after a publish.
PAGE_CACHE_CONTROL = "no-cache"
ASSET_CACHE_CONTROL = "max-age=300"
DELETE_BATCH = 1000  # the most keys one DeleteObjects call takes
WEB_OUTPUTS = ("WebBucketName", "WebDistributionId", "WebUrl")


@dataclass(frozen=True)
class WebStack:
    name: str
    bucket: str
    distribution_id: str
    url: str


@dataclass(frozen=True)
class PageFile:
    path: Path
    key: str
    content_type: str
    cache_control: str


# ---- which stack ----


def find_web_stack(cloudformation: Any, stack_name: str) -> WebStack:
    stack = find_stack(cloudformation, stack_name)
    bucket, distribution_id, url = stack.require(*WEB_OUTPUTS)
    return WebStack(stack_name, bucket, distribution_id, url)


# ---- what to upload ----


def content_type(path: Path) -> str:
    guessed = CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    if guessed is None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def cache_control(path: Path) -> str:
    return PAGE_CACHE_CONTROL if path.suffix.lower() == ".html" else ASSET_CACHE_CONTROL


def page_files(source: Path) -> list[PageFile]:
    """The files that make up the page, keyed by their path under ``source``; hidden files and the
    README stay behind. Refuses a folder without ``index.html``, which would leave the site empty."""
    if not source.is_dir():
        raise DeployError(f"{source} is not a folder")
    files = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if not path.is_file() or relative.as_posix() in SKIPPED_FILES:
            continue
        if any(part.startswith(".") for part in relative.parts):
            continue
        files.append(PageFile(path, relative.as_posix(), content_type(path), cache_control(path)))
    if not any(page.key == "index.html" for page in files):
        raise DeployError(f"{source} has no index.html: nothing to publish")
    return files


# ---- publishing ----


def upload(s3: Any, bucket: str, files: Sequence[PageFile]) -> None:
    for page in files:
        extra = {"ContentType": page.content_type, "CacheControl": page.cache_control}
        s3.upload_file(str(page.path), bucket, page.key, ExtraArgs=extra)
        print(f"uploaded  {page.key}  ({page.content_type}, {page.cache_control})")


def bucket_keys(s3: Any, bucket: str) -> Iterator[str]:
    for listing in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in listing.get("Contents", []):
            yield str(item["Key"])


def delete_stale(s3: Any, bucket: str, keep: set[str]) -> list[str]:
    """Delete the objects no local file matches any more (after the upload, so the page is never half gone)."""
    stale = sorted(set(bucket_keys(s3, bucket)) - keep)
    for start in range(0, len(stale), DELETE_BATCH):
        batch = stale[start : start + DELETE_BATCH]
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True})
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise DeployError(f"could not delete s3://{bucket}/{first['Key']}: {first['Message']}")
        for key in batch:
            print(f"deleted   {key}")
    return stale


def invalidate(cloudfront: Any, distribution_id: str) -> str:
    answer = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]},
            "CallerReference": f"publish-web-{time.time_ns()}",
        },
    )
    return str(answer["Invalidation"]["Id"])


def publish(session: Any, stack_name: str, source: Path) -> WebStack:
    files = page_files(source)
    stack = find_web_stack(session.client("cloudformation"), stack_name)
    print(f"publishing {source} to s3://{stack.bucket} (stack {stack.name})")
    s3 = session.client("s3")
    upload(s3, stack.bucket, files)
    delete_stale(s3, stack.bucket, {page.key for page in files})
    invalidation = invalidate(session.client("cloudfront"), stack.distribution_id)
    print(f"invalidated /* on {stack.distribution_id} ({invalidation}); CloudFront serves the new page within minutes")
    print(f"the page: {stack.url}")
    return stack
