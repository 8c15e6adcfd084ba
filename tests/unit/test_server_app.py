"""The ASGI application in process: what /ping says before and after the model loads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from sentiment_model.server import ModelServer, ServerSettings


def get(app: ModelServer, path: str) -> httpx.Response:
    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://model") as client:
            return await client.get(path)

    return asyncio.run(call())


def test_ping_is_503_until_the_model_is_loaded_then_200(model_dir: Path, model_version: str) -> None:
    app = ModelServer(ServerSettings(MODEL_URI=str(model_dir)))
    before = get(app, "/ping")
    assert before.status_code == 503
    assert before.json()["message"] == "model is loading"
    app.load()
    after = get(app, "/ping")
    assert after.status_code == 200
    assert after.json()["model_version"] == model_version


def test_a_model_that_fails_to_load_keeps_ping_at_503_with_the_reason(tmp_path: Path) -> None:
    app = ModelServer(ServerSettings(MODEL_URI=str(tmp_path)))
    app.load()
    response = get(app, "/ping")
    assert response.status_code == 503
    assert "metadata.json is missing" in response.json()["message"]


def test_settings_follow_the_sagemaker_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODEL_URI", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "9001")
    settings = ServerSettings()
    assert settings.port == 9001
    assert settings.model_uri == "/opt/ml/model"


def test_a_language_identifier_that_is_not_the_pinned_one_keeps_ping_at_503_with_the_reason(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every answer carries the text's language: without the identifier the server answers nothing.
    from sentiment_model import language  # noqa: PLC0415

    changed = tmp_path / "lid.176.ftz"
    changed.write_bytes(language.model_path().read_bytes() + b"\0")
    monkeypatch.setattr(language, "_loaded", None)
    monkeypatch.setattr(language, "model_path", lambda: changed)
    app = ModelServer(ServerSettings(MODEL_URI=str(model_dir)))
    app.load()
    response = get(app, "/ping")
    assert response.status_code == 503
    assert "not the pinned" in response.json()["message"]
    assert app.model is None
