"""``RedriveExecution``, which moto 5.2.5 does not have ("RedriveExecution",
https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html; "Restarting state
machine executions with redrive", https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html):

- only a STANDARD execution that ended FAILED, ABORTED or TIMED_OUT is redriven; any other answers
  ``ExecutionNotRedrivable``, an unknown one ``ExecutionDoesNotExist``;
- the execution keeps its ARN, input and history (an ``ExecutionRedriven`` event is added) and continues
  from the unsuccessful state: the last state entered without a matching exit, with the input it was
  entered with ("Redriving Map Runs", https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html);
- a Distributed Map it redrives reruns only its map run's unsuccessful children
  (:mod:`sentiment_local.moto.map_run`), under the same map run ARN;
- ``DescribeExecution`` says ``redriveCount``, ``redriveDate`` once redriven, and ``redriveStatus``.

Not followed locally: the 14-day window and the limit of 1,000 redrives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from moto.core.exceptions import AWSError

from sentiment_local.moto.patching import Patches

REDRIVABLE: Final[frozenset[str]] = frozenset({"FAILED", "ABORTED", "TIMED_OUT"})


class ExecutionNotRedrivable(AWSError):
    TYPE = "ExecutionNotRedrivable"
    STATUS = 400


def redrive_point(history: list[dict[str, Any]], top_level: set[str]) -> tuple[str, Any] | None:
    """The state to continue from and its input: the last top-level state entered and never exited."""
    open_states: dict[str, Any] = {}
    order: list[str] = []
    for event in history:
        entered = event.get("stateEnteredEventDetails")
        exited = event.get("stateExitedEventDetails")
        if entered and entered.get("name") in top_level:
            open_states[entered["name"]] = json.loads(entered.get("input") or "null")
            order.append(entered["name"])
        elif exited and exited.get("name") in open_states:
            open_states.pop(exited["name"])
    for name in reversed(order):
        if name in open_states:
            return name, open_states[name]
    return None


def plug_redrive(patches: Patches, redriven: Callable[[Any], None] = lambda execution: None) -> None:
    """``RedriveExecution`` answered; ``redriven`` is told of each execution redriven."""
    from moto.core.responses import ActionResult  # noqa: PLC0415
    from moto.stepfunctions.parser.api import (  # noqa: PLC0415
        ExecutionRedrivenEventDetails,
        ExecutionStatus,
        HistoryEventType,
    )
    from moto.stepfunctions.parser.asl.component.common.flow.start_at import StartAt  # noqa: PLC0415
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails  # noqa: PLC0415
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker  # noqa: PLC0415
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend  # noqa: PLC0415
    from moto.stepfunctions.responses import StepFunctionResponse  # noqa: PLC0415

    from sentiment_local.moto.map_run import request_map_run_redrive  # noqa: PLC0415

    class RedriveWorker(ExecutionWorker):
        """The execution's worker again, continuing from ``start`` in the previous worker's history."""

        def __init__(self, previous: Any, start: tuple[str, Any] | None, count: int, **named: Any) -> None:
            super().__init__(**named)
            self._previous = previous
            self._start = start
            self._count = count

        def _execution_logic(self) -> None:
            program: Any = self._get_evaluation_entrypoint()
            env = self._get_evaluation_environment()
            env.map_run_record_pool_manager = self._previous.map_run_record_pool_manager
            env.event_manager = self._previous.event_manager
            env.event_manager.add_event(
                context=env.event_history_context,
                event_type=HistoryEventType.ExecutionRedriven,
                event_details=EventDetails(  # type: ignore[typeddict-item,typeddict-unknown-key]  # moto's TypedDict lacks the redrive event
                    executionRedrivenEventDetails=ExecutionRedrivenEventDetails(redriveCount=self._count)
                ),
                update_source_event_id=False,
            )
            if self._start is not None:
                program.start_at = StartAt(self._start[0])
                env.states.reset(input_value=self._start[1])
            self.env = env
            program.eval(env)
            self._execution_communication.terminated()

    def redrive_execution(self: StepFunctionsParserBackend, execution_arn: str) -> datetime:
        execution: Any = self.describe_execution(execution_arn=execution_arn)
        status = str(getattr(execution.exec_status, "value", execution.exec_status))
        if str(getattr(execution.sm_type, "value", execution.sm_type)) == "EXPRESS":
            raise ExecutionNotRedrivable(f"Execution {execution_arn} is of an EXPRESS state machine")
        if status not in REDRIVABLE or execution.exec_worker is None or execution.exec_worker.env is None:
            raise ExecutionNotRedrivable(f"Execution is {status} and cannot be redriven")
        env = execution.exec_worker.env
        definition = json.loads(execution.state_machine.definition)
        history: Any = env.event_manager.get_event_history()
        events = history if isinstance(history, list) else history.get("events", [])
        start = redrive_point(list(events), set(definition.get("States", {})))
        request_map_run_redrive(env.map_run_record_pool_manager)
        execution.redrive_count = getattr(execution, "redrive_count", 0) + 1
        date = execution.redrive_date = datetime.now(tz=UTC)
        worker = RedriveWorker(
            previous=env,
            start=start,
            count=execution.redrive_count,
            evaluation_details=execution.exec_worker._evaluation_details,
            exec_comm=execution._get_start_execution_worker_comm(),
            cloud_watch_logging_session=execution._cloud_watch_logging_session,
            activity_store=execution._activity_store,
        )
        execution.exec_status = ExecutionStatus.RUNNING
        execution.stop_date = None
        execution.error = None
        execution.cause = None
        execution.exec_worker = worker
        worker.start()  # type: ignore[no-untyped-call]  # moto's worker is untyped
        redriven(execution)
        return date

    def respond_redrive(self: Any) -> Any:
        date = self.stepfunction_backend.redrive_execution(self._get_param("executionArn"))
        return ActionResult({"redriveDate": date})

    describe = StepFunctionResponse.describe_execution

    def describe_execution(self: Any) -> Any:
        answer = describe(self)
        execution: Any = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        result: dict[str, Any] = dict(answer.result)  # type: ignore[call-overload]  # describe's result is a dict
        result["redriveCount"] = getattr(execution, "redrive_count", 0)
        if getattr(execution, "redrive_date", None) is not None:
            result["redriveDate"] = execution.redrive_date
        kind = getattr(execution, "sm_type", None)  # moto's own executions (execution off) have none
        redrivable = execution.status in REDRIVABLE and str(getattr(kind, "value", kind)) != "EXPRESS"
        result["redriveStatus"] = "REDRIVABLE" if redrivable else "NOT_REDRIVABLE"
        return ActionResult(result)

    patches.set(StepFunctionsParserBackend, "redrive_execution", redrive_execution)
    patches.set(StepFunctionResponse, "redrive_execution", respond_redrive)
    patches.set(StepFunctionResponse, "describe_execution", describe_execution)
