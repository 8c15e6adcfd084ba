"""The model artifact: ``model.joblib`` + ``metadata.json`` (+ ``metrics.json``), packed as
``model.tar.gz`` the way SageMaker expects. An encoder model (``"kind": "encoder"`` in its
metadata) also carries its encoder in ``encoder/`` (``model.onnx``, ``tokenizer.json``,
``encoder.json``): an artifact is the whole model, whatever image or endpoint serves it.

Unpickling runs code, so nothing is unpickled before its SHA-256 has been checked against a hash
the model registry supplies: the S3 form's ``model.tar.gz`` against the archive's hash, the
directory form's ``model.joblib`` (SageMaker extracts the archive before the container starts)
against the hash of that file. ``metadata.json`` records the latter too, but it travels in the same
archive: whoever could rewrite ``model.joblib`` could rewrite it, so it only catches accidents.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

from sentiment_model import encoder as encoders
from sentiment_model.encoder_graph import REFERENCE

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
METRICS_FILE = "metrics.json"
ARCHIVE_FILE = "model.tar.gz"
ENCODER_DIR = "encoder"
ENCODER_FILES = tuple(f"{ENCODER_DIR}/{name}" for name in encoders.FILES)
KINDS = ("encoder", "tfidf")


class ArtifactError(RuntimeError):
    """The artifact is missing, incomplete or does not match its recorded hash."""


@dataclass(frozen=True)
class LoadedArtifact:
    model: Any
    metadata: dict[str, Any]
    encoder: encoders.Encoder | None = None

    @property
    def kind(self) -> str:
        return kind_of(self.metadata)


def kind_of(metadata: dict[str, Any]) -> str:
    """An artifact's kind; one made before there were kinds is a TF-IDF model."""
    return str(metadata.get("kind", "tfidf"))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_model_dir(
    model_dir: Path,
    model: Any,
    metadata: dict[str, Any],
    metrics: dict[str, Any],
    encoder_dir: Path | None = None,
) -> dict[str, Any]:
    """Write the three files (and copy the encoder's); the metadata gains ``model_sha256`` (of
    ``model.joblib``)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    if encoder_dir is not None:
        (model_dir / ENCODER_DIR).mkdir(exist_ok=True)
        for name in encoders.FILES:
            shutil.copyfile(encoder_dir / name, model_dir / ENCODER_DIR / name)
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    payload = buffer.getvalue()
    (model_dir / MODEL_FILE).write_bytes(payload)
    metadata = {**metadata, "model_sha256": sha256_bytes(payload)}
    (model_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    (model_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return metadata


def pack(model_dir: Path, archive: Path) -> str:
    """Pack the model folder into ``model.tar.gz``; returns the archive's SHA-256."""
    with tarfile.open(archive, "w:gz") as tar:
        for name in (MODEL_FILE, METADATA_FILE, METRICS_FILE, *ENCODER_FILES):
            if (model_dir / name).exists():
                tar.add(model_dir / name, arcname=name)
    return sha256_bytes(archive.read_bytes())


def load_model_dir(model_dir: Path, expected_model_sha256: str | None = None, graph: str = REFERENCE) -> LoadedArtifact:
    """Load an unpacked artifact (SageMaker mounts it at ``/opt/ml/model``); ``expected_model_sha256``,
    the registry's hash of its ``model.joblib``, is checked before anything is unpickled. ``graph`` is
    the encoder graph to run (:class:`sentiment_model.encoder.Encoder`)."""
    try:
        metadata = json.loads((model_dir / METADATA_FILE).read_text())
        payload = (model_dir / MODEL_FILE).read_bytes()
    except FileNotFoundError as error:
        raise ArtifactError(f"incomplete model artifact in {model_dir}: {error.filename} is missing") from error
    expected = metadata.get("model_sha256")
    actual = sha256_bytes(payload)
    if expected_model_sha256 is not None and actual != expected_model_sha256.lower():
        raise ArtifactError(
            f"refusing {model_dir / MODEL_FILE}: its SHA-256 is {actual}, the registry records {expected_model_sha256}"
        )
    if expected != actual:
        raise ArtifactError(f"{model_dir / MODEL_FILE} has SHA-256 {actual}, metadata.json records {expected}")
    kind = kind_of(metadata)
    if kind not in KINDS:
        raise ArtifactError(f"{model_dir} holds a model of kind {kind!r}; this server knows {', '.join(KINDS)}")
    encoder = None
    if kind == "encoder":
        recorded = (metadata.get("encoder") or {}).get("sha256")
        if not recorded:
            raise ArtifactError(f"{model_dir / METADATA_FILE} names no encoder SHA-256 for an encoder model")
        try:
            encoder = encoders.Encoder(model_dir / ENCODER_DIR, recorded, graph=graph)
        except encoders.EncoderError as error:
            raise ArtifactError(str(error)) from error
    return LoadedArtifact(model=joblib.load(io.BytesIO(payload)), metadata=metadata, encoder=encoder)


def unpack(archive_bytes: bytes, expected_sha256: str, target: Path) -> None:
    """Check the archive's hash, then extract only the artifact's own regular files."""
    actual = sha256_bytes(archive_bytes)
    if actual != expected_sha256.lower():
        raise ArtifactError(f"model.tar.gz has SHA-256 {actual}, expected {expected_sha256}")
    with tarfile.open(fileobj=io.BytesIO(archive_bytes), mode="r:gz") as tar:
        wanted = {MODEL_FILE, METADATA_FILE, METRICS_FILE, *ENCODER_FILES}
        members = [m for m in tar.getmembers() if m.isfile() and m.name in wanted]
        tar.extractall(target, members=members, filter="data")


def load_archive_bytes(
    archive_bytes: bytes,
    expected_sha256: str,
    expected_model_sha256: str | None = None,
    graph: str = REFERENCE,
) -> LoadedArtifact:
    with tempfile.TemporaryDirectory() as scratch:
        unpack(archive_bytes, expected_sha256, Path(scratch))
        return load_model_dir(Path(scratch), expected_model_sha256, graph)


def read_s3_object(uri: str) -> bytes:
    """Fetch ``s3://bucket/key``; boto3 honours ``AWS_ENDPOINT_URL`` for local stacks."""
    import boto3  # noqa: PLC0415 - only the ECS form needs it; training and SageMaker start faster without

    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ArtifactError(f"not an S3 URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    data: bytes = body.read()
    return data


def read_uri(uri: str) -> bytes:
    """The bytes of ``s3://bucket/key`` or of a local file."""
    return read_s3_object(uri) if uri.startswith("s3://") else Path(uri).read_bytes()


def load_from_uri(
    uri: str, expected_sha256: str | None, expected_model_sha256: str | None = None, graph: str = REFERENCE
) -> LoadedArtifact:
    """A model folder path, or an S3 URI / local path of a ``model.tar.gz`` plus its SHA-256; either may
    come with the SHA-256 of its ``model.joblib`` (what a folder can be checked against)."""
    if uri.endswith(".tar.gz"):
        if not expected_sha256:
            raise ArtifactError(f"refusing {uri}: no SHA-256 given to check it against")
        return load_archive_bytes(read_uri(uri), expected_sha256, expected_model_sha256, graph)
    return load_model_dir(Path(uri), expected_model_sha256, graph)
