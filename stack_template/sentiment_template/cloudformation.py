"""What CloudFormation receives, and how it creates it.

``template.yaml`` is not what CloudFormation sees: ``sam deploy`` hands it SAM's translation, which adds
what SAM makes (each function's role and permissions, a bucket's notification configuration from a
function's ``S3`` event, a state machine's substitutions). Its checks therefore run on the translation,
under each setting a user can pick (:data:`SETTINGS`):

- :func:`lint_errors`: cfn-lint on the translation (a cycle is ``E3004``);
- :func:`check_parameters`: the values against each parameter's ``AllowedValues``, ``AllowedPattern``,
  ``MinValue``/``MaxValue`` and ``MinLength``/``MaxLength``, refused with CloudFormation's words
  (CloudFormation user guide, "Parameters section syntax": ``ConstraintDescription``);
- :func:`creation_order`: the order CloudFormation creates the resources in, from ``Ref``, ``Fn::GetAtt``,
  ``Fn::Sub`` and ``DependsOn`` once the conditions are settled; a cycle is refused with CloudFormation's
  message, "Circular dependency between resources: [...]" (CloudFormation user guide, "Troubleshooting
  CloudFormation", circular dependency errors; AWS blog, "Handling circular dependency errors in AWS
  CloudFormation").
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiment_template.reader import REGION, ROOT, Template, load

# Every setting a user can pick that changes what SAM produces or which resources exist: each stage, each
# backend and each endpoint type, before the first image (the first sam deploy) and with one; and each
# choice at the edge (EDGE_CHOICES).
STAGES = ("dev", "prod")
BACKENDS = ("sagemaker", "ecs")
ENDPOINT_TYPES = ("serverless", "realtime")
FIRST_DEPLOY_IMAGE = ""
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment-model:0123456789ab"
MODEL = {
    "ModelDataUrl": "s3://sentiment-dev-data-123456789012-us-east-1/models/v1/model.tar.gz",
    "ModelSha256": "0" * 64,
    "ModelJoblibSha256": "1" * 64,
}


# The choices at the edge, each on the default setting: its own web ACL (the default, in us-east-1), none
# (ClientRateLimit 0), one without the write rule, or one made in us-east-1 for a stack in another region.
EDGE_CHOICES: dict[str, tuple[tuple[str, str], ...]] = {
    "no-web-acl": (("ClientRateLimit", "0"),),
    "no-write-limit": (("ClientWriteRateLimit", "0"),),
    "web-acl-from-us-east-1": (
        ("WebAclArn", "arn:aws:wafv2:us-east-1:123456789012:global/webacl/sentiment-dev-edge/0123abcd"),
    ),
}


@dataclass(frozen=True)
class Setting:
    """One choice of the parameters that shape the stack; the rest keep their defaults."""

    stage: str
    backend: str
    endpoint_type: str
    image: str
    edge: str = ""  # one of EDGE_CHOICES, or the default

    @property
    def parameters(self) -> dict[str, str]:
        chosen = {"Stage": self.stage, "InferenceBackend": self.backend, "SageMakerEndpointType": self.endpoint_type}
        edge = dict(EDGE_CHOICES[self.edge]) if self.edge else {}
        return {**chosen, "ModelImageUri": self.image, **(MODEL if self.image else {}), **edge}

    @property
    def name(self) -> str:
        image = "with-image" if self.image else "first-deploy"
        return f"{self.stage}-{self.backend}-{self.endpoint_type}-{image}" + (f"-{self.edge}" if self.edge else "")


SETTINGS = tuple(
    Setting(stage, backend, endpoint_type, image)
    for stage, backend, endpoint_type, image in itertools.product(
        STAGES, BACKENDS, ENDPOINT_TYPES, (FIRST_DEPLOY_IMAGE, IMAGE)
    )
) + tuple(Setting("dev", "sagemaker", "serverless", IMAGE, edge) for edge in EDGE_CHOICES)


class TemplateError(ValueError):
    """What CloudFormation would refuse before creating anything; the message is CloudFormation's."""


# ---- SAM's translation ----


def _sam_ready(document: Mapping[str, Any]) -> dict[str, Any]:
    """The template as ``sam package`` leaves it: local code folders and definitions stand as S3 URIs."""
    ready = copy.deepcopy(dict(document))
    for resource in ready["Resources"].values():
        properties = resource.get("Properties", {})
        for name in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(name), str):
                properties[name] = f"s3://sam-artifacts/{properties[name]}"
    return ready


def translate(document: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """``document`` as CloudFormation receives it from ``sam deploy``, by SAM's own translator."""
    import boto3  # noqa: PLC0415 - the translator needs a session for the region only
    from samtranslator.parser.parser import Parser  # noqa: PLC0415 - loaded only where a template is translated
    from samtranslator.translator.translator import Translator  # noqa: PLC0415

    # The translator counts what it translated for SAM's own telemetry; nothing here publishes it.
    logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)
    declared = document.get("Parameters", {})
    values = {name: str(parameters.get(name, spec.get("Default", ""))) for name, spec in declared.items()}
    translator = Translator({}, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    translated: dict[str, Any] = translator.translate(
        _sam_ready(document), parameter_values=values, get_managed_policy_map=lambda: {}
    )
    return translated


def lint_errors(translated: Mapping[str, Any]) -> list[str]:
    """cfn-lint's errors and warnings on a translated template, one line each (none: it is clean)."""
    from cfnlint.api import lint  # type: ignore[import-untyped]  # noqa: PLC0415 - only where a template is checked

    matches = lint(json.dumps(translated), regions=[REGION])
    return [f"{match.rule.id} {match.message} ({'/'.join(str(part) for part in match.path)})" for match in matches]


# ---- parameters ----


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _parameter_error(name: str, spec: Mapping[str, Any], value: str) -> str | None:  # noqa: PLR0911 - one rule a branch
    described = spec.get("ConstraintDescription")

    def refused(default: str) -> str:
        return f"Parameter {name} {described}" if described else f"Parameter '{name}' {default}"

    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(item) for item in allowed]:
        return refused("must be one of AllowedValues")
    if spec.get("Type") == "Number":
        number = _number(value)
        if number is None:
            return f"Parameter '{name}' must be a number"
        if "MinValue" in spec and number < float(spec["MinValue"]):
            return refused(f"must be a number not less than {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            return refused(f"must be a number not greater than {spec['MaxValue']}")
        return None
    pattern = spec.get("AllowedPattern")
    if pattern is not None and re.fullmatch(str(pattern), value) is None:
        return refused(f"must match pattern {pattern}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        return refused(f"must contain at least {spec['MinLength']} characters")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        return refused(f"must contain at most {spec['MaxLength']} characters")
    return None


def check_parameters(document: Mapping[str, Any], values: Mapping[str, str]) -> None:
    """Refuse values the template's parameters do not allow, or names it does not declare, as CloudFormation
    does before it creates anything (an ``AllowedPattern`` must match the whole value)."""
    declared = document.get("Parameters", {})
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise TemplateError(f"Parameters: {unknown} do not exist in the template")
    errors = [
        error
        for name, spec in declared.items()
        if (error := _parameter_error(name, spec, str(values.get(name, spec.get("Default", ""))))) is not None
    ]
    if errors:
        raise TemplateError("; ".join(errors))


# ---- the creation order ----


def _settled(value: Any, template: Template) -> Any:
    """``value`` with each ``Fn::If`` replaced by the branch its condition picks, as CloudFormation settles
    conditions before it works out dependencies (a reference in the branch not taken is no dependency)."""
    if isinstance(value, list):
        return [_settled(item, template) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and "Fn::If" in value:
        condition, when_true, when_false = value["Fn::If"]
        return _settled(when_true if template.condition_holds(condition) else when_false, template)
    return {key: _settled(item, template) for key, item in value.items()}


_SUB_NAME = re.compile(r"\$\{([^}!]+)\}")


def _references(value: Any) -> Iterator[str]:
    """Every name a ``Ref``, ``Fn::GetAtt`` or ``Fn::Sub`` inside ``value`` points at."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        if key == "Ref" and isinstance(item, str):
            yield item.split(".", 1)[0]  # SAM's <Function>.Alias, <Function>.Version
        elif key == "Fn::GetAtt":
            yield (item.split(".", 1)[0] if isinstance(item, str) else str(item[0]))
        elif key == "Fn::Sub":
            text, variables = (item, {}) if isinstance(item, str) else (item[0], item[1])
            local = set(variables)
            yield from (name.split(".", 1)[0] for name in _SUB_NAME.findall(text) if name.split(".", 1)[0] not in local)
            yield from _references(variables)
        else:
            yield from _references(item)


def dependencies(translated: Mapping[str, Any], template: Template) -> dict[str, set[str]]:
    """Each resource whose condition holds -> the resources it needs created first."""
    resources = {
        logical_id: resource
        for logical_id, resource in translated["Resources"].items()
        if template.condition_holds(resource.get("Condition"))
    }
    graph: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn", [])
        needed = set([depends_on] if isinstance(depends_on, str) else depends_on)
        needed |= set(_references(_settled(resource.get("Properties", {}), template)))
        graph[logical_id] = {name for name in needed if name in resources and name != logical_id}
    return graph


def _in_cycles(graph: Mapping[str, set[str]]) -> list[str]:
    """Of resources that cannot be ordered, those on a cycle: the ones nothing left needs are taken away
    until every one left is needed by another one left."""
    left = dict(graph)
    while True:
        needed = set().union(*left.values()) if left else set()
        unneeded = [name for name in left if name not in needed]
        if not unneeded:
            return sorted(left)
        for name in unneeded:
            del left[name]
        left = {name: wanted & set(left) for name, wanted in left.items()}


def creation_order(translated: Mapping[str, Any], template: Template) -> list[str]:
    """The resources in an order CloudFormation could create them in (each after what it needs);
    :class:`TemplateError` with CloudFormation's message if the graph has a cycle."""
    graph = dependencies(translated, template)
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(graph):
        ready = sorted(name for name, needed in graph.items() if name not in placed and needed <= placed)
        if not ready:
            unplaced = {name: needed - placed for name, needed in graph.items() if name not in placed}
            members = _in_cycles(unplaced)
            raise TemplateError(f"Circular dependency between resources: [{', '.join(members)}]")
        order.extend(ready)
        placed.update(ready)
    return order


def plan(template: Template) -> tuple[dict[str, Any], list[str]]:
    """The template as CloudFormation receives it under ``template``'s parameter values, checked as
    CloudFormation checks it, and the order its resources are created in."""
    check_parameters(template.document, template.overrides)
    translated = translate(template.document, template.overrides)
    settled = Template(translated, template.prefix, template.overrides)
    return translated, creation_order(translated, settled)


# ---- make validate ----


def _shown(path: Path) -> str:
    """The path as a user names it: from the project's root (two templates share a file name)."""
    absolute = path.resolve()
    return absolute.relative_to(ROOT).as_posix() if absolute.is_relative_to(ROOT) else str(path)


def check_file(path: Path) -> list[str]:
    """Each setting's problems with ``path`` as CloudFormation would receive it (parameters, cycle,
    cfn-lint), one line each; a template that declares none of the settings' parameters is checked once,
    with its defaults."""
    document = load(path)
    declared = document.get("Parameters", {})
    name = _shown(path)
    problems: list[str] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for setting in SETTINGS:
        # The edge choices are the stack's: make deploy deploys deploy/edge/template.yaml only with limits
        # that make a web ACL.
        if setting.edge and name != "template.yaml":
            continue
        values = {name: value for name, value in setting.parameters.items() if name in declared}
        key = tuple(sorted(values.items()))
        if key in seen:
            continue
        seen.add(key)
        label = setting.name if values else "defaults"
        try:
            translated, _ = plan(Template(document, overrides=values))
        except TemplateError as error:
            problems.append(f"{name} [{label}]: {error}")
            continue
        problems.extend(f"{name} [{label}]: {error}" for error in lint_errors(translated))
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m sentiment_template.cloudformation [template ...]`` (default: template.yaml): exit 1 and
    the problems, if CloudFormation would refuse a translation or cfn-lint finds fault with one."""
    paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)] or [ROOT / "template.yaml"]
    problems = [problem for path in paths for problem in check_file(path)]
    for problem in problems:
        print(problem)
    checked = ", ".join(_shown(path) for path in paths)
    print(f"{checked}: SAM's translation under every setting: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
