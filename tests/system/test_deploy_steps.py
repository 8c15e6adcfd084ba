"""``make deploy``'s steps after ``sam deploy`` and ``make train-on-sagemaker``, run as a user runs them
(``python -m sentiment_deploy``) against ``make up``, which describes itself as CloudFormation would
(stack ``sentiment-local``), with the deployer's key checked against ``deploy/deployer-policies/``."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx
import pytest

from sentiment_deploy import release, smoke
from sentiment_deploy.stack import find_stack
from sentiment_template import policies
from tests.conftest import ROOT
from tests.system.conftest import LocalStack, make, module_stack

STACK = "sentiment-local"


local_stack = module_stack(
    "deploy-steps",
    MOTO_HOST="0.0.0.0",  # noqa: S104 - for containers
    MONITORING_SCHEDULE="rate(1 minute)",
    COMPACTION_SCHEDULE="rate(1 minute)",
    # The Postman collection's own two pieces of feedback start a run, as people's feedback can;
    # the template's guard (60 minutes between runs from feedback) keeps it to one in this module.
    RETRAIN_THRESHOLD="2",
    PUBLIC_LABELS="train",  # the collection's labels are public ones: here they train, to start that run
)


def deployer(stack: LocalStack, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m sentiment_deploy <args>`` with the deployer's credentials, on the local stack."""
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("AWS_")},
        **policies.credentials_for(policies.DEPLOYER_ARN),
        "AWS_ENDPOINT_URL": stack.aws,
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONPATH": os.pathsep.join(
            str(ROOT / part)
            for part in ("deploy", "stack_template", "layers/shared", "local_stack", "functions/pipeline")
        ),
    }
    return subprocess.run(
        [sys.executable, "-m", "sentiment_deploy", *args, "--stack-name", STACK],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def as_deployer(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's boto3 calls signed with the deployer's key, on the local stack."""
    for name, value in {
        **policies.credentials_for(policies.DEPLOYER_ARN),
        "AWS_ENDPOINT_URL": stack.aws,
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)


def refusals(stack: LocalStack) -> list[str]:
    log = stack.output()
    return [
        line for line in log.splitlines() if "is not authorized to perform" in line and "sentiment-deployer" in line
    ]


def test_the_steps_after_sam_deploy_find_the_champion_serve_it_and_publish_the_page(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    # Given make up, which registered its first model and serves it
    with httpx.Client(base_url=local_stack.api, timeout=30) as api:
        champion = api.get("/models").json()
    version = next(model["version"] for model in champion["items"] if model["status"] == "champion")

    # When the deployer prepares the model (the image is the local one) and finishes the deploy
    parameters = tmp_path / "parameters"
    prepared = deployer(
        local_stack, "prepare", "--image-uri", "sentiment-model:local", "--parameters-file", str(parameters)
    )
    finished = deployer(local_stack, "finish")

    # Then the second sam deploy would keep serving the registered champion, with its hash
    assert prepared.returncode == 0, prepared.stderr
    written = dict(item.split("=", 1) for item in parameters.read_text().split())
    assert written["ModelImageUri"] == "sentiment-model:local"
    assert f"/models/{version}/model.tar.gz" in written["ModelDataUrl"] and len(written["ModelSha256"]) == 64
    # and every role of the stack the boundary the account's CloudFormation service role requires
    assert written["PermissionsBoundary"] == "arn:aws:iam::123456789012:policy/sentiment-cloudformation-boundary"
    # and finish saw the endpoint in service and /health answer with the champion, then published the page
    assert finished.returncode == 0, finished.stderr
    assert f"answers with the champion {version}" in finished.stdout
    assert "uploaded  index.html" in finished.stdout
    assert f"the page and the API: {local_stack.api}" in finished.stdout
    assert "aws secretsmanager get-secret-value --secret-id" in finished.stdout
    assert refusals(local_stack) == []


# ---- make smoke ----


def data_bucket(stack: LocalStack) -> str:
    return str(json.loads((stack.data / "stack.json").read_text())["functions"]["ApiFunction"]["DATA_BUCKET"])


def banner_key(stack: LocalStack) -> str:
    printed = re.search(r"admin key\s+(\S+)", stack.output())
    assert printed is not None
    return printed.group(1)


def champion_of(api: httpx.Client) -> str:
    return str(next(m["version"] for m in api.get("/models").json()["items"] if m["status"] == "champion"))


def test_make_smoke_as_the_banner_says_waits_for_a_run_feedback_started_and_leaves_nothing_behind(
    local_stack: LocalStack,
) -> None:
    # Given the stack as it is, the URL and admin key make up printed, and a shell with no AWS variable
    dynamodb, s3 = local_stack.client("dynamodb"), local_stack.client("s3")
    comments_before = dynamodb.scan(TableName="sentiment-local-CommentsTable", Select="COUNT")["Count"]
    bucket = data_bucket(local_stack)
    feedback_before = s3.list_object_versions(Bucket=bucket, Prefix="feedback/").get("Versions", [])
    with httpx.Client(base_url=local_stack.api, timeout=30) as api:
        runs_before = {run["run_id"] for run in api.get("/training").json()["items"]}
        champion_before = champion_of(api)
    env = {name: value for name, value in local_stack.env.items() if not name.startswith("AWS_")}
    env.pop("ADMIN_API_KEY", None)

    # When make smoke runs as written; the collection's own two pieces of feedback reach the stack's
    # threshold and start a run, still running when smoke starts its own
    smoked = make("smoke", f"URL={local_stack.api}", f"ADMIN_API_KEY={banner_key(local_stack)}", env=env, timeout=900)

    # Then smoke found the local stack's AWS endpoint, region, stack and the deployer's key by itself,
    # and the collection passed
    assert smoked.returncode == 0, smoked.stdout[-3000:] + smoked.stderr[-3000:]
    assert f"{local_stack.api} is served by make up: stack {STACK}" in smoked.stdout
    assert "the Postman collection passed" in smoked.stdout
    # and it waited for the run feedback started, then ran its own to success
    with httpx.Client(base_url=local_stack.api, timeout=30) as api:
        runs = [run for run in api.get("/training").json()["items"] if run["run_id"] not in runs_before]
        champion = champion_of(api)
    (from_feedback,) = [run for run in runs if run["trigger"] == "feedback"]
    (manual,) = [run for run in runs if run["trigger"] == "manual"]
    assert f"run {from_feedback['run_id']} (started by feedback) is still running: waiting" in smoked.stdout
    assert from_feedback["finished_at"] <= manual["started_at"]
    assert manual["status"] == "SUCCEEDED"
    # and the stack is as it was, but for what the run from feedback decided: its champion, its comments,
    # its feedback objects (every version)
    promoted = from_feedback["decision"] == "promoted"
    assert champion == (from_feedback["candidate_version"] if promoted else champion_before)
    assert dynamodb.scan(TableName="sentiment-local-CommentsTable", Select="COUNT")["Count"] == comments_before
    assert s3.list_object_versions(Bucket=bucket, Prefix="feedback/").get("Versions", []) == feedback_before
    assert "deleted" in smoked.stdout and "feedback objects" in smoked.stdout
    assert refusals(local_stack) == []


def test_without_admin_api_key_smoke_reads_the_key_from_the_stacks_secret_as_the_deployer(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_deployer(local_stack, monkeypatch)
    monkeypatch.delenv("ADMIN_API_KEY", raising=False)
    session = boto3.Session()

    key = smoke.admin_key(session, find_stack(session.client("cloudformation"), STACK))

    assert key == banner_key(local_stack)
    assert refusals(local_stack) == []


def test_make_smoke_refuses_to_clean_up_a_stack_that_does_not_serve_the_url(local_stack: LocalStack) -> None:
    env = {
        **local_stack.env,
        **policies.credentials_for(policies.DEPLOYER_ARN),
        "AWS_ENDPOINT_URL": local_stack.aws,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    refused = make("smoke", "URL=https://elsewhere.example.org", f"STACK={STACK}", env=env, timeout=120)
    assert refused.returncode != 0
    assert "is not stack 'sentiment-local''s ApiUrl or WebUrl" in refused.stderr


# ---- make train-on-sagemaker ----


def launch_by_hand(stack: LocalStack, name: str) -> subprocess.CompletedProcess[str]:
    """``make train-on-sagemaker`` as a person runs it: a small tf-idf job through the SageMaker SDK."""
    hyperparameters = ["--hyperparameter", "kind=tfidf", "--hyperparameter", "sample=300"]
    return deployer(stack, "train", "--name", name, *hyperparameters, timeout=600)


def test_a_training_job_launched_by_hand_with_the_sdk_trains_on_the_stacks_data(local_stack: LocalStack) -> None:
    # Given a stack nobody has given feedback yet: feedback/ holds no object
    s3 = local_stack.client("s3")
    assert s3.list_objects_v2(Bucket=data_bucket(local_stack), Prefix="feedback/")["KeyCount"] == 0

    # When a person launches a training job with the stack's image, role and data, through the SageMaker SDK
    launched = launch_by_hand(local_stack, "sentiment-manual-test")

    # Then the job ran for real (the local stack runs SageMaker's jobs) and its model is in the data bucket,
    # without the feedback channel that SageMaker would refuse as empty
    assert launched.returncode == 0, launched.stderr + launched.stdout
    assert "no feedback under" in launched.stdout
    assert "training job sentiment-manual-test: Completed" in launched.stdout
    artifact = launched.stdout.rsplit("model at ", 1)[1].split()[0]
    assert artifact.startswith("s3://") and artifact.endswith("/sentiment-manual-test/output/model.tar.gz")
    job = local_stack.data / "training-jobs" / "sentiment-manual-test"
    assert json.loads((job / "input" / "config" / "hyperparameters.json").read_text()) == {
        "kind": "tfidf",
        "sample": "300",
    }
    assert sorted(path.name for path in (job / "input" / "data").iterdir()) == ["train"]
    # and what SageMaker knows of it can be looked up through the SDK
    described = deployer(local_stack, "job", "sentiment-manual-test")
    assert described.returncode == 0 and "Completed" in described.stdout
    assert refusals(local_stack) == []


def test_a_training_job_launched_by_hand_reads_the_feedback_with_the_training_role(local_stack: LocalStack) -> None:
    # Given one piece of feedback, given through the API
    with httpx.Client(base_url=local_stack.api, timeout=30) as api:
        comment = api.post("/comments", json={"comment": "The refund arrived a day early."}).json()
        feedback = api.post("/feedback", json={"comment_id": comment["comment_id"], "label": "positive"})
    assert feedback.status_code == 201, feedback.text
    key = f"dt={feedback.json()['created_at'][:10]}/{feedback.json()['feedback_id']}.json"

    # When a person launches a training job by hand
    launched = launch_by_hand(local_stack, "sentiment-manual-feedback")

    # Then SageMaker downloaded the feedback channel with the job's role (the template's TrainingRole) and
    # the job completed
    assert launched.returncode == 0, launched.stderr + launched.stdout
    assert "training job sentiment-manual-feedback: Completed" in launched.stdout
    channel = local_stack.data / "training-jobs" / "sentiment-manual-feedback" / "input" / "data" / "feedback"
    assert (channel / key).is_file()
    assert refusals(local_stack) == []


# ---- sam local invoke: the --env-vars file, and the events ----

SAM_ENVIRONMENT = """
import json, sys
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samcli.local.lambdafn.env_vars import EnvironmentVariables

overrides = json.load(open(sys.argv[2]))
stacks, _ = SamLocalStackProvider.get_stacks(sys.argv[1])
resolved = {}
for function in SamFunctionProvider(stacks).get_all():
    variables = (function.environment or {}).get("Variables", {})
    environment = EnvironmentVariables(
        function.name, 512, 15, function.handler, variables=variables,
        override_values=overrides.get(function.function_id, {}),
    )
    resolved[function.function_id] = environment.resolve()
print(json.dumps(resolved))
"""


def test_env_vars_point_every_function_at_the_local_stack_as_sam_local_invoke_reads_them(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    # When make env-vars writes the file for a container
    output = tmp_path / "env-vars.json"
    written = make(
        "-s", "env-vars", f"LOCAL_DATA={local_stack.data}", env={**local_stack.env, "PYTHONPATH": ""}, timeout=120
    )
    assert written.returncode == 0, written.stderr
    assert "cannot reach" not in written.stderr  # the stack listens on every address (MOTO_HOST=0.0.0.0)
    produced = Path(written.stdout.split("wrote ", 1)[1].split(":", 1)[0])
    output.write_text(produced.read_text())

    # Then SAM CLI's own resolution gives every function the local stack's endpoint, as a container reaches it,
    # and the local stack's names
    resolved = json.loads(
        subprocess.run(
            [
                str(ROOT / ".venv-sam" / "bin" / "python"),
                "-c",
                SAM_ENVIRONMENT,
                str(ROOT / "template.yaml"),
                str(output),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    )
    moto_port = local_stack.env["MOTO_PORT"]
    assert set(resolved) == set(json.loads(output.read_text()))
    for function, environment in resolved.items():
        assert environment["AWS_ENDPOINT_URL"] == f"http://host.docker.internal:{moto_port}", function
        assert environment["COMMENTS_TABLE"] == "sentiment-local-CommentsTable", function
        assert environment["REGISTRY_TABLE"] == "sentiment-local-RegistryTable", function
    # and the S3 event names the local stack's data bucket
    event = json.loads((ROOT / "events" / "s3-feedback-object-created.json").read_text())
    data_bucket = next(iter(resolved.values()))["DATA_BUCKET"]
    assert event["Records"][0]["s3"]["bucket"]["name"] == data_bucket


EVENT_FUNCTIONS = {
    "api-": "ApiFunction",
    "authorizer-": "AdminAuthorizerFunction",
    "reviewer-authorizer-": "ReviewerAuthorizerFunction",
    "origin-authorizer-": "OriginAuthorizerFunction",
    "s3-job-": "JobStartFunction",
    "s3-": "FeedbackTriggerFunction",
    "sfn-prepare-dataset": "PrepareDatasetFunction",
    "sfn-evaluate-candidate": "EvaluateCandidateFunction",
    "sfn-deploy-model": "DeployModelFunction",
    "sfn-record-run-failed": "RecordRunFunction",
    "schedule-compact-feedback": "CompactFeedbackFunction",
    "schedule-": "MonitorFunction",
    "sfn-check-file": "CheckFileFunction",
    "sfn-classify-batch": "ClassifyBatchFunction",
    "sfn-merge-results": "MergeResultsFunction",
    "eventbridge-job-": "JobStatusFunction",
}


def test_every_event_runs_with_make_invoke(local_stack: LocalStack) -> None:
    from sentiment_local.__main__ import invoke  # noqa: PLC0415 - what make invoke runs
    from sentiment_local.environment import Settings  # noqa: PLC0415

    settings = Settings.from_environment(local_stack.env)
    for path in sorted((ROOT / "events").glob("*.json")):
        function = next(name for prefix, name in EVENT_FUNCTIONS.items() if path.stem.startswith(prefix))
        code = invoke(settings, function, path)
        assert code in {0, 1}, path.name  # 1: the function raised, which the step events may (they name a run)
        if not path.stem.startswith("sfn-"):
            assert code == 0, path.name


def test_a_first_model_trained_on_sagemaker_is_stored_with_its_hash(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the deployer's session on the stack (make deploy TRAIN_ON=sagemaker, for a registry with no champion)
    as_deployer(local_stack, monkeypatch)
    session = boto3.Session()
    stack = find_stack(session.client("cloudformation"), STACK)

    # When the first model is trained as a SageMaker training job with the stack's image
    champion, metadata = release.first_model(
        session, stack, release.Options(train_on="sagemaker", kind="tfidf"), "sentiment-model:local"
    )

    # Then the job's model is stored where the registry's models live, hashed as SageMaker would read it
    s3 = local_stack.client("s3")
    bucket, _, key = champion.model_data_url.removeprefix("s3://").partition("/")
    assert key == f"models/{champion.version}/model.tar.gz"
    stored = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == champion.sha256
    assert metadata["kind"] == "tfidf" and metadata["version"] == champion.version
    assert refusals(local_stack) == []


# ---- the schedule ----


def test_the_monitoring_schedule_runs_the_monitor_with_its_own_role(local_stack: LocalStack) -> None:
    """MONITORING_SCHEDULE=rate(1 minute): EventBridge's event reaches MonitorFunction within a period,
    and the function reads the registry and the monitoring table with the role the template gives it."""
    log = local_stack.data / "logs" / "MonitorFunction.log"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and "REPORT RequestId" not in (log.read_text() if log.exists() else ""):
        time.sleep(1)
    text = log.read_text()
    assert "REPORT RequestId" in text
    assert '"ReviewQueue"' in text  # the metric, in the function's EMF line
    assert "AccessDenied" not in text and "Traceback" not in text


def test_the_compaction_schedule_compacts_todays_feedback_with_its_own_role(local_stack: LocalStack) -> None:
    """COMPACTION_SCHEDULE=rate(1 minute): a label given through the API is in today's compacted part
    within a period or two, written by CompactFeedbackFunction with the role the template gives it."""
    # Given a label given through the API
    with httpx.Client(base_url=local_stack.api, timeout=60) as api:
        given = api.post("/feedback", json={"text": "Compaction keeps this label", "label": "positive"})
    assert given.status_code == 201, given.text
    s3, bucket = local_stack.client("s3"), data_bucket(local_stack)
    today = time.strftime("%Y-%m-%d", time.gmtime())

    # When the schedule has run the compactor
    index_key = f"feedback-compacted/dt={today}/index.json"
    deadline, rows = time.monotonic() + 150, []
    while time.monotonic() < deadline and not any("Compaction keeps this label" in row for row in rows):
        time.sleep(2)
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"feedback-compacted/dt={today}/").get("Contents", [])
        if any(item["Key"] == index_key for item in listed):
            index = json.loads(s3.get_object(Bucket=bucket, Key=index_key)["Body"].read())
            rows = [
                line
                for part in index["parts"]
                for line in s3.get_object(Bucket=bucket, Key=part["key"])["Body"].read().decode().splitlines()
            ]

    # Then the label is in a part the index names, today stays open, and the function was allowed all it did
    assert any("Compaction keeps this label" in row for row in rows)
    assert index["sealed"] is False
    text = (local_stack.data / "logs" / "CompactFeedbackFunction.log").read_text()
    assert "REPORT RequestId" in text
    assert "AccessDenied" not in text and "Traceback" not in text
