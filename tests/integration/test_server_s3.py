"""The ECS form: the server fetches model.tar.gz from S3 (moto's server) and checks its hash."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.integration.conftest import free_port, running_server, wait_for_ping

# Starts model servers or training jobs: make check leaves it out.
pytestmark = pytest.mark.processes

BUCKET = "models"
KEY = "models/v1/model.tar.gz"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint(model_archive: tuple[Path, str]) -> Iterator[str]:
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(model_archive[0]), BUCKET, KEY)
        yield endpoint
    finally:
        moto.stop()


def test_model_is_loaded_from_s3_when_the_hash_matches(
    s3_endpoint: str, model_archive: tuple[Path, str], model_version: str
) -> None:
    env = {**CREDENTIALS, "AWS_ENDPOINT_URL": s3_endpoint, "MODEL_URI": f"s3://{BUCKET}/{KEY}",
           "MODEL_SHA256": model_archive[1]}  # fmt: skip
    with running_server(env) as (url, _):
        ping = wait_for_ping(url)
        assert ping.status_code == 200
        assert ping.json()["model_version"] == model_version


@pytest.mark.parametrize(
    ("key", "reason"),
    [(KEY, "expected"), ("absent.tar.gz", "NoSuchKey")],
    ids=["another-hash", "missing-object"],
)
def test_a_model_that_cannot_be_verified_is_refused_with_the_reason(s3_endpoint: str, key: str, reason: str) -> None:
    env = {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL": s3_endpoint,
        "MODEL_URI": f"s3://{BUCKET}/{key}",
        "MODEL_SHA256": "ab" * 32,
    }
    with running_server(env) as (url, _):
        ping = wait_for_ping(url)
        assert ping.status_code == 503
        assert reason in ping.json()["message"]
