"""Which deployed stack, and what it says about itself: its outputs and parameters, read from
CloudFormation; the stack's name and region as ``sam deploy --config-env`` reads them from samconfig.toml."""

from __future__ import annotations

import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
SAMCONFIG = ROOT / "samconfig.toml"


class DeployError(Exception):
    """Something the user has to fix; the message says what."""


def samconfig_value(config_file: Path, config_env: str, key: str) -> str | None:
    """``key`` from the environment's ``global`` parameters, else its ``deploy`` ones, as ``sam deploy`` reads them."""
    try:
        config = tomllib.loads(config_file.read_text())
    except FileNotFoundError:
        raise DeployError(f"{config_file} not found: pass --stack-name") from None
    if config_env not in config:
        raise DeployError(f"{config_file} has no environment {config_env!r}")
    for command in ("global", "deploy"):
        value = config[config_env].get(command, {}).get("parameters", {}).get(key)
        if value:
            return str(value)
    return None


def samconfig_overrides(config_file: Path, config_env: str) -> dict[str, str]:
    """The environment's ``parameter_overrides`` (``Key="value" …``), as a mapping."""
    raw = samconfig_value(config_file, config_env, "parameter_overrides") or ""
    pairs = (item.partition("=") for item in shlex.split(raw))
    return {key: value for key, _, value in pairs if key}


@dataclass(frozen=True)
class Target:
    """The stack to work on, and its region (None: the AWS configuration's)."""

    stack_name: str
    region: str | None = None

    @classmethod
    def from_config(cls, config_file: Path, config_env: str, stack_name: str | None, region: str | None) -> Target:
        if stack_name:
            return cls(stack_name, region)
        name = samconfig_value(config_file, config_env, "stack_name")
        if not name:
            raise DeployError(f"no stack_name for {config_env!r} in {config_file}: pass --stack-name")
        return cls(name, region or samconfig_value(config_file, config_env, "region"))


@dataclass(frozen=True)
class DeployedStack:
    name: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    resources: dict[str, str] = field(default_factory=dict)  # logical id -> physical id
    role_arn: str = ""  # the service role CloudFormation acts with on the stack; empty: the caller's credentials

    def output(self, key: str) -> str:
        (value,) = self.require(key)
        return value

    def require(self, *keys: str) -> list[str]:
        """The outputs named, or a DeployError naming every one the stack lacks."""
        missing = [key for key in keys if not self.outputs.get(key)]
        if missing:
            raise DeployError(
                f"stack {self.name!r} has no {', '.join(missing)} output: deploy the current template.yaml first "
                "(make deploy)"
            )
        return [self.outputs[key] for key in keys]


def find_stack(cloudformation: Any, stack_name: str, *, with_resources: bool = False) -> DeployedStack:
    try:
        (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        # CloudFormation answers a missing stack with a generic ValidationError; only the message tells.
        if error.response["Error"]["Code"] == "ValidationError" and "does not exist" in str(error):
            raise DeployError(f"stack {stack_name!r} not found: deploy it first (make deploy)") from None
        raise
    resources = {}
    if with_resources:
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            for resource in page["StackResourceSummaries"]:
                if resource.get("PhysicalResourceId"):
                    resources[resource["LogicalResourceId"]] = resource["PhysicalResourceId"]
    return DeployedStack(
        name=stack_name,
        outputs={output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])},
        parameters={
            parameter["ParameterKey"]: parameter.get("ParameterValue", "") for parameter in stack.get("Parameters", [])
        },
        resources=resources,
        role_arn=str(stack.get("RoleARN", "")),
    )
