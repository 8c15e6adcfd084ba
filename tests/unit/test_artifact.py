"""The artifact round trip, and refusing anything whose SHA-256 does not match."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from sentiment_model.artifact import ArtifactError, load_from_uri, load_model_dir, pack, sha256_bytes, unpack
from sentiment_model.scorers import scorer_for


def test_model_folder_round_trip(model_dir: Path, model_version: str) -> None:
    loaded = load_model_dir(model_dir)
    assert loaded.metadata["version"] == model_version
    probabilities = scorer_for(loaded).predict_proba(["loved it"])
    assert probabilities.shape == (1, 3)
    assert json.loads((model_dir / "metrics.json").read_text())["golden"]["all"]["rows"] > 0


def test_archive_round_trip(model_archive: tuple[Path, str], model_version: str) -> None:
    archive, sha256 = model_archive
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == [
            "encoder/encoder.json",
            "encoder/model.onnx",
            "encoder/tokenizer.json",
            "metadata.json",
            "metrics.json",
            "model.joblib",
        ]
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


def test_a_tfidf_artifact_round_trips_without_an_encoder(tfidf_model_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "tfidf.tar.gz"
    loaded = load_from_uri(str(archive), pack(tfidf_model_dir, archive))
    assert (loaded.kind, loaded.encoder) == ("tfidf", None)
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["metadata.json", "metrics.json", "model.joblib"]
    assert scorer_for(loaded).predict_proba(["loved it"]).shape == (1, 3)


def copy_with_metadata(model_dir: Path, tmp_path: Path, **changes: object) -> Path:
    """A copy of the model folder, its metadata.json changed as given (a dict value is merged into its key's)."""
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    metadata = json.loads((copy / "metadata.json").read_text())
    for key, value in changes.items():
        metadata[key] = {**metadata[key], **value} if isinstance(value, dict) else value
    (copy / "metadata.json").write_text(json.dumps(metadata))
    return copy


def test_a_tampered_encoder_inside_an_artifact_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = copy_with_metadata(model_dir, tmp_path)
    with (copy / "encoder" / "model.onnx").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ArtifactError, match="SHA-256"):
        load_model_dir(copy)


def test_an_artifact_naming_another_encoder_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = copy_with_metadata(model_dir, tmp_path, encoder={"sha256": "f" * 64})
    with pytest.raises(ArtifactError, match="expected"):
        load_model_dir(copy)


def test_an_encoder_model_without_its_encoder_is_refused(model_dir: Path, tmp_path: Path) -> None:
    copy = copy_with_metadata(model_dir, tmp_path)
    shutil.rmtree(copy / "encoder")
    with pytest.raises(ArtifactError, match="encoder"):
        load_model_dir(copy)


def test_an_unknown_kind_is_refused(model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="kind 'llm'"):
        load_model_dir(copy_with_metadata(model_dir, tmp_path, kind="llm"))
