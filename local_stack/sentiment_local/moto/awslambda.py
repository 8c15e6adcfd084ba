"""Lambda, as AWS runs it: an invocation (the Lambda API's ``Invoke``, a Step Functions task) runs the real
handler in the local runtime's execution environments (:class:`~sentiment_local.runtime.functions.Runner`)
instead of moto's Docker container, and S3 invokes a function for an event notification asynchronously,
after ``PutObject`` has answered, instead of inside the call.

AWS documentation: Lambda developer guide, "Invoking Lambda functions asynchronously"
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html: "Amazon S3 ... invoke functions
asynchronously"), and "Process Amazon S3 event notifications with Lambda"
(https://docs.aws.amazon.com/lambda/latest/dg/with-s3.html).
"""

from __future__ import annotations

import json
from typing import Any

from sentiment_local.moto.patching import Patches
from sentiment_local.runtime.functions import Runner


def plug_invocations(patches: Patches, runner: Runner) -> None:
    """Lambda's ``Invoke`` runs the handler in ``runner``; S3's notification to a function is queued there."""
    from moto.awslambda.models import LambdaFunction  # noqa: PLC0415 - patched only when a stack runs
    from moto.s3 import notifications  # noqa: PLC0415

    def invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        # moto hands over the parsed payload, or the text "{}" when there was none: Lambda's event is {}.
        outcome = runner.invoke(self.function_name, {} if event is None or event == "{}" else event)
        body = outcome.payload if outcome.payload is not None else json.dumps(outcome.error)
        return body, outcome.failed, "\n".join(outcome.logs)

    def invoke_from_s3(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        del account_id, region_name
        runner.invoke_async(fn_arn.rsplit(":", 1)[-1], event_body)

    patches.set(LambdaFunction, "_invoke_lambda", invoke_lambda)
    patches.set(notifications, "_invoke_awslambda", invoke_from_s3)
