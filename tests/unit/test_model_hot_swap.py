"""The model server follows the champion pointer: a newly promoted model is served without a
restart, and a pointer or model that cannot be trusted leaves the current model serving."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
from moto import mock_aws
from pydantic import ValidationError

from sentiment_model.artifact import pack, write_model_dir
from sentiment_model.server import ModelServer, ServerSettings
from sentiment_model.training import TrainingResult
from tests.integration.conftest import running_server

POLL = 0.1
SERVER_LOG = "sentiment_model.server"


@dataclass(frozen=True)
class Archive:
    version: str
    path: Path
    sha256: str

    def pointer(self, sha256: str | None = None) -> dict[str, str]:
        return {
            "version": self.version,
            "model_data_url": str(self.path),
            "sha256": sha256 or self.sha256,
            "registered_at": "2024-01-01T00:00:00Z",  # other keys are ignored
        }


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory, small_training: TrainingResult) -> dict[str, Archive]:
    """Two champions, "a" and "b": the session's small model under two version labels."""
    built = {}
    for version in ("a", "b"):
        folder = tmp_path_factory.mktemp(f"model-{version}")
        metadata = {**small_training.metadata, "version": version}
        write_model_dir(folder, small_training.model, metadata, small_training.metrics, small_training.encoder_dir)
        archive = folder.parent / f"{folder.name}.tar.gz"
        built[version] = Archive(version, archive, pack(folder, archive))
    return built


def publish(pointer_file: Path, content: dict[str, str] | str) -> None:
    """Replace the pointer the way S3 does: a reader sees the old object or the new one, never half."""
    scratch = pointer_file.with_suffix(".tmp")
    scratch.write_text(content if isinstance(content, str) else json.dumps(content))
    os.replace(scratch, pointer_file)


def wrong(sha256: str) -> str:
    return ("0" if sha256[0] != "0" else "1") + sha256[1:]


def champion_server(pointer_file: Path, **settings: str) -> ModelServer:
    return ModelServer(ServerSettings(CHAMPION_URI=str(pointer_file), CHAMPION_POLL_SECONDS=POLL, **settings))


def call(app: ModelServer, method: str, path: str, body: dict[str, list[str]] | None = None) -> httpx.Response:
    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://model") as client:
            return await client.request(method, path, json=body)

    return asyncio.run(send())


def served_version(app: ModelServer) -> str | None:
    response = call(app, "GET", "/ping")
    return response.json()["model_version"] if response.status_code == 200 else None


def predicted_versions(get: Callable[[], httpx.Response]) -> set[str]:
    return {p["model_version"] for p in get().json()["predictions"]}


def eventually(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL / 4)
    return True


def champion_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == SERVER_LOG and r.levelno >= logging.ERROR]


@pytest.fixture
def running(tmp_path: Path, archives: dict[str, Archive]) -> Iterator[tuple[ModelServer, Path]]:
    """A server watching a pointer that names champion "a"."""
    pointer_file = tmp_path / "champion.json"
    publish(pointer_file, archives["a"].pointer())
    app = champion_server(pointer_file)
    app.start()
    try:
        assert eventually(lambda: served_version(app) == "a")
        yield app, pointer_file
    finally:
        app.stop()


def test_settings_read_the_champion_pointer_and_poll_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAMPION_URI", "s3://data/models/champion.json")
    monkeypatch.setenv("CHAMPION_POLL_SECONDS", "2.5")
    settings = ServerSettings()
    assert (settings.champion_uri, settings.champion_poll_seconds) == ("s3://data/models/champion.json", 2.5)
    monkeypatch.delenv("CHAMPION_URI")
    monkeypatch.delenv("CHAMPION_POLL_SECONDS")
    assert (ServerSettings().champion_uri, ServerSettings().champion_poll_seconds) == (None, 30)
    with pytest.raises(ValidationError):
        ServerSettings(CHAMPION_POLL_SECONDS=0)


def test_a_newly_promoted_champion_is_served_within_a_few_polls(
    running: tuple[ModelServer, Path], archives: dict[str, Archive]
) -> None:
    app, pointer_file = running

    def invoke() -> httpx.Response:
        return call(app, "POST", "/invocations", {"instances": ["a delight", "dreadful"]})

    assert predicted_versions(invoke) == {"a"}
    publish(pointer_file, archives["b"].pointer())
    assert eventually(lambda: served_version(app) == "b", seconds=20 * POLL + 5)
    assert predicted_versions(invoke) == {"b"}


def test_a_champion_whose_hash_does_not_match_is_refused_and_logged_once(
    tmp_path: Path, archives: dict[str, Archive], caplog: pytest.LogCaptureFixture
) -> None:
    pointer_file = tmp_path / "champion.json"
    publish(pointer_file, archives["a"].pointer())
    app = champion_server(pointer_file)
    app.load()
    caplog.set_level(logging.DEBUG, logger=SERVER_LOG)

    publish(pointer_file, archives["b"].pointer(sha256=wrong(archives["b"].sha256)))
    for _ in range(3):
        app.refresh_champion()
    assert served_version(app) == "a"
    errors = champion_errors(caplog)
    assert len(errors) == 1
    assert "champion b" in errors[0] and "SHA-256" in errors[0]

    # Another bad pointer is another failure: logged once more.
    publish(pointer_file, archives["b"].pointer(sha256="ab" * 32))
    app.refresh_champion()
    app.refresh_champion()
    assert len(champion_errors(caplog)) == 2
    assert served_version(app) == "a"


def test_an_unreadable_pointer_keeps_the_model_serving_until_it_is_fixed(
    tmp_path: Path, archives: dict[str, Archive], caplog: pytest.LogCaptureFixture
) -> None:
    pointer_file = tmp_path / "champion.json"
    publish(pointer_file, archives["a"].pointer())
    app = champion_server(pointer_file)
    app.load()
    caplog.set_level(logging.DEBUG, logger=SERVER_LOG)

    for broken in ("{not json", json.dumps({"version": "b"})):
        publish(pointer_file, broken)
        app.refresh_champion()
        app.refresh_champion()
        assert served_version(app) == "a"
    pointer_file.unlink()
    app.refresh_champion()
    assert served_version(app) == "a"
    assert len(champion_errors(caplog)) == 3  # one per distinct problem, not one per poll

    publish(pointer_file, archives["b"].pointer())
    app.refresh_champion()
    assert served_version(app) == "b"


def test_the_watcher_keeps_serving_through_a_bad_pointer(
    running: tuple[ModelServer, Path], archives: dict[str, Archive], caplog: pytest.LogCaptureFixture
) -> None:
    app, pointer_file = running
    caplog.set_level(logging.ERROR, logger=SERVER_LOG)
    publish(pointer_file, archives["b"].pointer(sha256=wrong(archives["b"].sha256)))
    assert eventually(lambda: bool(champion_errors(caplog)))
    publish(pointer_file, "{not json")
    assert eventually(lambda: len(champion_errors(caplog)) == 2)
    assert served_version(app) == "a"
    publish(pointer_file, archives["b"].pointer())
    assert eventually(lambda: served_version(app) == "b")


def test_without_a_readable_pointer_at_start_model_uri_is_served_until_the_champion_is(
    tmp_path: Path, archives: dict[str, Archive]
) -> None:
    pointer_file = tmp_path / "champion.json"
    app = champion_server(pointer_file, MODEL_URI=str(archives["a"].path), MODEL_SHA256=archives["a"].sha256)
    app.load()
    assert served_version(app) == "a"
    publish(pointer_file, archives["b"].pointer())
    app.refresh_champion()
    assert served_version(app) == "b"


def test_without_a_readable_pointer_or_a_fallback_ping_says_why(tmp_path: Path) -> None:
    app = champion_server(tmp_path / "absent.json")
    app.load()
    response = call(app, "GET", "/ping")
    assert response.status_code == 503
    assert "absent.json cannot be read" in response.json()["message"]


def test_pointer_and_model_are_read_from_s3(archives: dict[str, Archive], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # moto answers in process
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="data")
        for version in ("a", "b"):
            s3.upload_file(str(archives[version].path), "data", f"models/{version}/model.tar.gz")

        def promote(version: str) -> None:
            pointer = {**archives[version].pointer(), "model_data_url": f"s3://data/models/{version}/model.tar.gz"}
            s3.put_object(Bucket="data", Key="models/champion.json", Body=json.dumps(pointer).encode())

        promote("a")
        app = ModelServer(ServerSettings(CHAMPION_URI="s3://data/models/champion.json"))
        app.load()
        assert served_version(app) == "a"
        promote("b")
        app.refresh_champion()
        assert served_version(app) == "b"


@pytest.mark.slow
def test_over_http_the_server_picks_up_a_new_champion_without_a_restart(
    tmp_path: Path, archives: dict[str, Archive]
) -> None:
    pointer_file = tmp_path / "champion.json"
    publish(pointer_file, archives["a"].pointer())
    env = {"CHAMPION_URI": str(pointer_file), "CHAMPION_POLL_SECONDS": str(POLL)}
    with running_server(env) as (url, _):

        def ping_version() -> str | None:
            response = httpx.get(f"{url}/ping", timeout=2)
            return response.json()["model_version"] if response.status_code == 200 else None

        def invoke() -> httpx.Response:
            return httpx.post(f"{url}/invocations", json={"instances": ["a delight"]}, timeout=5)

        assert eventually(lambda: ping_version() == "a", seconds=30)
        assert predicted_versions(invoke) == {"a"}
        publish(pointer_file, archives["b"].pointer())
        assert eventually(lambda: ping_version() == "b", seconds=20 * POLL + 10)
        assert predicted_versions(invoke) == {"b"}
