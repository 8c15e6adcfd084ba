"""The parts of ``make up`` that need no running stack: settings, the admin key, the port check,
registering the first model, and the resources built from a template (topics, parameters, S3
notifications, functions, the SageMaker endpoint) on moto."""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sentiment_local.resources import (
    create_buckets,
    create_functions,
    create_notifications,
    create_parameters,
    create_sagemaker_endpoint,
    create_topics,
)
from sentiment_local.stack import Settings, StackError, admin_key, check_ports, register_first_model
from sentiment_local.template import ROOT, Template


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


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


@pytest.mark.parametrize(("name", "value", "says"), [("BACKEND", "lambda", "BACKEND"), ("PORT", "web", "numbers")])
def test_bad_settings_say_what_is_wrong(name: str, value: str, says: str) -> None:
    with pytest.raises(StackError, match=says):
        Settings.from_environment({name: value})


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
    "TriggerFunction": {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "CodeUri": "functions/pending",
            "Handler": "pending_function.handler.lambda_handler",
            "Environment": {"Variables": {"TOPIC": {"Ref": "AlertsTopic"}}},
            "Events": {
                "Feedback": {
                    "Type": "S3",
                    "Properties": {
                        "Bucket": {"Ref": "DataBucket"},
                        "Events": "s3:ObjectCreated:*",
                        "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "feedback/"}]}},
                    },
                }
            },
        },
    },
}


@pytest.fixture
def template() -> Template:
    template = Template.read(
        ROOT / "template.yaml", prefix="t", overrides={"ModelImageUri": "local", "ModelDataUrl": "s3://b/m.tar.gz"}
    )
    template.document["Resources"].update(json.loads(json.dumps(EXTRA_RESOURCES)))
    return template


@pytest.mark.usefixtures("aws")
def test_topics_and_parameters_come_from_the_template(template: Template) -> None:
    (arn,) = create_topics(template, boto3.client("sns"))
    assert arn.endswith(":t-AlertsTopic")
    subscriptions = boto3.client("sns").list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert [(item["Protocol"], item["Endpoint"]) for item in subscriptions] == [("email", "ops@example.org")]
    assert create_parameters(template, boto3.client("ssm")) == ["/dev/threshold"]
    assert boto3.client("ssm").get_parameter(Name="/dev/threshold")["Parameter"]["Value"] == "10"


@pytest.mark.usefixtures("aws")
def test_functions_and_their_s3_notifications_come_from_the_template(template: Template) -> None:
    specs = [template.function(logical_id, "http://aws") for logical_id in template.functions()]
    arns = create_functions(template, specs, boto3.client("iam"), boto3.client("lambda"))
    assert sorted(arn.rsplit(":", 1)[-1] for arn in arns) == ["t-ApiFunction", "t-PendingFunction", "t-TriggerFunction"]
    environment = boto3.client("lambda").get_function(FunctionName="t-TriggerFunction")["Configuration"]["Environment"]
    assert environment["Variables"]["TOPIC"] == "arn:aws:sns:us-east-1:123456789012:t-AlertsTopic"

    create_buckets(template, boto3.client("s3"))
    create_notifications(template, boto3.client("s3"))
    configuration = boto3.client("s3").get_bucket_notification_configuration(Bucket="t-databucket")
    (notification,) = configuration["LambdaFunctionConfigurations"]
    assert notification["LambdaFunctionArn"].endswith(":function:t-TriggerFunction")
    assert notification["Events"] == ["s3:ObjectCreated:*"]
    (rule,) = notification["Filter"]["Key"]["FilterRules"]
    assert (rule["Name"].lower(), rule["Value"]) == ("prefix", "feedback/")


@pytest.mark.usefixtures("aws")
def test_the_sagemaker_endpoint_comes_from_the_template(template: Template) -> None:
    name = create_sagemaker_endpoint(template, boto3.client("iam"), boto3.client("sagemaker"))
    assert name == "t-ModelEndpoint"
    sagemaker = boto3.client("sagemaker")
    config = sagemaker.describe_endpoint_config(EndpointConfigName="t-ModelEndpointConfig")
    (variant,) = config["ProductionVariants"]
    assert variant["ModelName"] == "t-ModelResource"
    assert variant["ServerlessConfig"]["MemorySizeInMB"] == 2048  # a Number parameter, as an int
    model = sagemaker.describe_model(ModelName="t-ModelResource")
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://b/m.tar.gz"
    assert model["ExecutionRoleArn"].endswith(":role/t-SageMakerExecutionRole")


@pytest.mark.usefixtures("aws")
def test_no_model_image_no_endpoint() -> None:
    template = Template.read(ROOT / "template.yaml", prefix="t")
    assert create_sagemaker_endpoint(template, boto3.client("iam"), boto3.client("sagemaker")) is None
