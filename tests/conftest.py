"""Shared fixtures: one small model trained once per test session on real data. Every enforced AWS
endpoint of the run (each ``make up``, the in-process ones) lists the actions each principal used in one
file; the run ends with the least-privilege report made from it."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from filelock import FileLock
from moto import mock_aws

from sentiment_model.artifact import pack, write_model_dir
from sentiment_model.model import ModelParams
from sentiment_model.training import TrainingResult, train

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "model_training" / "data"
SAMPLE_ROWS_PER_SOURCE = 1500  # enough for a model that gets clear cases right, in seconds
ARTIFACTS = ROOT / "build" / "test-artifacts"
IAM_USAGE = ARTIFACTS / "iam-usage.jsonl"
IAM_REPORT = ARTIFACTS / "least-privilege.md"


def fake_credentials(patch: pytest.MonkeyPatch, **more: str) -> None:
    """What in-process moto needs: fake credentials and a region, and no endpoint that would lead boto3
    away from it, whatever the caller's environment names; ``more`` variables set alongside."""
    values = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    for name, value in (values | more).items():
        patch.setenv(name, value)
    patch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process moto with fake credentials, whatever endpoint the caller's environment names."""
    fake_credentials(monkeypatch)
    with mock_aws():
        yield


def pytest_configure(config: pytest.Config) -> None:
    """The stacks this run starts inherit the variable, so their usage lands in this run's file."""
    del config
    if "LOCAL_IAM_USAGE" not in os.environ:
        IAM_USAGE.unlink(missing_ok=True)
        os.environ["LOCAL_IAM_USAGE"] = str(IAM_USAGE)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    del exitstatus
    if hasattr(session.config, "workerinput"):
        return  # a pytest-xdist worker: the run that started the workers writes the one report, after them
    usage = Path(os.environ["LOCAL_IAM_USAGE"])
    if usage.exists():
        from sentiment_local.iam.report import main as report  # noqa: PLC0415 - only when a stack ran

        report([str(usage), "--out", str(IAM_REPORT)])


EMBEDDING_CACHE = ROOT / "build" / "embeddings"  # train.py's own default here: shared with make up and make bench


def trained_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[], TrainingResult]
) -> TrainingResult:
    """One training for the whole run: with pytest-xdist each worker is a session of its own, so the first
    to ask trains and keeps the result where the others find it (the run's shared temporary folder)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # what the workers' own folders share
    kept = shared / f"{name}.pickle"
    with FileLock(f"{kept}.lock"):
        if kept.exists():
            result: TrainingResult = pickle.loads(kept.read_bytes())  # noqa: S301 - written by this run
            return result
        result = make()
        kept.write_bytes(pickle.dumps(result))
        return result


@pytest.fixture(scope="session")
def small_training(tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    """The default kind, an encoder model."""
    return trained_once(
        tmp_path_factory,
        "small-encoder",
        lambda: train(DATA, None, ModelParams(), sample=SAMPLE_ROWS_PER_SOURCE, seed=7, cache_dir=EMBEDDING_CACHE),
    )


@pytest.fixture(scope="session")
def small_tfidf_training(tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    return trained_once(
        tmp_path_factory,
        "small-tfidf",
        lambda: train(DATA, None, ModelParams(kind="tfidf"), sample=SAMPLE_ROWS_PER_SOURCE, seed=7),
    )


def write_training(directory: Path, result: TrainingResult, **metadata: str) -> Path:
    write_model_dir(directory, result.model, {**result.metadata, **metadata}, result.metrics, result.encoder_dir)
    return directory


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory, small_training: TrainingResult) -> Path:
    return write_training(tmp_path_factory.mktemp("model"), small_training)


@pytest.fixture(scope="session")
def tfidf_model_dir(tmp_path_factory: pytest.TempPathFactory, small_tfidf_training: TrainingResult) -> Path:
    return write_training(tmp_path_factory.mktemp("tfidf-model"), small_tfidf_training)


@pytest.fixture(scope="session")
def model_archive(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> tuple[Path, str]:
    archive = tmp_path_factory.mktemp("archive") / "model.tar.gz"
    return archive, pack(model_dir, archive)


@pytest.fixture(scope="session")
def model_version(model_dir: Path) -> str:
    return str(json.loads((model_dir / "metadata.json").read_text())["version"])


# ---- correlation ids and metrics, for tests of the shared model client and observability ----

REQUEST_ID = "JKJaXmPLvHcESHA="  # how API Gateway HTTP API request ids look


@pytest.fixture
def clean_metrics() -> Iterator[None]:
    """Model calls made outside a handler leave metrics in the shared set; a later handler would flush them."""
    from sentiment_common.observability import metrics  # noqa: PLC0415 - only the tests that ask need it

    yield
    metrics.clear_metrics()


@pytest.fixture
def caller() -> Iterator[str]:
    """The API function's logger carries the request id as its correlation id, as in a Lambda invocation."""
    from sentiment_common.observability import logger  # noqa: PLC0415 - only the tests that ask need it

    logger.set_correlation_id(REQUEST_ID)
    yield REQUEST_ID
    logger.remove_keys(["correlation_id"])
