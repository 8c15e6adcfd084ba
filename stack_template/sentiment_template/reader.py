"""Read ``template.yaml`` and resolve what the local stack and the deployer need from it.

CloudFormation's short-form tags (``!Ref``, ``!Sub``, ``!If``…) load as their long form, and
:class:`Template` resolves intrinsic functions against local physical names, parameter values
and conditions. Only what the project uses is supported; anything else raises, loudly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
NO_VALUE = object()


_ARN_FORMATS = {
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::Serverless::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::Serverless::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
    "AWS::ECR::Repository": "arn:aws:ecr:{region}:{account}:repository/{name}",
    # SageMaker's ARNs hold the name in lower case.
    "AWS::SageMaker::Endpoint": "arn:aws:sagemaker:{region}:{account}:endpoint/{lower}",
    "AWS::SageMaker::EndpointConfig": "arn:aws:sagemaker:{region}:{account}:endpoint-config/{lower}",
    "AWS::SageMaker::Model": "arn:aws:sagemaker:{region}:{account}:model/{lower}",
}
# Types whose Ref is their ARN (the others' is their name).
_REF_IS_ARN = {
    "AWS::SNS::Topic",
    "AWS::Serverless::StateMachine",
    "AWS::StepFunctions::StateMachine",
    "AWS::SageMaker::Endpoint",
    "AWS::SageMaker::EndpointConfig",
    "AWS::SageMaker::Model",
}

# The property that names a resource explicitly, per type; without it CloudFormation makes a name up
# (locally: ``<prefix>-<LogicalId>``).
_NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::IAM::Role": "RoleName",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::StateMachine": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::Logs::LogGroup": "LogGroupName",
}
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


# libyaml's safe loader where PyYAML was built with it (its wheels are): the same document, six times faster.
class _CfnLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    # As CloudFormation reads YAML: ``!Ref`` and ``!Condition`` keep their names, the rest take ``Fn::``.
    name = suffix if suffix in {"Ref", "Condition"} else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506  # SafeLoader subclass
    return document


@dataclass
class Template:
    document: dict[str, Any]
    prefix: str = "sentiment-local"
    overrides: Mapping[str, str] = field(default_factory=dict)
    # What a Ref returns for resources whose value AWS makes up (a secret's ARN), once they exist.
    pinned: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path, prefix: str = "sentiment-local", overrides: Mapping[str, str] | None = None) -> Template:
        return cls(load(path), prefix, dict(overrides or {}))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.document["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            name: resource
            for name, resource in self.resources.items()
            if resource["Type"] == resource_type and self.condition_holds(resource.get("Condition"))
        }

    # ---- names ----

    def physical_name(self, logical_id: str) -> str:
        """The name the template gives the resource (``BucketName``…), else ``<prefix>-<LogicalId>``."""
        resource = self.resources[logical_id]
        resource_type = resource["Type"]
        name_property = _NAME_PROPERTIES.get(resource_type)
        if name_property and name_property in resource.get("Properties", {}):
            return str(self.resolve(resource["Properties"][name_property]))
        if resource_type in {"AWS::S3::Bucket", "AWS::ECR::Repository"}:
            return f"{self.prefix}-{logical_id}".lower()
        return f"{self.prefix}-{logical_id}"

    def queue_url(self, logical_id: str, endpoint: str) -> str:
        return f"{endpoint.rstrip('/')}/{ACCOUNT}/{self.physical_name(logical_id)}"

    def arn(self, logical_id: str) -> str:
        name = self.physical_name(logical_id)
        resource_type = self.resources[logical_id]["Type"]
        if resource_type in _ARN_FORMATS:
            return _ARN_FORMATS[resource_type].format(region=REGION, account=ACCOUNT, name=name, lower=name.lower())
        raise NotImplementedError(f"no local ARN for {resource_type}")

    # ---- roles ----

    def role_arn(self, logical_id: str) -> str:
        """A role's ARN: a role the template declares by its name, one SAM makes (``<LogicalId>Role``)
        named ``<prefix>-<LogicalId>`` like any other resource."""
        name = self.physical_name(logical_id) if logical_id in self.resources else f"{self.prefix}-{logical_id}"
        return f"arn:aws:iam::{ACCOUNT}:role/{name}"

    def execution_role_arn(self, logical_id: str) -> str:
        """The role a function or state machine runs with: its ``Role``, else the one SAM makes for it."""
        properties = self.resources[logical_id].get("Properties", {})
        if "Role" in properties:
            return str(self.resolve(properties["Role"]))
        return self.role_arn(f"{logical_id}Role")

    # ---- parameters and conditions ----

    def parameter(self, name: str) -> str:
        if name in self.overrides:
            return self.overrides[name]
        return str(self.document["Parameters"][name].get("Default", ""))

    def condition_holds(self, name: str | None) -> bool:
        if name is None:
            return True
        return bool(self.resolve(self.document["Conditions"][name]))

    # ---- intrinsic functions ----

    def resolve(self, value: Any, queue_endpoint: str = "") -> Any:  # noqa: PLR0911, C901  # one branch per function
        if isinstance(value, list):
            items = [self.resolve(item, queue_endpoint) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1 and isinstance(value.get("Condition"), str):
            return self.condition_holds(value["Condition"])
        if len(value) != 1 or not (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::")):
            resolved = {key: self.resolve(item, queue_endpoint) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        ((function, argument),) = value.items()
        if function == "Ref":
            return self._ref(argument, queue_endpoint)
        if function == "Fn::GetAtt":
            return self._get_att(*argument)
        if function == "Fn::Sub":
            return self._sub(argument, queue_endpoint)
        if function == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition_holds(condition) else when_false, queue_endpoint)
        if function == "Fn::Equals":
            left, right = (self.resolve(item) for item in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self.resolve(argument[0])
        if function == "Fn::And":
            return all(self.resolve(item) for item in argument)
        if function == "Fn::Or":
            return any(self.resolve(item) for item in argument)
        raise NotImplementedError(f"{function} is not resolved locally")

    def _ref(self, name: str, queue_endpoint: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo or name in self.pinned:
            return {**pseudo, **self.pinned}[name]
        if name in self.document.get("Parameters", {}):
            value = self.parameter(name)
            if self.document["Parameters"][name].get("Type") == "Number" and value:
                return float(value) if "." in value else int(value)
            return value
        resource_type = self.resources[name]["Type"]
        if resource_type == "AWS::SQS::Queue":
            return self.queue_url(name, queue_endpoint)
        if resource_type in _REF_IS_ARN:
            return self.arn(name)
        # A secret's Ref is its ARN on AWS, whose suffix AWS makes up; every API that takes the ARN
        # (GetSecretValue…) takes the name too, so locally the name stands in for it until the secret
        # exists and its ARN is pinned.
        return self.physical_name(name)

    def _get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute in {"QueueName", "EndpointName", "EndpointConfigName", "ModelName", "Name", "TopicName"}:
            return self.physical_name(logical_id)
        raise NotImplementedError(f"GetAtt {logical_id}.{attribute} is not resolved locally")

    def _sub(self, argument: Any, queue_endpoint: str) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: self.resolve(item, queue_endpoint) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                return str(self._get_att(*name.split(".", 1)))
            return str(self._ref(name, queue_endpoint))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    # ---- state machines ----

    def state_machine_definition(self, logical_id: str) -> str:
        """The state machine's ASL (``DefinitionUri``, relative to the project) with each ``${Key}``
        replaced by its ``DefinitionSubstitutions`` value, as SAM deploys it."""
        properties = self.resources[logical_id]["Properties"]
        if "DefinitionUri" not in properties:
            raise NotImplementedError(f"{logical_id}: only a DefinitionUri file is run locally")
        text = (ROOT / str(properties["DefinitionUri"])).read_text()
        values = self.resolve(properties.get("DefinitionSubstitutions", {}))

        def replace(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in values:
                raise ValueError(f"{properties['DefinitionUri']}: ${{{key}}} has no DefinitionSubstitutions entry")
            value = values[key]
            return value if isinstance(value, str) else json.dumps(value)

        return _PLACEHOLDER.sub(replace, text)

    # ---- functions ----

    def function_environment(self, logical_id: str, queue_endpoint: str) -> dict[str, str]:
        """The environment the template gives one function: ``Globals`` merged with its own."""
        globals_ = self.document.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        own = self.resources[logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        resolved = self.resolve({**globals_, **own}, queue_endpoint)
        return {name: str(value) for name, value in resolved.items()}

    def function(self, logical_id: str, queue_endpoint: str) -> FunctionSpec:
        """One function as Lambda would run it: code, handler, limits, layers and environment."""
        globals_ = self.document.get("Globals", {}).get("Function", {})
        properties = {**globals_, **self.resources[logical_id]["Properties"]}
        layers = [
            self.resources[_logical_id_of(layer)]["Properties"]["ContentUri"] for layer in properties.get("Layers", [])
        ]
        return FunctionSpec(
            logical_id=logical_id,
            name=self.physical_name(logical_id),
            code=ROOT / properties["CodeUri"],
            handler=properties["Handler"],
            runtime=properties["Runtime"],
            timeout=int(properties.get("Timeout", 3)),
            memory=int(properties.get("MemorySize", 128)),
            layers=tuple(ROOT / layer for layer in layers),
            environment=self.function_environment(logical_id, queue_endpoint),
            reserved_concurrency=properties.get("ReservedConcurrentExecutions"),
            role_arn=self.execution_role_arn(logical_id),
            dead_letter_queue=self._dead_letter_queue(properties.get("DeadLetterQueue")),
        )

    def _dead_letter_queue(self, dead_letter: Any) -> str | None:
        """The SQS queue's ARN a function's failed asynchronous events go to (SNS targets are not run)."""
        if not dead_letter:
            return None
        if dead_letter.get("Type") != "SQS":
            raise NotImplementedError(f"only SQS dead-letter queues run locally, not {dead_letter.get('Type')}")
        return str(self.resolve(dead_letter["TargetArn"]))

    def functions(self) -> list[str]:
        return [*self.of_type("AWS::Serverless::Function")]

    def events(self, event_type: str) -> list[tuple[str, str, dict[str, Any]]]:
        """``(function, event name, properties as written)`` for each event source of one type."""
        found = []
        for logical_id in self.functions():
            for name, event in self.resources[logical_id]["Properties"].get("Events", {}).items():
                if event["Type"] == event_type:
                    found.append((logical_id, name, event.get("Properties", {})))
        return found

    def http_routes(self) -> list[Route]:
        """The HTTP API's routes, as the functions' ``HttpApi`` events declare them, with their authorizers."""
        auth = self._http_api_properties().get("Auth", {})
        authorizers = {
            name: Authorizer.of(name, definition) for name, definition in auth.get("Authorizers", {}).items()
        }
        default = auth.get("DefaultAuthorizer")
        routes = []
        for logical_id, _name, properties in self.events("HttpApi"):
            method = str(properties.get("Method", "ANY")).upper()
            path = str(properties.get("Path", "$default"))
            chosen = properties.get("Auth", {}).get("Authorizer", default)
            if chosen not in (None, "NONE") and chosen not in authorizers:
                raise ValueError(
                    f"{logical_id} {method} {path} names authorizer {chosen}, which HttpApi does not define"
                )
            routes.append(Route(method, path, logical_id, authorizers.get(chosen) if chosen else None))
        return routes

    def _http_api_properties(self) -> dict[str, Any]:
        apis = self.of_type("AWS::Serverless::HttpApi")
        if not apis:
            return {}
        (api,) = apis.values()
        properties: dict[str, Any] = api.get("Properties", {})
        return properties

    def http_api_cors(self) -> dict[str, Any]:
        cors: dict[str, Any] = self.resolve(self._http_api_properties().get("CorsConfiguration", {}))
        return cors


def _logical_id_of(reference: Any) -> str:
    if isinstance(reference, dict) and "Ref" in reference:
        return str(reference["Ref"])
    raise NotImplementedError(f"only !Ref layers are run locally, not {reference!r}")


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    code: Path
    handler: str
    runtime: str
    timeout: int
    memory: int
    layers: tuple[Path, ...]
    environment: dict[str, str]
    reserved_concurrency: int | None = None
    role_arn: str = ""  # the execution role; without one the function calls AWS as the deployer
    dead_letter_queue: str | None = None  # the SQS queue ARN of failed asynchronous events

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.name}"


_PARAMETER = re.compile(r"\{([^}/]+?)(\+)?\}")


@dataclass(frozen=True)
class Authorizer:
    """An HTTP API Lambda authorizer: payload format 2.0, simple responses, request headers as identity."""

    name: str
    function: str
    identity_headers: tuple[str, ...]
    cache_seconds: int = 0  # Identity.ReauthorizeEvery: how long API Gateway reuses an allowed answer

    @classmethod
    def of(cls, name: str, definition: Mapping[str, Any]) -> Authorizer:
        reference = definition.get("FunctionArn")
        if isinstance(reference, dict) and str(reference.get("Ref", "")).endswith(".Alias"):
            function: Any = str(reference["Ref"]).removesuffix(".Alias")  # SAM's alias of the function
        elif isinstance(reference, dict) and "Fn::GetAtt" in reference:
            function = reference["Fn::GetAtt"]
            function = function.split(".")[0] if isinstance(function, str) else function[0]
        else:
            raise NotImplementedError(
                f"authorizer {name}: only Lambda authorizers given as !GetAtt <Function>.Arn or !Ref <Function>.Alias "
                "run locally"
            )
        if str(definition.get("AuthorizerPayloadFormatVersion")) != "2.0" or not definition.get(
            "EnableSimpleResponses"
        ):
            raise NotImplementedError(f"authorizer {name}: only payload format 2.0 with simple responses runs locally")
        identity = definition.get("Identity", {})
        unsupported = sorted(set(identity) - {"Headers", "ReauthorizeEvery"})
        if unsupported:
            raise NotImplementedError(f"authorizer {name}: identity sources {unsupported} are not run locally")
        headers = tuple(str(header) for header in identity.get("Headers", []))
        return cls(name, str(function), headers, int(identity.get("ReauthorizeEvery", 0)))


@dataclass(frozen=True)
class Route:
    """``METHOD /path/{param}`` to a function; ``{name+}`` takes the rest of the path."""

    method: str
    path: str
    function: str
    authorizer: Authorizer | None = None

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in {"ANY", method.upper()}:
            return None
        pattern = ""
        position = 0
        for found in _PARAMETER.finditer(self.path):
            pattern += re.escape(self.path[position : found.start()])
            pattern += f"(?P<{found.group(1)}>.+)" if found.group(2) else f"(?P<{found.group(1)}>[^/]+)"
            position = found.end()
        pattern += re.escape(self.path[position:])
        matched = re.fullmatch(pattern, path)
        return None if matched is None else dict(matched.groupdict())

    @property
    def specificity(self) -> tuple[int, int, int]:
        """API Gateway prefers literal segments, then fewer greedy parameters, then a named method."""
        parts = PurePosixPath(self.path).parts
        literal = sum(1 for part in parts if not part.startswith("{"))
        greedy = sum(1 for part in parts if part.endswith("+}"))
        return (literal, -greedy, self.method != "ANY")
