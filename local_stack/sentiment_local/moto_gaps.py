"""The few things moto 5.2.5 does not do without Docker, plugged in one place.

- A Lambda invocation (the Lambda API, a Step Functions task) runs the real handler through the
  local :class:`~sentiment_local.functions.Runner` instead of a container.
- An S3 notification to a function is delivered asynchronously, as S3 does, instead of inside the
  ``PutObject`` call.
- ``InvokeEndpoint`` is forwarded to the local model server instead of returning canned bodies.
- Pending SQS messages can be read without receiving them, to keep them across restarts.

These touch moto's internals, so they refuse any other moto version.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

from sentiment_local.functions import Runner
from sentiment_local.template import ACCOUNT, REGION

MOTO_VERSION = "5.2.5"
MODEL_TIMEOUT_S = 10


class MotoVersionError(RuntimeError):
    pass


def check_version() -> None:
    found = version("moto")
    if found != MOTO_VERSION:
        raise MotoVersionError(f"the local stack is written against moto {MOTO_VERSION}; {found} is installed")


def install(runner: Runner, model_url: Callable[[], str]) -> Callable[[], None]:
    """Patch moto; returns the function that undoes it."""
    check_version()
    from moto.awslambda.models import LambdaFunction  # noqa: PLC0415 - patched only when a stack runs
    from moto.s3 import notifications  # noqa: PLC0415
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse  # noqa: PLC0415

    originals = (
        LambdaFunction._invoke_lambda,
        notifications._invoke_awslambda,
        SageMakerRuntimeResponse.invoke_endpoint,
    )

    def invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        # moto hands over the parsed payload, or the text "{}" when there was none: Lambda's event is {}.
        outcome = runner.invoke(self.function_name, {} if event is None or event == "{}" else event)
        body = outcome.payload if outcome.payload is not None else json.dumps(outcome.error)
        return body, outcome.failed, "\n".join(outcome.logs)

    def invoke_from_s3(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        del account_id, region_name
        runner.invoke_async(fn_arn.rsplit(":", 1)[-1], event_body)

    def invoke_endpoint(self: Any) -> tuple[int, dict[str, str], str | bytes]:
        from moto.sagemaker.models import sagemaker_backends  # noqa: PLC0415

        def answer_with(status: int, content_type: str, body: str | bytes) -> tuple[int, dict[str, str], str | bytes]:
            # moto takes a response's status from its "status" header, not from the tuple.
            return status, {"Content-Type": content_type, "status": str(status)}, body

        name = self._get_param("EndpointName") or self.path.split("/")[2]
        if name not in sagemaker_backends[self.current_account][self.region].endpoints:
            error = {"__type": "ValidationError", "message": f"Endpoint {name} of account {ACCOUNT} not found."}
            return answer_with(400, "application/json", json.dumps(error))
        request = urllib.request.Request(  # noqa: S310 - the local model server
            f"{model_url()}/invocations",
            data=self.raw_body if isinstance(self.raw_body, bytes) else str(self.raw_body).encode(),
            headers={
                "Content-Type": self.headers.get("Content-Type", "application/json"),
                "Accept": self.headers.get("Accept", "application/json"),
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=MODEL_TIMEOUT_S) as answer:  # noqa: S310
                return answer_with(200, answer.headers.get("Content-Type", "application/json"), answer.read())
        except urllib.error.HTTPError as error:
            # What SageMaker answers when the container refuses: ModelError carrying its status.
            message = {
                "__type": "ModelError",
                "message": f"Received client error ({error.code}) from primary: "
                f"{error.read().decode(errors='replace')}",
                "OriginalStatusCode": error.code,
            }
            return answer_with(424, "application/json", json.dumps(message))
        except OSError as error:
            message = {"__type": "ServiceUnavailable", "message": f"the model container is unreachable: {error}"}
            return answer_with(503, "application/json", json.dumps(message))

    LambdaFunction._invoke_lambda = invoke_lambda  # type: ignore[method-assign]
    notifications._invoke_awslambda = invoke_from_s3
    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint  # type: ignore[method-assign]

    def undo() -> None:
        (
            LambdaFunction._invoke_lambda,  # type: ignore[method-assign]
            notifications._invoke_awslambda,
            SageMakerRuntimeResponse.invoke_endpoint,  # type: ignore[method-assign]
        ) = originals

    return undo


def queued_messages(queue_name: str) -> list[str]:
    """The bodies of the messages a queue holds, in flight or not, without receiving them (a receive
    would count towards the redrive limit)."""
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    queue = sqs_backends[ACCOUNT][REGION].queues[queue_name]
    return [str(message.body) for message in list(queue._messages)]
