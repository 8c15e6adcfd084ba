"""Training jobs on the local stack: Step Functions' ``sagemaker:createTrainingJob`` (request-response
and ``.sync``) runs a job that really trains with ``model_training/train.py``, in SageMaker's layout
and environment, and uploads ``model.tar.gz`` where SageMaker would; a failing job fails the task
with its ``FailureReason``. The template's own retraining state machine runs end to end on moto."""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sentiment_local.moto_gaps import install
from sentiment_local.resources import create_functions, create_roles, create_state_machines, create_topics
from sentiment_local.template import FunctionSpec, Template
from sentiment_local.training_jobs import IMAGE_WORKDIR, TrainingJobs
from tests.conftest import DATA, ROOT
from tests.integration.local.conftest import RunnerFactory, function_spec, wait_for

BUCKET = "local-training"
BASE_ROWS, GOLDEN_ROWS = 300, 150
EXECUTION_TIMEOUT_S = 60

# Stands in for the image's entry point where a test is about the job, not the model: run as
# ``python -m sentiment_model.container train`` from its working folder, it reports what it was given
# and does what its hyperparameters ask. Like a bring-your-own container it finds everything under
# /opt/ml (here ML_ROOT): the hyperparameters in input/config, the channels in input/data.
FAKE_CONTAINER = """
import json, os, sys, time
from pathlib import Path

root = Path(os.environ["ML_ROOT"])
flags = json.loads((root / "input" / "config" / "hyperparameters.json").read_text())
model = root / "model"
data = root / "input" / "data"
channels = {
    channel.name: sorted(str(p.relative_to(channel)) for p in channel.rglob("*") if p.is_file())
    for channel in data.iterdir()
}
seen = {"argv": sys.argv[1:], "env": dict(os.environ), "cwd": os.getcwd(), "channels": channels}
(model / "seen.json").write_text(json.dumps(seen))
(model / "nested").mkdir()
(model / "nested" / "part.txt").write_text("part")
(root / "output" / "data" / "metrics.json").write_text('{"accuracy": 1}')
if "trace" in flags:
    with open(flags["trace"], "a") as trace:
        trace.write(f"start {os.environ['TRAINING_JOB_NAME']} {time.time()}\\n")
time.sleep(float(flags.get("sleep", 0)))
if "trace" in flags:
    with open(flags["trace"], "a") as trace:
        trace.write(f"end {os.environ['TRAINING_JOB_NAME']} {time.time()}\\n")
checkpoints = root / "checkpoints"
if checkpoints.is_dir():
    seen_checkpoints = sorted(str(p.relative_to(checkpoints)) for p in checkpoints.rglob("*") if p.is_file())
    (model / "checkpoints.json").write_text(json.dumps(seen_checkpoints))
    (checkpoints / "added.txt").write_text("written by the job")
if "fail" in flags:
    (root / "output" / "failure").write_text(flags["fail"])
    sys.exit(1)
if "crash" in flags:
    print("the last words of the script")
    sys.exit(3)
"""


@dataclass
class LocalSageMaker:
    jobs: TrainingJobs
    tmp: Path
    roles: list[str]  # the role of each S3 client a job asked for, in order

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name="us-east-1")

    def job_request(self, name: str, train_uri: str = f"s3://{BUCKET}/data/", **hyperparameters: str) -> dict[str, Any]:
        return {
            "TrainingJobName": name,
            "AlgorithmSpecification": {"TrainingImage": "sentiment-model:local", "TrainingInputMode": "File"},
            "RoleArn": "arn:aws:iam::123456789012:role/training",
            "HyperParameters": hyperparameters,
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": train_uri,
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/training-jobs"},
            "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        }

    def wait_for_job(self, name: str) -> dict[str, Any]:
        sagemaker = self.client("sagemaker")
        return dict(
            wait_for(
                lambda: (
                    (d := sagemaker.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] != "InProgress"
                    and d
                ),
                seconds=EXECUTION_TIMEOUT_S,
                message=f"training job {name} to end",
            )
        )

    def run(self, definition: dict[str, Any], execution_input: dict[str, Any], name: str = "machine") -> Any:
        """Create a state machine, run it once, and return the finished execution's description."""
        role = self.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        sfn = self.client("stepfunctions")
        machine = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)
        return self.execute(machine["stateMachineArn"], execution_input)

    def execute(self, machine_arn: str, execution_input: dict[str, Any], name: str | None = None) -> Any:
        sfn = self.client("stepfunctions")
        named = {"name": name} if name else {}
        execution = sfn.start_execution(stateMachineArn=machine_arn, input=json.dumps(execution_input), **named)
        return wait_for(
            lambda: (d := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] != "RUNNING" and d,
            seconds=EXECUTION_TIMEOUT_S,
            message="the execution to finish",
        )

    def archive(self, uri: str) -> dict[str, bytes]:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        data = self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            return {
                member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
                for member in archive.getmembers()
                if member.isfile()
            }


def upload_small_data(s3: Any, prefix: str = "data/", golden: bool = True) -> None:
    """A few hundred rows per source from the project's data, as the train channel expects it."""
    for split, rows in (("base", BASE_ROWS), ("golden", GOLDEN_ROWS)):
        if split == "golden" and not golden:
            continue
        for source in ("reviews", "tweets"):
            lines = (DATA / split / f"{source}.csv").read_text().splitlines(keepends=True)[: rows + 1]
            s3.put_object(Bucket=BUCKET, Key=f"{prefix}{split}/{source}.csv", Body="".join(lines).encode())


class ReadsDenied:
    """An S3 client as a role that may list the bucket but not read ``denied`` objects."""

    def __init__(self, s3: Any, denied: str) -> None:
        self._s3, self._denied = s3, denied

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def get_object(self, **request: Any) -> Any:
        if str(request["Key"]).startswith(self._denied):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject")
        return self._s3.get_object(**request)


@contextmanager
def local_sagemaker(
    tmp_path: Path,
    make_runner: RunnerFactory,
    workdir: Path = IMAGE_WORKDIR,
    specs: tuple[FunctionSpec, ...] = (),
    unreadable: str | None = None,
) -> Iterator[LocalSageMaker]:
    """moto running state machines, with the gaps plugged and training jobs run by the image's entry point
    in ``workdir``; the jobs' role may not read the objects whose keys start with ``unreadable``."""
    runner = make_runner(*specs)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        roles: list[str] = []

        def s3_for_role(role: str) -> Any:
            roles.append(role)
            return ReadsDenied(s3, unreadable) if unreadable else s3

        jobs = TrainingJobs(tmp_path / "training-jobs", tmp_path / "logs", s3, workdir=workdir, s3_for_role=s3_for_role)
        undo = install(runner, lambda: "http://127.0.0.1:1", training=jobs)
        try:
            yield LocalSageMaker(jobs, tmp_path, roles)
        finally:
            jobs.close()
            undo()


@pytest.fixture
def fake_image(tmp_path: Path) -> Path:
    """The working folder of an image whose entry point is the fake container."""
    package = tmp_path / "code" / "sentiment_model"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "container.py").write_text(FAKE_CONTAINER)
    return package.parent


def training_task(sync: bool = True, **overrides: Any) -> dict[str, Any]:
    """A state that trains, shaped as the retraining state machine's TrainCandidate."""
    parameters = {
        "TrainingJobName.$": "$.job",
        "AlgorithmSpecification": {"TrainingImage": "sentiment-model:local", "TrainingInputMode": "File"},
        "RoleArn": "arn:aws:iam::123456789012:role/training",
        "HyperParameters": {"version.$": "$.version", "sample": "200"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri.$": "$.train_uri",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/training-jobs"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        **overrides,
    }
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createTrainingJob" + (".sync" if sync else ""),
        "Parameters": parameters,
    }


# ---- through Step Functions ----


@pytest.mark.slow
def test_a_sync_training_task_really_trains_and_the_next_state_publishes(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory
) -> None:
    with local_sagemaker(tmp_path, make_runner) as local:
        # Given a few hundred rows of training data under data/, and a topic with a queue subscribed
        upload_small_data(local.client("s3"))
        sns, sqs = local.client("sns"), local.client("sqs")
        topic = sns.create_topic(Name="outcomes")["TopicArn"]
        queue = sqs.create_queue(QueueName="outcomes")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        definition = {
            "StartAt": "Train",
            "States": {
                "Train": {
                    **training_task(),
                    "ResultSelector": {
                        "training_job_name.$": "$.TrainingJobName",
                        "model_data_url.$": "$.ModelArtifacts.S3ModelArtifacts",
                        "status.$": "$.TrainingJobStatus",
                    },
                    "ResultPath": "$.training",
                    "Next": "Notify",
                },
                "Notify": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sns:publish",
                    "Parameters": {
                        "TopicArn": topic,
                        "Subject.$": "States.Format('Run {}: trained', $.job)",
                        "Message.$": "States.JsonToString($.training)",
                    },
                    "ResultPath": None,
                    "End": True,
                },
            },
        }

        # When the state machine trains version v-local-1 on it
        started = time.monotonic()
        execution = local.run(
            definition, {"job": "sentiment-run-1", "version": "v-local-1", "train_uri": f"s3://{BUCKET}/data/"}
        )

        # Then the execution succeeded with the job's artifact, a real model of that version
        assert execution["status"] == "SUCCEEDED", execution
        training = json.loads(execution["output"])["training"]
        artifact = f"s3://{BUCKET}/training-jobs/sentiment-run-1/output/model.tar.gz"
        assert training == {"training_job_name": "sentiment-run-1", "model_data_url": artifact, "status": "Completed"}
        files = local.archive(artifact)
        assert {"model.joblib", "metadata.json"} <= set(files)
        assert json.loads(files["metadata.json"])["version"] == "v-local-1"
        assert len(files["model.joblib"]) > 1000
        job = local.client("sagemaker").describe_training_job(TrainingJobName="sentiment-run-1")
        assert job["TrainingJobStatus"] == "Completed"
        assert job["ModelArtifacts"]["S3ModelArtifacts"] == artifact
        assert job["TrainingEndTime"] >= job["TrainingStartTime"]
        assert "FailureReason" not in job
        # And SageMaker's layout was used, the log kept, and the next state's message published
        channel = tmp_path / "training-jobs" / "sentiment-run-1" / "input" / "data" / "train"
        assert sorted(str(path.relative_to(channel)) for path in channel.rglob("*.csv")) == [
            "base/reviews.csv",
            "base/tweets.csv",
            "golden/reviews.csv",
            "golden/tweets.csv",
        ]
        assert "trained v-local-1" in (tmp_path / "logs" / "training-sentiment-run-1.log").read_text()
        (message,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
        envelope = json.loads(message["Body"])
        assert envelope["Subject"] == "Run sentiment-run-1: trained"
        assert json.loads(envelope["Message"]) == training
        assert time.monotonic() - started < EXECUTION_TIMEOUT_S


def test_a_job_without_a_golden_split_fails_the_execution_with_its_reason(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory
) -> None:
    with local_sagemaker(tmp_path, make_runner) as local:
        # Given training data with no golden/ folder
        upload_small_data(local.client("s3"), prefix="no-golden/", golden=False)
        definition = {"StartAt": "Train", "States": {"Train": {**training_task(), "End": True}}}

        # When the state machine trains on it
        execution = local.run(
            definition, {"job": "sentiment-run-2", "version": "v2", "train_uri": f"s3://{BUCKET}/no-golden/"}
        )

        # Then the execution failed as Step Functions reports a failed job: the job's description, reason included
        assert execution["status"] == "FAILED"
        history = local.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])
        (failed,) = [event for event in history["events"] if event["type"] == "TaskFailed"]
        details = failed["taskFailedEventDetails"]
        assert details["error"] == "States.TaskFailed"
        assert details["resource"] == "createTrainingJob.sync"
        cause = json.loads(details["cause"])
        assert cause["TrainingJobName"] == "sentiment-run-2"
        assert cause["TrainingJobStatus"] == "Failed"
        assert cause["FailureReason"].startswith("AlgorithmError: ")
        assert "golden" in cause["FailureReason"]
        assert len(cause["FailureReason"]) <= 1024
        assert "ModelArtifacts" not in cause
        assert "output/model.tar.gz" not in str(local.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents"))


def test_a_request_response_task_answers_at_once_and_the_job_runs_on(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image) as local:
        upload_small_data(local.client("s3"))
        definition = {
            "StartAt": "Start",
            "States": {"Start": {**training_task(sync=False, HyperParameters={"sleep": "2"}), "End": True}},
        }

        execution = local.run(
            definition, {"job": "sentiment-run-3", "version": "v3", "train_uri": f"s3://{BUCKET}/data/"}
        )

        assert execution["status"] == "SUCCEEDED"
        assert json.loads(execution["output"]) == {
            "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/sentiment-run-3"
        }
        running = local.client("sagemaker").describe_training_job(TrainingJobName="sentiment-run-3")
        assert running["TrainingJobStatus"] == "InProgress"
        assert "ModelArtifacts" not in running
        assert local.wait_for_job("sentiment-run-3")["TrainingJobStatus"] == "Completed"


def test_a_refused_request_fails_the_task_with_sagemakers_error(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image) as local:
        upload_small_data(local.client("s3"))
        local.client("sagemaker").create_training_job(**local.job_request("taken"))
        definition = {
            "StartAt": "Train",
            "States": {
                "Train": {
                    **training_task(),
                    "Catch": [{"ErrorEquals": ["SageMaker.ResourceInUse"], "ResultPath": "$.error", "Next": "Caught"}],
                    "End": True,
                },
                "Caught": {"Type": "Pass", "End": True},
            },
        }

        execution = local.run(definition, {"job": "taken", "version": "v", "train_uri": f"s3://{BUCKET}/data/"})

        assert execution["status"] == "SUCCEEDED"
        error = json.loads(execution["output"])["error"]
        assert error["Error"] == "SageMaker.ResourceInUse"
        assert "already exists" in error["Cause"]


# ---- the job itself ----


def test_a_job_runs_the_container_as_sagemaker_runs_a_bring_your_own_image(
    aws_credentials: None,
    tmp_path: Path,
    make_runner: RunnerFactory,
    fake_image: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARENT_ONLY_SECRET", "must not leak")
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image) as local:
        # Given data under data/ and a champion archive named exactly by its channel's URI
        s3 = local.client("s3")
        upload_small_data(s3)
        s3.put_object(Bucket=BUCKET, Key="models/v0/model.tar.gz", Body=b"champion")
        request = local.job_request("layout", version="v9", **{"champion-sha256": "ab12"})
        request["Environment"] = {"FROM_THE_REQUEST": "yes"}
        request["InputDataConfig"].append(
            {
                "ChannelName": "champion",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/models/v0/model.tar.gz"}
                },
            }
        )

        # When the job runs
        local.client("sagemaker").create_training_job(**request)
        job = local.wait_for_job("layout")

        # Then the container ran as SageMaker runs a bring-your-own image: `train`, no flags, no SM_*
        # variables, the hyperparameters as a file and the channels as folders, and nothing of ours
        assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
        # SageMaker lists the channels (CreateTrainingJob), reads them and writes the artifact with the job's role
        assert set(local.roles) == {request["RoleArn"]}
        folder = tmp_path / "training-jobs" / "layout"
        files = local.archive(job["ModelArtifacts"]["S3ModelArtifacts"])
        seen = json.loads(files["seen.json"])
        assert seen["argv"] == ["train"]
        assert seen["cwd"] == str(fake_image)
        env = seen["env"]
        assert env["ML_ROOT"] == str(folder)
        assert env["TRAINING_JOB_NAME"] == "layout"
        assert env["TRAINING_JOB_ARN"].endswith(":training-job/layout")
        assert env["FROM_THE_REQUEST"] == "yes"  # the request's Environment
        assert [name for name in env if name.startswith("SM_")] == []
        assert env["PYTHONPATH"] == str(fake_image)
        assert "PARENT_ONLY_SECRET" not in env
        assert not any(name.startswith("AWS_") for name in env)
        assert seen["channels"]["champion"] == ["model.tar.gz"]
        assert "golden/tweets.csv" in seen["channels"]["train"]
        config = folder / "input" / "config"
        assert json.loads((config / "hyperparameters.json").read_text()) == {"version": "v9", "champion-sha256": "ab12"}
        assert json.loads((config / "inputdataconfig.json").read_text())["train"]["TrainingInputMode"] == "File"
        # And the model folder is packed whole, paths relative to it, with the output data beside it
        assert files["nested/part.txt"] == b"part"
        output = local.archive(f"s3://{BUCKET}/training-jobs/layout/output/output.tar.gz")
        assert output == {"metrics.json": b'{"accuracy": 1}'}
        assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
            "Starting",
            "Downloading",
            "Training",
            "Uploading",
            "Completed",
        ]


def test_checkpoints_are_restored_before_training_and_what_the_job_writes_is_saved_back(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    """CheckpointConfig: SageMaker copies S3Uri to LocalPath (/opt/ml/checkpoints) before the job and the
    folder back afterwards; the embedding cache lives there between retraining runs."""
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image) as local:
        s3 = local.client("s3")
        upload_small_data(s3)
        s3.put_object(Bucket=BUCKET, Key="checkpoints/embeddings-abc.npz", Body=b"cached")
        s3.put_object(Bucket=BUCKET, Key="checkpoints/nested/more.bin", Body=b"more")
        request = local.job_request("checkpointed")
        request["CheckpointConfig"] = {"S3Uri": f"s3://{BUCKET}/checkpoints/"}
        before = s3.head_object(Bucket=BUCKET, Key="checkpoints/embeddings-abc.npz")["LastModified"]
        time.sleep(1.1)  # S3's LastModified has a resolution of one second

        local.client("sagemaker").create_training_job(**request)
        job = local.wait_for_job("checkpointed")

        assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
        files = local.archive(job["ModelArtifacts"]["S3ModelArtifacts"])
        assert json.loads(files["checkpoints.json"]) == ["embeddings-abc.npz", "nested/more.bin"]
        saved = s3.list_objects_v2(Bucket=BUCKET, Prefix="checkpoints/")["Contents"]
        assert sorted(item["Key"] for item in saved) == [
            "checkpoints/added.txt",
            "checkpoints/embeddings-abc.npz",
            "checkpoints/nested/more.bin",
        ]
        assert s3.get_object(Bucket=BUCKET, Key="checkpoints/added.txt")["Body"].read() == b"written by the job"
        # What the job left as it found it is not uploaded again.
        assert s3.head_object(Bucket=BUCKET, Key="checkpoints/embeddings-abc.npz")["LastModified"] == before


def test_the_failure_file_is_the_reason_cut_to_sagemakers_length(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image) as local:
        upload_small_data(local.client("s3"))
        sagemaker = local.client("sagemaker")
        sagemaker.create_training_job(**local.job_request("says-why", fail="ValueError: bad data " + "x" * 3000))
        sagemaker.create_training_job(**local.job_request("says-nothing", crash="1"))

        said = local.wait_for_job("says-why")
        silent = local.wait_for_job("says-nothing")

        assert said["TrainingJobStatus"] == "Failed"
        assert said["FailureReason"].startswith("AlgorithmError: ValueError: bad data xxx")
        assert len(said["FailureReason"]) == 1024
        assert silent["TrainingJobStatus"] == "Failed"
        assert "exited with status 3" in silent["FailureReason"]
        assert "the last words of the script" in silent["FailureReason"]  # the log's tail


def test_a_job_past_its_max_runtime_is_killed_and_fails(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image) as local:
        upload_small_data(local.client("s3"))
        request = local.job_request("too-long", sleep="30")
        request["StoppingCondition"] = {"MaxRuntimeInSeconds": 1}
        started = time.monotonic()

        local.client("sagemaker").create_training_job(**request)
        job = local.wait_for_job("too-long")

        assert job["TrainingJobStatus"] == "Failed"
        assert job["FailureReason"].startswith("MaxRuntimeExceeded")
        assert time.monotonic() - started < 15


def test_a_channel_with_no_objects_is_refused_by_create_training_job_as_sagemaker_does(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image) as local:
        upload_small_data(local.client("s3"))
        request = local.job_request("empty")
        request["InputDataConfig"].append(
            {
                "ChannelName": "feedback",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/feedback/"}},
            }
        )

        # When a job names a channel whose prefix holds no object (the train channel has data)
        with pytest.raises(ClientError) as refused:
            local.client("sagemaker").create_training_job(**request)

        # Then SageMaker's CreateTrainingJob refuses it, in its words, and no job exists
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert refused.value.response["Error"]["Message"] == (
            f'No S3 objects found under S3 URL "s3://{BUCKET}/feedback/" given in input data source. Please '
            "ensure that the bucket exists in the selected region (us-east-1), that objects exist under that S3 "
            'prefix, and that the role "arn:aws:iam::123456789012:role/training" has "s3:ListBucket" permissions '
            f'on bucket "{BUCKET}".'
        )
        assert local.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []
        assert local.roles == ["arn:aws:iam::123456789012:role/training"]  # listed with the job's role
        # and a missing bucket is refused alike
        with pytest.raises(ClientError, match='No S3 objects found under S3 URL "s3://no-such-bucket/data/"'):
            local.client("sagemaker").create_training_job(
                **local.job_request("no-bucket", train_uri="s3://no-such-bucket/data/")
            )


def test_an_object_the_role_may_not_read_fails_the_job_while_it_downloads(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image, unreadable="data/golden/") as local:
        upload_small_data(local.client("s3"))

        local.client("sagemaker").create_training_job(**local.job_request("denied"))
        job = local.wait_for_job("denied")

        assert job["TrainingJobStatus"] == "Failed"
        assert job["FailureReason"].startswith(
            f"ClientError: Data download failed:Unable to download object s3://{BUCKET}/data/golden/"
        )
        assert job["FailureReason"].endswith("(AccessDenied: Access Denied)")
        assert not (tmp_path / "logs" / "training-denied.log").exists()  # the script never ran


def test_jobs_run_one_at_a_time_and_closing_stops_them(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    trace = tmp_path / "trace.txt"
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image) as local:
        upload_small_data(local.client("s3"))
        sagemaker = local.client("sagemaker")
        for name in ("first", "second"):
            sagemaker.create_training_job(**local.job_request(name, sleep="1", trace=str(trace)))
        assert local.wait_for_job("first")["TrainingJobStatus"] == "Completed"
        assert local.wait_for_job("second")["TrainingJobStatus"] == "Completed"
        events = [line.split() for line in trace.read_text().splitlines()]
        assert [(event, job) for event, job, _ in events] == [
            ("start", "first"),
            ("end", "first"),
            ("start", "second"),
            ("end", "second"),
        ]

        # A long job and one waiting behind it; the stack stops
        sagemaker.create_training_job(**local.job_request("running", sleep="60"))
        sagemaker.create_training_job(**local.job_request("waiting"))
        wait_for((tmp_path / "training-jobs" / "running" / "model" / "seen.json").exists, message="the job to start")
        started = time.monotonic()
        local.jobs.close()

        assert time.monotonic() - started < 10
        running = sagemaker.describe_training_job(TrainingJobName="running")
        waiting = sagemaker.describe_training_job(TrainingJobName="waiting")
        assert (running["TrainingJobStatus"], waiting["TrainingJobStatus"]) == ("Stopped", "Stopped")
        assert "stopped" in running["FailureReason"]


def test_a_training_job_name_is_used_once(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image) as local:
        upload_small_data(local.client("s3"))
        sagemaker = local.client("sagemaker")
        sagemaker.create_training_job(**local.job_request("once"))
        with pytest.raises(ClientError) as raised:
            sagemaker.create_training_job(**local.job_request("once"))
        assert raised.value.response["Error"]["Code"] == "ResourceInUse"


# ---- the template's retraining state machine ----

PIPELINE_STUB = """
import json, os


def handler(event, context):
    action = os.environ["ACTION"]
    with open(os.environ["OUT"], "a") as out:
        out.write(json.dumps({"action": action, "event": event}) + "\\n")
    if action == "prepare":
        return {
            "training_job_name": "sentiment-" + event["run_id"],
            "candidate_version": "v-candidate",
            "champion_sha256": "",
            "train_uri": os.environ["TRAIN_URI"],
            "feedback_uri": os.environ["TRAIN_URI"],
            "champion_uri": os.environ["TRAIN_URI"],
            "output_uri": os.environ["OUTPUT_URI"],
        }
    if action == "evaluate":
        return {"promote": True, "version": event["candidate_version"], "metrics": {"golden_accuracy": 0.9},
                "reasons": ["better"]}
    if action == "deploy":
        return {"version": event["version"], "poll_seconds": 1, "ready": False, "metrics": {}, "reasons": []}
    if action == "check":
        return {**event["deployment"], "ready": True}
    return {"recorded": event["outcome"]["status"]}
"""
STUB_ACTIONS = {
    "PrepareDatasetFunction": "prepare",
    "EvaluateCandidateFunction": "evaluate",
    "DeployModelFunction": "deploy",
    "CheckDeploymentFunction": "check",
    "RecordRunFunction": "record",
}


@pytest.mark.slow
def test_the_templates_retraining_state_machine_runs_on_the_local_stack(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    # Given the template's state machine, its steps played by stubs, training jobs run by a quick script
    template = Template.read(
        ROOT / "template.yaml",
        prefix="t",
        overrides={"ModelImageUri": "sentiment-model:local", "DeployPollSeconds": "1"},
    )
    code = tmp_path / "stub"
    code.mkdir()
    (code / "pipeline_stub.py").write_text(PIPELINE_STUB)
    calls = tmp_path / "calls.jsonl"
    specs = tuple(
        function_spec(
            logical_id,
            code,
            "pipeline_stub.handler",
            name=template.physical_name(logical_id),
            environment={
                "ACTION": action,
                "OUT": str(calls),
                "TRAIN_URI": f"s3://{BUCKET}/data/",
                "OUTPUT_URI": f"s3://{BUCKET}/training-jobs",
            },
        )
        for logical_id, action in STUB_ACTIONS.items()
    )
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image, specs=specs) as local:
        upload_small_data(local.client("s3"))
        data_bucket = template.physical_name("DataBucket")  # the jobs' checkpoints (the embedding cache) live there
        local.client("s3").create_bucket(Bucket=data_bucket)
        iam = local.client("iam")
        create_roles(template, iam)
        create_functions(template, list(specs), iam, local.client("lambda"))
        create_topics(template, local.client("sns"))
        sqs = local.client("sqs")
        queue = sqs.create_queue(QueueName="outcomes")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        local.client("sns").subscribe(TopicArn=template.arn("RetrainTopic"), Protocol="sqs", Endpoint=queue_arn)
        (machine,) = create_state_machines(template, iam, local.client("stepfunctions"))

        # When a retraining run starts
        execution = local.execute(machine, {"trigger": "manual"})

        # Then it trained, deployed, notified and recorded the promotion
        assert execution["status"] == "SUCCEEDED", execution
        output = json.loads(execution["output"])
        assert output["training"]["model_data_url"].endswith("/output/model.tar.gz")
        job = local.client("sagemaker").describe_training_job(TrainingJobName=output["dataset"]["training_job_name"])
        assert job["CheckpointConfig"]["S3Uri"] == f"s3://{data_bucket}/checkpoints/"
        assert output["outcome"]["decision"] == "promoted"
        assert output["outcome"]["version"] == "v-candidate"
        steps = [json.loads(line) for line in calls.read_text().splitlines()]
        assert [step["action"] for step in steps] == ["prepare", "evaluate", "deploy", "check", "record"]
        # Started without a name, the execution got one, as Step Functions gives it: the run's id
        assert str(uuid.UUID(execution["name"])) == execution["name"]
        assert steps[0]["event"]["run_id"] == execution["name"]
        assert steps[0]["event"]["request"] == {"trigger": "manual"}
        job = local.client("sagemaker").describe_training_job(TrainingJobName=output["training"]["training_job_name"])
        assert job["AlgorithmSpecification"]["TrainingImage"] == "sentiment-model:local"
        assert job["RoleArn"] == template.resolve({"Fn::GetAtt": ["TrainingRole", "Arn"]})
        (message,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
        envelope = json.loads(message["Body"])
        assert envelope["Subject"] == f"Sentiment retraining run {execution['name']}: SUCCEEDED"
        assert json.loads(envelope["Message"])["decision"] == "promoted"

        # And a rollback (promote a registered version) skips training
        calls.unlink()
        rollback = local.execute(machine, {"action": "promote", "version": "v-old"}, name="rollback-1")
        assert rollback["status"] == "SUCCEEDED", rollback
        assert json.loads(rollback["output"])["outcome"]["version"] == "v-old"
        steps = [json.loads(line) for line in calls.read_text().splitlines()]
        assert [step["action"] for step in steps] == ["deploy", "check", "record"]
        # Each step also gets the execution's input, so it can log what started the run
        rollback_input = {"action": "promote", "version": "v-old"}
        assert steps[0]["event"] == {"run_id": "rollback-1", "version": "v-old", "request": rollback_input}
