"""Create the template's resources on an AWS endpoint (moto), exactly as declared: tables, buckets and
their notifications, queues, topics, parameters, secrets, roles, the functions, the state machines and
the SageMaker endpoint."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

from sentiment_local.moto import scaling
from sentiment_template.reader import FunctionSpec, Template

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "BillingMode")
_QUEUE_ATTRIBUTES = ("DelaySeconds", "VisibilityTimeout", "MessageRetentionPeriod", "MaximumMessageSize")


def table_request(template: Template, logical_id: str) -> dict[str, Any]:
    properties = template.resolve(template.resources[logical_id]["Properties"])
    request = {key: properties[key] for key in _TABLE_KEYS if key in properties}
    request["TableName"] = template.physical_name(logical_id)
    return request


def create_table(template: Template, logical_id: str, dynamodb: Any) -> str:
    request = table_request(template, logical_id)
    dynamodb.create_table(**request)
    ttl = template.resources[logical_id]["Properties"].get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(TableName=request["TableName"], TimeToLiveSpecification=ttl)
    return str(request["TableName"])


def create_tables(template: Template, dynamodb: Any) -> list[str]:
    return [create_table(template, logical_id, dynamodb) for logical_id in template.of_type("AWS::DynamoDB::Table")]


def create_bucket(template: Template, logical_id: str, s3: Any) -> str:
    name = template.physical_name(logical_id)
    s3.create_bucket(Bucket=name)
    versioning = template.resources[logical_id].get("Properties", {}).get("VersioningConfiguration")
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=versioning)
    return name


def create_buckets(template: Template, s3: Any) -> list[str]:
    return [create_bucket(template, logical_id, s3) for logical_id in template.of_type("AWS::S3::Bucket")]


def create_queue(template: Template, logical_id: str, sqs: Any) -> str:
    properties = template.resolve(template.resources[logical_id].get("Properties", {}))
    attributes = {key: str(properties[key]) for key in _QUEUE_ATTRIBUTES if key in properties}
    if "RedrivePolicy" in properties:
        attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
    return str(sqs.create_queue(QueueName=template.physical_name(logical_id), Attributes=attributes)["QueueUrl"])


def create_queues(template: Template, sqs: Any) -> list[str]:
    """Dead-letter queues first, so a redrive policy can name them."""
    queues = template.of_type("AWS::SQS::Queue")
    ordered = sorted(queues, key=lambda logical_id: "RedrivePolicy" in queues[logical_id].get("Properties", {}))
    return [create_queue(template, logical_id, sqs) for logical_id in ordered]


def create_topic(template: Template, logical_id: str, sns: Any) -> str:
    """Named as the template's ARNs expect, so ``!Ref`` (a topic's ARN) finds it."""
    properties = template.resolve(template.resources[logical_id].get("Properties", {}))
    arn = str(sns.create_topic(Name=template.physical_name(logical_id))["TopicArn"])
    for subscription in properties.get("Subscription", []):
        sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])
    return arn


def create_topics(template: Template, sns: Any) -> list[str]:
    return [create_topic(template, logical_id, sns) for logical_id in template.of_type("AWS::SNS::Topic")]


def create_parameter(template: Template, logical_id: str, ssm: Any) -> str:
    properties = template.resolve(template.resources[logical_id]["Properties"])
    name = str(properties.get("Name", template.physical_name(logical_id)))
    ssm.put_parameter(Name=name, Type=properties.get("Type", "String"), Value=str(properties["Value"]), Overwrite=True)
    return name


def create_parameters(template: Template, ssm: Any) -> list[str]:
    return [create_parameter(template, logical_id, ssm) for logical_id in template.of_type("AWS::SSM::Parameter")]


def _generated_secret(secretsmanager: Any, generate: dict[str, Any]) -> str:
    """A password as CloudFormation generates one; with a template and key, that JSON holding it."""
    shape, key = generate.pop("SecretStringTemplate", None), generate.pop("GenerateStringKey", None)
    password = str(secretsmanager.get_random_password(**generate)["RandomPassword"])
    if shape is None or key is None:
        return password
    return json.dumps({**json.loads(shape), key: password})


def create_secret(template: Template, logical_id: str, secretsmanager: Any, values: dict[str, str]) -> str:
    """The secret with the value given for its logical id, else one generated as its
    ``GenerateSecretString`` asks, else its ``SecretString``. A secret that exists keeps its value."""
    properties = template.resolve(template.resources[logical_id].get("Properties", {}))
    name = template.physical_name(logical_id)
    if logical_id in values:
        value = values[logical_id]
    elif "GenerateSecretString" in properties:
        value = _generated_secret(secretsmanager, dict(properties["GenerateSecretString"]))
    else:
        value = str(properties.get("SecretString", ""))
    try:
        secretsmanager.create_secret(Name=name, SecretString=value, Description=properties.get("Description", ""))
    except secretsmanager.exceptions.ResourceExistsException:
        if logical_id in values:
            secretsmanager.put_secret_value(SecretId=name, SecretString=value)
    return name


def create_secrets(template: Template, secretsmanager: Any, values: dict[str, str]) -> list[str]:
    return [
        create_secret(template, logical_id, secretsmanager, values)
        for logical_id in template.of_type("AWS::SecretsManager::Secret")
    ]


def _role(iam: Any, name: str, service: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    try:
        return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    except iam.exceptions.EntityAlreadyExistsException:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])


def create_role(name: str, trust: Any, iam: Any) -> str:
    """A role with its trust policy (its policies are enforced by the local stack's IAM check,
    :mod:`sentiment_local.iam`, not by moto); a role that exists is found."""
    try:
        return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])
    except iam.exceptions.EntityAlreadyExistsException:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])


def create_roles(template: Template, iam: Any) -> list[str]:
    """The template's IAM roles with their trust policies."""
    return [
        create_role(
            template.physical_name(logical_id),
            template.resolve(resource["Properties"]["AssumeRolePolicyDocument"]),
            iam,
        )
        for logical_id, resource in template.of_type("AWS::IAM::Role").items()
    ]


def create_state_machine(template: Template, logical_id: str, iam: Any, stepfunctions: Any) -> str:
    """The state machine with its definition as SAM deploys it (substitutions resolved) and the role
    SAM makes for it."""
    role = template.execution_role_arn(logical_id).rsplit("/", 1)[-1]
    answer = stepfunctions.create_state_machine(
        name=template.physical_name(logical_id),
        definition=template.state_machine_definition(logical_id),
        roleArn=_role(iam, role, "states.amazonaws.com"),
        type=str(template.resources[logical_id]["Properties"].get("Type", "STANDARD")),
    )
    return str(answer["stateMachineArn"])


def create_state_machines(template: Template, iam: Any, stepfunctions: Any) -> list[str]:
    return [
        create_state_machine(template, logical_id, iam, stepfunctions)
        for logical_id in template.of_type("AWS::Serverless::StateMachine")
    ]


def _placeholder_zip() -> bytes:
    """The function's code runs from the project folder; Lambda's API still wants a package."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Run locally from the project's sources by the local stack.\n")
    return buffer.getvalue()


# A new account's Lambda concurrency limit; Lambda keeps 100 of an account's concurrency unreserved, so
# such an account can reserve none (Lambda developer guide, "Configuring reserved concurrency").
ACCOUNT_CONCURRENCY = 10
UNRESERVED_MINIMUM = 100


class LimitExceeded(ValueError):
    """What AWS would refuse at deploy time; the message says which rule and where it is documented."""


def check_reserved_concurrency(specs: list[FunctionSpec], account_concurrency: int = ACCOUNT_CONCURRENCY) -> None:
    reserved = {spec.logical_id: spec.reserved_concurrency for spec in specs if spec.reserved_concurrency}
    if reserved and sum(reserved.values()) > account_concurrency - UNRESERVED_MINIMUM:
        raise LimitExceeded(
            f"ReservedConcurrentExecutions {reserved} would leave less than {UNRESERVED_MINIMUM} of an account's "
            f"{account_concurrency} concurrent executions unreserved; Lambda refuses that (Lambda developer "
            f"guide, 'Configuring reserved concurrency'), and new accounts have a limit of {ACCOUNT_CONCURRENCY}"
        )


def check_scaling(template: Template) -> None:
    """Refuse, before anything is created, what SageMaker and Application Auto Scaling would refuse of the
    template under the parameters in force: each serverless variant's concurrency, each scalable target
    (its capacities, and what it scales: a serverless variant has no instance count) and each target-tracking
    policy (its metric and target value). The rules are :mod:`sentiment_local.moto.scaling`'s, which moto's API
    applies too."""
    variants = _endpoint_variants(template)
    isolated = {
        template.physical_name(logical_id): bool(
            template.resolve(model["Properties"].get("EnableNetworkIsolation", False))
        )
        for logical_id, model in template.of_type("AWS::SageMaker::Model").items()
    }
    found: list[tuple[str, scaling.Refusal]] = []
    for logical_id, resource in template.of_type("AWS::SageMaker::EndpointConfig").items():
        for variant in template.resolve(resource["Properties"])["ProductionVariants"]:
            refusals = scaling.serverless_variant_refusals(variant, isolated.get(str(variant.get("ModelName")), False))
            found += [(logical_id, refusal) for refusal in refusals]
    targets: dict[str, scaling.ScalableTarget] = {}
    for logical_id, resource in template.of_type("AWS::ApplicationAutoScaling::ScalableTarget").items():
        properties = template.resolve(resource["Properties"])
        target = targets[logical_id] = scaling.ScalableTarget(
            namespace=str(properties["ServiceNamespace"]),
            resource_id=str(properties["ResourceId"]),
            dimension=str(properties["ScalableDimension"]),
            min_capacity=int(properties["MinCapacity"]),
            max_capacity=int(properties["MaxCapacity"]),
        )
        found += [
            (logical_id, refusal) for refusal in scaling.target_refusals(target, variants.get(target.resource_id))
        ]
    for logical_id, resource in template.of_type("AWS::ApplicationAutoScaling::ScalingPolicy").items():
        properties = resource["Properties"]
        target_id = properties.get("ScalingTargetId", {})
        if not isinstance(target_id, dict) or target_id.get("Ref") not in targets:
            raise NotImplementedError(
                f"{logical_id}: only a ScalingTargetId of !Ref <ScalableTarget> is checked locally"
            )
        refusals = scaling.policy_refusals(
            targets[target_id["Ref"]].dimension,
            str(properties["PolicyType"]),
            template.resolve(properties.get("TargetTrackingScalingPolicyConfiguration")),
        )
        found += [(logical_id, refusal) for refusal in refusals]
    if found:
        lines = "\n".join(f"  {logical_id}: {refusal}" for logical_id, refusal in found)
        raise LimitExceeded(f"AWS would refuse the template's model serving under these parameters:\n{lines}")


def _endpoint_variants(template: Template) -> dict[str, dict[str, Any]]:
    """``endpoint/<endpoint>/variant/<variant>`` -> that production variant, as the template's endpoint
    configuration declares it."""
    configs = {
        template.physical_name(logical_id): template.resolve(resource["Properties"])
        for logical_id, resource in template.of_type("AWS::SageMaker::EndpointConfig").items()
    }
    found = {}
    for logical_id, resource in template.of_type("AWS::SageMaker::Endpoint").items():
        config = configs.get(str(template.resolve(resource["Properties"]["EndpointConfigName"])), {})
        for variant in config.get("ProductionVariants", []):
            found[f"endpoint/{template.physical_name(logical_id)}/variant/{variant['VariantName']}"] = variant
    return found


def create_function(template: Template, spec: FunctionSpec, iam: Any, lambda_: Any) -> str:
    """Register the function with the Lambda API, so that invocations, S3 notifications and Step
    Functions tasks reach it by name or ARN."""
    role = _role(iam, spec.role_arn.rsplit("/", 1)[-1] or f"{spec.name}-role", "lambda.amazonaws.com")
    answer = lambda_.create_function(
        FunctionName=spec.name,
        Runtime=spec.runtime,
        Role=role,
        Handler=spec.handler,
        Code={"ZipFile": _placeholder_zip()},
        Timeout=spec.timeout,
        MemorySize=spec.memory,
        Environment={"Variables": spec.environment},
        Description=str(template.resources[spec.logical_id]["Properties"].get("Description", "")),
    )
    return str(answer["FunctionArn"])


def create_functions(template: Template, specs: list[FunctionSpec], iam: Any, lambda_: Any) -> list[str]:
    """Every function; reserved concurrency a new account cannot give is refused first."""
    check_reserved_concurrency(specs)
    return [create_function(template, spec, iam, lambda_) for spec in specs]


def _s3_filter(rules: dict[str, Any] | None) -> dict[str, Any]:
    if not rules:
        return {}
    return {
        "Key": {"FilterRules": [{"Name": rule["Name"], "Value": rule["Value"]} for rule in rules["S3Key"]["Rules"]]}
    }


def create_notifications(template: Template, s3: Any) -> dict[str, list[dict[str, Any]]]:
    """The functions' ``S3`` events as the buckets' notification configurations."""
    by_bucket: dict[str, list[dict[str, Any]]] = {}
    for logical_id, _name, raw in template.events("S3"):
        properties = template.resolve(raw)
        events = properties["Events"] if isinstance(properties["Events"], list) else [properties["Events"]]
        configuration: dict[str, Any] = {"LambdaFunctionArn": template.arn(logical_id), "Events": events}
        key_filter = _s3_filter(properties.get("Filter"))
        if key_filter:
            configuration["Filter"] = key_filter
        by_bucket.setdefault(properties["Bucket"], []).append(configuration)
    for bucket, configurations in by_bucket.items():
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": configurations}
        )
    return by_bucket


def create_scaling(template: Template, autoscaling: Any, namespace: str) -> list[str]:
    """The template's scalable targets in ``namespace`` and their target-tracking policies, as CloudFormation
    registers them (Application Auto Scaling's service-linked role: no RoleARN); returns their resource IDs."""
    registered: dict[str, dict[str, Any]] = {}
    for logical_id, resource in template.of_type("AWS::ApplicationAutoScaling::ScalableTarget").items():
        properties = template.resolve(resource["Properties"])
        if properties["ServiceNamespace"] != namespace:
            continue
        request = {key: properties[key] for key in ("ServiceNamespace", "ResourceId", "ScalableDimension")}
        autoscaling.register_scalable_target(
            **request, MinCapacity=int(properties["MinCapacity"]), MaxCapacity=int(properties["MaxCapacity"])
        )
        registered[logical_id] = request
    for logical_id, resource in template.of_type("AWS::ApplicationAutoScaling::ScalingPolicy").items():
        properties = resource["Properties"]
        target = registered.get(properties["ScalingTargetId"].get("Ref", ""))
        if target is None:
            continue
        autoscaling.put_scaling_policy(
            PolicyName=f"{template.prefix}-{logical_id}",
            PolicyType=properties["PolicyType"],
            TargetTrackingScalingPolicyConfiguration=template.resolve(
                properties["TargetTrackingScalingPolicyConfiguration"]
            ),
            **target,
        )
    return [str(target["ResourceId"]) for target in registered.values()]


def create_sagemaker_endpoint(template: Template, sagemaker: Any, autoscaling: Any = None) -> str | None:
    """The template's SageMaker model, endpoint configuration and endpoint, when its conditions hold
    (their roles come from :func:`create_roles`), and, given ``autoscaling``, the scaling of its variants."""
    endpoints = template.of_type("AWS::SageMaker::Endpoint")
    if not endpoints:
        return None
    for logical_id, resource in template.of_type("AWS::SageMaker::Model").items():
        properties = template.resolve(resource["Properties"])
        sagemaker.create_model(ModelName=template.physical_name(logical_id), **properties)
    for logical_id, resource in template.of_type("AWS::SageMaker::EndpointConfig").items():
        properties = template.resolve(resource["Properties"])
        sagemaker.create_endpoint_config(EndpointConfigName=template.physical_name(logical_id), **properties)
    name = ""
    for logical_id, resource in endpoints.items():
        name = template.physical_name(logical_id)
        sagemaker.create_endpoint(EndpointName=name, **_endpoint_request(template.resolve(resource["Properties"])))
    if autoscaling is not None:
        create_scaling(template, autoscaling, "sagemaker")
    return name


# AWS::SageMaker::Endpoint properties that are UpdateEndpoint's options, not CreateEndpoint's.
_UPDATE_ONLY = ("RetainAllVariantProperties", "ExcludeRetainedVariantProperties", "RetainDeploymentConfig")


def _endpoint_request(properties: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in properties.items() if key not in _UPDATE_ONLY}


def create_in_order(
    template: Template,
    translated: dict[str, Any],
    order: list[str],
    specs: list[FunctionSpec],
    *,
    client: Any,
    secrets: dict[str, str],
) -> list[str]:
    """Create the resources of SAM's translation in CloudFormation's order (``order``,
    :func:`sentiment_template.cloudformation.creation_order`); the logical ids created. Each secret's ARN is
    pinned as it is made, so what comes after it resolves its ``Ref``. The types not created here are
    played by the local stack's own parts (the HTTP API by the gateway, event source mappings by the
    pollers, schedules, the SageMaker endpoint or ECS service by the endpoint) or have no local
    counterpart (alarms, log groups, the VPC, CloudFront); a bucket's notifications are put once the
    journal's data is restored, so restored objects do not notify again."""
    check_reserved_concurrency(specs)
    by_function = {spec.logical_id: spec for spec in specs}

    def secret(logical_id: str) -> None:
        secretsmanager = client("secretsmanager")
        name = create_secret(template, logical_id, secretsmanager, secrets)
        template.pinned[logical_id] = str(secretsmanager.describe_secret(SecretId=name)["ARN"])

    def role(logical_id: str) -> None:
        trust = template.resolve(translated["Resources"][logical_id]["Properties"]["AssumeRolePolicyDocument"])
        create_role(template.role_arn(logical_id).rsplit("/", 1)[-1], trust, client("iam"))

    creators: dict[str, Callable[[str], object]] = {
        "AWS::DynamoDB::Table": lambda logical_id: create_table(template, logical_id, client("dynamodb")),
        "AWS::S3::Bucket": lambda logical_id: create_bucket(template, logical_id, client("s3")),
        "AWS::SQS::Queue": lambda logical_id: create_queue(template, logical_id, client("sqs")),
        "AWS::SNS::Topic": lambda logical_id: create_topic(template, logical_id, client("sns")),
        "AWS::SSM::Parameter": lambda logical_id: create_parameter(template, logical_id, client("ssm")),
        "AWS::SecretsManager::Secret": secret,
        "AWS::IAM::Role": role,
        "AWS::Lambda::Function": lambda logical_id: create_function(
            template, by_function[logical_id], client("iam"), client("lambda")
        ),
        "AWS::StepFunctions::StateMachine": lambda logical_id: create_state_machine(
            template, logical_id, client("iam"), client("stepfunctions")
        ),
    }
    created = []
    for logical_id in order:
        create = creators.get(translated["Resources"][logical_id]["Type"])
        if create is not None:
            create(logical_id)
            created.append(logical_id)
    return created
