"""Training jobs on the local stack: Step Functions' ``sagemaker:createTrainingJob`` (request-response
and ``.sync``) runs a job that really trains with ``model_training/train.py``, in SageMaker's layout
and environment, and uploads ``model.tar.gz`` where SageMaker would; a failing job fails the task
with its ``FailureReason``. The template's own retraining state machine runs end to end on moto."""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from sentiment_local.moto.gaps import install
from sentiment_local.resources import create_functions, create_roles, create_state_machines, create_topics
from sentiment_local.sagemaker.training_jobs import ANY_INSTANCE_TYPE, IMAGE_WORKDIR, TrainingJobs, TrainingLimits
from sentiment_template.reader import FunctionSpec, Template
from tests.conftest import DATA, ROOT
from tests.integration.local.conftest import RunnerFactory, function_spec, wait_for

# Starts training jobs and function workers: make check leaves it out.
pytestmark = pytest.mark.processes

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
    *,
    limits: TrainingLimits | None = None,
    unreadable: str | None = None,
) -> Iterator[LocalSageMaker]:
    """moto running state machines, with the gaps plugged and training jobs run by the image's entry point
    in ``workdir``, SageMaker refusing what ``limits`` says; the jobs' role may not read the objects whose
    keys start with ``unreadable``."""
    runner = make_runner(*specs)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        roles: list[str] = []

        def s3_for_role(role: str) -> Any:
            roles.append(role)
            return ReadsDenied(s3, unreadable) if unreadable else s3

        jobs = TrainingJobs(
            tmp_path / "training-jobs", tmp_path / "logs", s3, workdir=workdir, s3_for_role=s3_for_role, limits=limits
        )
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


def test_a_refused_request_fails_the_task_as_step_functions_names_sagemakers_errors(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    # Given a job name already taken, a quota of one instance held by that job, and one throttled call
    limits = TrainingLimits(quotas={"ml.m5.large": 1})
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image, limits=limits) as local:
        upload_small_data(local.client("s3"))
        local.client("sagemaker").create_training_job(**local.job_request("taken", sleep="30"))
        definition = {
            "StartAt": "Train",
            "States": {
                "Train": {**training_task(), "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
                "Caught": {"Type": "Pass", "End": True},
            },
        }

        # When a task asks for each of those
        def refused(job: str) -> dict[str, str]:
            execution = local.run(
                definition, {"job": job, "version": "v", "train_uri": f"s3://{BUCKET}/data/"}, name=f"machine-{job}"
            )
            assert execution["status"] == "SUCCEEDED", execution
            error: dict[str, str] = json.loads(execution["output"])
            return error

        taken = refused("taken")
        over_quota = refused("second")
        limits.throttle = 1
        throttled = refused("third")

        # Then each is named as Step Functions names it: an error SageMaker's API declares by its own
        # exception, any other as the SDK's AmazonSageMakerException; the code is in the cause
        def sdk_cause(code: str) -> str:
            return (
                rf" \(Service: AmazonSageMaker; Status Code: 400; Error Code: {code}; Request ID: [^;]+; Proxy: null\)$"
            )

        assert taken["Error"] == "SageMaker.ResourceInUseException"
        assert re.search("already exists .*" + sdk_cause("ResourceInUse"), taken["Cause"])
        assert over_quota["Error"] == "SageMaker.ResourceLimitExceededException"
        assert re.match(
            "The account-level service limit 'ml.m5.large for training job usage' is 1 Instances, with current "
            "utilization of 1 Instances and a request delta of 1 Instances. Please use AWS Service Quotas to "
            "request an increase for this quota. If AWS Service Quotas is not available, contact AWS support to "
            "request an increase for this quota." + sdk_cause("ResourceLimitExceeded"),
            over_quota["Cause"],
        )
        assert throttled["Error"] == "SageMaker.AmazonSageMakerException"
        assert re.match("Rate exceeded" + sdk_cause("ThrottlingException"), throttled["Cause"])
        local.jobs.close()


def test_create_training_job_is_throttled_and_held_to_the_quota_of_each_instance_type(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    # Given a quota of one instance of each type, two for ml.c5.xlarge, and two calls to be throttled
    limits = TrainingLimits(quotas={ANY_INSTANCE_TYPE: 1, "ml.c5.xlarge": 2}, throttle=2)
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image, limits=limits) as local:
        upload_small_data(local.client("s3"))
        # A client that does not retry, so each call is seen (boto3 retries a throttled call itself)
        sagemaker = boto3.client("sagemaker", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))

        def create(name: str, instance_type: str = "ml.m5.large", count: int = 1, **hyperparameters: str) -> str:
            request = local.job_request(name, **hyperparameters)
            request["ResourceConfig"] |= {"InstanceType": instance_type, "InstanceCount": count}
            try:
                sagemaker.create_training_job(**request)
            except ClientError as error:
                assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
                return str(error.response["Error"]["Code"])
            return "created"

        # Then the first two calls are throttled, whatever they ask
        assert [create("first"), create("first")] == ["ThrottlingException", "ThrottlingException"]
        # And a job holds its type's instances until it ends; other types have their own quota
        assert create("first", sleep="2") == "created"
        assert create("second") == "ResourceLimitExceeded"
        assert create("wide", "ml.c5.xlarge", count=3) == "ResourceLimitExceeded"
        assert create("wide", "ml.c5.xlarge", count=2) == "created"
        assert local.wait_for_job("first")["TrainingJobStatus"] == "Completed"
        assert create("second") == "created"
        with pytest.raises(ClientError):  # the refused calls created nothing
            sagemaker.describe_training_job(TrainingJobName="never")
        names = {job["TrainingJobName"] for job in sagemaker.list_training_jobs()["TrainingJobSummaries"]}
        assert names == {"first", "wide", "second"}


def test_lambda_and_sns_tasks_name_a_refused_call_as_step_functions_does(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory
) -> None:
    with local_sagemaker(tmp_path, make_runner) as local:
        # Given a task on a function that does not exist, and one publishing to a topic that does not exist
        missing_function = "arn:aws:lambda:us-east-1:123456789012:function:no-such-function"
        missing_topic = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
        definition = {
            "StartAt": "Invoke",
            "States": {
                "Invoke": {
                    "Type": "Task",
                    "Resource": missing_function,
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.invoke", "Next": "Publish"}],
                    "Next": "Publish",
                },
                "Publish": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sns:publish",
                    "Parameters": {"TopicArn": missing_topic, "Message": "hello"},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.publish", "Next": "Done"}],
                    "End": True,
                },
                "Done": {"Type": "Pass", "End": True},
            },
        }

        # When it runs
        execution = local.run(definition, {})

        # Then each failed under the name of the SDK's exception, SNS's and Lambda's code in the cause
        assert execution["status"] == "SUCCEEDED", execution
        output = json.loads(execution["output"])
        assert output["invoke"]["Error"] == "Lambda.ResourceNotFoundException"
        assert (
            "(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException;" in output["invoke"]["Cause"]
        )
        assert output["publish"]["Error"] == "SNS.NotFoundException"
        assert "(Service: AmazonSNS; Status Code: 404; Error Code: NotFound;" in output["publish"]["Cause"]


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


@dataclass
class RetrainingMachine:
    """The template's retraining state machine on moto, its steps played by stubs that log their calls."""

    local: LocalSageMaker
    template: Template
    machine: str
    calls: Path
    queue: str  # subscribed to the topic of run outcomes

    def steps(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.calls.read_text().splitlines()]

    def notifications(self) -> list[dict[str, Any]]:
        messages = self.local.client("sqs").receive_message(
            QueueUrl=self.queue, WaitTimeSeconds=1, MaxNumberOfMessages=10
        )
        return [json.loads(message["Body"]) for message in messages.get("Messages", [])]

    def history(self, execution: dict[str, Any]) -> list[dict[str, Any]]:
        sfn = self.local.client("stepfunctions")
        events: list[dict[str, Any]] = sfn.get_execution_history(
            executionArn=execution["executionArn"], maxResults=1000
        )["events"]
        return events


@contextmanager
def retraining_machine(
    tmp_path: Path, make_runner: RunnerFactory, fake_image: Path, limits: TrainingLimits | None = None
) -> Iterator[RetrainingMachine]:
    """The template's state machine, its steps played by stubs, training jobs run by a quick script; a
    refused training job asked for again after 1 s, 2 s, 4 s…"""
    template = Template.read(
        ROOT / "template.yaml",
        prefix="t",
        overrides={"ModelImageUri": "sentiment-model:local", "DeployPollSeconds": "1", "TrainingRetrySeconds": "1"},
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
    with local_sagemaker(tmp_path, make_runner, workdir=fake_image, specs=specs, limits=limits) as local:
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
        (machine,) = [
            arn
            for arn in create_state_machines(template, iam, local.client("stepfunctions"))
            if arn == template.arn("RetrainStateMachine")
        ]
        yield RetrainingMachine(local, template, machine, calls, queue)


@pytest.mark.slow
def test_the_templates_retraining_state_machine_runs_on_the_local_stack(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    # Given the template's state machine, its steps played by stubs, training jobs run by a quick script
    with retraining_machine(tmp_path, make_runner, fake_image) as retraining:
        local, template, machine, calls = retraining.local, retraining.template, retraining.machine, retraining.calls
        sqs, queue = local.client("sqs"), retraining.queue
        data_bucket = template.physical_name("DataBucket")

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


# ---- the template's state machine when SageMaker refuses the training job ----


def _refusals(retraining: RetrainingMachine, execution: dict[str, Any]) -> list[tuple[str, str]]:
    """(error, cause) of each time the training task failed, in order."""
    return [
        (event["taskFailedEventDetails"]["error"], event["taskFailedEventDetails"]["cause"])
        for event in retraining.history(execution)
        if event["type"] == "TaskFailed" and event["taskFailedEventDetails"]["resourceType"] == "sagemaker"
    ]


def _entered(retraining: RetrainingMachine, execution: dict[str, Any]) -> list[str]:
    return [
        event["stateEnteredEventDetails"]["name"]
        for event in retraining.history(execution)
        if "stateEnteredEventDetails" in event
    ]


@pytest.mark.slow
def test_a_throttled_training_job_is_asked_for_again_and_the_run_goes_on(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    # Given SageMaker throttling the next two CreateTrainingJob calls
    with retraining_machine(tmp_path, make_runner, fake_image, TrainingLimits(throttle=2)) as retraining:
        # When a run starts
        execution = retraining.local.execute(retraining.machine, {"trigger": "manual"}, name="throttled")

        # Then the task failed twice as Step Functions names it, waited 1 s then 2 s, and the run went on
        assert execution["status"] == "SUCCEEDED", execution
        refusals = _refusals(retraining, execution)
        assert [error for error, _ in refusals] == ["SageMaker.AmazonSageMakerException"] * 2
        assert all("Error Code: ThrottlingException;" in cause for _, cause in refusals)
        entered = _entered(retraining, execution)
        assert entered.count("WaitForTrainingCapacity") == 2
        assert entered.count("TrainCandidate") == 3
        output = json.loads(execution["output"])
        assert output["training_retry"] == {"attempt": 2, "seconds": 2}
        assert output["outcome"]["decision"] == "promoted"


@pytest.mark.slow
def test_a_training_job_over_the_quota_waits_for_the_instance_another_job_holds(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    # Given a quota of one ml.m5.large, held by a job that trains for 3 s
    with retraining_machine(tmp_path, make_runner, fake_image, TrainingLimits(quotas={"ml.m5.large": 1})) as retraining:
        local = retraining.local
        local.client("sagemaker").create_training_job(**local.job_request("holder", sleep="3"))

        # When a run starts
        execution = local.execute(retraining.machine, {"trigger": "manual"}, name="over-quota")

        # Then its job was refused (as AWS names it) until the other one ended, then trained
        assert execution["status"] == "SUCCEEDED", execution
        refusals = _refusals(retraining, execution)
        assert refusals
        assert {error for error, _ in refusals} == {"SageMaker.ResourceLimitExceededException"}
        assert all("is 1 Instances, with current utilization of 1 Instances" in cause for _, cause in refusals)
        holder = local.client("sagemaker").describe_training_job(TrainingJobName="holder")
        output = json.loads(execution["output"])
        job = local.client("sagemaker").describe_training_job(TrainingJobName=output["dataset"]["training_job_name"])
        assert job["CreationTime"] >= holder["TrainingEndTime"]
        assert output["outcome"]["decision"] == "promoted"


@pytest.mark.slow
def test_a_quota_of_zero_fails_the_run_at_once_saying_which_quota_to_raise(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, fake_image: Path
) -> None:
    # Given an account whose quota of ml.m5.large for training is 0
    with retraining_machine(tmp_path, make_runner, fake_image, TrainingLimits(quotas={"ml.m5.large": 0})) as retraining:
        # When a run starts
        execution = retraining.local.execute(retraining.machine, {"trigger": "manual"}, name="no-quota")

        # Then it failed without waiting, and the run's record and notification say which quota to raise
        assert execution["status"] == "FAILED", execution
        assert "WaitForTrainingCapacity" not in _entered(retraining, execution)
        ((error, cause),) = _refusals(retraining, execution)
        assert error == "SageMaker.ResourceLimitExceededException"
        assert "'ml.m5.large for training job usage' is 0 Instances" in cause
        recorded = retraining.steps()[-1]["event"]["outcome"]
        assert recorded["status"] == "FAILED"
        assert recorded["error"]["Error"] == "SageMaker.ResourceLimitExceededException"
        reason = recorded["error"]["Cause"]
        assert reason.startswith(
            'No training job can start: the SageMaker quota "ml.m5.large for training job usage" of this account '
            "is 0 instances. Request an increase of that quota"
        )
        assert reason.endswith(cause)  # and what SageMaker said, as it said it
        (notification,) = retraining.notifications()
        assert notification["Subject"] == "Sentiment retraining run no-quota: FAILED"
        assert json.loads(notification["Message"])["error"]["Cause"] == reason


def _sdk_cause(message: str, code: str) -> str:
    return f"{message} (Service: AmazonSageMaker; Status Code: 400; Error Code: {code}; Request ID: r-1; Proxy: null)"


ZERO_QUOTA = _sdk_cause(
    "The account-level service limit 'ml.m5.large for training job usage' is 0 Instances, with current utilization "
    "of 0 Instances and a request delta of 1 Instances. Please use AWS Service Quotas to request an increase for "
    "this quota.",
    "ResourceLimitExceeded",
)
QUOTA_IN_USE = ZERO_QUOTA.replace(
    "is 0 Instances, with current utilization of 0", "is 1 Instances, with current utilization of 1"
)


class Refusal(NamedTuple):
    error: dict[str, str]  # as the training task's Catch put it in $.error
    retry: dict[str, int] | None  # $.training_retry, if it waited before
    path: list[str]  # the states it goes through after TrainingRefused
    result: dict[str, int] | str | None  # $.training_retry after, or how the reason starts


@pytest.mark.parametrize(
    "case",
    [
        # Throttled, first time: wait the first interval
        Refusal(
            {
                "Error": "SageMaker.AmazonSageMakerException",
                "Cause": _sdk_cause("Rate exceeded", "ThrottlingException"),
            },
            None,
            ["FirstTrainingRetry", "WaitForTrainingCapacity"],
            {"attempt": 1, "seconds": 60},
        ),
        # The quota in use by other jobs, fourth time: twice as long as the last wait
        Refusal(
            {"Error": "SageMaker.ResourceLimitExceededException", "Cause": QUOTA_IN_USE},
            {"attempt": 3, "seconds": 240},
            ["NextTrainingRetry", "WaitForTrainingCapacity"],
            {"attempt": 4, "seconds": 480},
        ),
        # Still refused after the last wait: the run fails, saying so
        Refusal(
            {"Error": "SageMaker.ResourceLimitExceededException", "Cause": QUOTA_IN_USE},
            {"attempt": 6, "seconds": 1920},
            ["TrainingStillRefused", "Failed"],
            "SageMaker still refused the training job after 6 waits, the last of 1920 s",
        ),
        # A quota of 0 cannot be waited out
        Refusal(
            {"Error": "SageMaker.ResourceLimitExceededException", "Cause": ZERO_QUOTA},
            None,
            ["NoTrainingQuota", "Failed"],
            'No training job can start: the SageMaker quota "ml.m5.large for training job usage"',
        ),
        # A request SageMaker refuses as invalid is not asked again, though its name is the throttled one's
        Refusal(
            {"Error": "SageMaker.AmazonSageMakerException", "Cause": _sdk_cause("bad", "ValidationException")},
            None,
            ["Failed"],
            None,
        ),
        Refusal({"Error": "SageMaker.AmazonSageMakerException"}, None, ["Failed"], None),
    ],
    ids=["throttled", "quota-in-use", "still-refused", "zero-quota", "invalid", "no-cause"],
)
def test_after_a_refused_training_job_the_state_machine_reads_sagemakers_code_in_the_cause(
    aws_credentials: None, tmp_path: Path, make_runner: RunnerFactory, case: Refusal
) -> None:
    error, retry, path, result = case
    # Given the states that follow a refused training job, as the template defines them (its default
    # first wait, 60 s), the failure path and the wait standing in as the ends
    states = json.loads(
        Template.read(
            ROOT / "template.yaml", prefix="t", overrides={"ModelImageUri": "sentiment-model:local"}
        ).state_machine_definition("RetrainStateMachine")
    )["States"]
    ends = {"Failed", "WaitForTrainingCapacity"}
    names = ["TrainingRefused", "FirstTrainingRetry", "NextTrainingRetry", "NoTrainingQuota", "TrainingStillRefused"]
    definition = {
        "StartAt": "TrainingRefused",
        "States": {name: states[name] for name in names} | {end: {"Type": "Pass", "End": True} for end in ends},
    }
    with local_sagemaker(tmp_path, make_runner) as local:
        # When a training job was refused with this error
        given = {"error": error} | ({"training_retry": retry} if retry else {})
        execution = local.run(definition, given)

        # Then the state machine went this way
        assert execution["status"] == "SUCCEEDED", execution
        history = local.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])
        entered = [e["stateEnteredEventDetails"]["name"] for e in history["events"] if "stateEnteredEventDetails" in e]
        assert entered == ["TrainingRefused", *path]
        output = json.loads(execution["output"])
        if path[-1] == "WaitForTrainingCapacity":
            assert output["training_retry"] == result
        elif path == ["Failed"]:  # as it came
            assert output["error"] == error
        else:  # the error as AWS named it, a reason that says what to do, and what SageMaker said
            assert output["error"]["Error"] == error["Error"]
            assert isinstance(result, str)
            assert output["error"]["Cause"].startswith(result)
            assert output["error"]["Cause"].endswith(f"SageMaker said: {error['Cause']}")
