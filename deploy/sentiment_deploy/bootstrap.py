"""A stack's first start, on AWS or on this machine: the bundled training data where retraining reads
it, a first model stored beside its metadata, registered as champion with its SHA-256, and the
embedding cache its training made where the training jobs' checkpoints are restored from."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from sentiment_common.artifacts import model_file_sha256
from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_common.records import utc_now
from sentiment_common.registry import Champion

ROOT = Path(__file__).resolve().parents[2]
CHAMPION_KEY = "models/champion.json"  # the pointer the ECS service (and the local model server) follows
TRAINING_DATA = ROOT / "model_training" / "data"
TRAINING_DATA_PREFIX = "data/"  # the retraining's train channel: base/ and golden/ under it
EMBEDDING_CACHE = ROOT / "build" / "embeddings"  # where train.py keeps it on this machine
CHECKPOINTS_PREFIX = "checkpoints/"  # the training jobs' CheckpointConfig (EmbeddingCacheUri in template.yaml)
MODELS_PREFIX = "models/"


class BootstrapError(Exception):
    """Something the user has to fix; the message says what."""


def read_archive_metadata(archive: bytes) -> dict[str, Any]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        member = tar.extractfile("metadata.json")
        if member is None:
            raise BootstrapError("the model archive holds no metadata.json")
        metadata: dict[str, Any] = json.loads(member.read())
        return metadata


def train_first_model(archive_path: Path, kind: str = "encoder") -> None:
    """``train.py`` on the bundled data, on this machine, into ``archive_path`` (about 30 s on 2 idle cores)."""
    print(f"Training a first model ({kind}) on model_training/data (about half a minute)...", flush=True)
    subprocess.run(  # noqa: S603 - our own training script
        [
            sys.executable,
            str(ROOT / "model_training" / "train.py"),
            "--kind",
            kind,
            "--model-dir",
            str(archive_path.parent / "model"),
            "--archive",
            str(archive_path),
        ],
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "model_training")},
    )


def store_model(s3: Any, bucket: str, archive: bytes) -> tuple[Champion, dict[str, Any]]:
    """``models/<version>/model.tar.gz`` and its ``metadata.json``, where a training run would put them."""
    metadata = read_archive_metadata(archive)
    version = str(metadata["version"])
    prefix = f"{MODELS_PREFIX}{version}"
    s3.put_object(Bucket=bucket, Key=f"{prefix}/model.tar.gz", Body=archive, ContentType="application/gzip")
    s3.put_object(
        Bucket=bucket, Key=f"{prefix}/metadata.json", Body=json.dumps(metadata).encode(), ContentType="application/json"
    )
    url = f"s3://{bucket}/{prefix}/model.tar.gz"
    return _champion(version, url, archive), metadata


def _champion(version: str, model_data_url: str, archive: bytes) -> Champion:
    """The model with both hashes the registry keeps: the archive's, and its model.joblib's (what a
    SageMaker container, which only sees the extracted files, checks before unpickling)."""
    return Champion(
        version=version,
        model_data_url=model_data_url,
        sha256=hashlib.sha256(archive).hexdigest(),
        model_sha256=model_file_sha256(archive),
    )


def write_champion_pointer(s3: Any, bucket: str, champion: Champion) -> Champion:
    """Name ``champion`` in the pointer the ECS service (and the local model server) follows; it is
    promoted now unless it already was. Returns the champion as the pointer names it."""
    promoted = champion if champion.promoted_at else champion.model_copy(update={"promoted_at": utc_now()})
    s3.put_object(Bucket=bucket, Key=CHAMPION_KEY, Body=promoted.pointer(), ContentType="application/json")
    return promoted


def read_champion_pointer(s3: Any, bucket: str) -> Champion | None:
    try:
        return Champion.model_validate_json(s3.get_object(Bucket=bucket, Key=CHAMPION_KEY)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def _present(s3: Any, bucket: str, prefix: str) -> set[str]:
    listed = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {item["Key"] for page in listed for item in page.get("Contents", [])}


def upload_training_data(s3: Any, bucket: str, source: Path = TRAINING_DATA) -> list[str]:
    """``base/*.csv`` and ``golden/*.csv`` under ``data/`` in the bucket, where retraining reads them;
    objects already there are kept (a user may have replaced them on purpose)."""
    present = _present(s3, bucket, TRAINING_DATA_PREFIX)
    uploaded = []
    for split in ("base", "golden"):
        for path in sorted((source / split).glob("*.csv")):
            key = f"{TRAINING_DATA_PREFIX}{split}/{path.name}"
            if key not in present:
                s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType="text/csv")
                uploaded.append(key)
    return uploaded


def seed_embedding_cache(s3: Any, bucket: str, source: Path = EMBEDDING_CACHE) -> list[str]:
    """The embeddings the first model's training computed, where the retraining jobs' checkpoints are
    restored from: their first run encodes only the feedback. Objects already there are kept."""
    present = _present(s3, bucket, CHECKPOINTS_PREFIX)
    seeded = []
    for path in sorted(source.glob("embeddings-*.npz")) if source.is_dir() else []:
        key = f"{CHECKPOINTS_PREFIX}{path.name}"
        if key not in present:
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType="application/octet-stream")
            seeded.append(key)
    return seeded


def read_s3_object(s3: Any, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not key:
        raise BootstrapError(f"{uri!r} is not an s3://bucket/key URI")
    data: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


def champion_of(s3: Any, model_data_url: str) -> tuple[Champion, dict[str, Any]]:
    """The model a ``model.tar.gz`` in S3 holds, as SageMaker sees it: downloaded, hashed, its metadata read."""
    data = read_s3_object(s3, model_data_url)
    metadata = read_archive_metadata(data)
    return _champion(str(metadata["version"]), model_data_url, data), metadata


def register_champion(registry_table: str, champion: Champion, metadata: dict[str, Any]) -> bool:
    """The first model as the registry's champion; False (nothing written) when there is one."""
    registry = DynamoDbModelRegistry(registry_table)
    return registry.ensure_champion(
        version=champion.version,
        model_data_url=champion.model_data_url,
        sha256=champion.sha256,
        metadata=metadata,
        model_sha256=champion.model_sha256,
    )
