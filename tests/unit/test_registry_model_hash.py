"""A model folder (what SageMaker extracts into ``/opt/ml/model``) is checked against the registry's hash
of its ``model.joblib`` before anything is unpickled, and a champion pointer must name an archive with its
hash: whoever can write ``models/*`` in the data bucket cannot have a pickle of theirs run."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
import tarfile
from pathlib import Path

import httpx
import joblib
import pytest
from pydantic import ValidationError

from sentiment_common.artifacts import ArtifactReadError, model_file_sha256
from sentiment_model.server import ModelServer, ServerSettings
from sentiment_model.serving import ChampionPointer


class Payload:
    """A valid pickle that does something when it is unpickled: it leaves a file behind."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[Path]]:
        return Path.touch, (self.marker,)


def tampered_copy(model_dir: Path, target: Path, marker: Path) -> Path:
    """The model folder with its model.joblib replaced by another valid pickle, and its metadata.json
    rewritten to match, as whoever can write the archive would."""
    shutil.copytree(model_dir, target)
    joblib.dump(Payload(marker), target / "model.joblib")
    metadata = json.loads((target / "metadata.json").read_text())
    metadata["model_sha256"] = hashlib.sha256((target / "model.joblib").read_bytes()).hexdigest()
    (target / "metadata.json").write_text(json.dumps(metadata))
    return target


def ping(app: ModelServer) -> httpx.Response:
    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://model") as client:
            return await client.get("/ping")

    return asyncio.run(call())


def registry_hash(model_dir: Path) -> str:
    return hashlib.sha256((model_dir / "model.joblib").read_bytes()).hexdigest()


def test_a_folder_whose_model_file_differs_from_the_registrys_hash_is_never_unpickled(
    model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the registry's hash of the genuine model.joblib, and a folder whose model.joblib was replaced
    marker = tmp_path / "pickle-ran"
    tampered = tampered_copy(model_dir, tmp_path / "model", marker)
    app = ModelServer(ServerSettings(MODEL_URI=str(tampered), MODEL_JOBLIB_SHA256=registry_hash(model_dir)))

    # When the server loads it
    with caplog.at_level(logging.ERROR, logger="sentiment_model.server"):
        app.load()

    # Then /ping says 503 and why, the log says why, and the replacement pickle never ran
    answer = ping(app)
    assert answer.status_code == 503
    assert "the registry records " + registry_hash(model_dir) in answer.json()["message"]
    assert any("refusing" in record.getMessage() for record in caplog.records)
    assert not marker.exists()


def test_a_folder_matching_the_registrys_hash_is_served(model_dir: Path, model_version: str) -> None:
    app = ModelServer(ServerSettings(MODEL_URI=str(model_dir), MODEL_JOBLIB_SHA256=registry_hash(model_dir)))
    app.load()
    answer = ping(app)
    assert answer.status_code == 200
    assert answer.json()["model_version"] == model_version


def test_an_empty_model_hash_setting_is_no_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """The template's parameter is empty before a first model: the container still starts."""
    monkeypatch.setenv("MODEL_JOBLIB_SHA256", "")
    assert ServerSettings().model_joblib_sha256 is None


def test_a_champion_pointer_carries_the_model_files_hash(model_archive: tuple[Path, str]) -> None:
    archive, sha256 = model_archive
    pointer = ChampionPointer(version="v1", model_data_url=str(archive), sha256=sha256, model_sha256="ab" * 32)
    assert pointer.model_sha256 == "ab" * 32


@pytest.mark.parametrize(
    "model_data_url",
    ["s3://data/models/v1/", "s3://data/models/v1", "/opt/ml/model", "https://data.example/models/v1/model.tar.gz"],
)
def test_a_champion_pointer_naming_anything_but_a_model_archive_is_refused(model_data_url: str) -> None:
    # A folder would be loaded with no archive hash to check it against
    with pytest.raises(ValidationError, match="model_data_url"):
        ChampionPointer(version="v1", model_data_url=model_data_url, sha256="ab" * 32)


def test_a_champion_pointer_without_its_archives_hash_is_refused() -> None:
    with pytest.raises(ValidationError, match="sha256"):
        ChampionPointer.model_validate({"version": "v1", "model_data_url": "s3://data/models/v1/model.tar.gz"})


def test_the_registry_hashes_the_model_file_inside_the_archive(
    model_dir: Path, model_archive: tuple[Path, str]
) -> None:
    assert model_file_sha256(model_archive[0].read_bytes()) == registry_hash(model_dir)


def test_an_archive_without_a_model_file_has_no_model_hash(tmp_path: Path) -> None:
    archive = tmp_path / "model.tar.gz"
    (tmp_path / "metadata.json").write_text("{}")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "metadata.json", arcname="metadata.json")
    with pytest.raises(ArtifactReadError, match=r"no readable model\.joblib"):
        model_file_sha256(archive.read_bytes())
