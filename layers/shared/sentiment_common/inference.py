"""The model container's client: a SageMaker endpoint or the ECS service, one contract.

Both speak the container's ``POST /invocations`` (``{"instances": [...]}`` in,
``{"predictions": [...]}`` out; ``"explain": true`` adds each prediction's explanation) with short
timeouts and a bounded number of tries. Anything that is not a well-formed answer becomes
:class:`ModelUnavailableError`, which callers turn into a stored-but-pending comment rather than an
error.

Each call carries the caller's correlation id (the API request id, the pending comment's id), which
the container logs and echoes, and is timed as the ``ModelLatency`` metric (milliseconds, retries and
failures included: it is how long the caller waited).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cached_property
from typing import Any, Protocol

import boto3
import urllib3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ValidationError

from sentiment_common.errors import ModelUnavailableError
from sentiment_common.models import ExplainedPrediction, Prediction
from sentiment_common.observability import logger, timed
from sentiment_common.settings import InferenceBackend, InferenceSettings

# The container logs and echoes only ids of these characters (sentiment_model.server keeps the same rule);
# they are also what SageMaker's CustomAttributes allows (visible ASCII, at most 1024).
SAFE_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
CORRELATION_HEADER = "X-Correlation-Id"


class InvocationAnswer(BaseModel):
    predictions: list[Prediction]


class ExplainedAnswer(BaseModel):
    predictions: list[ExplainedPrediction]


class ModelHealth(BaseModel):
    reachable: bool
    model_version: str | None = None
    reason: str | None = None


class ModelClient(Protocol):
    def predict(self, texts: Sequence[str]) -> list[Prediction]: ...

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
        return ModelHealth(reachable=False, reason="no model is deployed yet")


class SageMakerModel:
    def __init__(self, settings: InferenceSettings) -> None:
        self._config = Config(
            connect_timeout=settings.model_connect_timeout,
            read_timeout=settings.model_read_timeout,
            retries={"max_attempts": settings.model_max_attempts, "mode": "standard"},
        )
        self._endpoint = settings.sagemaker_endpoint_name

    @cached_property
    def _runtime(self) -> Any:
        return boto3.client("sagemaker-runtime", config=self._config)

    @cached_property
    def _control(self) -> Any:
        return boto3.client("sagemaker", config=self._config)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return _parse(self._invoke(_payload(texts)), len(texts))

    def explain(self, text: str) -> ExplainedPrediction:
        return _parse_explained(self._invoke(_payload([text], explain=True)))

    def _invoke(self, payload: bytes) -> bytes:
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
                answer = self._runtime.invoke_endpoint(**request)
                body: bytes = answer["Body"].read()
        except (ClientError, BotoCoreError) as error:
            raise ModelUnavailableError(f"SageMaker endpoint {self._endpoint} did not answer: {error}") from error
        return body

    def health(self) -> ModelHealth:
        try:
            status = self._control.describe_endpoint(EndpointName=self._endpoint)["EndpointStatus"]
        except (ClientError, BotoCoreError) as error:
            return ModelHealth(reachable=False, reason=str(error))
        if status not in {"InService", "Updating"}:
            return ModelHealth(reachable=False, reason=f"endpoint is {status}")
        try:
            version = self.predict(["ok"])[0].model_version
        except ModelUnavailableError as error:
            return ModelHealth(reachable=False, reason=error.message)
        return ModelHealth(reachable=True, model_version=version)


class HttpModel:
    """The ECS service, reached inside the VPC (never through a public address)."""

    def __init__(self, settings: InferenceSettings) -> None:
        self._url = settings.model_url.rstrip("/")
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=settings.model_connect_timeout, read=settings.model_read_timeout),
            retries=urllib3.Retry(
                total=settings.model_max_attempts - 1,
                backoff_factor=0.1,
                status_forcelist=(429, 502, 503, 504),
                allowed_methods=frozenset({"GET", "POST"}),
                raise_on_status=False,
            ),
        )

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
        try:
            answer = self._http.request("GET", f"{self._url}/ping")
        except urllib3.exceptions.HTTPError as error:
            return ModelHealth(reachable=False, reason=str(error))
        if answer.status != 200:
            return ModelHealth(reachable=False, reason=f"/ping answered {answer.status}")
        version = json.loads(answer.data).get("model_version")
        return ModelHealth(reachable=True, model_version=version)


def model_client(settings: InferenceSettings) -> ModelClient:
    if not settings.deployed:
        return NoModel()
    if settings.inference_backend is InferenceBackend.SAGEMAKER:
        return SageMakerModel(settings)
    return HttpModel(settings)
