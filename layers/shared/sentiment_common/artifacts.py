"""What the registry records of a model artifact, read from its ``model.tar.gz`` without unpickling.

The archive's own SHA-256 vouches for it wherever the archive itself is loaded (the ECS service reads
it from S3). SageMaker, though, extracts the archive into ``/opt/ml/model`` before the container starts,
so the container can only hash ``model.joblib``: the registry records that hash too, and the deploy
step hands it to the container in the SageMaker model's environment (``MODEL_JOBLIB_SHA256``). Checking
``model.joblib`` against the ``metadata.json`` beside it would prove nothing: whoever rewrote the one
could rewrite the other.
"""

from __future__ import annotations

import hashlib
import io
import tarfile

MODEL_FILE = "model.joblib"
MODEL_SHA256_ENV = "MODEL_JOBLIB_SHA256"  # the container's setting (sentiment_model.server.ServerSettings)


class ArtifactReadError(ValueError):
    """The archive is not a gzip tar holding a regular ``model.joblib``."""


def model_file_sha256(archive: bytes) -> str:
    """SHA-256 of the ``model.joblib`` inside a ``model.tar.gz``."""
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            member = tar.getmember(MODEL_FILE)
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is None:
                raise ArtifactReadError(f"{MODEL_FILE} in the archive is not a regular file")
            digest = hashlib.sha256()
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
            return digest.hexdigest()
    except (tarfile.TarError, KeyError, OSError) as error:
        raise ArtifactReadError(f"model.tar.gz holds no readable {MODEL_FILE}: {error}") from error
