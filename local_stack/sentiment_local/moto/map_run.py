"""A Distributed Map's map run, as Step Functions runs it ("Distributed Map state",
https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html):

- the items are read from S3 as a stream with the state machine's role, so the local IAM check sees the
  role's ``s3:GetObject`` ("ItemReader (Map)",
  https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemreader.html; "IAM policies for
  using Distributed Map states",
  https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html): CSV with its header
  in the first row (at most 10 KiB) or given, every value a string; JSONL, one JSON value a line; JSON, an
  array. A reader that cannot read the object fails the map run with ``States.ItemReaderFailed``;
- ``ItemSelector`` is evaluated per item with ``$$.Map.Item.Index`` and ``$$.Map.Item.Value``
  ("ItemSelector (Map)", https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itemselector.html);
- ``ItemBatcher`` hands a child ``{"Items": [...], "BatchInput": {...}}`` of at most ``MaxItemsPerBatch``
  items and ``MaxInputBytesPerBatch`` bytes ("ItemBatcher (Map)",
  https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html);
- at most ``MaxConcurrency`` child executions run at once, each running the ``ItemProcessor``'s states
  (their ``Retry`` included); a failed child counts all its items as failed, and failures above
  ``ToleratedFailureCount``/``ToleratedFailurePercentage`` (0 when unset) fail the map run and the Map state
  with ``States.ExceedToleratedFailureThreshold``, which a ``Catch`` on the Map catches ("Setting failure
  thresholds for Distributed Map states",
  https://docs.aws.amazon.com/step-functions/latest/dg/maprun-fail-threshold.html);
- ``ResultWriter`` writes ``{Prefix}/{map run id}/manifest.json`` and ``SUCCEEDED_0.json``, ``FAILED_0.json``,
  ``PENDING_0.json`` (each an array of child execution records, ``Transformation`` NONE) as the map run ends,
  whether it succeeded, failed or was aborted, with ``s3:PutObject``; the Map's output is then
  ``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`` ("ResultWriter (Map)",
  https://docs.aws.amazon.com/step-functions/latest/dg/input-output-resultwriter.html);
- ``DescribeMapRun``/``ListMapRuns`` answer from the run's record as it goes, its item and execution counts
  live ("DescribeMapRun", https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeMapRun.html);
- ``StopExecution`` of the parent aborts the map run: running children are aborted, no other starts
  ("StopExecution", https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html).

Memory stays flat with the file: items are read as a stream, a child starts as a slot frees, and child
records are spilled to temporary files until the writer uploads them. Locally, ``MaxConcurrency`` 0 (no
limit on AWS, up to 10,000 children) runs :data:`LOCAL_CONCURRENCY` children at once.
"""

from __future__ import annotations

import codecs
import copy
import csv
import json
import queue
import re
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Final

from boto3.s3.transfer import TransferConfig
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.map_run_record import (
    MapRunRecord,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import StateCredentials
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError, extract_json

from sentiment_local.moto.distributed_map import Authorize

LOCAL_CONCURRENCY: Final[int] = 64
CSV_HEADER_LIMIT: Final[int] = 10 * 1024
EXCEEDED: Final[str] = "States.ExceedToleratedFailureThreshold"
READER_FAILED: Final[str] = "States.ItemReaderFailed"
WRITER_FAILED: Final[str] = "States.ResultWriterFailed"
STATUSES: Final[tuple[str, ...]] = ("SUCCEEDED", "FAILED", "PENDING")
_READ_CHUNK: Final[int] = 64 * 1024
_UPLOAD: Final[TransferConfig] = TransferConfig(
    multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, use_threads=False
)
_SIMPLE_PATH: Final[re.Pattern[str]] = re.compile(r"^\$(\.[A-Za-z0-9_]+)*$")


class MapRunFailure(Exception):
    """The map run fails, the Map state with it, under ``error``."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


def _now() -> datetime:
    return datetime.now(tz=UTC)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def evaluate(template: Any, state_input: Any, context: Any) -> Any:
    """A payload template: ``key.$`` fields are JSONPaths, on the context for ``$$``, on the input for ``$``."""
    if isinstance(template, list):
        return [evaluate(value, state_input, context) for value in template]
    if not isinstance(template, dict):
        return template
    evaluated = {}
    for key, value in template.items():
        if key.endswith(".$"):
            source, path = (context, value[1:]) if value.startswith("$$") else (state_input, value)
            evaluated[key[:-2]] = copy.deepcopy(_extract(path, source))
        else:
            evaluated[key] = evaluate(value, state_input, context)
    return evaluated


def _extract(path: str, data: Any) -> Any:
    """``extract_json``, without parsing a plain ``$.a.b`` path again for every item of a large file."""
    if not _SIMPLE_PATH.match(path):
        return extract_json(path, data)
    value = data
    for name in path.split(".")[1:]:
        if not isinstance(value, dict) or name not in value:
            raise NoSuchJsonPathError(json_path=path, data=data)
        value = value[name]
    return value


# ---- reading ----


def _lines(body: Any) -> Iterator[str]:
    """The object's lines as text, read a chunk at a time; bytes that are not UTF-8 become U+FFFD."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    for chunk in iter(lambda: body.read(_READ_CHUNK), b""):
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def read_csv(lines: Iterator[str], config: dict[str, Any]) -> Iterator[dict[str, str]]:
    if config.get("CSVHeaderLocation") == "GIVEN":
        header = list(config["CSVHeaders"])
    else:
        first = next(lines, "")
        if len(first.encode()) > CSV_HEADER_LIMIT:
            raise MapRunFailure(READER_FAILED, f"the CSV header is longer than {CSV_HEADER_LIMIT} bytes")
        header = next(csv.reader([first]), [])
        if not header:
            raise MapRunFailure(READER_FAILED, "the CSV object has no header row")
    for row in csv.reader(lines):
        if row:
            yield {name: row[position] if position < len(row) else "" for position, name in enumerate(header)}


def read_json_lines(lines: Iterator[str]) -> Iterator[Any]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except ValueError as error:
            raise MapRunFailure(READER_FAILED, f"line {number} is not JSON: {error}") from error


# ---- results ----


class ResultFiles:
    """Child records by status, spilled to temporary files as JSON arrays until they are uploaded."""

    def __init__(self) -> None:
        self._files: dict[str, IO[bytes]] = {}
        self._lock = threading.Lock()

    def add(self, status: str, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":")).encode()
        with self._lock:
            spill = self._files.get(status)
            if spill is None:
                spill = self._files[status] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by upload
                spill.write(b"[")
            else:
                spill.write(b",")
            spill.write(line)

    def upload(self, s3: Any, bucket: str, folder: str, record: MapRunState) -> str:
        """The files, numbered by the run's attempt; a redriven run's manifest keeps the files of the
        children that succeeded before it and lists this attempt's failures only."""
        files: dict[str, list[dict[str, Any]]] = {status: [] for status in STATUSES}
        files["SUCCEEDED"] = list(record.succeeded_files)
        for status, spill in self._files.items():
            spill.write(b"]")
            size = spill.tell()
            spill.seek(0)
            key = f"{folder}/{status}_{record.redrive_count}.json"
            # In parts, as Step Functions writes results (its IAM page lists the multipart actions): a
            # part at a time in memory, not the whole file.
            s3.upload_fileobj(spill, bucket, key, Config=_UPLOAD)
            spill.close()
            files[status].append({"Key": key, "Size": size})
        self._files.clear()
        record.succeeded_files = list(files["SUCCEEDED"])
        manifest_key = f"{folder}/manifest.json"
        manifest = {"DestinationBucket": bucket, "MapRunArn": record.map_run_arn, "ResultFiles": files}
        s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
        return manifest_key

    def discard(self) -> None:
        for spill in self._files.values():
            spill.close()
        self._files.clear()


# ---- the run ----


class MapRunState(MapRunRecord):
    """moto's record of a map run, and what a redrive needs of it: which children succeeded, how many items
    were read, the result files already written ("Redriving Map Runs",
    https://docs.aws.amazon.com/step-functions/latest/dg/redrive-map-run.html)."""

    def __init__(self, state_name: str, **named: Any) -> None:
        super().__init__(**named)
        self.state_name = state_name
        self.done: set[int] = set()
        self.items_read = 0
        self.succeeded_files: list[dict[str, Any]] = []
        self.redrive_count = 0
        self.redrive_date: datetime | None = None
        self.redrive_requested = False

    def describe(self) -> Any:
        described = dict(super().describe())
        described["redriveCount"] = self.redrive_count
        if self.redrive_date is not None:
            described["redriveDate"] = _stamp(self.redrive_date)
        return described

    def redrive(self) -> None:
        """Run again: the unsuccessful children's counts start over, the successful ones' stay."""
        self.redrive_requested = False
        self.redrive_count += 1
        self.redrive_date = _now()
        self.status = "RUNNING"  # type: ignore[assignment]  # moto's MapRunStatus is a str enum
        self.stop_date = None
        for counter in (self.item_counter, self.execution_counter):
            for count in (counter.failed, counter.aborted, counter.pending, counter.running, counter.timed_out):
                count.offset(-count.get())


def request_map_run_redrive(pool: Any) -> None:
    """The execution is being redriven: its unsuccessful map runs run again when their state is reached."""
    for record in pool.get_all():
        if isinstance(record, MapRunState) and record.status != "SUCCEEDED":
            record.redrive_requested = True


@dataclass
class Child:
    index: int  # the child's place in the run, for an output in item order
    input: Any
    items: int


class MapRun:
    """One run of a distributed Map state, in the Task that stands for it (see the module's docstring)."""

    def __init__(
        self, state: dict[str, Any], env: Environment, state_name: str, authorize: Authorize | None = None
    ) -> None:
        self.state = state
        self.authorize = authorize
        self.env = env
        data = env.states.context_object.context_object_data
        self.context = copy.deepcopy(dict(data))
        self.state_input = copy.deepcopy(env.states.get_input())
        self.machine_arn = data["StateMachine"]["Id"]
        self.role_arn = env.aws_execution_details.role_arn
        self.region = self.machine_arn.split(":")[3]
        processor = state["ItemProcessor"]
        self.express = processor["ProcessorConfig"].get("ExecutionType") == "EXPRESS"
        definition = {key: value for key, value in processor.items() if key != "ProcessorConfig"}
        self.program = AmazonStateLanguageParser.parse(json.dumps(definition))[0]
        concurrency = int(state.get("MaxConcurrency", 0))
        self.concurrency = concurrency or LOCAL_CONCURRENCY
        self.tolerated_count: int | None = state.get("ToleratedFailureCount")
        self.tolerated_percentage = float(state.get("ToleratedFailurePercentage", 0))
        previous = [
            record
            for record in env.map_run_record_pool_manager.get_all()
            if isinstance(record, MapRunState) and record.state_name == state_name and record.redrive_requested
        ]
        if previous:
            self.record = previous[-1]
            self.record.redrive()
        else:
            self.record = MapRunState(
                state_name,
                state_machine_arn=self.machine_arn,
                execution_arn=data["Execution"]["Id"],
                max_concurrency=concurrency,
                tolerated_failure_count=self.tolerated_count or 0,
                tolerated_failure_percentage=self.tolerated_percentage,
                label=state.get("Label"),
            )
            env.map_run_record_pool_manager.add(self.record)
        self.results = ResultFiles()
        self.outputs: dict[int, Any] = {}
        self.failure: MapRunFailure | None = None
        self.read_all = False
        self._lock = threading.Lock()

    def _client(self, service: str) -> Any:
        return boto_client.boto_client_for(
            region=self.region, service=service, state_credentials=StateCredentials(role_arn=self.role_arn)
        )

    # -- items --

    def items(self) -> Iterator[Any]:
        reader = self.state.get("ItemReader")
        if reader is None:
            found = extract_json(self.state.get("ItemsPath", "$"), self.state_input)
            if not isinstance(found, list):
                raise MapRunFailure("States.Runtime", "the Map's items are not an array")
            yield from found
            return
        parameters = evaluate(reader["Parameters"], self.state_input, self.context)
        config = reader.get("ReaderConfig") or {}
        try:
            body = self._client("s3").get_object(Bucket=parameters["Bucket"], Key=parameters["Key"])["Body"]
        except Exception as error:  # any refusal: S3's answer is the cause
            raise MapRunFailure(READER_FAILED, str(error)) from error
        kind = config.get("InputType", "JSON")
        if kind == "CSV":
            yield from read_csv(_lines(body), config)
        elif kind == "JSONL":
            yield from read_json_lines(_lines(body))
        elif kind == "JSON":
            try:
                document = json.loads(body.read())
            except ValueError as error:
                raise MapRunFailure(READER_FAILED, f"the object is not JSON: {error}") from error
            if not isinstance(document, list):
                raise MapRunFailure(READER_FAILED, "the JSON object is not an array")
            yield from document
        else:
            raise MapRunFailure(READER_FAILED, f"InputType {kind} is not read by the local stack")

    def children(self) -> Iterator[Child]:
        selector = self.state.get("ItemSelector")
        batcher = self.state.get("ItemBatcher")
        batch_input = evaluate(batcher.get("BatchInput", {}), self.state_input, self.context) if batcher else None
        max_items = (batcher or {}).get("MaxItemsPerBatch")
        max_bytes = (batcher or {}).get("MaxInputBytesPerBatch")
        empty_size = len(json.dumps({"Items": [], "BatchInput": batch_input}).encode())
        batch: list[Any] = []
        size = empty_size
        made = 0
        for index, value in enumerate(self.items()):
            if index >= self.record.items_read:
                self.record.item_counter.total.count()
                self.record.items_read += 1
            self.record.item_counter.pending.count()
            item = value
            if selector is not None:
                context = {**self.context, "Map": {"Item": {"Index": index, "Value": value}}}
                item = evaluate(selector, self.state_input, context)
            if batcher is None:
                yield Child(made, item, 1)
                made += 1
                continue
            item_size = len(json.dumps(item).encode()) + (1 if batch else 0)
            if batch and max_bytes is not None and size + item_size > max_bytes:
                yield Child(made, {"Items": batch, "BatchInput": batch_input}, len(batch))
                made += 1
                batch, size, item_size = [], empty_size, item_size - 1
            batch.append(item)
            size += item_size
            if max_items is not None and len(batch) >= max_items:
                yield Child(made, {"Items": batch, "BatchInput": batch_input}, len(batch))
                made += 1
                batch, size = [], empty_size
        if batch:
            yield Child(made, {"Items": batch, "BatchInput": batch_input}, len(batch))

    # -- children --

    def _stopping(self) -> bool:
        return not self.env.is_running() or self.failure is not None

    def _run_child(self, child: Child) -> None:
        items, executions = self.record.item_counter, self.record.execution_counter
        items.pending.offset(-child.items)
        items.running.count(child.items)
        executions.total.count()
        executions.running.count()
        name = str(uuid.uuid4())
        kind = "express" if self.express else "execution"
        label = self.record.map_state_machine_arn.split(":stateMachine:")[1]
        arn = f"{self.machine_arn.split(':stateMachine:')[0]}:{kind}:{label}:{name}"
        started = _now()
        frame = self.env.open_inner_frame()
        frame.event_manager = EventManager()  # a child's history is its own
        data = frame.states.context_object.context_object_data
        data["Execution"] = {
            "Id": arn,
            "Input": copy.deepcopy(child.input),
            "Name": name,
            "RoleArn": self.role_arn,
            "StartTime": _stamp(started),
        }
        data["StateMachine"] = {"Id": self.record.map_state_machine_arn, "Name": label}
        data.pop("Map", None)  # type: ignore[misc]  # the child's context has no Map
        frame.states.reset(copy.deepcopy(child.input))
        try:
            self.program.eval(frame)
            ended = frame.program_state()
            output = frame.states.get_input()
        finally:
            self.env.delete_frame(frame)
        record: dict[str, Any] = {
            "ExecutionArn": arn,
            "Input": json.dumps(child.input),
            "InputDetails": {"Included": True},
            "Name": name,
            "StartDate": _stamp(started),
            "StateMachineArn": self.record.map_state_machine_arn,
            "StopDate": _stamp(_now()),
        }
        items.running.offset(-child.items)
        executions.running.offset(-1)
        if isinstance(ended, ProgramError):
            error = ended.error or {}
            record.update(Status="FAILED", Error=error.get("error", ""), Cause=error.get("cause", ""))
            items.failed.count(child.items)
            executions.failed.count()
        elif isinstance(ended, ProgramStopped):
            record.update(Status="ABORTED")
            items.aborted.count(child.items)
            executions.aborted.count()
        else:
            record.update(Status="SUCCEEDED", Output=json.dumps(output), OutputDetails={"Included": True})
            items.succeeded.count(child.items)
            executions.succeeded.count()
            with self._lock:
                self.record.done.add(child.index)
            if "ResultWriter" not in self.state:
                with self._lock:
                    self.outputs[child.index] = output
        self.results.add("SUCCEEDED" if record["Status"] == "SUCCEEDED" else "FAILED", record)
        items.results_written.count(child.items)
        executions.results_written.count()
        self._check_tolerance()

    def _check_tolerance(self) -> None:
        counts = self.record.item_counter
        failed, total = counts.failed.get(), counts.total.get()
        over_count = self.tolerated_count is not None and failed > self.tolerated_count
        over_share = self.read_all and total > 0 and failed * 100 / total > self.tolerated_percentage
        if self.tolerated_count is not None and "ToleratedFailurePercentage" not in self.state:
            over_share = False
        if (over_count or over_share) and self.failure is None:
            self.failure = MapRunFailure(
                EXCEEDED, f"The failed items ({failed} of {total}) exceed the tolerated failure threshold."
            )

    def _work(self, children: queue.Queue[Child | None]) -> None:
        while (child := children.get()) is not None:
            if self._stopping():
                self.record.item_counter.pending.offset(-child.items)
                continue
            self._run_child(child)

    def _feed(self, children: queue.Queue[Child | None]) -> None:
        for child in self.children():
            if child.index in self.record.done:
                self.record.item_counter.pending.offset(-child.items)
                continue
            while not self._stopping():
                try:
                    children.put(child, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if self._stopping():
                return
        self.read_all = True
        self._check_tolerance()

    def _check_start_execution(self) -> None:
        """The children are started with the role's ``states:StartExecution`` on the state machine ("IAM
        policies for using Distributed Map states"); without it the map run fails before any child."""
        if self.authorize is None:
            return
        refused = self.authorize(self.role_arn, "states:StartExecution", self.machine_arn)
        if refused is not None:
            raise MapRunFailure("States.Runtime", refused)

    def run(self) -> Any:
        self._check_start_execution()
        children: queue.Queue[Child | None] = queue.Queue(maxsize=self.concurrency)
        workers = [
            threading.Thread(target=self._work, args=(children,), name=f"map-run-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        for worker in workers:
            worker.start()
        try:
            self._feed(children)
        except MapRunFailure as failure:
            self.failure = self.failure or failure
        finally:
            for _ in workers:
                children.put(None)
            for worker in workers:
                worker.join()
        self._check_tolerance()
        status = "ABORTED" if not self.env.is_running() else "FAILED" if self.failure else "SUCCEEDED"
        output = self._write_results()
        self.record.set_stop(status=status)  # type: ignore[arg-type]  # moto's MapRunStatus is a str enum
        if status == "FAILED" and self.failure is not None:
            raise self.failure
        return output

    def _write_results(self) -> Any:
        writer = self.state.get("ResultWriter")
        if writer is None or "Parameters" not in writer:
            self.results.discard()
            return [self.outputs[index] for index in sorted(self.outputs)]
        parameters = evaluate(writer["Parameters"], self.state_input, self.context)
        bucket = parameters["Bucket"]
        map_run_id = self.record.map_run_arn.rsplit(":", 1)[1]
        folder = f"{parameters.get('Prefix', '').rstrip('/')}/{map_run_id}".lstrip("/")
        try:
            key = self.results.upload(self._client("s3"), bucket, folder, self.record)
        except Exception as error:  # S3's refusal is the cause
            self.results.discard()
            raise MapRunFailure(WRITER_FAILED, str(error)) from error
        return {"MapRunArn": self.record.map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}


def _error_name(error: str) -> ErrorName:
    """A ``States.`` name as the interpreter knows it (a Catch matches it by type), any other as custom."""
    for typ in StatesErrorNameType:
        if typ.to_name() == error:
            return StatesErrorName(typ=typ)
    return CustomErrorName(error)


class StateTaskDistributedMap(StateTaskService):
    """The Task that stands for a distributed Map (:mod:`sentiment_local.moto.distributed_map`)."""

    def __init__(self, authorize: Authorize | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # moto's constructor is untyped
        self._authorize = authorize

    def _get_supported_parameters(self) -> set[str] | None:
        return set()

    def _eval_service_task(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("the map run is the whole task: see _eval_execution")

    def _eval_execution(self, env: Environment) -> None:
        # moto keeps the comment as it is spelled in the definition, escapes and all.
        written = self.comment.comment  # type: ignore[union-attr]  # always written with one
        state = json.loads(json.loads(f'"{written}"'))
        try:
            output = MapRun(state, env, self.name, self._authorize).run()
        except MapRunFailure as failure:
            details = TaskFailedEventDetails(
                error=failure.error, cause=failure.cause, resource="distributed", resourceType="map"
            )
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=_error_name(failure.error),
                    event_type=HistoryEventType.MapRunFailed,
                    event_details=EventDetails(taskFailedEventDetails=details),  # type: ignore[typeddict-item]  # one kind of details per event
                )
            ) from failure
        env.stack.append(output)
