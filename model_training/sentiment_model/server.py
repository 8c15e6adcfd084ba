"""The model server: the SageMaker serving contract on port 8080, for SageMaker and ECS alike.

A bare ASGI application on uvicorn (httptools + uvloop): two routes do not need a framework,
and every microsecond a framework spends per request is throughput lost.

    GET  /ping         200 once a model is loaded, 503 before (and if loading failed)
    POST /invocations  {"instances": [...]} | text/csv | text/plain  ->  {"predictions": [...]}
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import uvicorn
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sentiment_model.serving import (
    MAX_BODY_BYTES,
    InputError,
    LoadedModel,
    format_output,
    load_model,
    parse_input,
    predict,
)

log = logging.getLogger("sentiment_model.server")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]


class ServerSettings(BaseSettings):
    """Read once from the environment at start."""

    model_config = SettingsConfigDict(protected_namespaces=(), populate_by_name=True)

    model_uri: str = Field(
        "/opt/ml/model",
        validation_alias=AliasChoices("MODEL_URI", "SM_MODEL_DIR"),
        description="model folder (SageMaker mounts /opt/ml/model) or path/S3 URI of a model.tar.gz",
    )
    model_sha256: str | None = Field(None, validation_alias="MODEL_SHA256", description="SHA-256 of model.tar.gz")
    host: str = Field("0.0.0.0", validation_alias="HOST")  # noqa: S104 - a container listens on all interfaces
    port: int = Field(8080, validation_alias=AliasChoices("PORT", "SAGEMAKER_BIND_TO_PORT"))
    workers: int = Field(1, ge=1, validation_alias="SERVER_WORKERS")


class ModelServer:
    """Holds the loaded model; answers 503 on /ping until it is there."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.model: LoadedModel | None = None
        self.load_error: str | None = None

    def load(self) -> None:
        try:
            self.model = load_model(self.settings.model_uri, self.settings.model_sha256)
            log.info("model %s loaded from %s", self.model.version, self.settings.model_uri)
        except Exception as error:  # the server stays up and says why on /ping
            self.load_error = f"{type(error).__name__}: {error}"
            log.error("model could not be loaded from %s: %s", self.settings.model_uri, self.load_error)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/ping":
            if method not in ("GET", "HEAD"):
                await _respond(send, 405, _error("method not allowed: use GET"), [(b"allow", b"GET, HEAD")])
            elif self.model is None:
                await _respond(send, 503, _error(self.load_error or "model is loading"))
            else:
                await _respond(send, 200, orjson.dumps({"status": "ok", "model_version": self.model.version}))
        elif path == "/invocations":
            if method != "POST":
                await _respond(send, 405, _error("method not allowed: use POST"), [(b"allow", b"POST")])
            else:
                await self._invocations(scope, receive, send)
        else:
            await _respond(send, 404, _error(f"no route {path}: use GET /ping or POST /invocations"))

    async def _invocations(self, scope: Scope, receive: Receive, send: Send) -> None:
        model = self.model
        if model is None:
            await _respond(send, 503, _error(self.load_error or "model is loading"), [(b"retry-after", b"5")])
            return
        try:
            body = await _read_body(scope, receive)
            texts = parse_input(body, _header(scope, b"content-type"))
        except InputError as error:
            await _respond(send, error.status, error.body())
            return
        await _respond(send, 200, format_output(predict(model, texts)))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Load in the background so /ping can say 503 while a large model loads.
                threading.Thread(target=self.load, name="model-loader", daemon=True).start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def _error(message: str) -> bytes:
    return orjson.dumps({"message": message, "details": []})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    declared = _header(scope, b"content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise InputError(413, f"body of {declared} bytes: at most {MAX_BODY_BYTES}")
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise InputError(413, f"body larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS + (headers or [])})
    await send({"type": "http.response.body", "body": body})


settings = ServerSettings()
app = ModelServer(settings)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        "sentiment_model.server:app",
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        http="httptools",
        loop="uvloop",
        lifespan="on",
        access_log=False,
        timeout_keep_alive=75,  # longer than SageMaker's and load balancers' idle timeouts
    )


if __name__ == "__main__":
    main()
