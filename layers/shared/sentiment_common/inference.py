"""The model container's client: a SageMaker endpoint or the ECS service, one contract.

Both speak the container's ``POST /invocations`` (``{"instances": [...]}`` in,
``{"predictions": [...]}`` out; ``"explain": true`` adds each prediction's explanation) with timeouts
that fit the backend (:func:`call_timeouts`) and a bounded number of tries. Anything that is not a
well-formed answer becomes :class:`ModelUnavailableError`, which callers turn into a stored-but-pending
comment rather than an error; :class:`ModelStartingError` when a serverless endpoint is still starting
after idle, which answers within about a minute.

Each call carries the caller's correlation id (the API request id, the pending comment's id), which
the container logs and echoes, and is timed as the ``ModelLatency`` metric (milliseconds, retries and
failures included: it is how long the caller waited).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol, TypeVar

import boto3
import urllib3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError
from pydantic import BaseModel, ValidationError

from sentiment_common.errors import ModelStartingError, ModelUnavailableError
from sentiment_common.observability import logger, timed
from sentiment_common.records import ExplainedPrediction, Prediction, Readiness, utc_now
from sentiment_common.settings import InferenceBackend, InferenceSettings

# The container logs and echoes only ids of these characters (sentiment_model.server keeps the same rule);
# they are also what SageMaker's CustomAttributes allows (visible ASCII, at most 1024).
SAFE_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
CORRELATION_HEADER = "X-Correlation-Id"


class InvocationAnswer(BaseModel):
    predictions: list[Prediction]


class ExplainedAnswer(BaseModel):
    predictions: list[ExplainedPrediction]


# What /health tells anyone who asks. The raw errors name the account, the endpoint and roles: they go
# to the log only.
UNREACHABLE = "the model endpoint is unreachable"
STARTING = "the model is starting; it answers within a minute"
NOT_SERVING = "the model endpoint is not in service"


class ModelHealth(BaseModel):
    status: Readiness
    model_version: str | None = None
    reason: str | None = None
    checked_at: datetime | None = None  # when the model was last seen in this state

    @property
    def reachable(self) -> bool:
        return self.status is Readiness.READY


@dataclass(frozen=True)
class CallTimeouts:
    """How long one call may wait for the model: each try's connect and read timeouts, and the tries."""

    connect: float
    read: float
    attempts: int

    @property
    def longest_wait(self) -> float:
        """Every try timing out (the clients' sub-second pauses between tries aside)."""
        return self.attempts * (self.connect + self.read)


def call_timeouts(settings: InferenceSettings) -> CallTimeouts:
    """The timeouts that fit the backend.

    ECS tasks and a real-time endpoint's instances stay warm and answer in well under a second: one
    silent for seconds is down, so a short read timeout, and a second try that another task or instance
    may answer. A serverless endpoint that scaled to zero answers its first call after idle only once an
    instance has started (the container, the model's download), which may take up to SageMaker's 60 s
    invocation limit: one try, as long as the caller can afford (``model_wait_seconds``); a second try
    would only queue behind the same cold start, which goes on when the caller stops waiting.
    """
    if settings.scales_to_zero:
        return CallTimeouts(settings.model_connect_timeout, settings.model_wait_seconds, attempts=1)
    return CallTimeouts(settings.model_connect_timeout, settings.model_read_timeout, settings.model_max_attempts)


def health_timeouts(settings: InferenceSettings) -> CallTimeouts:
    """A health check's calls: one short try each, so that ``/health`` answers within seconds. A
    serverless endpoint still starting reads as ``starting`` (and the check's call wakes it up)."""
    return CallTimeouts(settings.model_connect_timeout, settings.model_health_timeout, attempts=1)


def _boto_config(timeouts: CallTimeouts) -> Config:
    # botocore's "max_attempts" counts the retries after the first try; "total_max_attempts" counts every try.
    return Config(
        connect_timeout=timeouts.connect,
        read_timeout=timeouts.read,
        retries={"total_max_attempts": timeouts.attempts, "mode": "standard"},
    )


class Predictor(Protocol):
    def predict(self, texts: Sequence[str]) -> list[Prediction]: ...


class ModelClient(Predictor, Protocol):
    def explain(self, text: str) -> ExplainedPrediction: ...

    def health(self) -> ModelHealth: ...


def _parse(body: bytes, expected: int) -> list[Prediction]:
    try:
        predictions = InvocationAnswer.model_validate_json(body).predictions
    except ValidationError as error:
        raise ModelUnavailableError("the model answered with something that is not a prediction") from error
    if len(predictions) != expected:
        raise ModelUnavailableError(f"the model answered {len(predictions)} predictions for {expected} texts")
    return predictions


def _parse_explained(body: bytes) -> ExplainedPrediction:
    try:
        predictions = ExplainedAnswer.model_validate_json(body).predictions
    except ValidationError as error:
        raise ModelUnavailableError("the model answered with something that is not an explanation") from error
    if len(predictions) != 1:
        raise ModelUnavailableError(f"the model answered {len(predictions)} explanations for one text")
    return predictions[0]


def _payload(texts: Sequence[str], explain: bool = False) -> bytes:
    return json.dumps({"instances": list(texts), **({"explain": True} if explain else {})}).encode()


def correlation_id() -> str | None:
    """The current caller's correlation id, when it has one the container will accept."""
    current = logger.get_correlation_id()
    return current if isinstance(current, str) and SAFE_CORRELATION_ID.fullmatch(current) else None


class NoModel:
    """What a stack without a deployed model uses: every comment waits for one."""

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        raise ModelUnavailableError("no model is deployed yet")

    def explain(self, text: str) -> ExplainedPrediction:
        raise ModelUnavailableError("no model is deployed yet")

    def health(self) -> ModelHealth:
        return ModelHealth(status=Readiness.DOWN, reason="no model is deployed yet")


class SageMakerModel:
    def __init__(self, settings: InferenceSettings) -> None:
        self._endpoint = settings.sagemaker_endpoint_name
        self._serverless = settings.scales_to_zero
        self._timeouts = call_timeouts(settings)
        self._health_timeouts = health_timeouts(settings)

    @cached_property
    def _runtime(self) -> Any:
        return boto3.client("sagemaker-runtime", config=_boto_config(self._timeouts))

    @cached_property
    def _probe(self) -> Any:
        """The health check's runtime client: a short wait, so a cold start reads as starting."""
        return boto3.client("sagemaker-runtime", config=_boto_config(self._health_timeouts))

    @cached_property
    def _control(self) -> Any:
        return boto3.client("sagemaker", config=_boto_config(self._health_timeouts))

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return _parse(self._invoke(_payload(texts), self._runtime, self._serverless), len(texts))

    def explain(self, text: str) -> ExplainedPrediction:
        return _parse_explained(self._invoke(_payload([text], explain=True), self._runtime, self._serverless))

    def _invoke(self, payload: bytes, runtime: Any, serverless: bool) -> bytes:
        request: dict[str, Any] = {
            "EndpointName": self._endpoint,
            "ContentType": "application/json",
            "Accept": "application/json",
            "Body": payload,
        }
        if caller := correlation_id():
            # The container receives it as the X-Amzn-SageMaker-Custom-Attributes header.
            request["CustomAttributes"] = f"correlation_id={caller}"
        try:
            with timed("ModelLatency"):
                answer = runtime.invoke_endpoint(**request)
                body: bytes = answer["Body"].read()
        except ClientError as error:
            # SageMaker's own word for a serverless endpoint whose instance is still being provisioned.
            if error.response.get("Error", {}).get("Code") == "ModelNotReadyException":
                raise ModelStartingError(f"SageMaker endpoint {self._endpoint} is starting: {error}") from error
            raise ModelUnavailableError(f"SageMaker endpoint {self._endpoint} did not answer: {error}") from error
        except ReadTimeoutError as error:
            if serverless:  # the first call after idle waits for an instance to start
                raise ModelStartingError(
                    f"serverless endpoint {self._endpoint} did not answer in time: an instance is starting after idle"
                ) from error
            raise ModelUnavailableError(f"SageMaker endpoint {self._endpoint} did not answer: {error}") from error
        except BotoCoreError as error:
            raise ModelUnavailableError(f"SageMaker endpoint {self._endpoint} did not answer: {error}") from error
        return body

    def health(self) -> ModelHealth:
        """Ready, starting or down: the endpoint as DescribeEndpoint has it, then one short call. A
        serverless endpoint (a variant with a serverless configuration) that is in service but does not
        answer in time, or that SageMaker says is not ready, is starting, not down."""
        try:
            endpoint = self._control.describe_endpoint(EndpointName=self._endpoint)
        except (ClientError, BotoCoreError) as error:
            return _unhealthy(Readiness.DOWN, UNREACHABLE, str(error))
        status = endpoint["EndpointStatus"]
        if status == "Creating":
            return _unhealthy(Readiness.STARTING, STARTING, f"endpoint {self._endpoint} is being created")
        if status not in {"InService", "Updating"}:
            return _unhealthy(Readiness.DOWN, NOT_SERVING, f"endpoint {self._endpoint} is {status}")
        serverless = any("CurrentServerlessConfig" in variant for variant in endpoint.get("ProductionVariants", []))
        try:
            version = _parse(self._invoke(_payload(["ok"]), self._probe, serverless), 1)[0].model_version
        except ModelStartingError as error:
            return _unhealthy(Readiness.STARTING, STARTING, error.message)
        except ModelUnavailableError as error:
            return _unhealthy(Readiness.DOWN, UNREACHABLE, error.message)
        return ModelHealth(status=Readiness.READY, model_version=version)


def _unhealthy(status: Readiness, reason: str, raw: str) -> ModelHealth:
    logger.warning("model health check failed", extra={"status": status.value, "error": raw})
    return ModelHealth(status=status, reason=reason)


class HttpModel:
    """The ECS service, reached inside the VPC (never through a public address)."""

    def __init__(self, settings: InferenceSettings) -> None:
        self._url = settings.model_url.rstrip("/")
        timeouts = call_timeouts(settings)
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeouts.connect, read=timeouts.read),
            retries=urllib3.Retry(
                total=timeouts.attempts - 1,
                backoff_factor=0.1,
                status_forcelist=(429, 502, 503, 504),
                allowed_methods=frozenset({"GET", "POST"}),
                raise_on_status=False,
            ),
        )
        health = health_timeouts(settings)
        self._ping_timeout = urllib3.Timeout(connect=health.connect, read=health.read)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return _parse(self._invoke(_payload(texts)), len(texts))

    def explain(self, text: str) -> ExplainedPrediction:
        return _parse_explained(self._invoke(_payload([text], explain=True)))

    def _invoke(self, payload: bytes) -> bytes:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if caller := correlation_id():
            headers[CORRELATION_HEADER] = caller
        try:
            with timed("ModelLatency"):
                answer = self._http.request("POST", f"{self._url}/invocations", body=payload, headers=headers)
        except urllib3.exceptions.HTTPError as error:
            raise ModelUnavailableError(f"model service at {self._url} did not answer: {error}") from error
        if answer.status != 200:
            raise ModelUnavailableError(f"model service answered {answer.status}: {answer.data[:200]!r}")
        return bytes(answer.data)

    def health(self) -> ModelHealth:
        """Ready or down: the service's tasks stay warm, so one that does not answer at once is down."""
        try:
            answer = self._http.request("GET", f"{self._url}/ping", timeout=self._ping_timeout, retries=False)
        except urllib3.exceptions.HTTPError as error:
            return _unhealthy(Readiness.DOWN, UNREACHABLE, str(error))
        if answer.status != 200:
            return _unhealthy(Readiness.DOWN, UNREACHABLE, f"/ping answered {answer.status}")
        version = json.loads(answer.data).get("model_version")
        return ModelHealth(status=Readiness.READY, model_version=version)


Answer = TypeVar("Answer")


class ProbedModel:
    """A model client whose ``health`` is probed at most once per ``max_age`` seconds.

    ``/health`` is public: without this, every call to it would cost a DescribeEndpoint and an
    InvokeEndpoint. The calls the API makes anyway count as probes too: a prediction answered says the
    model is ready (and which version answers), a call that found it starting or down says so, so a
    comment stored pending is reflected at once. The answer carries ``checked_at``, when that was seen.
    The state is this container's: each Lambda instance probes on its own schedule.
    """

    def __init__(self, model: ModelClient, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._model = model
        self._max_age = max_age
        self._clock = clock
        self._seen: tuple[float, ModelHealth] | None = None

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        predictions = self._observed(lambda: self._model.predict(texts))
        if predictions:
            self._saw(ModelHealth(status=Readiness.READY, model_version=predictions[0].model_version))
        return predictions

    def explain(self, text: str) -> ExplainedPrediction:
        explained = self._observed(lambda: self._model.explain(text))
        self._saw(ModelHealth(status=Readiness.READY, model_version=explained.model_version))
        return explained

    def _observed(self, call: Callable[[], Answer]) -> Answer:
        try:
            return call()
        except ModelStartingError:
            self._saw(ModelHealth(status=Readiness.STARTING, reason=STARTING))
            raise
        except ModelUnavailableError:
            self._saw(ModelHealth(status=Readiness.DOWN, reason=UNREACHABLE))
            raise

    def _saw(self, health: ModelHealth) -> ModelHealth:
        seen = health.model_copy(update={"checked_at": utc_now()})
        self._seen = (self._clock(), seen)
        return seen

    def health(self) -> ModelHealth:
        if self._seen is not None and self._clock() - self._seen[0] < self._max_age:
            return self._seen[1]
        return self._saw(self._model.health())


def model_client(settings: InferenceSettings) -> ModelClient:
    if not settings.deployed:
        return NoModel()
    if settings.inference_backend is InferenceBackend.SAGEMAKER:
        return SageMakerModel(settings)
    return HttpModel(settings)
