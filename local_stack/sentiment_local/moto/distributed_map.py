"""A Distributed Map state as Step Functions accepts and runs it, where moto 5.2.5's interpreter refuses
``ItemBatcher``, ``ReaderConfig.InputType: JSONL``, ``ExecutionType: EXPRESS`` and an integer
``ToleratedFailurePercentage`` at creation, writes only ``manifest.json`` and leaves the parent SUCCEEDED
when a child fails.

moto's grammar cannot read those fields, so every Map whose ``ItemProcessor.ProcessorConfig.Mode`` is
``DISTRIBUTED`` is checked here against what AWS refuses and handed to moto's parser as a Task of its own
resource (``arn:aws:states:::map:distributed``), the Map's definition in its ``Comment``; the Task keeps the
Map's ``InputPath``, ``ResultSelector``, ``ResultPath``, ``OutputPath``, ``Retry``, ``Catch``, ``Next`` and
``End``, so moto applies them as Step Functions does, and the map run itself is
:mod:`sentiment_local.moto.map_run`. moto keeps and answers the definition as it was written.

What creation refuses, as AWS does:

- a percentage outside 0–100 or a negative count ("Setting failure thresholds for Distributed Map states",
  https://docs.aws.amazon.com/step-functions/latest/dg/maprun-fail-threshold.html);
- an ``ItemBatcher`` with neither ``MaxItemsPerBatch`` nor ``MaxInputBytesPerBatch``, a non-positive
  value, or more than 256 KiB a batch ("ItemBatcher (Map)",
  https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html);
- a reader ``InputType`` other than CSV, JSON, JSONL and MANIFEST, a CSV header location other than
  FIRST_ROW and GIVEN, GIVEN without ``CSVHeaders`` ("ItemReader (Map)",
  https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html);
- an ``ExecutionType`` other than STANDARD and EXPRESS, the INLINE-only ``Iterator`` on a distributed map,
  and the distributed-only fields (``ItemReader``, ``ItemBatcher``, ``ResultWriter``, ``ToleratedFailure*``,
  ``Label``) on an inline one ("Distributed Map state",
  https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html; "Map state",
  https://docs.aws.amazon.com/step-functions/latest/dg/state-map.html);
- a ``Label`` longer than 40 characters or with whitespace or ``<>{}[]?*"#%\\^|~`$&,;:/`` (same page).

The local stack evaluates ``.$`` fields of ``ItemSelector`` and ``BatchInput`` as JSONPath only (``$.`` the
state's input, ``$$.`` the context); a definition using an intrinsic function there is refused at creation
rather than run differently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

from sentiment_local.moto.patching import Patches

RESOURCE: Final[str] = "arn:aws:states:::map:distributed"
SERVICE: Final[str] = "map"
MAX_BATCH_BYTES: Final[int] = 256 * 1024
_KEPT_ON_THE_TASK: Final[tuple[str, ...]] = (
    "InputPath",
    "ResultSelector",
    "ResultPath",
    "OutputPath",
    "Retry",
    "Catch",
    "Next",
    "End",
)
_DISTRIBUTED_ONLY: Final[tuple[str, ...]] = (
    "ItemReader",
    "ItemBatcher",
    "ResultWriter",
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
    "Label",
)
# Whether a role may make a call outside any request: the refusal's message, or None when allowed.
Authorize = Callable[[str, str, str], "str | None"]
_LABEL_REFUSED: Final[re.Pattern[str]] = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/]")


class DistributedMapDefinitionError(ValueError):
    """A Distributed Map AWS refuses at creation; the message says which rule."""


def is_distributed(state: dict[str, Any]) -> bool:
    processor = state.get("ItemProcessor") or {}
    return state.get("Type") == "Map" and (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED"


def rewrite(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition moto's parser is given: each distributed Map checked and made a Task (see above)."""
    states = {name: _rewrite_state(name, state) for name, state in (definition.get("States") or {}).items()}
    return {**definition, "States": states}


def _rewrite_state(name: str, state: Any) -> Any:
    if not isinstance(state, dict):
        return state
    if state.get("Type") == "Parallel":
        return {**state, "Branches": [rewrite(branch) for branch in state.get("Branches") or []]}
    if state.get("Type") != "Map":
        return state
    if not is_distributed(state):
        _check_inline(name, state)
        if "ItemProcessor" in state:
            return {**state, "ItemProcessor": rewrite(state["ItemProcessor"])}
        return state
    check(name, state)
    task: dict[str, Any] = {"Type": "Task", "Resource": RESOURCE, "Comment": json.dumps(state)}
    task.update({field: state[field] for field in _KEPT_ON_THE_TASK if field in state})
    return task


def _check_inline(name: str, state: dict[str, Any]) -> None:
    for field in _DISTRIBUTED_ONLY:
        if field in state:
            raise DistributedMapDefinitionError(f"state {name}: {field} is for a DISTRIBUTED Map only")


def check(name: str, state: dict[str, Any]) -> None:
    """What AWS refuses in a distributed Map, each with the page in the module's docstring."""
    if "Iterator" in state:
        raise DistributedMapDefinitionError(f"state {name}: a DISTRIBUTED Map takes ItemProcessor, not Iterator")
    processor = state["ItemProcessor"]
    if processor["ProcessorConfig"].get("ExecutionType") not in {"STANDARD", "EXPRESS"}:
        raise DistributedMapDefinitionError(f"state {name}: ExecutionType must be STANDARD or EXPRESS")
    _check_number(name, state, "ToleratedFailurePercentage", 0, 100)
    _check_number(name, state, "ToleratedFailureCount", 0, None)
    _check_number(name, state, "MaxConcurrency", 0, None)
    label = state.get("Label")
    if label is not None and (not isinstance(label, str) or len(label) > 40 or _LABEL_REFUSED.search(label)):
        raise DistributedMapDefinitionError(f"state {name}: Label {label!r} is not a valid map run label")
    _check_reader(name, state.get("ItemReader"))
    _check_batcher(name, state.get("ItemBatcher"))
    writer = state.get("ResultWriter")
    if writer is not None and not ({"Resource", "Parameters"} <= set(writer) or "WriterConfig" in writer):
        raise DistributedMapDefinitionError(f"state {name}: ResultWriter needs Resource and Parameters")
    for field in ("ItemSelector",):
        _check_paths(name, field, state.get(field))
    rewrite(processor)


def _check_number(name: str, state: dict[str, Any], field: str, low: float, high: float | None) -> None:
    if field not in state:
        return
    value = state[field]
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise DistributedMapDefinitionError(f"state {name}: {field} must be a number {bounds}, not {value!r}")
    if field != "ToleratedFailurePercentage" and not isinstance(value, int):
        raise DistributedMapDefinitionError(f"state {name}: {field} must be an integer, not {value!r}")


def _check_reader(name: str, reader: dict[str, Any] | None) -> None:
    if reader is None:
        return
    config = reader.get("ReaderConfig") or {}
    kind = config.get("InputType")
    if kind not in {None, "CSV", "JSON", "JSONL", "MANIFEST"}:
        raise DistributedMapDefinitionError(f"state {name}: InputType {kind!r} is not CSV, JSON, JSONL or MANIFEST")
    if kind == "CSV":
        location = config.get("CSVHeaderLocation")
        if location not in {"FIRST_ROW", "GIVEN"}:
            raise DistributedMapDefinitionError(f"state {name}: CSVHeaderLocation must be FIRST_ROW or GIVEN")
        if location == "GIVEN" and not config.get("CSVHeaders"):
            raise DistributedMapDefinitionError(f"state {name}: CSVHeaderLocation GIVEN needs CSVHeaders")
    if "Parameters" not in reader or "Resource" not in reader:
        raise DistributedMapDefinitionError(f"state {name}: ItemReader needs Resource and Parameters")
    _check_paths(name, "ItemReader.Parameters", reader["Parameters"])


def _check_batcher(name: str, batcher: dict[str, Any] | None) -> None:
    if batcher is None:
        return
    limits = [field for field in ("MaxItemsPerBatch", "MaxInputBytesPerBatch") if field in batcher]
    paths = [field for field in ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath") if field in batcher]
    if not limits and not paths:
        raise DistributedMapDefinitionError(
            f"state {name}: ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch (or their Path)"
        )
    for field in limits:
        value = batcher[field]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise DistributedMapDefinitionError(f"state {name}: {field} must be a positive integer, not {value!r}")
    if batcher.get("MaxInputBytesPerBatch", 0) > MAX_BATCH_BYTES:
        raise DistributedMapDefinitionError(f"state {name}: MaxInputBytesPerBatch is at most {MAX_BATCH_BYTES}")
    _check_paths(name, "ItemBatcher.BatchInput", batcher.get("BatchInput"))


def _check_paths(name: str, where: str, template: Any) -> None:
    if isinstance(template, list):
        for value in template:
            _check_paths(name, where, value)
    if not isinstance(template, dict):
        return
    for key, value in template.items():
        if key.endswith(".$") and not (isinstance(value, str) and value.startswith("$")):
            raise DistributedMapDefinitionError(
                f"state {name}: {where}.{key} must be a JSONPath the local stack evaluates (got {value!r})"
            )
        _check_paths(name, where, value)


def plug_distributed_map(patches: Patches, authorize: Authorize | None = None) -> None:
    """moto's parser reads a definition with its distributed maps rewritten (:func:`rewrite`); the Task that
    stands for one runs it (:class:`sentiment_local.moto.map_run.StateTaskDistributedMap`), asking
    ``authorize`` whether the role may start the children."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import (  # noqa: PLC0415
        state_task_factory,
    )
    from moto.stepfunctions.parser.asl.parse.asl_parser import (  # noqa: PLC0415
        AmazonStateLanguageParser,
        ASLParserException,
    )

    from sentiment_local.moto.map_run import StateTaskDistributedMap  # noqa: PLC0415 - imports moto's parser

    parse = AmazonStateLanguageParser.parse

    def parse_rewritten(definition: str) -> Any:
        try:
            document = json.loads(definition)
        except ValueError:
            return parse(definition)  # moto says what is wrong with it
        if not isinstance(document, dict):
            return parse(definition)
        try:
            rewritten = rewrite(document)
        except DistributedMapDefinitionError as refused:
            raise ASLParserException(errors=[str(refused)]) from refused
        return parse(json.dumps(rewritten))

    service_for = vars(state_task_factory)["state_task_service_for"]

    def state_task_service_for(service_name: str) -> Any:
        if service_name == SERVICE:
            return StateTaskDistributedMap(authorize)
        return service_for(service_name=service_name)

    patches.set(AmazonStateLanguageParser, "parse", staticmethod(parse_rewritten))
    plug_map_run_lookups(patches)
    plug_invalid_definition(patches)
    patches.set(state_task_factory, "state_task_service_for", state_task_service_for)


def plug_map_run_lookups(patches: Patches) -> None:
    """``ListMapRuns`` of an execution that has just started answers no map runs, and ``DescribeMapRun``
    looks past it (moto reads the interpreter's environment, which such an execution does not have yet)."""
    from moto.stepfunctions.parser.api import ResourceNotFound  # noqa: PLC0415
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend  # noqa: PLC0415

    def describe_map_run(self: StepFunctionsParserBackend, map_run_arn: str) -> dict[str, Any]:
        for execution in self._get_executions():
            env = execution.exec_worker.env if execution.exec_worker else None
            record = env.map_run_record_pool_manager.get(map_run_arn) if env else None
            if record is not None:
                return dict(record.describe())
        raise ResourceNotFound(f"Map run {map_run_arn} does not exist")

    def list_map_runs(self: StepFunctionsParserBackend, execution_arn: str) -> dict[str, Any]:
        execution: Any = self.describe_execution(execution_arn=execution_arn)
        env = execution.exec_worker.env if execution.exec_worker else None
        records = env.map_run_record_pool_manager.get_all() if env else []
        return {"mapRuns": [record.list_item() for record in records]}

    patches.set(StepFunctionsParserBackend, "describe_map_run", describe_map_run)
    patches.set(StepFunctionsParserBackend, "list_map_runs", list_map_runs)


def plug_invalid_definition(patches: Patches) -> None:
    """A definition refused at creation answers ``InvalidDefinition`` ("CreateStateMachine",
    https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html); moto's
    interpreter raises an exception its responses serialise without a code."""
    from moto.core.exceptions import AWSError  # noqa: PLC0415
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend  # noqa: PLC0415

    class InvalidDefinition(AWSError):
        TYPE = "InvalidDefinition"
        STATUS = 400

    validate = StepFunctionsParserBackend._validate_definition

    def validate_definition(definition: str) -> None:
        try:
            validate(definition)
        except AWSError as refused:
            if type(refused).__name__ != "InvalidDefinition" or refused.TYPE:
                raise
            raise InvalidDefinition(str(getattr(refused, "message", refused))) from refused

    patches.set(StepFunctionsParserBackend, "_validate_definition", staticmethod(validate_definition))
