"""The least-privilege report: for each principal, each action its role grants, and whether anything
the local stack ran ever used it.

Every enforced AWS endpoint (``make up``, the tests' own) appends the actions it allowed, one JSON line
per principal and action, to ``LOCAL_IAM_USAGE``; the test command points every stack of a run at one
file and writes this report at the end (``build/test-artifacts/least-privilege.md``). Run by hand::

    python -m sentiment_local.iam.report build/test-artifacts/iam-usage.jsonl > least-privilege.md

Roles are read for both backends (SageMaker and ECS), as the template deploys them. A grant nothing
used is either trimmed from the template or listed here with the reason it stays (:data:`KEPT`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sentiment_template.policies import Authorization, Principal, principals
from sentiment_template.reader import ACCOUNT, REGION, ROOT, Template

# Why a grant that no local run uses stays, by the policy that grants it, or by action (regular
# expressions on "policy action").
KEPT: tuple[tuple[str, str], ...] = (
    (
        r"^AWSLambda(BasicExecutionRole|VPCAccessExecutionRole|SQSQueueExecutionRole) (logs|ec2):",
        "SAM attaches it: the Lambda service writes the function's logs and, in the VPC (ECS backend), manages "
        "its network interfaces with the function's role; locally logs go to files and there is no VPC",
    ),
    (r"^AWSXrayWriteOnlyAccess ", "SAM attaches it for Tracing: Active; the X-Ray SDK sends traces with it on AWS"),
    (
        r"^AmazonECSTaskExecutionRolePolicy ",
        "the ECS agent pulls the image and ships the container's logs with it; no ECS agent runs locally",
    ),
    (
        r" (ecr:|logs:|cloudwatch:PutMetricData)",
        "SageMaker pulls the image and writes the container's logs and metrics with the role; locally the "
        "image's code runs in place and logs to files",
    ),
    (
        r"^RetrainStateMachineRolePolicy\d+ logs:",
        "Step Functions delivers the execution log (Logging) to CloudWatch Logs with it; not emulated locally",
    ),
    (
        r" sagemaker:StopTrainingJob$",
        "Step Functions stops the training job when the execution is stopped, times out or fails (.sync)",
    ),
    (
        r"^ApiFunctionRolePolicy\d+/WriteFeedbackObjects s3:DeleteObject$",
        "takes a feedback object back when marking its comment fails, so nothing is half-stored (a fault path)",
    ),
    (
        r"^DeployModelFunctionRolePolicy\d+/HashAnOlderModelsFile s3:GetObject$",
        "reads the model.joblib hash of a model registered before the registry kept it (a rollback to an older "
        "model); models registered since carry it",
    ),
    (
        r"^DeadLetterQueuePolicy sqs:SendMessage$",
        "SAM adds it for DeadLetterQueue: an asynchronous event that failed all its attempts goes there with the "
        "function's role (used only when one does)",
    ),
    (
        r"/ListTheBucket s3:ListBucket$",
        "makes a read of a key that does not exist a 404 rather than a 403 (S3 GetObject); used only when the "
        "key is missing",
    ),
    (
        r"RolePolicy\d+ dynamodb:(Scan|BatchGetItem|BatchWriteItem|DescribeTable|DeleteItem|ConditionCheckItem"
        r"|Query|PutItem|GetItem|UpdateItem)$",
        "part of the SAM policy template (DynamoDBCrudPolicy / DynamoDBReadPolicy / DynamoDBWritePolicy) the "
        "template uses for readability; scoped to the one table",
    ),
    (r" sqs:SendMessage\*$", "SQSSendMessagePolicy's pattern; SendMessage is what is used"),
)


@dataclass(frozen=True)
class Grant:
    principal: str
    policy: str
    action: str
    used: bool
    reason: str | None


@dataclass(frozen=True)
class Call:
    """A call the run made: what it needed, which statement allowed it, and whether only that one did."""

    request: Authorization
    statement: str
    alone: bool


def read_calls(paths: Iterable[Path]) -> dict[str, list[Call]]:
    """Principal → the calls recorded, one per action and allowing statement, from every usage file given."""
    calls: dict[str, dict[tuple[str, str], Call]] = defaultdict(dict)
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                request = Authorization(str(entry["action"]), str(entry["resource"]), dict(entry.get("context", {})))
                call = Call(request, str(entry.get("statement", "")), bool(entry.get("alone", False)))
                calls[str(entry["principal"])].setdefault((request.action, call.statement), call)
    return {principal: list(by_key.values()) for principal, by_key in calls.items()}


def read_usage(paths: Iterable[Path]) -> dict[str, set[str]]:
    """Principal → the actions it was allowed, from every usage file given (missing ones are empty)."""
    return {principal: {call.request.action for call in calls} for principal, calls in read_calls(paths).items()}


@dataclass(frozen=True)
class Need:
    """A policy (or ``policy/Sid``) of a role, and a call of the run that fails without it."""

    principal: str
    statement: str
    needed_by: Authorization | None


def needs(roles: Mapping[str, Principal], calls: Mapping[str, list[Call]]) -> list[Need]:
    """For each Allow statement: a recorded call that only it allowed, if there is one. Every recorded call
    came from a test, so taking out a statement that has one makes that test's call fail. (The stack that
    recorded a call judged ``alone`` with its own names; the report's roles use the default prefix.)"""
    found = []
    for logical_id, role in sorted(roles.items()):
        labels = dict.fromkeys(statement.label for statement in role.statements if statement.effect == "Allow")
        for label in labels:
            needed_by = next(
                (call.request for call in calls.get(logical_id, []) if call.statement == label and call.alone), None
            )
            found.append(Need(logical_id, label, needed_by))
    return found


def _matches(pattern: str, action: str) -> bool:
    regex = "".join(
        ".*" if part == "*" else "." if part == "?" else re.escape(part) for part in re.split(r"([*?])", pattern)
    )
    return re.fullmatch(regex, action, re.IGNORECASE) is not None


def _reason(policy: str, action: str) -> str | None:
    key = f"{policy} {action}"
    return next((reason for pattern, reason in KEPT if re.search(pattern, key)), None)


def grants(roles: Mapping[str, Principal], used: Mapping[str, set[str]]) -> list[Grant]:
    found: dict[tuple[str, str, str], Grant] = {}
    for logical_id, role in sorted(roles.items()):
        for statement in role.statements:
            if statement.effect != "Allow":
                continue
            for action in statement.actions:
                policy = statement.label
                was_used = any(_matches(action, done) for done in used.get(logical_id, set()))
                key = (logical_id, policy, action)
                found[key] = Grant(logical_id, policy, action, was_used, None if was_used else _reason(policy, action))
    return list(found.values())


def local_roles() -> dict[str, Principal]:
    """The roles of both backends, as the local stack deploys the template."""
    roles: dict[str, Principal] = {}
    for backend in ("sagemaker", "ecs"):
        overrides = {"InferenceBackend": backend, "ModelImageUri": "sentiment-model:local", "DeployPollSeconds": "1"}
        template = Template.read(ROOT / "template.yaml", overrides=overrides)
        for secret in template.of_type("AWS::SecretsManager::Secret"):
            # Secrets Manager ends a secret's ARN with six characters of its own choosing.
            name = template.physical_name(secret)
            template.pinned[secret] = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-??????"
        for logical_id, role in principals(template).items():
            known = roles[logical_id].statements if logical_id in roles else ()
            merged = {statement.label: statement for statement in (*known, *role.statements)}
            roles[logical_id] = Principal(logical_id, role.arn, tuple(merged.values()))
    return roles


def render_needs(found: list[Need]) -> str:
    lines = [
        "## Which call of the run needs each statement",
        "",
        "Taking out a statement marked with a call refuses that call, so the test that made it fails.",
        "",
        "| role | policy/statement | a call that fails without it |",
        "| --- | --- | --- |",
    ]
    for need in found:
        call = need.needed_by
        described = f"`{call.action}` on `{call.resource}`" if call else "none: see the unused grants"
        lines.append(f"| {need.principal} | {need.statement} | {described} |")
    return "\n".join(lines) + "\n"


def render(found: list[Grant]) -> str:
    """Per role: how many grants were used; then every unused grant, by policy, with why it stays."""
    unused = [grant for grant in found if not grant.used]
    unexplained = [grant for grant in unused if grant.reason is None]
    lines = [
        "# Least privilege: what each role grants, and what the test run used",
        "",
        f"{len(found)} grants (an action pattern of an Allow statement) in {len({g.principal for g in found})} "
        f"roles: {len(found) - len(unused)} used, {len(unused) - len(unexplained)} unused and kept for the "
        f"reason given, {len(unexplained)} unused and unexplained.",
        "",
        "| role | grants | used | unused, kept | unused, unexplained |",
        "| --- | --- | --- | --- | --- |",
    ]
    by_role: dict[str, list[Grant]] = defaultdict(list)
    for grant in found:
        by_role[grant.principal].append(grant)
    for role, its in sorted(by_role.items()):
        used = sum(grant.used for grant in its)
        kept = sum(not grant.used and grant.reason is not None for grant in its)
        lines.append(f"| {role} | {len(its)} | {used} | {kept} | {len(its) - used - kept} |")
    lines += ["", "## Unused grants", "", "| role | policy | actions | why it stays |", "| --- | --- | --- | --- |"]
    grouped: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for grant in unused:
        grouped[(grant.principal, grant.policy, grant.reason or "**unexplained: trim it or say why**")].append(
            grant.action
        )
    for (role, policy, reason), actions in sorted(grouped.items()):
        lines.append(f"| {role} | {policy} | {', '.join(f'`{action}`' for action in actions)} | {reason} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("usage", nargs="+", type=Path, help="usage files (LOCAL_IAM_USAGE) of the runs to count")
    parser.add_argument("--out", type=Path, help="write the report here instead of to standard output")
    args = parser.parse_args(argv)
    roles, calls = local_roles(), read_calls(args.usage)
    usage = {principal: {call.request.action for call in made} for principal, made in calls.items()}
    report = render(grants(roles, usage)) + "\n" + render_needs(needs(roles, calls))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
    else:
        sys.stdout.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
