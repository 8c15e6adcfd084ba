"""``python -m sentiment_deploy <command>``: the steps ``make deploy``, ``make destroy``,
``make publish-web`` and ``make train-on-sagemaker`` run against a deployed stack.

The stack is the one samconfig.toml names for ``--config-env`` (default: default), or ``--stack-name``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.exceptions import BotoCoreError, ClientError

from sentiment_common.dal.model_registry import DynamoDbModelRegistry
from sentiment_deploy import (
    admin_key,
    classify,
    destroy,
    edge,
    github_role,
    local,
    policy,
    reattach,
    release,
    service_role,
    smoke,
    training,
    web,
)
from sentiment_deploy.stack import ROOT, SAMCONFIG, DeployError, Target, find_stack, samconfig_overrides


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack-name", help="the deployed stack (default: samconfig.toml's stack_name)")
    parser.add_argument("--config-env", default="default", help="samconfig.toml environment (default: default)")
    parser.add_argument(
        "--config-file", type=Path, default=SAMCONFIG, help="the SAM configuration (default: %(default)s)"
    )
    parser.add_argument("--region", help="AWS region (default: samconfig.toml's, else the AWS configuration's)")


def _classify_arguments(commands: Any) -> None:
    files = commands.add_parser(
        "classify", help="a CSV or JSON Lines file through a bulk classification job; results written beside it"
    )
    _common(files)
    files.add_argument("--file", type=Path, required=True, help="the CSV or JSON Lines file of comments")
    files.add_argument("--column", required=True, help="the CSV column or JSON field that holds the text")
    files.add_argument("--id-field", help="a column or field whose value each result carries as its id")
    files.add_argument("--format", choices=["csv", "jsonl"], help="the file's format (default: from its extension)")
    files.add_argument("--store", action="store_true", help="also store each row as a comment (capped by the stack)")
    files.add_argument(
        "--url", help="make up's URL or a stack's WebUrl (default: make up if it runs, else the stack's WebUrl)"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sentiment_deploy", description=__doc__.splitlines()[0] if __doc__ else None
    )
    commands = parser.add_subparsers(dest="command", required=True)

    prepare = commands.add_parser(
        "prepare", help="image, data and a registered first model; writes the model's parameters"
    )
    _common(prepare)
    prepare.add_argument("--train-on", choices=["local", "sagemaker"], default="local")
    prepare.add_argument("--kind", choices=["encoder", "tfidf"], default="encoder")
    prepare.add_argument(
        "--archive", type=Path, default=release.ARCHIVE, help="a trained model.tar.gz (trained if missing)"
    )
    prepare.add_argument("--image-uri", help="an image already pushed to the stack's repository: build nothing")
    prepare.add_argument("--parameters-file", type=Path, required=True, help="where to write --parameter-overrides")

    finish = commands.add_parser("finish", help="wait until the champion is served, publish the page, print the URLs")
    _common(finish)
    finish.add_argument("--source", type=Path, default=ROOT / "frontend", help="the page's folder")

    publish = commands.add_parser("publish-web", help="upload frontend/ to the web bucket and refresh CloudFront")
    _common(publish)
    publish.add_argument(
        "--source", type=Path, default=ROOT / "frontend", help="the page's folder (default: %(default)s)"
    )

    down = commands.add_parser("destroy", help="empty and delete everything the stack made")
    _common(down)
    down.add_argument("--keep-data", action="store_true", help="keep the tables and the data and access-log buckets")
    down.add_argument("--yes", action="store_true", help="do not ask (the stack's name) before deleting")
    down.add_argument("--sam", default="sam", help="the SAM CLI to run sam delete with")

    train = commands.add_parser("train", help="launch a SageMaker training job by hand with the stack's image and data")
    _common(train)
    train.add_argument("--name", default=None, help="the job's name (default: sentiment-manual-<time>)")
    train.add_argument("--hyperparameter", action="append", default=[], metavar="KEY=VALUE", help="passed to train")
    train.add_argument("--no-feedback", action="store_true", help="train on the bundled data only")
    train.add_argument("--no-wait", action="store_true", help="start the job and return")

    rotate = commands.add_parser(
        "rotate-admin-key", help="a new random admin key in the stack's secret; prints where to read it, not it"
    )
    _common(rotate)
    rotate.add_argument("--url", help="make up's URL: rotate the key of the stack it serves")
    _classify_arguments(commands)
    check = commands.add_parser("smoke", help="the Postman checks and one retraining run against URL, then clean up")
    _common(check)
    check.add_argument("--url", required=True, help="the stack's WebUrl (or make up's URL)")

    first = commands.add_parser(
        "preflight", help="before the first sam deploy: the service role, and what CloudFormation would refuse"
    )
    _common(first)
    first.add_argument(
        "--role-file", type=Path, help="where to write the service role's ARN, for sam deploy --role-arn"
    )
    first.add_argument(
        "--parameters-file", type=Path, help="where to write the first sam deploy's --parameter-overrides"
    )

    adopt = commands.add_parser("reattach", help="import the tables and buckets make destroy KEEP_DATA=yes kept")
    _common(adopt)
    adopt.add_argument(
        "--dry-run", type=Path, metavar="FOLDER", help="write the import template and resources there; import nothing"
    )

    commands.add_parser(
        "deployer-policies",
        help="write deploy/deployer-policies/ (what a deploying user needs), the GitHub deploy role's copy of them "
        "and the CloudFormation service role's policies and boundary",
    )

    job = commands.add_parser("job", help="what SageMaker knows of a training job")
    _common(job)
    job.add_argument("name")
    return parser.parse_args(argv)


NO_REGION = (
    "no AWS region: set AWS_REGION=<region> (or pass --region, or add region to samconfig.toml's "
    "[<env>.global.parameters]); for the stack make up runs, give the URL its banner printed (and its LOCAL_DATA)"
)


def _session(target: Target) -> boto3.Session:
    if target.region:
        os.environ["AWS_DEFAULT_REGION"] = target.region  # the registry's client reads the default region
    session = boto3.Session(region_name=target.region)
    if session.region_name is None:  # boto3 would say only "You must specify a region."
        raise DeployError(NO_REGION)
    return session


def _local_target(args: argparse.Namespace) -> Target | None:
    """``make smoke`` given the URL ``make up`` serves: the local stack's AWS endpoint, region and stack,
    called with the deployer's key, whatever the shell's AWS configuration says."""
    stack = local.serving(args.url)
    if stack is None or (args.stack_name and args.stack_name != stack.stack_name):
        return None
    os.environ.update(stack.environment())
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):  # a profile would take precedence over the key
        os.environ.pop(name, None)
    args.url = stack.api
    print(
        f"{stack.api} is served by make up: stack {stack.stack_name} at the AWS endpoint {stack.endpoint} "
        f"({stack.region}), called as the deployer",
        flush=True,
    )
    return Target(stack.stack_name, stack.region)


def _confirm(stack_name: str, keep_data: bool) -> bool:
    what = (
        "everything but its tables and data bucket"
        if keep_data
        else "everything, its comments, feedback and models too"
    )
    print(f"This deletes stack {stack_name} and {what}. Type the stack's name to go on: ", end="", flush=True)
    try:
        return input().strip() == stack_name
    except EOFError:
        return False


def _deployer_policies(args: argparse.Namespace) -> int:
    for path in [*policy.write(), github_role.write(), service_role.write()]:
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


def _publish_web(args: argparse.Namespace, target: Target, session: boto3.Session) -> int:
    web.publish(session, target.stack_name, args.source)
    return 0


def _destroy(args: argparse.Namespace, target: Target, session: boto3.Session) -> int:
    if not args.yes and not _confirm(target.stack_name, args.keep_data):
        print("nothing deleted")
        return 1
    cloudformation = session.client("cloudformation")
    stack = find_stack(cloudformation, target.stack_name, with_resources=True)
    if not stack.role_arn:
        raise DeployError(
            f"stack {target.stack_name} has no service role: CloudFormation would delete it with your own "
            "credentials, which may not. Run make deploy once (it gives the stack the service role), then make destroy"
        )
    types = {
        resource["LogicalResourceId"]: resource["ResourceType"]
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=target.stack_name)
        for resource in page["StackResourceSummaries"]
    }
    region = ["--region", target.region] if target.region else []

    def sam_delete() -> None:
        command = [args.sam, "delete", "--stack-name", target.stack_name, "--no-prompts", *region]
        subprocess.run(command, check=True, env={**os.environ, "SAM_CLI_TELEMETRY": "0"})  # noqa: S603

    for line in destroy.destroy(session, stack, types, sam_delete, keep_data=args.keep_data):
        print(line)
    deleted = edge.delete_web_acl(session, target.stack_name)  # once no distribution uses it
    if deleted:
        print(deleted)
    return 0


def _prepare(args: argparse.Namespace, target: Target, session: boto3.Session) -> int:
    stack = find_stack(session.client("cloudformation"), target.stack_name)
    options = release.Options(train_on=args.train_on, kind=args.kind, archive=args.archive, image_uri=args.image_uri)
    model = release.prepare(session, stack, options)
    bounded = {**model, "PermissionsBoundary": service_role.find(session).boundary_arn}
    overrides = release.parameter_overrides(samconfig_overrides(args.config_file, args.config_env), bounded)
    args.parameters_file.parent.mkdir(parents=True, exist_ok=True)
    args.parameters_file.write_text(overrides + "\n")
    print(f"the model's parameters for sam deploy: {overrides}")
    return 0


def _finish(args: argparse.Namespace, target: Target, session: boto3.Session) -> int:
    stack = find_stack(session.client("cloudformation"), target.stack_name)
    print(release.wait_until_serving(session, stack))
    champion = DynamoDbModelRegistry(stack.output("RegistryTableName")).champion()
    if champion is None:
        raise DeployError("the registry has no champion: run make deploy")
    # Through CloudFront: the API's own address answers its public routes only for what comes that way.
    release.wait_until_healthy(stack.output("WebUrl"), champion.version)
    print(f"{stack.output('WebUrl')}/health answers with the champion {champion.version}")
    web.publish(session, target.stack_name, args.source)
    print(release.summary(stack, target.region))
    return 0


def _train(args: argparse.Namespace, target: Target, session: boto3.Session) -> int:
    stack = find_stack(session.client("cloudformation"), target.stack_name)
    hyperparameters = dict(item.partition("=")[::2] for item in args.hyperparameter)
    request = training.request_for(
        stack,
        name=args.name or training.job_name(),
        hyperparameters=hyperparameters,
        with_feedback=not args.no_feedback,
    )
    request = training.without_an_empty_feedback_channel(request, session.client("s3"))
    training.launch(request, session=session, region=session.region_name, wait=not args.no_wait)
    return 0


def _job(args: argparse.Namespace, target: Target, session: boto3.Session) -> int:
    print(training.describe(args.name, session=session, region=session.region_name))
    return 0


def _smoke(args: argparse.Namespace, target: Target, session: boto3.Session) -> int:
    stack = find_stack(session.client("cloudformation"), target.stack_name)
    for line in smoke.smoke(session, stack, args.url):
        print(line)
    return 0


def _classify(args: argparse.Namespace) -> int:
    """Against make up when URL is its URL, or when no URL is given and it runs; else the deployed stack."""
    request = classify.Request(args.file, args.column, args.id_field, args.format, args.store)
    served = local.serving(args.url) if args.url else local.running()
    if served is not None:
        url, key = served.api, os.environ.get("ADMIN_API_KEY") or _read_key(served.key_file)
    else:
        target = Target.from_config(args.config_file, args.config_env, args.stack_name, args.region)
        session = _session(target)
        stack = find_stack(session.client("cloudformation"), target.stack_name)
        url, key = args.url or stack.output("WebUrl"), smoke.admin_key(session, stack)
    with httpx.Client(base_url=url.rstrip("/"), timeout=60, headers={"Authorization": f"Bearer {key}"}) as api:
        for line in classify.Classifier(api).run(request):
            print(line, flush=True)
    return 0


def _read_key(path: Path | None) -> str:
    if path is None or not path.is_file():
        raise DeployError("no admin key: set ADMIN_API_KEY to the key make up was started with")
    return path.read_text().strip()


def _rotate_admin_key(args: argparse.Namespace, target: Target, session: boto3.Session) -> int:
    stack = find_stack(session.client("cloudformation"), target.stack_name)
    served = local.serving(args.url) if args.url else None
    for line in admin_key.rotate(session, stack, key_file=served.key_file if served else None):
        print(line)
    return 0


def _stage(args: argparse.Namespace) -> str:
    return samconfig_overrides(args.config_file, args.config_env).get("Stage", "dev")


def _write(path: Path | None, text: str) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")


def _preflight(args: argparse.Namespace, target: Target, session: boto3.Session) -> int:
    role = service_role.find(session)
    print(reattach.preflight(session, target.stack_name, _stage(args)))
    print(f"CloudFormation acts with {role.arn}; the stack's roles are bounded by {role.boundary_arn}")
    _write(args.role_file, role.arn)
    boundary = {"PermissionsBoundary": role.boundary_arn}
    _write(
        args.parameters_file,
        release.parameter_overrides(samconfig_overrides(args.config_file, args.config_env), boundary),
    )
    return 0


def _reattach(args: argparse.Namespace, target: Target, session: boto3.Session) -> int:
    overrides = samconfig_overrides(args.config_file, args.config_env)
    kept = reattach.kept_resources(session, target.stack_name, _stage(args))
    if not kept:
        raise DeployError(f"no kept table or bucket of stack {target.stack_name} found: nothing to re-attach")
    for logical_id, name in kept.items():
        print(f"found     {logical_id}: {name}")
    found = reattach.plan(reattach.translated_template(overrides), kept)
    if args.dry_run is not None:
        args.dry_run.mkdir(parents=True, exist_ok=True)
        (args.dry_run / "import-template.json").write_text(json.dumps(found.template, indent=2))
        (args.dry_run / "resources-to-import.json").write_text(json.dumps(found.resources_to_import, indent=2))
        print(f"wrote     {args.dry_run}/import-template.json and resources-to-import.json")
        return 0
    print(reattach.run(session, target.stack_name, overrides, found, role_arn=service_role.find(session).arn))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, Target, boto3.Session], int]] = {
    "preflight": _preflight,
    "reattach": _reattach,
    "publish-web": _publish_web,
    "destroy": _destroy,
    "prepare": _prepare,
    "finish": _finish,
    "train": _train,
    "job": _job,
    "smoke": _smoke,
    "rotate-admin-key": _rotate_admin_key,
}


def run(args: argparse.Namespace) -> int:
    if args.command == "deployer-policies":
        return _deployer_policies(args)
    if args.command == "classify":
        return _classify(args)
    target = _local_target(args) if args.command in {"smoke", "rotate-admin-key"} and args.url else None
    target = target or Target.from_config(args.config_file, args.config_env, args.stack_name, args.region)
    return COMMANDS[args.command](args, target, _session(target))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except (DeployError, BotoCoreError, ClientError, httpx.HTTPError) as error:  # the last: make smoke's API calls
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"{args.command}: {' '.join(map(str, error.cmd))} exited with {error.returncode}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
