"""The parts of ``make up`` that need no running stack: settings, the admin key, the port check,
registering the first model (in the bucket and the registry), the training data, the resources built
from a template (topics, parameters, secrets, roles, S3 notifications, functions, the state machine,
the SageMaker endpoint) on moto, the notifications log, and an endpoint update swapping the model
the model server serves."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_common.registry import Champion
from sentiment_deploy.bootstrap import (
    TRAINING_DATA,
    champion_of,
    register_champion,
    seed_embedding_cache,
    upload_training_data,
)
from sentiment_local.environment import Settings, StackError, admin_key, check_ports, parameter_overrides
from sentiment_local.moto.gaps import install
from sentiment_local.resources import (
    create_buckets,
    create_functions,
    create_notifications,
    create_parameters,
    create_roles,
    create_sagemaker_endpoint,
    create_secrets,
    create_state_machines,
    create_tables,
    create_topics,
)
from sentiment_local.runtime.functions import Runner
from sentiment_local.runtime.notifications import NotificationLog, subscribe_queue
from sentiment_local.sagemaker import endpoint as endpoint_module
from sentiment_local.sagemaker.endpoint import read_pointer, write_pointer
from sentiment_local.sagemaker.first_model import register_first_model
from sentiment_local.stack import Stack
from sentiment_template.policies import access_key_for
from sentiment_template.reader import ROOT, Template
from tests.integration.conftest import free_port
from tests.integration.json_service import JsonService
from tests.integration.local.conftest import moto_with_gaps, wait_for

# Starts function workers, model servers and training: make check leaves it out.
pytestmark = pytest.mark.processes

# ---- settings, key, ports ----


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_environment(
        {"PORT": "3999", "MOTO_PORT": "5999", "MODEL_PORT": "8999", "BACKEND": "ecs", "LOCAL_DATA": str(tmp_path)}
    )
    assert (settings.port, settings.moto_port, settings.model_port) == (3999, 5999, 8999)
    assert settings.backend == "ecs"
    assert settings.data_dir == tmp_path.resolve()
    defaults = Settings.from_environment({})
    assert (defaults.port, defaults.moto_port, defaults.model_port, defaults.backend) == (3000, 5000, 8080, "sagemaker")
    assert (defaults.cold_start_seconds, defaults.idle_seconds) == (0, 600)  # no cold starts unless asked


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("BACKEND", "lambda", "BACKEND"),
        ("PORT", "web", "numbers"),
        ("RETRAIN_THRESHOLD", "many", "numbers"),
        ("RETRAIN_THRESHOLD", "0", "RETRAIN_THRESHOLD must be 1 or more"),
        ("RETRAIN_MIN_INTERVAL_MINUTES", "-1", "RETRAIN_MIN_INTERVAL_MINUTES must be 0 or more"),
        ("RETRAIN_MAX_PER_DAY", "0", "RETRAIN_MAX_PER_DAY must be 1 or more"),
        ("RETRAIN_MAX_PER_DAY", "lots", "numbers"),
        ("LOCAL_COLD_START_SECONDS", "soon", "numbers"),
        ("LOCAL_COLD_START_SECONDS", "-1", "LOCAL_COLD_START_SECONDS must be 0 or more"),
        ("LOCAL_IDLE_SECONDS", "0", "LOCAL_IDLE_SECONDS more than 0"),
        ("LOCAL_TRAINING_QUOTA", "ml.m5.large=some", "numbers"),
        ("LOCAL_TRAINING_QUOTA", "ml.m5.large=-1", "LOCAL_TRAINING_QUOTA must be 0 or more"),
        ("LOCAL_TRAINING_THROTTLE", "-2", "LOCAL_TRAINING_THROTTLE must be 0 or more"),
        ("PUBLIC_LABELS", "trust", "PUBLIC_LABELS must be train, suggest or ignore"),
        ("CLIENT_RATE_LIMIT", "many", "numbers"),
        ("CLIENT_WRITE_RATE_LIMIT", "-1", "CLIENT_WRITE_RATE_LIMIT must be 0 or more"),
        ("LOCAL_BEHIND_PROXY", "maybe", "LOCAL_BEHIND_PROXY must be yes or no"),
    ],
)
def test_bad_settings_say_what_is_wrong(name: str, value: str, says: str) -> None:
    with pytest.raises(StackError, match=says):
        Settings.from_environment({name: value})


def test_iam_is_checked_unless_turned_off_and_the_banner_says_which(tmp_path: Path) -> None:
    enforced = Settings.from_environment({"LOCAL_DATA": str(tmp_path)})
    assert enforced.iam_enforced
    assert enforced.iam_usage_file == tmp_path.resolve() / "iam-usage.jsonl"
    assert "each call checked against its role's policies" in Stack(enforced).banner()
    off = Settings.from_environment(
        {"LOCAL_DATA": str(tmp_path), "LOCAL_IAM": "off", "LOCAL_IAM_USAGE": str(tmp_path / "u")}
    )
    assert not off.iam_enforced
    assert off.iam_usage_file == (tmp_path / "u").resolve()
    assert "not checked (LOCAL_IAM=off)" in Stack(off).banner()
    with pytest.raises(StackError, match="LOCAL_IAM must be enforce or off"):
        Settings.from_environment({"LOCAL_IAM": "warn"})


def test_the_local_parameters_check_deployments_every_second_and_take_a_retrain_threshold() -> None:
    assert Settings.from_environment({}).retrain_threshold is None
    assert parameter_overrides(Settings.from_environment({"BACKEND": "ecs"})) == {
        "InferenceBackend": "ecs",
        "ModelImageUri": "sentiment-model:local",
        "DeployPollSeconds": "1",
        "TrainingRetrySeconds": "2",
    }
    settings = Settings.from_environment({"RETRAIN_THRESHOLD": "3"})
    assert parameter_overrides(settings)["RetrainThreshold"] == "3"
    template = Stack(settings).template
    assert template.function_environment("FeedbackTriggerFunction", "http://q")["RETRAIN_THRESHOLD"] == "3"
    assert template.function_environment("DeployModelFunction", "http://q")["DEPLOY_POLL_SECONDS"] == "1"


def test_public_labels_default_to_the_templates_suggest_and_can_be_set_for_every_function_that_reads_them() -> None:
    default = Stack(Settings.from_environment({})).template
    assert "PublicLabels" not in parameter_overrides(Settings.from_environment({}))
    assert default.function_environment("ApiFunction", "http://q")["PUBLIC_LABELS"] == "suggest"
    settings = Settings.from_environment({"PUBLIC_LABELS": "train"})
    assert parameter_overrides(settings)["PublicLabels"] == "train"
    template = Stack(settings).template
    for function in ("ApiFunction", "FeedbackTriggerFunction", "PrepareDatasetFunction"):
        assert template.function_environment(function, "http://q")["PUBLIC_LABELS"] == "train"


def test_the_limits_per_client_come_from_the_environment_as_the_templates_parameters() -> None:
    assert "ClientRateLimit" not in parameter_overrides(Settings.from_environment({}))
    settings = Settings.from_environment(
        {"CLIENT_RATE_LIMIT": "50", "CLIENT_WRITE_RATE_LIMIT": "0", "LOCAL_BEHIND_PROXY": "yes"}
    )
    assert settings.behind_proxy
    overrides = parameter_overrides(settings)
    assert (overrides["ClientRateLimit"], overrides["ClientWriteRateLimit"]) == ("50", "0")
    template = Stack(settings).template
    assert template.parameter("ClientRateLimit") == "50"


def test_the_training_quota_and_throttle_come_from_the_environment_and_the_banner_says_them(tmp_path: Path) -> None:
    none = Settings.from_environment({"LOCAL_DATA": str(tmp_path)})
    assert (none.training_quota, none.training_throttle) == ({}, 0)
    assert "training jobs" not in Stack(none).banner()
    given = Settings.from_environment(
        {"LOCAL_DATA": str(tmp_path), "LOCAL_TRAINING_QUOTA": "1, ml.g5.xlarge=0", "LOCAL_TRAINING_THROTTLE": "2"}
    )
    assert (given.training_quota, given.training_throttle) == ({"*": 1, "ml.g5.xlarge": 0}, 2)
    assert (
        "  training jobs      refused by SageMaker: beyond 1 instance(s) of each type at once; beyond 0 instance(s) "
        "of ml.g5.xlarge at once; the first 2 CreateTrainingJob call(s), throttled"
    ) in Stack(given).banner()


def test_the_retraining_guard_keeps_the_templates_defaults_unless_given() -> None:
    trigger = Stack(Settings.from_environment({})).template.function_environment("FeedbackTriggerFunction", "http://q")
    assert (trigger["RETRAIN_MIN_INTERVAL_MINUTES"], trigger["RETRAIN_MAX_PER_DAY"]) == ("60", "12")
    given = Settings.from_environment({"RETRAIN_MIN_INTERVAL_MINUTES": "0", "RETRAIN_MAX_PER_DAY": "100"})
    trigger = Stack(given).template.function_environment("FeedbackTriggerFunction", "http://q")
    assert (trigger["RETRAIN_MIN_INTERVAL_MINUTES"], trigger["RETRAIN_MAX_PER_DAY"]) == ("0", "100")


def test_the_admin_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = admin_key(settings)
    assert len(first) >= 32
    assert admin_key(settings) == first
    assert (tmp_path / "admin-api-key").stat().st_mode & 0o077 == 0  # readable by its owner only
    assert admin_key(Settings(data_dir=tmp_path, admin_api_key="from-the-environment")) == "from-the-environment"


def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} on 127.0.0.1 is already in use.*MOTO_PORT=<port>"):
            check_ports(Settings(port=0, moto_port=port, model_port=0, data_dir=tmp_path))


def test_make_up_stops_before_starting_anything_when_aws_would_refuse_the_models_scaling(tmp_path: Path) -> None:
    # Given the stack's settings with a serverless endpoint keeping more warm than it may run at once
    stack = Stack(Settings(port=free_port(), moto_port=free_port(), model_port=free_port(), data_dir=tmp_path / "data"))
    stack.template.overrides = {**stack.template.overrides, "ServerlessProvisionedConcurrency": "6"}

    # When make up starts, then it stops at once, saying which resource AWS would refuse, why and where
    with pytest.raises(StackError) as refused:
        stack.start()
    assert "ModelEndpointConfig: ValidationException: ServerlessConfig.ProvisionedConcurrency (6) must not " in str(
        refused.value
    )
    assert "API_ProductionVariantServerlessConfig.html" in str(refused.value)
    assert not (tmp_path / "data").exists()  # nothing started, nothing written


# ---- the first model ----


@pytest.mark.usefixtures("aws")
def test_the_first_model_is_registered_once(model_archive: tuple[Path, str], model_version: str) -> None:
    archive, digest = model_archive
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data")
    champion = register_first_model(s3, "data", archive, train=False)
    assert champion.version == model_version
    assert champion.model_data_url == f"s3://data/models/{model_version}/model.tar.gz"
    stored = s3.get_object(Bucket="data", Key=f"models/{model_version}/model.tar.gz")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == champion.sha256 == digest
    pointer = json.loads(s3.get_object(Bucket="data", Key="models/champion.json")["Body"].read())
    assert pointer["version"] == model_version
    # Registered: a later start reads the pointer and needs no archive.
    again = register_first_model(s3, "data", archive.parent / "missing.tar.gz", train=False)
    assert again == champion


@pytest.mark.usefixtures("aws")
def test_no_model_and_no_training_is_an_error(tmp_path: Path) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data")
    with pytest.raises(StackError, match="no model registered"):
        register_first_model(s3, "data", tmp_path / "model.tar.gz", train=False)


# ---- the training data and the registry ----


@pytest.mark.usefixtures("aws")
def test_the_training_data_is_uploaded_once_under_data() -> None:
    # Given an empty bucket
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data")

    # When the stack starts, twice
    first = upload_training_data(s3, "data")
    s3.put_object(Bucket="data", Key="data/base/reviews.csv", Body=b"text,label\nchanged by hand,positive\n")
    second = upload_training_data(s3, "data")

    # Then the base and golden CSVs are there, where the train channel reads them, and nothing is overwritten
    expected = sorted(
        [f"data/base/{name}.csv" for name in ("plots", "reviews", "tweets")]
        + [f"data/golden/{name}.csv" for name in ("reviews", "tweets")]
    )
    assert sorted(first) == expected
    assert second == []
    stored = s3.get_object(Bucket="data", Key="data/golden/tweets.csv")["Body"].read()
    assert stored == (TRAINING_DATA / "golden" / "tweets.csv").read_bytes()
    assert s3.get_object(Bucket="data", Key="data/base/reviews.csv")["Body"].read().startswith(b"text,label\nchanged")


@pytest.mark.usefixtures("aws")
def test_the_first_models_embedding_cache_seeds_the_training_jobs_checkpoints(tmp_path: Path) -> None:
    # Given the cache the first model's training left, and a bucket whose checkpoints already hold one file
    (tmp_path / "embeddings-aaaa.npz").write_bytes(b"first model's cache")
    (tmp_path / "embeddings-bbbb.npz").write_bytes(b"another encoder's cache")
    (tmp_path / "notes.txt").write_text("not a cache")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="checkpoints/embeddings-bbbb.npz", Body=b"saved by a training job")

    # When the stack starts
    seeded = seed_embedding_cache(s3, "data", tmp_path)

    # Then what the jobs have not got yet is there, under the prefix their CheckpointConfig restores
    assert seeded == ["checkpoints/embeddings-aaaa.npz"]
    assert s3.get_object(Bucket="data", Key="checkpoints/embeddings-aaaa.npz")["Body"].read() == b"first model's cache"
    # and what a job saved since is never overwritten
    assert (
        s3.get_object(Bucket="data", Key="checkpoints/embeddings-bbbb.npz")["Body"].read() == b"saved by a training job"
    )
    assert seed_embedding_cache(s3, "data", tmp_path / "missing") == []


@pytest.mark.usefixtures("aws")
def test_the_first_model_becomes_the_registrys_champion_once(
    model_archive: tuple[Path, str], model_version: str
) -> None:
    # Given the template's registry table and the first model registered in the bucket
    template = Template.read(ROOT / "template.yaml", prefix="t")
    create_tables(template, boto3.client("dynamodb"))
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data")
    champion = register_first_model(s3, "data", model_archive[0], train=False)
    found, metadata = champion_of(s3, champion.model_data_url)
    assert found == champion.model_copy(update={"promoted_at": None})  # the same model, not yet promoted
    assert metadata["version"] == model_version

    # When it is registered as champion, on this start and the next
    table = template.physical_name("RegistryTable")
    assert register_champion(table, champion, metadata) is True
    assert register_champion(table, champion, metadata) is False

    # Then the registry names it champion, with the archive's hash
    registered = DynamoDbModelRegistry(table).champion()
    assert registered is not None
    assert (registered.version, registered.model_data_url, registered.sha256) == (
        model_version,
        champion.model_data_url,
        model_archive[1],
    )


# ---- resources from a template ----

EXTRA_RESOURCES: dict[str, Any] = {
    "AlertsTopic": {
        "Type": "AWS::SNS::Topic",
        "Properties": {"Subscription": [{"Protocol": "email", "Endpoint": "ops@example.org"}]},
    },
    "ThresholdParameter": {
        "Type": "AWS::SSM::Parameter",
        "Properties": {"Name": {"Fn::Sub": "/${Stage}/threshold"}, "Type": "String", "Value": "10"},
    },
    "PlainSecret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "plain"}},
    "JsonSecret": {
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {
            "Name": "named-secret",
            "GenerateSecretString": {
                "SecretStringTemplate": '{"user": "admin"}',
                "GenerateStringKey": "password",
                "PasswordLength": 16,
            },
        },
    },
}
DATA_BUCKET = "sentiment-dev-data-123456789012-us-east-1"


@pytest.fixture
def template() -> Template:
    template = Template.read(
        ROOT / "template.yaml", prefix="t", overrides={"ModelImageUri": "local", "ModelDataUrl": "s3://b/m.tar.gz"}
    )
    template.document["Resources"].update(json.loads(json.dumps(EXTRA_RESOURCES)))
    return template


@pytest.mark.usefixtures("aws")
def test_topics_and_parameters_come_from_the_template(template: Template) -> None:
    arns = create_topics(template, boto3.client("sns"))
    # Named as the template's ARNs expect: the state machine publishes to what !Ref gives.
    assert sorted(arns) == sorted(template.arn(logical_id) for logical_id in template.of_type("AWS::SNS::Topic"))
    assert {template.arn("AlertsTopic"), template.arn("RetrainTopic")} <= set(arns)
    assert template.resolve({"Ref": "RetrainTopic"}) in arns
    subscriptions = boto3.client("sns").list_subscriptions_by_topic(TopicArn=template.arn("AlertsTopic"))
    assert [(item["Protocol"], item["Endpoint"]) for item in subscriptions["Subscriptions"]] == [
        ("email", "ops@example.org")
    ]
    assert create_parameters(template, boto3.client("ssm")) == ["/dev/threshold"]
    assert boto3.client("ssm").get_parameter(Name="/dev/threshold")["Parameter"]["Value"] == "10"


@pytest.mark.usefixtures("aws")
def test_secrets_come_from_the_template_with_the_stacks_admin_key(template: Template) -> None:
    # Given the template's admin key secret, and two more
    secretsmanager = boto3.client("secretsmanager")

    # When the stack creates them with its admin key
    names = create_secrets(template, secretsmanager, {"AdminApiKeySecret": "the-stacks-key"})

    # Then the admin authorizer finds the key by what its environment names, and the others are as declared
    assert sorted(names) == ["named-secret", "t-AdminApiKeySecret", "t-OriginVerifySecret", "t-PlainSecret"]
    secret_id = template.function_environment("AdminAuthorizerFunction", "http://q")["ADMIN_API_KEY_SECRET"]
    assert secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"] == "the-stacks-key"
    assert secretsmanager.get_secret_value(SecretId="t-PlainSecret")["SecretString"] == "plain"
    generated = json.loads(secretsmanager.get_secret_value(SecretId="named-secret")["SecretString"])
    assert generated["user"] == "admin"
    assert len(generated["password"]) == 16

    # And a second start with another key replaces the value
    create_secrets(template, secretsmanager, {"AdminApiKeySecret": "another-key"})
    assert secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"] == "another-key"


@pytest.mark.usefixtures("aws")
def test_a_secret_without_a_given_value_is_generated_as_the_template_asks() -> None:
    template = Template.read(ROOT / "template.yaml", prefix="t")
    names = create_secrets(template, boto3.client("secretsmanager"), {})
    values = {name: boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"] for name in names}
    # PasswordLength of each, ExcludePunctuation for both
    assert {name: len(value) for name, value in values.items()} == {
        "t-AdminApiKeySecret": 40,
        "t-OriginVerifySecret": 48,
    }
    assert all(value.isalnum() for value in values.values())


@pytest.mark.usefixtures("aws_credentials")
def test_the_state_machine_comes_from_the_template(template: Template, tmp_path: Path) -> None:
    with moto_with_gaps(tmp_path):
        check_the_state_machines_come_from_the_template(template)


def check_the_state_machines_come_from_the_template(template: Template) -> None:
    # Given the template's roles and its retraining state machine
    iam, stepfunctions = boto3.client("iam"), boto3.client("stepfunctions")
    roles = create_roles(template, iam)
    assert template.resolve({"Fn::GetAtt": ["TrainingRole", "Arn"]}) in roles
    assert create_roles(template, iam) == roles  # a second start finds them

    # When the stack creates the state machines (retraining, and bulk jobs under the name it is given)
    arns = create_state_machines(template, iam, stepfunctions)
    assert sorted(arn.rsplit(":", 1)[-1] for arn in arns) == sorted(
        ["t-RetrainStateMachine", template.resolve(template.resources["ClassifyJobStateMachine"]["Properties"]["Name"])]
    )
    (arn,) = [arn for arn in arns if arn.endswith(":t-RetrainStateMachine")]

    # Then it is where the functions' environment points, with the definition SAM would deploy
    assert arn == template.function_environment("ApiFunction", "http://q")["STATE_MACHINE_ARN"]
    described = stepfunctions.describe_state_machine(stateMachineArn=arn)
    assert described["name"] == "t-RetrainStateMachine"
    assert described["type"] == "STANDARD"
    assert described["definition"] == template.state_machine_definition("RetrainStateMachine")
    assert "${" not in described["definition"]
    # with the role SAM makes for it, which the local IAM check enforces
    assert iam.get_role(RoleName="t-RetrainStateMachineRole")["Role"]["Arn"] == described["roleArn"]
    assert described["roleArn"] == template.execution_role_arn("RetrainStateMachine")


@pytest.mark.usefixtures("aws")
def test_functions_and_their_s3_notifications_come_from_the_template(template: Template) -> None:
    specs = [template.function(logical_id, "http://aws") for logical_id in template.functions()]
    arns = create_functions(template, specs, boto3.client("iam"), boto3.client("lambda"))
    assert sorted(arn.rsplit(":", 1)[-1] for arn in arns) == sorted(f"t-{name}" for name in template.functions())
    configuration = boto3.client("lambda").get_function(FunctionName="t-FeedbackTriggerFunction")["Configuration"]
    assert configuration["Environment"]["Variables"]["STATE_MACHINE_ARN"] == template.arn("RetrainStateMachine")

    # Every bucket of the template: the data bucket by its name, the unnamed ones after their logical ids
    buckets = create_buckets(template, boto3.client("s3"))
    assert sorted(buckets) == sorted(
        template.physical_name(logical_id) for logical_id in template.of_type("AWS::S3::Bucket")
    )
    assert DATA_BUCKET in buckets
    create_notifications(template, boto3.client("s3"))
    configuration = boto3.client("s3").get_bucket_notification_configuration(Bucket=DATA_BUCKET)
    notified = {
        notification["LambdaFunctionArn"].rsplit(":", 1)[-1]: (
            notification["Events"],
            sorted((rule["Name"].lower(), rule["Value"]) for rule in notification["Filter"]["Key"]["FilterRules"]),
        )
        for notification in configuration["LambdaFunctionConfigurations"]
    }
    assert notified == {
        "t-FeedbackTriggerFunction": (["s3:ObjectCreated:*"], [("prefix", "feedback/")]),
        "t-DatasetImportFunction": (["s3:ObjectCreated:*"], [("prefix", "datasets/"), ("suffix", "/upload")]),
        "t-JobStartFunction": (["s3:ObjectCreated:*"], [("prefix", "jobs/"), ("suffix", "/input")]),
    }


@pytest.mark.usefixtures("aws")
def test_the_sagemaker_endpoint_comes_from_the_template(template: Template) -> None:
    create_roles(template, boto3.client("iam"))
    name = create_sagemaker_endpoint(template, boto3.client("sagemaker"))
    assert name == "t-ModelEndpoint"
    sagemaker = boto3.client("sagemaker")
    config = sagemaker.describe_endpoint_config(EndpointConfigName="t-ModelEndpointConfig")
    (variant,) = config["ProductionVariants"]
    assert variant["ModelName"] == "t-ModelResource"
    assert variant["ServerlessConfig"]["MemorySizeInMB"] == 2048  # a Number parameter, as an int
    model = sagemaker.describe_model(ModelName="t-ModelResource")
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://b/m.tar.gz"
    execution_role = boto3.client("iam").get_role(RoleName="t-SageMakerExecutionRole")["Role"]["Arn"]
    assert model["ExecutionRoleArn"] == execution_role


@pytest.mark.usefixtures("aws")
def test_no_model_image_no_endpoint() -> None:
    template = Template.read(ROOT / "template.yaml", prefix="t")
    assert create_sagemaker_endpoint(template, boto3.client("sagemaker")) is None


# ---- notifications ----


@pytest.mark.usefixtures("aws")
@pytest.mark.slow
def test_what_a_topic_publishes_lands_in_the_notifications_log(
    template: Template, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the template's topics, a queue subscribed to each, and the log reading it
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topics = create_topics(template, sns)
    url = subscribe_queue(sns, sqs, "t-notifications", topics)
    notifications = NotificationLog(sqs, url, tmp_path / "logs" / "notifications.log")

    # When the retraining topic and the other one publish
    outcome = {"status": "SUCCEEDED", "decision": "promoted", "version": "v2"}
    sns.publish(
        TopicArn=template.arn("RetrainTopic"),
        Subject="Sentiment retraining run r1: SUCCEEDED",
        Message=json.dumps(outcome),
    )
    sns.publish(TopicArn=template.arn("AlertsTopic"), Message="first line\nsecond line")
    read = 0
    for _ in range(5):
        read += notifications.poll_once()

    # Then each is one JSON line in the log and one line on the console, and the queue is empty
    assert read == 2
    lines = [json.loads(line) for line in notifications.path.read_text().splitlines()]
    by_topic = {line["topic"]: line for line in lines}
    assert by_topic["t-RetrainTopic"]["subject"] == "Sentiment retraining run r1: SUCCEEDED"
    assert json.loads(by_topic["t-RetrainTopic"]["message"]) == outcome
    assert by_topic["t-AlertsTopic"]["subject"] is None
    assert by_topic["t-AlertsTopic"]["message"] == "first line\nsecond line"
    printed = capsys.readouterr().out.splitlines()
    assert "Notification from t-RetrainTopic: Sentiment retraining run r1: SUCCEEDED" in printed
    assert "Notification from t-AlertsTopic: first line" in printed
    assert notifications.poll_once() == 0


# ---- the model server follows the endpoint ----


def test_the_model_server_follows_the_pointer_of_its_backend(tmp_path: Path) -> None:
    champion = Champion(version="v1", model_data_url="s3://bucket/models/v1/model.tar.gz", sha256="ab" * 32)
    ecs_stack = Stack(Settings(backend="ecs", data_dir=tmp_path))
    ecs = ecs_stack.endpoint.environment(champion)
    assert ecs["CHAMPION_URI"] == f"s3://{DATA_BUCKET}/models/champion.json"
    assert ecs["CHAMPION_POLL_SECONDS"] == "1"
    assert (ecs["MODEL_URI"], ecs["MODEL_SHA256"]) == (champion.model_data_url, champion.sha256)
    # The ECS task reads the bucket with the task role's credentials
    assert ecs["AWS_ACCESS_KEY_ID"] == access_key_for(ecs_stack.template.role_arn("ModelTaskRole"))

    stack = Stack(Settings(backend="sagemaker", data_dir=tmp_path))
    stack.endpoint.name = "t-ModelEndpoint"
    sagemaker = stack.endpoint.environment(champion)
    assert sagemaker["CHAMPION_URI"] == str(tmp_path / "endpoints" / "t-ModelEndpoint.json")
    # Behind an endpoint the container reads the copy SageMaker downloaded: no AWS access of its own
    assert [name for name in sagemaker if name.startswith("AWS_")] == []
    write_pointer(stack.endpoint.pointer_file, champion)
    assert read_pointer(stack.endpoint.pointer_file) == champion
    assert json.loads(stack.endpoint.pointer_file.read_text()) == {
        "version": "v1",
        "model_data_url": champion.model_data_url,
        "sha256": champion.sha256,
        "promoted_at": None,  # staged for the endpoint, not promoted by the registry
    }


class PingServer(JsonService):
    """A stand-in for the model server's /ping: it answers with the version the pointer file names
    (it follows the pointer, as the real one does), or, stuck, always with the version it started on."""

    def __init__(self, pointer: Path) -> None:
        self.pointer = pointer
        self.stuck_on: str | None = None
        super().__init__(self._answer)

    def _answer(self, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        del method, path, headers
        return 200, {"status": "ok", "model_version": self.stuck_on or json.loads(self.pointer.read_text())["version"]}


@pytest.fixture
def moto_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """moto's server, as ``make up`` runs it, on a free port."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield port
    server.stop()


def add_endpoint_config(sagemaker: Any, name: str, model_data_url: str, model_sha256: str = "") -> None:
    sagemaker.create_model(
        ModelName=f"model-{name}",
        ExecutionRoleArn="arn:aws:iam::123456789012:role/t-SageMakerExecutionRole",
        PrimaryContainer={
            "Image": "sentiment-model:local",
            "ModelDataUrl": model_data_url,
            "Environment": {"MODEL_JOBLIB_SHA256": model_sha256},
        },
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"config-{name}",
        ProductionVariants=[
            {
                "VariantName": "champion",
                "ModelName": f"model-{name}",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )


def settled(sagemaker: Any, endpoint: str) -> dict[str, Any]:
    return dict(
        wait_for(
            lambda: (d := sagemaker.describe_endpoint(EndpointName=endpoint))["EndpointStatus"] == "InService" and d,
            seconds=30,
            message="the endpoint to be in service",
        )
    )


def test_an_endpoint_update_points_the_model_server_at_the_new_model(
    tmp_path: Path, moto_port: int, model_archive: tuple[Path, str], model_version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the stack's endpoint serving an old model, a model server that follows the endpoint's
    # pointer file, and a newer model registered in the bucket
    stack = Stack(Settings(moto_port=moto_port, data_dir=tmp_path))
    stack.endpoint.name = "t-ModelEndpoint"
    old = Champion(version="v-old", model_data_url="s3://elsewhere/old/model.tar.gz", sha256="0" * 64)
    write_pointer(stack.endpoint.pointer_file, old)
    ping = PingServer(stack.endpoint.pointer_file)
    stack.settings.model_port = ping.port
    s3, sagemaker = stack.moto.client("s3"), stack.moto.client("sagemaker")
    s3.create_bucket(Bucket=stack.bucket)
    new = register_first_model(s3, stack.bucket, model_archive[0], train=False)
    s3.put_object(Bucket=stack.bucket, Key="models/copy/model.tar.gz", Body=model_archive[0].read_bytes())
    add_endpoint_config(sagemaker, "old", old.model_data_url)
    add_endpoint_config(sagemaker, "new", new.model_data_url, str(new.model_sha256))
    add_endpoint_config(sagemaker, "copy", f"s3://{stack.bucket}/models/copy/model.tar.gz")
    sagemaker.create_endpoint(EndpointName="t-ModelEndpoint", EndpointConfigName="config-old")
    runner = Runner([], endpoint=stack.moto.url, logs_dir=tmp_path / "logs")
    undo = install(runner, lambda: stack.model_server.url, on_endpoint_update=stack.endpoint.on_update)
    try:
        # When the deployment step updates the endpoint to the new model's configuration
        sagemaker.update_endpoint(EndpointName="t-ModelEndpoint", EndpointConfigName="config-new")

        # Then the pointer names the endpoint's own copy of the new model, hashed as downloaded, and once
        # the model server answers with its version the endpoint is in service on it
        endpoint = settled(sagemaker, "t-ModelEndpoint")
        assert endpoint["EndpointConfigName"] == "config-new"
        assert "FailureReason" not in endpoint
        served = read_pointer(stack.endpoint.pointer_file)
        assert (served.version, served.sha256) == (new.version, new.sha256) == (model_version, model_archive[1])
        assert Path(served.model_data_url).parent == tmp_path / "endpoints" / "t-ModelEndpoint"
        assert hashlib.sha256(Path(served.model_data_url).read_bytes()).hexdigest() == new.sha256
        assert stack.endpoint.champion == new.model_copy(update={"promoted_at": None})  # what the endpoint was given

        # When the model server never comes to serve the next model
        ping.stuck_on = "v-stuck"
        monkeypatch.setattr(endpoint_module, "ENDPOINT_UPDATE_TIMEOUT_S", 1)
        sagemaker.update_endpoint(EndpointName="t-ModelEndpoint", EndpointConfigName="config-copy")

        # Then the update fails: the endpoint and the pointer stay on the model that was served
        endpoint = settled(sagemaker, "t-ModelEndpoint")
        assert endpoint["EndpointConfigName"] == "config-new"
        assert f"did not serve model {model_version} within 1 s" in endpoint["FailureReason"]
        assert read_pointer(stack.endpoint.pointer_file) == served

        # And a model that cannot be downloaded fails the update the same way
        ping.stuck_on = None
        sagemaker.update_endpoint(EndpointName="t-ModelEndpoint", EndpointConfigName="config-old")
        endpoint = settled(sagemaker, "t-ModelEndpoint")
        assert endpoint["EndpointConfigName"] == "config-new"
        assert "NoSuchBucket" in endpoint["FailureReason"]
        assert read_pointer(stack.endpoint.pointer_file) == served
    finally:
        undo()
        runner.close()
        ping.close()


def test_the_stack_serves_only_its_own_endpoint(tmp_path: Path) -> None:
    stack = Stack(Settings(data_dir=tmp_path))
    stack.endpoint.name = "t-ModelEndpoint"
    with pytest.raises(StackError, match="serves one endpoint, t-ModelEndpoint, not another"):
        stack.endpoint.on_update("another", "s3://bucket/model.tar.gz", {})
