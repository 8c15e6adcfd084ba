"""The artifact round trip, and refusing anything whose SHA-256 does not match."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from sentiment_model.artifact import ArtifactError, load_from_uri, load_model_dir, pack, sha256_bytes, unpack
from sentiment_model.model import CompiledScorer


def test_model_folder_round_trip(model_dir: Path, model_version: str) -> None:
    loaded = load_model_dir(model_dir)
    assert loaded.metadata["version"] == model_version
    probabilities = CompiledScorer(loaded.model).predict_proba(["loved it"])
    assert probabilities.shape == (1, 3)
    assert json.loads((model_dir / "metrics.json").read_text())["golden"]["all"]["rows"] > 0


def test_archive_round_trip(model_archive: tuple[Path, str], model_version: str) -> None:
    archive, sha256 = model_archive
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["metadata.json", "metrics.json", "model.joblib"]
    assert load_from_uri(str(archive), sha256).metadata["version"] == model_version


def test_archive_with_another_hash_is_refused(model_archive: tuple[Path, str]) -> None:
    archive, sha256 = model_archive
    wrong = ("0" if sha256[0] != "0" else "1") + sha256[1:]
    with pytest.raises(ArtifactError, match="expected"):
        load_from_uri(str(archive), wrong)


def test_archive_without_a_hash_is_refused(model_archive: tuple[Path, str]) -> None:
    with pytest.raises(ArtifactError, match="no SHA-256"):
        load_from_uri(str(model_archive[0]), None)


def test_tampered_model_file_is_refused_before_unpickling(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    (copy / "model.joblib").write_bytes(b"not the model that was trained")
    with pytest.raises(ArtifactError, match="SHA-256"):
        load_model_dir(copy)


def test_incomplete_folder_names_the_missing_file(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    (copy / "metadata.json").unlink()
    with pytest.raises(ArtifactError, match=r"metadata\.json is missing"):
        load_model_dir(copy)


def test_unpack_ignores_members_outside_the_artifact(model_dir: Path, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(model_dir / "model.joblib", arcname="model.joblib")
        tar.add(model_dir / "metadata.json", arcname="metadata.json")
        evil = tarfile.TarInfo("../escape.txt")
        evil.size = 3
        tar.addfile(evil, io.BytesIO(b"bad"))
    data = buffer.getvalue()
    target = tmp_path / "out"
    target.mkdir()
    unpack(data, sha256_bytes(data), target)
    assert sorted(p.name for p in target.iterdir()) == ["metadata.json", "model.joblib"]
    assert not (tmp_path / "escape.txt").exists()


def test_pack_returns_the_archive_hash(model_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "m.tar.gz"
    assert pack(model_dir, archive) == sha256_bytes(archive.read_bytes())
