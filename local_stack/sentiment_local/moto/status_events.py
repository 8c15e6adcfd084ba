"""Step Functions' "Step Functions Execution Status Change" events, which moto 5.2.5 does not send: when a
standard execution starts (RUNNING), is redriven (RUNNING again, with its ``redriveCount``) or ends
(SUCCEEDED, FAILED, TIMED_OUT, ABORTED), the event is handed to EventBridge
(:mod:`sentiment_local.runtime.event_rules`) with the fields AWS documents ("Automating Step Functions event
delivery with EventBridge", https://docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html):
``source`` ``aws.states``, ``resources`` the execution's ARN, and in ``detail`` the execution's ARN, state
machine, name, status, start and stop dates (epoch milliseconds), input and output as JSON strings with
their details, error and cause, and the redrive fields.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sentiment_local.moto.patching import Patches
from sentiment_template.reader import ACCOUNT, REGION

LOGGER = logging.getLogger(__name__)
DETAIL_TYPE = "Step Functions Execution Status Change"
Deliver = Callable[[Mapping[str, Any]], None]


def _millis(moment: Any) -> int | None:
    if not isinstance(moment, datetime):
        return None
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def status_change_event(execution: Any) -> dict[str, Any]:
    status = str(getattr(execution.exec_status, "value", execution.exec_status))
    succeeded = status == "SUCCEEDED"
    redrives = int(getattr(execution, "redrive_count", 0))
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": "aws.states",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [execution.exec_arn],
        "detail": {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine.arn,
            "name": execution.name,
            "status": status,
            "startDate": _millis(execution.start_date),
            "stopDate": _millis(execution.stop_date),
            "input": json.dumps(execution.input_data),
            "output": json.dumps(execution.output) if succeeded else None,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if succeeded else None,
            "error": execution.error,
            "cause": execution.cause,
            "redriveCount": redrives,
            "redriveDate": _millis(getattr(execution, "redrive_date", None)),
            "redriveStatus": "REDRIVABLE" if status in {"FAILED", "ABORTED", "TIMED_OUT"} else "NOT_REDRIVABLE",
        },
    }


def plug_status_events(patches: Patches, deliver: Deliver) -> Callable[[Any], None]:
    """Starts and ends told to ``deliver``; returns what tells it of any other change (a redrive)."""
    from moto.stepfunctions.parser.backend.execution import (  # noqa: PLC0415
        BaseExecutionWorkerCommunication,
        Execution,
    )

    def tell(execution: Any) -> None:
        if str(getattr(execution.sm_type, "value", execution.sm_type)) == "EXPRESS":
            return  # Step Functions sends status changes for standard workflows only
        try:
            deliver(status_change_event(execution))
        except Exception:  # a rule's target failing must not fail the execution
            LOGGER.exception("the status change of %s was not delivered", execution.exec_arn)

    terminated = BaseExecutionWorkerCommunication.terminated
    start = Execution.start

    def terminated_and_told(self: Any) -> None:
        terminated(self)
        tell(self.execution)

    def started_and_told(self: Any) -> None:
        start(self)
        tell(self)

    patches.set(BaseExecutionWorkerCommunication, "terminated", terminated_and_told)
    patches.set(Execution, "start", started_and_told)
    return tell
