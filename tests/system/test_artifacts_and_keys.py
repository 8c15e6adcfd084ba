"""On the local stack as a user starts it (SageMaker backend): a model whose model.joblib was replaced in
the bucket is refused by the endpoint's container on a rollback, the admin key rotates with
``make rotate-admin-key`` and the authorizer follows it within its cache time, and a forged page token
is a 400."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import joblib

from sentiment_common.artifacts import model_file_sha256
from sentiment_common.dal.registry_items import model_item
from sentiment_common.records import utc_now
from sentiment_common.registry import ModelRecord, ModelStatus
from tests.conftest import ROOT
from tests.system.conftest import LocalStack, module_stack, wait_for_run

CACHE_SECONDS = 2
FORGED = "forged-2"


local_stack = module_stack("artifacts-and-keys", ADMIN_KEY_CACHE_SECONDS=str(CACHE_SECONDS))


def key_of(stack: LocalStack) -> str:
    return (stack.data / "admin-api-key").read_text().strip()


def function_env(stack: LocalStack, name: str) -> str:
    return str(json.loads((stack.data / "stack.json").read_text())["functions"]["ApiFunction"][name])


class Payload:
    """A valid pickle that leaves a file behind when it is unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return Path.touch, (self.marker,)


def repacked(archive: bytes, **replace: bytes) -> bytes:
    """The archive with some of its files' contents replaced."""
    output = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as source,
        tarfile.open(fileobj=output, mode="w:gz") as tar,
    ):
        for member in source.getmembers():
            handle = source.extractfile(member)
            data = replace.get(member.name, handle.read() if handle else b"")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return output.getvalue()


def metadata_of(archive: bytes) -> dict[str, Any]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        handle = tar.extractfile("metadata.json")
        assert handle is not None
        return dict(json.loads(handle.read()))


def served_version(api: httpx.Client) -> str:
    return str(api.post("/comments", json={"comment": "which model is this?"}).json()["model_version"])


def test_a_rollback_to_a_model_whose_pickle_was_replaced_is_refused_by_the_endpoint(
    api: httpx.Client, local_stack: LocalStack, tmp_path: Path
) -> None:
    # Given a second registered model: the champion's archive under another version, with the registry's
    # hashes of its archive and of its model.joblib
    s3 = local_stack.client("s3")
    bucket = function_env(local_stack, "DATA_BUCKET")
    champion = api.get("/models").json()["champion"]
    genuine = s3.get_object(Bucket=bucket, Key=f"models/{champion}/model.tar.gz")["Body"].read()
    metadata = metadata_of(genuine) | {"version": FORGED}
    second = repacked(genuine, **{"metadata.json": json.dumps(metadata).encode()})
    key = f"models/{FORGED}/model.tar.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=second)
    record = ModelRecord(
        version=FORGED, status=ModelStatus.RETIRED, metrics={}, dataset={}, created_at=utc_now(),
        model_data_url=f"s3://{bucket}/{key}", sha256=hashlib.sha256(second).hexdigest(),
        model_sha256=model_file_sha256(second),
    )  # fmt: skip
    dynamodb = boto3.resource("dynamodb", endpoint_url=local_stack.aws, region_name="us-east-1",
                              aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
    dynamodb.Table(function_env(local_stack, "REGISTRY_TABLE")).put_item(Item=model_item(record))

    # And whoever may write models/* replaces its model.joblib with another valid pickle, and its
    # metadata.json's hash to match
    marker = tmp_path / "the-replacement-pickle-ran"
    buffer = io.BytesIO()
    joblib.dump(Payload(marker), buffer)
    pickle = buffer.getvalue()
    tampered_metadata = metadata | {"model_sha256": hashlib.sha256(pickle).hexdigest()}
    s3.put_object(Bucket=bucket, Key=key, Body=repacked(
        second, **{"model.joblib": pickle, "metadata.json": json.dumps(tampered_metadata).encode()}))  # fmt: skip

    # When an administrator rolls back to it
    admin = {"Authorization": f"Bearer {key_of(local_stack)}"}
    started = api.post(f"/models/{FORGED}/promote", headers=admin)
    assert started.status_code == 202, started.text
    run = wait_for_run(api, started.json()["run_id"], timeout=300)

    # Then the endpoint's container refused it, never unpickling it, and the champion serves on
    assert run["status"] == "FAILED", run
    assert not marker.exists()
    log = (local_stack.data / "logs" / "model.log").read_text()
    assert "refusing" in log and record.model_sha256 in log
    assert api.get("/models").json()["champion"] == champion
    assert served_version(api) == champion


def admin_status(api: httpx.Client, key: str) -> int:
    """An admin route that answers 404 to an administrator (no such version) and 403 to anyone else."""
    return api.post("/models/no-such-version/promote", headers={"Authorization": f"Bearer {key}"}).status_code


def test_make_rotate_admin_key_replaces_the_key_and_the_authorizer_follows_within_its_cache_time(
    api: httpx.Client, local_stack: LocalStack
) -> None:
    # Given the key the stack started with, accepted
    old = key_of(local_stack)
    assert admin_status(api, old) == 404

    # When the administrator rotates it as the docs say
    rotated = subprocess.run(
        ["make", "--no-print-directory", "rotate-admin-key", f"URL={local_stack.api}"],
        cwd=ROOT, env=local_stack.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    # Then a new key is in the stack's secret and its key file, and the command never printed it
    assert rotated.returncode == 0, rotated.stdout[-2000:] + rotated.stderr[-2000:]
    new = key_of(local_stack)
    assert new != old
    assert new not in rotated.stdout + rotated.stderr
    assert f"cat {local_stack.data / 'admin-api-key'}" in rotated.stdout
    # And within the authorizer's cache time the new key is accepted and the old one refused
    rotated_at = time.monotonic()
    deadline = rotated_at + CACHE_SECONDS + 20
    while time.monotonic() < deadline and (admin_status(api, new), admin_status(api, old)) != (404, 403):
        time.sleep(0.5)
    assert (admin_status(api, new), admin_status(api, old)) == (404, 403)


def test_a_page_token_forged_for_another_partition_is_a_400_not_a_500(api: httpx.Client) -> None:
    for text in ("A wonderful film", "An awful film"):
        api.post("/comments", json={"comment": text})
    token = api.get("/comments", params={"limit": "1"}).json()["next_token"]
    key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) | {"entity": "MODEL"}
    forged = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
    answer = api.get("/comments", params={"next_token": forged})
    assert answer.status_code == 400, answer.text
    assert answer.json()["details"][0]["loc"] == ["query", "next_token"]
