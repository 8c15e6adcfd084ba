"""SageMaker training jobs that really train, on this machine.

moto 5.2.5 marks a training job ``Completed`` the moment it is created and trains nothing. Here a
new job is ``InProgress`` and runs in the background the way SageMaker runs it, with one folder per
job standing in for the container's ``/opt/ml``:

    <jobs>/<job>/input/data/<channel>/…      each channel's S3 prefix, paths relative to the prefix
    <jobs>/<job>/input/config/               hyperparameters.json, inputdataconfig.json, resourceconfig.json
    <jobs>/<job>/model/                      SM_MODEL_DIR: uploaded as <S3OutputPath>/<job>/output/model.tar.gz
    <jobs>/<job>/output/data/                SM_OUTPUT_DATA_DIR: uploaded as …/output/output.tar.gz
    <jobs>/<job>/output/failure              what the script says went wrong: the job's FailureReason
    <jobs>/<job>/checkpoints/                CheckpointConfig's LocalPath: filled from its S3Uri before the
                                             job trains, written back to it afterwards (the embedding cache)

The job runs as SageMaker runs a bring-your-own container (SageMaker developer guide, "How Amazon
SageMaker AI Runs Your Training Image" and "How Amazon SageMaker AI Provides Training Information"):
the model image's entry point with the argument ``train`` (``python -m sentiment_model.container
train``, from the image's working folder), no other arguments, and the environment the image sets
plus what SageMaker adds (``TRAINING_JOB_NAME``, ``TRAINING_JOB_ARN`` and the request's
``Environment``), no ``SM_*`` variable. The hyperparameters reach it only as
``input/config/hyperparameters.json``, its channels only as ``input/data/<channel>``. The one local
addition is ``ML_ROOT``: where the job's folder stands in for ``/opt/ml``. The job's
``TrainingImage`` must be the project's model image (``ContainerEntrypoint``/``ContainerArguments``
are refused): its code is what runs, with this interpreter and as this machine's user (SageMaker runs
it as root). Its output goes to ``<logs>/training-<job>.log``.

SageMaker reads the channels and writes the artifacts with the job's role (``RoleArn``): so does the
runner, through ``s3_for_role``, so the local IAM check applies to them. Before the job exists,
CreateTrainingJob lists each ``S3Prefix`` channel with that role and refuses the request
(``ValidationException``) when it finds no object, the bucket is missing or the role may not list it
(:meth:`TrainingJobs.refusal`, called by :mod:`sentiment_local.moto.sagemaker`); an object the role may not
read fails the job while it downloads, with SageMaker's ``ClientError: Data download failed:…``.

One job runs at a time (the machine has two cores); the others wait their turn, ``InProgress``. A job
still running after ``StoppingCondition.MaxRuntimeInSeconds`` is killed and fails. Closing the
runner kills the running job and stops the waiting ones.

What SageMaker refuses before a job exists can be played too (:class:`TrainingLimits`): the account's
quota of instances per training instance type, and throttled ``CreateTrainingJob`` calls.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import queue
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import ClientError

from sentiment_template.reader import ROOT

log = logging.getLogger(__name__)

IMAGE_WORKDIR = ROOT / "model_training"  # the image's WORKDIR and PYTHONPATH, /opt/program
ENTRYPOINT = ("-m", "sentiment_model.container")  # the image's ENTRYPOINT, after "python"
DEFAULT_MAX_RUNTIME_S = 86_400  # SageMaker's default StoppingCondition
FAILURE_REASON_LIMIT = 1024  # DescribeTrainingJob's FailureReason is at most this long
LOG_TAIL_LINES = 20
HOST = "algo-1"


ANY_INSTANCE_TYPE = "*"
RUNNING = frozenset({"InProgress", "Stopping"})  # the statuses whose instances count against the quota


@dataclass
class TrainingLimits:
    """SageMaker's refusals of ``CreateTrainingJob`` that happen before any job exists.

    ``quotas``: the account's quota "<instance type> for training job usage", the instances of that type
    its training jobs may hold at once (Service Quotas, Amazon SageMaker; ``*`` for every type not
    named; a type with no quota is not limited here). ``throttle``: how many of the next
    ``CreateTrainingJob`` calls are refused with ``ThrottlingException``. The wording is SageMaker's (see
    :meth:`refusal`)."""

    quotas: dict[str, int] = field(default_factory=dict)
    throttle: int = 0

    def __post_init__(self) -> None:
        self.turn = threading.Lock()  # a quota check and the job it lets in are one step

    def throttled(self) -> bool:
        """Whether this call is one of the throttled ones (counting it)."""
        with self.turn:
            if self.throttle <= 0:
                return False
            self.throttle -= 1
            return True

    def quota(self, instance_type: str) -> int | None:
        return self.quotas.get(instance_type, self.quotas.get(ANY_INSTANCE_TYPE))

    def refusal(self, instance_type: str, requested: int, in_use: int) -> str | None:
        """SageMaker's ``ResourceLimitExceeded`` message when ``requested`` more instances of the type,
        beside the ``in_use`` ones, would exceed its quota; None when they fit. The message as SageMaker
        words it for an account-level quota managed in Service Quotas
        (https://repost.aws/knowledge-center/sagemaker-resource-limit-exceeded-error)."""
        quota = self.quota(instance_type)
        if quota is None or in_use + requested <= quota:
            return None
        return (
            f"The account-level service limit '{instance_type} for training job usage' is {quota} Instances, "
            f"with current utilization of {in_use} Instances and a request delta of {requested} Instances. "
            "Please use AWS Service Quotas to request an increase for this quota. If AWS Service Quotas is not "
            "available, contact AWS support to request an increase for this quota."
        )


def instances_in_use(jobs: Any, instance_type: str) -> int:
    """Instances of the type that the account's running training jobs (moto's job objects) hold."""
    return sum(
        int((job.resource_config or {}).get("InstanceCount", 1))
        for job in list(jobs)
        if job.training_job_status in RUNNING and (job.resource_config or {}).get("InstanceType") == instance_type
    )


class JobFailed(Exception):
    """The job ends ``Failed``; the message is its ``FailureReason``."""


class JobStopped(Exception):
    """The job ends ``Stopped``."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # moto keeps naive UTC times


def _s3_location(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise JobFailed(f"ClientError: {uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _relative_path(key: str, prefix: str) -> PurePosixPath | None:
    """Where SageMaker puts an object of a channel: its key without the prefix (an object named
    exactly by the prefix keeps its own name). Folder markers and ``..`` are skipped."""
    relative = key[len(prefix) :].lstrip("/") or PurePosixPath(key).name
    path = PurePosixPath(relative)
    if key.endswith("/") or ".." in path.parts:
        return None
    return path


def _stamps(folder: Path) -> dict[str, list[int]]:
    """Each file under ``folder`` (relative name) with its size and modification time."""
    if not folder.is_dir():
        return {}
    return {
        path.relative_to(folder).as_posix(): [path.stat().st_size, path.stat().st_mtime_ns]
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@dataclass(frozen=True)
class JobFolder:
    root: Path

    @property
    def input(self) -> Path:
        return self.root / "input"

    @property
    def config(self) -> Path:
        return self.input / "config"

    def channel(self, name: str) -> Path:
        return self.input / "data" / name

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def output_data(self) -> Path:
        return self.output / "data"

    @property
    def failure(self) -> Path:
        return self.output / "failure"


def _pack(folder: Path) -> bytes:
    """A folder's files as a ``.tar.gz``, paths relative to the folder (SageMaker's layout)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=str(path.relative_to(folder)))
    return buffer.getvalue()


class TrainingJobs:
    """Runs the training jobs moto is asked to create, one at a time, against an S3 client."""

    def __init__(
        self,
        jobs_dir: Path,
        logs_dir: Path,
        s3: Any,
        *,
        workdir: Path = IMAGE_WORKDIR,
        s3_for_role: Callable[[str], Any] | None = None,
        limits: TrainingLimits | None = None,
    ) -> None:
        self.limits = limits or TrainingLimits()
        self.jobs_dir = jobs_dir
        self.logs_dir = logs_dir
        self._s3_default = s3
        self._s3_for_role = s3_for_role
        self._workdir = workdir
        self._queue: queue.Queue[Any] = queue.Queue()
        self._closing = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="training-jobs", daemon=True)
        self._worker.start()

    # ---- moto's job object ----

    @staticmethod
    def _update(job: Any, status: str, secondary: str, message: str, **fields: Any) -> None:
        now = _now()
        for name, value in fields.items():
            setattr(job, name, value)
        # A new list each time: moto may be serialising the job on another thread.
        job.secondary_status_transitions = [
            *(
                {**transition, "EndTime": transition.get("EndTime") or now}
                for transition in job.secondary_status_transitions
            ),
            {"Status": secondary, "StartTime": now, "StatusMessage": message},
        ]
        job.secondary_status = secondary
        job.training_job_status = status
        job.last_modified_time = now

    def submit(self, job: Any) -> None:
        """Take over a job moto has just created: ``InProgress`` from now, run when its turn comes."""
        now = _now()
        job.training_job_status = "InProgress"
        job.secondary_status = "Starting"
        job.secondary_status_transitions = [
            {"Status": "Starting", "StartTime": now, "StatusMessage": "Preparing the instances for training"}
        ]
        job.training_start_time = None
        job.training_end_time = None
        job.model_artifacts = None  # there is none until the job completes
        job.final_metric_data_list = None
        self._queue.put(job)

    # ---- the worker ----

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._run(job)
            except Exception:  # the runner outlives any one job
                log.exception("training job %s could not be run", job.training_job_name)

    def _run(self, job: Any) -> None:
        name = job.training_job_name
        if self._closing.is_set():
            self._end(job, "Stopped", "Stopped", "The local stack stopped before the job started.")
            return
        started = time.monotonic()
        s3 = self._s3_for_role(str(job.role_arn)) if self._s3_for_role else self._s3_default
        self._update(job, "InProgress", "Downloading", "Downloading input data", training_start_time=_now())
        folder = JobFolder(self.jobs_dir / name)
        shutil.rmtree(folder.root, ignore_errors=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.logs_dir / f"training-{name}.log"
        try:
            self._refuse_other_images(job)
            self._download(s3, job, folder)
            self._restore_checkpoints(s3, job, folder)
            self._write_config(job, folder)
            self._update(job, "InProgress", "Training", "Training image download completed. Training in progress.")
            try:
                self._train(job, folder, log_path, started)
            finally:
                self._save_checkpoints(s3, job, folder)
            self._update(job, "InProgress", "Uploading", "Uploading generated training model")
            artifact = self._upload(s3, job, folder)
        except JobStopped as stopped:
            self._end(job, "Stopped", "Stopped", str(stopped))
        except JobFailed as failed:
            self._end(job, "Failed", "Failed", str(failed)[:FAILURE_REASON_LIMIT])
        except Exception as error:
            log.exception("training job %s failed", name)
            self._end(job, "Failed", "Failed", f"InternalServerError: {type(error).__name__}: {error}")
        else:
            self._end(
                job, "Completed", "Completed", "Training job completed", model_artifacts={"S3ModelArtifacts": artifact}
            )
        log.info("training job %s: %s (log: %s)", name, job.training_job_status, log_path)

    def _end(self, job: Any, status: str, secondary: str, message: str, **fields: Any) -> None:
        reason = None if status == "Completed" else message
        self._update(job, status, secondary, message, failure_reason=reason, training_end_time=_now(), **fields)

    @staticmethod
    def _refuse_other_images(job: Any) -> None:
        specification = job.algorithm_specification or {}
        overridden = sorted({"ContainerEntrypoint", "ContainerArguments"} & set(specification))
        if overridden:
            raise JobFailed(f"ClientError: {', '.join(overridden)} are not run locally: the image's own train runs")

    def refusal(self, channels: list[dict[str, Any]] | None, role_arn: str, region: str) -> str | None:
        """Why CreateTrainingJob refuses these channels, or None: SageMaker lists each ``S3Prefix``
        channel with the job's role before it creates the job, and answers ``ValidationException`` when
        the listing finds nothing (aws/amazon-sagemaker-examples#2267, #2489: "No S3 objects found under
        S3 URL … given in input data source")."""
        s3 = self._s3_for_role(role_arn) if self._s3_for_role else self._s3_default
        for channel in channels or []:
            source = channel.get("DataSource", {}).get("S3DataSource")
            if source is None or source.get("S3DataType", "S3Prefix") != "S3Prefix":
                continue
            uri = source["S3Uri"]
            try:
                bucket = _s3_location(uri)[0]
                empty = next(self._keys(s3, uri, role_arn, region), None) is None
            except JobFailed as refused:  # a missing bucket, or a role that may not list it
                return str(refused).removeprefix("ClientError: ")
            if empty:
                return self._no_objects(uri, bucket, role_arn, region)
        return None

    def _download(self, s3: Any, job: Any, folder: JobFolder) -> None:
        region = str(job.arn).split(":")[3]
        for channel in job.input_data_config or []:
            source = channel.get("DataSource", {}).get("S3DataSource")
            if source is None or source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise JobFailed(
                    f"ClientError: channel {channel['ChannelName']}: only S3Prefix data sources run locally"
                )
            uri = source["S3Uri"]
            bucket, prefix = _s3_location(uri)
            target = folder.channel(channel["ChannelName"])
            target.mkdir(parents=True, exist_ok=True)
            found = 0
            for key in self._keys(s3, uri, job.role_arn, region):
                relative = _relative_path(key, prefix)
                if relative is None:
                    continue
                destination = target.joinpath(*relative.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(self._read(s3, bucket, key))
                found += 1
            if not found:  # emptied since CreateTrainingJob listed it
                raise JobFailed("ClientError: " + self._no_objects(uri, bucket, job.role_arn, region))

    @staticmethod
    def _read(s3: Any, bucket: str, key: str) -> bytes:
        """An object of a channel, as SageMaker downloads it; what it says when it cannot
        (aws/amazon-sagemaker-examples#4384)."""
        try:
            return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as error:
            code, message = error.response["Error"]["Code"], error.response["Error"].get("Message", "")
            raise JobFailed(
                f"ClientError: Data download failed:Unable to download object s3://{bucket}/{key} ({code}: {message})"
            ) from error

    @staticmethod
    def _checkpoints(job: Any, folder: JobFolder) -> tuple[str, str, Path] | None:
        """(bucket, prefix, local folder) of the job's CheckpointConfig. SageMaker copies the S3 prefix
        to ``LocalPath`` (default ``/opt/ml/checkpoints``) before training and the folder back to it
        (developer guide, "Use Checkpoints in Amazon SageMaker AI")."""
        config = getattr(job, "checkpoint_config", None) or {}
        if not config.get("S3Uri"):
            return None
        bucket, prefix = _s3_location(config["S3Uri"])
        local = PurePosixPath(config.get("LocalPath", "/opt/ml/checkpoints"))
        if not local.is_relative_to("/opt/ml"):
            raise JobFailed(f"ClientError: CheckpointConfig.LocalPath {local} is not under /opt/ml here")
        return bucket, prefix.rstrip("/"), folder.root.joinpath(*local.relative_to("/opt/ml").parts)

    def _restore_checkpoints(self, s3: Any, job: Any, folder: JobFolder) -> None:
        checkpoints = self._checkpoints(job, folder)
        if checkpoints is None:
            return
        bucket, prefix, local = checkpoints
        local.mkdir(parents=True, exist_ok=True)
        listed = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else "")
        for page in listed:
            for item in page.get("Contents", []):
                relative = _relative_path(str(item["Key"]), prefix)
                if relative is None:
                    continue
                destination = local.joinpath(*relative.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        (local.parent / ".checkpoints-restored").write_text(json.dumps(_stamps(local)))

    def _save_checkpoints(self, s3: Any, job: Any, folder: JobFolder) -> None:
        checkpoints = self._checkpoints(job, folder)
        if checkpoints is None:
            return
        bucket, prefix, local = checkpoints
        restored_file = local.parent / ".checkpoints-restored"
        restored = json.loads(restored_file.read_text()) if restored_file.is_file() else {}
        for name, stamp in _stamps(local).items():
            if restored.get(name) != stamp:  # only what the job added or changed goes back
                path = local / name
                key = "/".join(part for part in (prefix, path.relative_to(local).as_posix()) if part)
                s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    def _keys(self, s3: Any, uri: str, role: str, region: str) -> Iterator[str]:
        """The keys under a channel's S3 prefix, listed as ``role``; SageMaker's refusal when it cannot."""
        bucket, prefix = _s3_location(uri)
        try:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for listed in page.get("Contents", []):
                    yield str(listed["Key"])
        except s3.exceptions.NoSuchBucket as error:
            raise JobFailed("ClientError: " + self._no_objects(uri, bucket, role, region)) from error
        except ClientError as error:
            if error.response["Error"]["Code"] not in {"AccessDenied", "403"}:
                raise
            raise JobFailed("ClientError: " + self._no_objects(uri, bucket, role, region)) from error

    @staticmethod
    def _no_objects(uri: str, bucket: str, role: str, region: str) -> str:
        return (
            f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure that the bucket '
            f"exists in the selected region ({region}), that objects exist under that S3 prefix, and that the role "
            f'"{role}" has "s3:ListBucket" permissions on bucket "{bucket}".'
        )

    @staticmethod
    def _write_config(job: Any, folder: JobFolder) -> None:
        folder.config.mkdir(parents=True, exist_ok=True)
        for path in (folder.model, folder.output_data):
            path.mkdir(parents=True, exist_ok=True)
        mode = (job.algorithm_specification or {}).get("TrainingInputMode", "File")
        channels = {
            channel["ChannelName"]: {
                "TrainingInputMode": channel.get("InputMode", mode),
                "S3DistributionType": channel["DataSource"]["S3DataSource"].get(
                    "S3DataDistributionType", "FullyReplicated"
                ),
                "RecordWrapperType": channel.get("RecordWrapperType", "None"),
                **({"ContentType": channel["ContentType"]} if "ContentType" in channel else {}),
            }
            for channel in job.input_data_config or []
        }
        resources = {
            "current_host": HOST,
            "hosts": [HOST],
            "network_interface_name": "eth0",
            "current_instance_type": (job.resource_config or {}).get("InstanceType", "local"),
        }
        (folder.config / "hyperparameters.json").write_text(json.dumps(job.hyper_parameters or {}))
        (folder.config / "inputdataconfig.json").write_text(json.dumps(channels))
        (folder.config / "resourceconfig.json").write_text(json.dumps(resources))

    def _environment(self, job: Any, folder: JobFolder) -> dict[str, str]:
        return {
            # What the model image sets (model_training/Dockerfile).
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "PYTHONPATH": str(self._workdir),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            # What SageMaker adds for a bring-your-own container.
            **{str(name): str(value) for name, value in (getattr(job, "environment", None) or {}).items()},
            "TRAINING_JOB_NAME": job.training_job_name,
            "TRAINING_JOB_ARN": job.arn,
            # Where /opt/ml is mounted, here.
            "ML_ROOT": str(folder.root),
        }

    def _train(self, job: Any, folder: JobFolder, log_path: Path, started: float) -> None:
        command = [sys.executable, *ENTRYPOINT, "train"]
        limit = int((job.stopping_condition or {}).get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_S))
        with log_path.open("ab") as output:
            output.write(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {job.training_job_name}: {command}\n".encode())
            output.flush()
            with self._lock:
                if self._closing.is_set():
                    raise JobStopped("The local stack stopped before the job started training.")
                process = self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
                    command,
                    env=self._environment(job, folder),
                    cwd=self._workdir,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            try:
                code = process.wait(timeout=max(0.0, started + limit - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise JobFailed(
                    f"MaxRuntimeExceeded: Training job runtime exceeded MaxRuntimeInSeconds provided ({limit} s)"
                ) from None
            finally:
                with self._lock:
                    self._process = None
        if self._closing.is_set():
            raise JobStopped("The local stack stopped while the job was training.")
        if code != 0:
            raise JobFailed(self._failure_reason(folder, log_path, code))

    @staticmethod
    def _failure_reason(folder: JobFolder, log_path: Path, code: int) -> str:
        if folder.failure.is_file():
            written = folder.failure.read_text(errors="replace").strip()
            if written:
                return f"AlgorithmError: {written}"[:FAILURE_REASON_LIMIT]
        lines = log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        head = f"AlgorithmError: the training container exited with status {code}. The end of its log:\n"
        tail = "\n".join(lines)
        return head + tail[-(FAILURE_REASON_LIMIT - len(head)) :]

    def _upload(self, s3: Any, job: Any, folder: JobFolder) -> str:
        bucket, prefix = _s3_location(job.output_data_config["S3OutputPath"].rstrip("/"))
        base = f"{prefix}/{job.training_job_name}/output" if prefix else f"{job.training_job_name}/output"
        if any(path.is_file() for path in folder.output_data.rglob("*")):
            s3.put_object(Bucket=bucket, Key=f"{base}/output.tar.gz", Body=_pack(folder.output_data))
        s3.put_object(Bucket=bucket, Key=f"{base}/model.tar.gz", Body=_pack(folder.model))
        return f"s3://{bucket}/{base}/model.tar.gz"

    # ---- stopping ----

    def close(self, timeout: float = 30) -> None:
        """Kill the running job and stop the waiting ones (they end ``Stopped``)."""
        self._closing.set()
        with self._lock:
            if self._process is not None:
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
        self._queue.put(None)
        self._worker.join(timeout=timeout)
