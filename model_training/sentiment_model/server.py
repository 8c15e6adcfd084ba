"""The model server: the SageMaker serving contract on port 8080, for SageMaker and ECS alike.

A bare ASGI application on uvicorn (httptools + uvloop): two routes do not need a framework,
and every microsecond a framework spends per request is throughput lost.

    GET  /ping         200 once a model is loaded, 503 before (and if loading failed)
    POST /invocations  {"instances": [...]} | text/csv | text/plain  ->  {"predictions": [...]}
                       {"instances": [1-4 texts], "explain": true}  ->  each prediction with its
                       "explanation": the words that pushed the label (sentiment_model.explain)

With ``CHAMPION_URI`` set (the ECS form), the server serves the model the registry's champion
pointer names and re-reads the pointer every ``CHAMPION_POLL_SECONDS``: a newly promoted champion
is loaded in the background and swapped in with one attribute assignment, so requests never wait
on a lock and a request in flight finishes on the model it started with. A pointer that cannot be
read, or a model that fails to load or to match its SHA-256, leaves the current model serving.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, Literal

import orjson
import uvicorn
from pydantic import AliasChoices, BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sentiment_model import language
from sentiment_model.serving import (
    MAX_BODY_BYTES,
    InputError,
    LoadedModel,
    format_output,
    load_model,
    parse_input,
    predict,
    predict_explained,
    read_champion_pointer,
)

log = logging.getLogger("sentiment_model.server")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]

# The caller's correlation id: ``X-Correlation-Id`` (the ECS service's callers), or SageMaker's custom
# attributes header holding ``correlation_id=<id>`` (InvokeEndpoint's CustomAttributes). Only an id of safe
# characters is logged and echoed, so a header cannot forge log lines or response headers. The API's model
# client (sentiment_common.inference) sends ids by the same rule; keep the two in step.
CORRELATION_HEADER = b"x-correlation-id"
SAGEMAKER_ATTRIBUTES_HEADER = b"x-amzn-sagemaker-custom-attributes"
CORRELATION_ATTRIBUTE = "correlation_id"
SAFE_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")


class ServerSettings(BaseSettings):
    """Read once from the environment at start."""

    model_config = SettingsConfigDict(protected_namespaces=(), populate_by_name=True)

    model_uri: str = Field(
        "/opt/ml/model",
        validation_alias=AliasChoices("MODEL_URI", "SM_MODEL_DIR"),
        description="model folder (SageMaker mounts /opt/ml/model) or path/S3 URI of a model.tar.gz",
    )
    model_sha256: str | None = Field(None, validation_alias="MODEL_SHA256", description="SHA-256 of model.tar.gz")
    model_joblib_sha256: Annotated[str | None, BeforeValidator(lambda value: value or None)] = Field(
        None,
        validation_alias="MODEL_JOBLIB_SHA256",
        pattern="^[0-9a-fA-F]{64}$",
        description="SHA-256 of model.joblib, from the registry: what a model folder (SageMaker's /opt/ml/model, "
        "extracted before the container starts) is checked against before anything is unpickled",
    )
    champion_uri: str | None = Field(
        None,
        validation_alias="CHAMPION_URI",
        description="S3 URI or local path of the champion pointer JSON; MODEL_URI is then only a fallback",
    )
    champion_poll_seconds: float = Field(
        30.0, gt=0, validation_alias="CHAMPION_POLL_SECONDS", description="seconds between reads of the pointer"
    )
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(str.upper)] = Field(
        "INFO", validation_alias="LOG_LEVEL", description="DEBUG also logs each invocation that succeeded"
    )
    host: str = Field("0.0.0.0", validation_alias="HOST")  # noqa: S104 - a container listens on all interfaces
    port: int = Field(8080, validation_alias=AliasChoices("PORT", "SAGEMAKER_BIND_TO_PORT"))
    workers: int = Field(1, ge=1, validation_alias="SERVER_WORKERS")
    encoder_graph: Literal["auto", "int8", "fp32"] = Field(
        "auto",
        validation_alias="ENCODER_GRAPH",
        description="the encoder graph to run: auto times the shipped int8 graph and the fp32 graph derived from "
        "it on a few texts at start-up and keeps the faster (fp32 only when at least 10% faster); int8 is what "
        "training measured",
    )


class ModelServer:
    """Holds the loaded model; answers 503 on /ping until it is there."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.model: LoadedModel | None = None
        self.load_error: str | None = None
        self._champion: tuple[str, str] | None = None  # (model_data_url, sha256) of the champion served
        self._reported: str | None = None  # the champion failure last logged at ERROR
        self._stopping = threading.Event()
        self.batcher = Batcher()

    def start(self) -> None:
        """Load in the background so /ping can say 503 while a large model loads, then watch the pointer."""
        threading.Thread(target=self._run, name="model-loader", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()

    def _run(self) -> None:
        self.load()
        if self.settings.champion_uri:
            while not self._stopping.wait(self.settings.champion_poll_seconds):
                self.refresh_champion()

    def load(self) -> None:
        """The model to start with: the champion if there is a pointer, else (or failing that) MODEL_URI.
        The language identifier first: every answer carries the text's language."""
        try:
            language.load_identifier()
        except language.LanguageModelError as error:  # /ping says why; nothing is answered without it
            self.load_error = f"{type(error).__name__}: {error}"
            log.error("the language identifier could not be loaded: %s", error)
            return
        if self.settings.champion_uri:
            self.refresh_champion()
            if self.model is not None or "model_uri" not in self.settings.model_fields_set:
                return
            log.warning("serving %s until the champion can be loaded", self.settings.model_uri)
        if self.settings.model_joblib_sha256 is None and not self.settings.model_uri.endswith(".tar.gz"):
            log.warning(
                "MODEL_JOBLIB_SHA256 is not set: %s is checked only against the metadata.json beside it",
                self.settings.model_uri,
            )
        try:
            self.model = load_model(
                self.settings.model_uri,
                self.settings.model_sha256,
                self.settings.model_joblib_sha256,
                self.settings.encoder_graph,
            )
            log.info("model %s loaded from %s", self.model.version, self.settings.model_uri)
        except Exception as error:  # the server stays up and says why on /ping
            reason = f"{type(error).__name__}: {error}"
            self.load_error = f"{self.load_error}; fallback {reason}" if self.load_error else reason
            log.error("model could not be loaded from %s: %s", self.settings.model_uri, reason)

    def refresh_champion(self) -> None:
        """Read the pointer; if it names another model than the one served, load that and swap it in."""
        uri = str(self.settings.champion_uri)
        try:
            pointer = read_champion_pointer(uri)
        except Exception as error:
            self._champion_failed(f"champion pointer {uri} cannot be read", error)
            return
        if pointer.artifact == self._champion:
            self._reported = None
            return
        try:
            model = load_model(
                pointer.model_data_url, pointer.sha256, pointer.model_sha256, self.settings.encoder_graph
            )
        except Exception as error:
            self._champion_failed(f"champion {pointer.version} from {pointer.model_data_url} cannot be loaded", error)
            return
        previous, self.model = self.model, model  # the swap: one assignment, no lock on the request path
        self._champion, self._reported, self.load_error = pointer.artifact, None, None
        log.info(
            "serving champion %s (model version %s) from %s, replacing %s",
            pointer.version,
            model.version,
            pointer.model_data_url,
            previous.version if previous else "nothing",
        )

    def _champion_failed(self, context: str, error: Exception) -> None:
        """Logged at ERROR once per distinct failure, not on every poll; the served model stays."""
        reason = f"{context}: {type(error).__name__}: {error}"
        if self.model is None:
            self.load_error = reason  # what /ping says while it answers 503
        serving = f"still serving {self.model.version}" if self.model else "no model to serve"
        if reason != self._reported:
            self._reported = reason
            log.error("%s (%s; retrying every %ss)", reason, serving, self.settings.champion_poll_seconds)
        else:
            log.debug("%s (%s)", reason, serving)

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
                # A champion that was refused leaves the previous model serving: say so beside it.
                refused = {"champion_error": self._reported} if self._reported else {}
                await _respond(send, 200, orjson.dumps({"status": "ok", **self.model.describe(), **refused}))
        elif path == "/invocations":
            if method != "POST":
                await _respond(send, 405, _error("method not allowed: use POST"), [(b"allow", b"POST")])
            else:
                await self._invocations(scope, receive, send)
        else:
            await _respond(send, 404, _error(f"no route {path}: use GET /ping or POST /invocations"))

    async def _invocations(self, scope: Scope, receive: Receive, send: Send) -> None:
        correlation_id, from_sagemaker = _correlation_id(scope)
        echo = _echo(correlation_id, from_sagemaker)
        model = self.model
        if model is None:
            _log_failure(503, self.load_error or "model is loading", correlation_id)
            await _respond(send, 503, _error(self.load_error or "model is loading"), [(b"retry-after", b"5"), *echo])
            return
        try:
            body = await _read_body(scope, receive)
            request = parse_input(body, _header(scope, b"content-type"))
        except InputError as error:
            _log_failure(error.status, error.message, correlation_id)
            await _respond(send, error.status, error.body(), echo)
            return
        texts = request.texts
        try:
            if request.explain:
                # Up to MAX_EXPLAINED × (MAX_SPANS + 1) texts in one call: never on the event loop.
                answer = await self.batcher.run(lambda: format_output(predict_explained(model, texts)))
            elif model.batched:
                answer = await self.batcher.answer(model, texts)
            else:
                answer = format_output(predict(model, texts))
        except Exception:
            log.exception("invocation failed: status=500 correlation_id=%s", correlation_id or "-")
            await _respond(send, 500, _error("the model failed on this input; it has been logged"), echo)
            return
        # Per-request logging at INFO would cost throughput; DEBUG (LOG_LEVEL) turns it on.
        log.debug("invocation: status=200 texts=%d correlation_id=%s", len(texts), correlation_id or "-")
        await _respond(send, 200, answer, echo)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


class Batcher:
    """Requests that arrive while the encoder is busy are scored together, in one call, off the event loop.

    An encoder scores a batch of texts for little more than one text costs, and onnxruntime releases
    the GIL: the loop keeps reading requests while a worker thread encodes the previous batch. No
    request waits for a timer: a batch starts as soon as the one before it ends. A batch holds the
    texts of every request waiting (up to ``MAX_TEXTS``); a request is never split.
    """

    MAX_TEXTS = 512

    def __init__(self) -> None:
        self._waiting: list[tuple[LoadedModel, list[str], asyncio.Future[bytes]]] = []
        self._draining = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encoder")

    async def answer(self, model: LoadedModel, texts: list[str]) -> bytes:
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting.append((model, texts, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def run(self, work: Callable[[], bytes]) -> bytes:
        """One piece of work on the encoder's thread, in turn with the batches."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch: list[tuple[LoadedModel, list[str], asyncio.Future[bytes]]] = []
                size = 0
                while self._waiting and (not batch or size + len(self._waiting[0][1]) <= self.MAX_TEXTS):
                    batch.append(self._waiting.pop(0))
                    size += len(batch[-1][1])
                outcomes = await loop.run_in_executor(self._executor, _score_batch, [(m, t) for m, t, _ in batch])
                for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._draining = False


def _score_batch(requests: list[tuple[LoadedModel, list[str]]]) -> list[bytes | BaseException]:
    """Each request's answer, or the exception its model raised. Requests for the same model (a swap
    may leave two in one batch) are scored in one call."""
    outcomes: list[bytes | BaseException] = [b""] * len(requests)
    groups: dict[int, list[int]] = {}
    for index, (model, _) in enumerate(requests):
        groups.setdefault(id(model), []).append(index)
    for indices in groups.values():
        model = requests[indices[0]][0]
        texts = [text for index in indices for text in requests[index][1]]
        try:
            predictions = predict(model, texts)
        except Exception as error:  # every request of the group answers 500; the server stays up
            for index in indices:
                outcomes[index] = error
            continue
        start = 0
        for index in indices:
            count = len(requests[index][1])
            outcomes[index] = format_output(predictions[start : start + count])
            start += count
    return outcomes


def _error(message: str) -> bytes:
    return orjson.dumps({"message": message, "details": []})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _correlation_id(scope: Scope) -> tuple[str | None, bool]:
    """The caller's correlation id, if it sent a safe one, and whether it came through SageMaker.
    ``X-Correlation-Id`` wins; SageMaker's custom attributes count only when they hold one."""
    through_sagemaker = None
    for key, value in scope["headers"]:
        if key == CORRELATION_HEADER and (direct := _safe(bytes(value).decode("latin-1").strip())):
            return direct, False
        if key == SAGEMAKER_ATTRIBUTES_HEADER and through_sagemaker is None:
            through_sagemaker = _safe(_attribute(bytes(value).decode("latin-1"), CORRELATION_ATTRIBUTE))
    return through_sagemaker, through_sagemaker is not None


def _attribute(attributes: str, name: str) -> str | None:
    """One ``name=value`` out of custom attributes like ``correlation_id=abc,trace=1`` (or ``;``-separated)."""
    for pair in re.split(r"[,;]", attributes):
        key, _, value = pair.partition("=")
        if key.strip() == name:
            return value.strip()
    return None


def _safe(correlation_id: str | None) -> str | None:
    if correlation_id and SAFE_CORRELATION_ID.fullmatch(correlation_id):
        return correlation_id
    return None


def _echo(correlation_id: str | None, from_sagemaker: bool) -> list[tuple[bytes, bytes]]:
    """The id back to the caller; through SageMaker only the custom attributes header reaches it."""
    if correlation_id is None:
        return []
    echo = [(CORRELATION_HEADER, correlation_id.encode())]
    if from_sagemaker:
        echo.append((SAGEMAKER_ATTRIBUTES_HEADER, f"{CORRELATION_ATTRIBUTE}={correlation_id}".encode()))
    return echo


def _log_failure(status: int, reason: str, correlation_id: str | None) -> None:
    """One line per refused invocation; the reason is JSON-quoted, since it may quote the request."""
    log.warning(
        "invocation failed: status=%d correlation_id=%s reason=%s",
        status,
        correlation_id or "-",
        orjson.dumps(reason).decode(),
    )


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
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
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
