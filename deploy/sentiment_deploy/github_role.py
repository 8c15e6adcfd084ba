"""The deployer's policies inside ``deploy/pipeline/template.yaml``, the role GitHub Actions deploys with.

That template is written by hand but for one block of its ``Resources``: a managed policy per file of
``deploy/deployer-policies/``, each attached to the role. ``python -m sentiment_deploy deployer-policies``
writes the files and then this block from them, between its two marker lines, so that the role holds
what the files say, no more and no less; a test fails when the block and the files differ.

Managed policies rather than the role's inline ones: IAM caps a role's inline policies at 10,240
characters in all, and the deployer's need more; a role may have 10 managed policies attached, each of
up to 6,144 characters (IAM user guide, "IAM and AWS STS quotas"), which the files already keep to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from sentiment_deploy.policy import POLICY_FOLDER
from sentiment_deploy.stack import ROOT

TEMPLATE = ROOT / "deploy" / "pipeline" / "template.yaml"
ROLE = "GitHubDeployRole"
BEGIN = "  # ---- begin: the deployer's policies"
END = "  # ---- end: the deployer's policies ----"
PREFIX = "sentiment-deploy-"

DESCRIPTIONS = {
    "stack": "CloudFormation on stacks named sentiment-*, SAM's transform, and the SAM CLI's artifacts bucket",
    "resources": "What CloudFormation calls to create, update and delete the stack's resources",
    "after": "What make deploy, make smoke and make destroy call around sam deploy, on the stack's resources",
}

# checkov's findings on the policies that let CloudFormation create the stack, each the policy's purpose: it
# creates the stack's resources with the deploying role's credentials, under names it makes itself, so their
# ARNs are not known beforehand (docs/aws.md, "The deployer's permissions": a CloudFormation service role
# holding these policies narrows what the role itself may do).
_CREATED_BY_CLOUDFORMATION = "CloudFormation acts with these to create the stack's resources, named by it"
CHECKOV_SKIPS: dict[str, list[dict[str, str]]] = {
    "stack": [],
    "resources": [
        {
            "id": "CKV_AWS_108",
            "comment": f"{_CREATED_BY_CLOUDFORMATION}: it reads the stack's own buckets, tables and secrets",
        },
        {
            "id": "CKV_AWS_109",
            "comment": f"{_CREATED_BY_CLOUDFORMATION}: the functions' roles, the buckets' and keys' policies",
        },
        {
            "id": "CKV_AWS_110",
            "comment": f"{_CREATED_BY_CLOUDFORMATION}: it creates the functions' roles and passes them to Lambda",
        },
        {
            "id": "CKV_AWS_111",
            "comment": f"{_CREATED_BY_CLOUDFORMATION}: creating, updating and deleting them is what the policy is for",
        },
    ],
    "after": [],
}


def kind(file_name: str) -> str:
    """``stack``, ``resources`` or ``after``: which part of the deployer's permissions a file holds."""
    stem = Path(file_name).stem.removeprefix(PREFIX)
    return re.sub(r"-\d+$", "", stem)


def logical_id(file_name: str) -> str:
    """``sentiment-deploy-resources-2.json`` -> ``DeployerResources2Policy``."""
    stem = Path(file_name).stem.removeprefix(PREFIX)
    return "Deployer" + "".join(part.capitalize() for part in stem.split("-")) + "Policy"


def policy_resources(documents: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """File name -> document, as the template's managed policies, each attached to the role."""
    resources: dict[str, dict[str, Any]] = {}
    for file_name, document in documents.items():
        stem = Path(file_name).stem.removeprefix(PREFIX)
        resource: dict[str, Any] = {"Type": "AWS::IAM::ManagedPolicy"}
        skips = CHECKOV_SKIPS[kind(file_name)]
        if skips:
            resource["Metadata"] = {"checkov": {"skip": skips}}
        resource["Properties"] = {
            "ManagedPolicyName": {"Fn::Sub": f"${{AWS::StackName}}-{stem}"},
            "Description": f"{DESCRIPTIONS[kind(file_name)]} (deploy/deployer-policies/{file_name})",
            "Roles": [{"Ref": ROLE}],
            "PolicyDocument": document,
        }
        resources[logical_id(file_name)] = resource
    return resources


class _Dumper(yaml.SafeDumper):
    """Block style, but for a list of several strings (a statement's actions), which reads best run together."""


def _list(dumper: yaml.SafeDumper, items: list[Any]) -> yaml.Node:
    flow = len(items) > 1 and all(isinstance(item, str) for item in items)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)


_Dumper.add_representer(list, _list)


def block(documents: Mapping[str, dict[str, Any]]) -> str:
    """The lines between the markers: the managed policies as YAML, indented into ``Resources``."""
    rendered = [
        yaml.dump({name: resource}, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
        for name, resource in policy_resources(documents).items()
    ]
    return "\n".join("".join(f"  {line}" for line in text.splitlines(keepends=True)) for text in rendered)


def with_policies(template: str, documents: Mapping[str, dict[str, Any]]) -> str:
    """``template`` with the block between its markers replaced by ``documents``' policies."""
    lines = template.splitlines(keepends=True)
    begin = next((i for i, line in enumerate(lines) if line.startswith(BEGIN)), None)
    end = next((i for i, line in enumerate(lines) if line.startswith(END)), None)
    if begin is None or end is None or end < begin:
        raise ValueError(f"{TEMPLATE.name} has lost its marker lines: {BEGIN!r} ... {END!r}")
    return "".join([*lines[: begin + 1], block(documents), *lines[end:]])


def committed_documents(folder: Path = POLICY_FOLDER) -> dict[str, dict[str, Any]]:
    """The deployer's policies as committed, in the order ``deployer_policies`` writes them."""
    order = {"stack": 0, "resources": 1, "after": 2}

    def position(path: Path) -> tuple[int, int]:
        number = re.search(r"-(\d+)$", path.stem)
        return order[kind(path.name)], int(number[1]) if number else 0

    paths = sorted(folder.glob("*.json"), key=position)
    return {path.name: json.loads(path.read_text()) for path in paths}


def write(template: Path = TEMPLATE, folder: Path = POLICY_FOLDER) -> Path:
    template.write_text(with_policies(template.read_text(), committed_documents(folder)))
    return template
