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
    "stack": "CloudFormation on stacks named sentiment-*, passing it its service role, and SAM's artifacts bucket",
    "after": "What make deploy, make smoke and make destroy call around sam deploy, on the stack's resources",
}

# checkov's findings the person's policies are left with: none (CloudFormation's own, which have some, are
# the service role's: deploy/service-role/template.yaml).
CHECKOV_SKIPS: dict[str, list[dict[str, str]]] = {"stack": [], "after": []}


def kind(file_name: str) -> str:
    """``stack`` or ``after``: which part of the deployer's permissions a file holds."""
    stem = Path(file_name).stem.removeprefix(PREFIX)
    return re.sub(r"-\d+$", "", stem)


def logical_id(file_name: str) -> str:
    """``sentiment-deploy-after.json`` -> ``DeployerAfterPolicy``."""
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


def render(resources: Mapping[str, dict[str, Any]]) -> str:
    """Resources as YAML, indented into a template's ``Resources``."""
    rendered = [
        yaml.dump({name: resource}, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
        for name, resource in resources.items()
    ]
    return "\n".join("".join(f"  {line}" for line in text.splitlines(keepends=True)) for text in rendered)


def between_markers(template: str, begin_marker: str, end_marker: str, text: str) -> str:
    """``template`` with the lines between its two marker lines replaced by ``text``."""
    lines = template.splitlines(keepends=True)
    begin = next((i for i, line in enumerate(lines) if line.startswith(begin_marker)), None)
    end = next((i for i, line in enumerate(lines) if line.startswith(end_marker)), None)
    if begin is None or end is None or end < begin:
        raise ValueError(f"the template has lost its marker lines: {begin_marker!r} ... {end_marker!r}")
    return "".join([*lines[: begin + 1], text, *lines[end:]])


def block(documents: Mapping[str, dict[str, Any]]) -> str:
    """The lines between the markers: the managed policies as YAML, indented into ``Resources``."""
    return render(policy_resources(documents))


def with_policies(template: str, documents: Mapping[str, dict[str, Any]]) -> str:
    """``template`` with the block between its markers replaced by ``documents``' policies."""
    return between_markers(template, BEGIN, END, block(documents))


def committed_documents(folder: Path = POLICY_FOLDER) -> dict[str, dict[str, Any]]:
    """The deployer's policies as committed, in the order ``deployer_policies`` writes them."""
    order = {"stack": 0, "after": 1}

    def position(path: Path) -> tuple[int, int]:
        number = re.search(r"-(\d+)$", path.stem)
        return order[kind(path.name)], int(number[1]) if number else 0

    paths = sorted(folder.glob("*.json"), key=position)
    return {path.name: json.loads(path.read_text()) for path in paths}


def write(template: Path = TEMPLATE, folder: Path = POLICY_FOLDER) -> Path:
    template.write_text(with_policies(template.read_text(), committed_documents(folder)))
    return template
