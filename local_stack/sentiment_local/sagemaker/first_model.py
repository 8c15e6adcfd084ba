"""A first start's model, as ``make deploy`` makes it (:mod:`sentiment_deploy.bootstrap`): the training
data where retraining reads it, a model trained on this machine if there is none, stored and named in
the champion pointer, the embedding cache its training made, and the registry's champion."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentiment_common.registry import Champion
from sentiment_deploy import bootstrap
from sentiment_local.environment import StackError
from sentiment_template.reader import ROOT

ARCHIVE = ROOT / "build" / "model.tar.gz"


def register_first_model(s3: Any, bucket: str, archive_path: Path, train: bool = True) -> Champion:
    """The champion named in the bucket; on a first start, train a model if needed and register it."""
    champion = bootstrap.read_champion_pointer(s3, bucket)
    if champion is not None:
        return champion
    if not archive_path.exists():
        if not train:
            raise StackError(f"no model registered and no {archive_path}")
        bootstrap.train_first_model(archive_path)
    champion, _ = bootstrap.store_model(s3, bucket, archive_path.read_bytes())
    return bootstrap.write_champion_pointer(s3, bucket, champion)


def bootstrap_model(s3: Any, bucket: str, registry_table: str) -> Champion:
    """Every start: what is missing of the training data, the first model and the registry's champion
    is put in place (nothing that is there is replaced). Returns the champion the bucket names."""
    if bootstrap.upload_training_data(s3, bucket):
        print(f"Uploaded the training data to s3://{bucket}/{bootstrap.TRAINING_DATA_PREFIX}", flush=True)
    champion = register_first_model(s3, bucket, ARCHIVE)
    bootstrap.seed_embedding_cache(s3, bucket)
    _, metadata = bootstrap.champion_of(s3, champion.model_data_url)
    bootstrap.register_champion(registry_table, champion, metadata)
    return champion
