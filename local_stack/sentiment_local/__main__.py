"""``python -m sentiment_local up`` starts the local stack; ``invoke`` runs one function with one event on it;
``env-vars`` writes the ``--env-vars`` file that points ``sam local invoke`` at it."""

from __future__ import annotations

import argparse
import base64
import json
import logging
import sys
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sentiment_local.environment import Settings, StackError
from sentiment_local.stack import up
from sentiment_template.reader import REGION, ROOT, Template


def invoke(settings: Settings, function: str, event_path: Path) -> int:
    """Like ``sam local invoke``: the function's result on stdout, its log on stderr."""
    if not settings.state_file.exists():
        print("make invoke: the local stack is not running; start it with `make up` first", file=sys.stderr)
        return 2
    template = Template.read(ROOT / "template.yaml", prefix=settings.prefix)
    if function not in template.functions():
        known = ", ".join(template.functions())
        print(f"make invoke: no function {function!r} in template.yaml (known: {known})", file=sys.stderr)
        return 2
    try:
        event = json.loads(event_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        print(f"make invoke: cannot read the event {event_path}: {error}", file=sys.stderr)
        return 2
    endpoint = json.loads(settings.state_file.read_text())["aws"]
    client = boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto accepts any credentials
    )
    try:
        answer = client.invoke(
            FunctionName=template.physical_name(function), Payload=json.dumps(event).encode(), LogType="Tail"
        )
    except (BotoCoreError, ClientError) as error:
        print(f"make invoke: the local stack at {endpoint} did not answer: {error}", file=sys.stderr)
        return 2
    sys.stderr.write(base64.b64decode(answer.get("LogResult", "")).decode(errors="replace") + "\n")
    print(answer["Payload"].read().decode())
    return 1 if answer.get("FunctionError") else 0


CONTAINER_HOST = "host.docker.internal"  # the host, as Docker Desktop (and --add-host …:host-gateway) names it


def env_vars(settings: Settings, output: Path, container_host: str) -> int:
    """The file ``sam local invoke --env-vars`` reads: each function's variables as the running stack
    sets them, its AWS endpoint as a container reaches it. SAM sets only the variables the template
    declares (AWS_ENDPOINT_URL is declared empty for this)."""
    if not settings.state_file.exists():
        print(
            "make env-vars: the local stack is not running; start it with `make up MOTO_HOST=0.0.0.0`", file=sys.stderr
        )
        return 2
    state = json.loads(settings.state_file.read_text())
    if state.get("moto_host") in {None, "127.0.0.1", "localhost"}:
        print(
            "make env-vars: the local stack's AWS endpoint listens on 127.0.0.1 only, which a container cannot "
            "reach; the file is written, but restart it with `make up MOTO_HOST=0.0.0.0` before sam local invoke",
            file=sys.stderr,
        )
    endpoint = f"http://{container_host}:{state['moto_port']}"
    functions = {
        logical_id: {**variables, "AWS_ENDPOINT_URL": endpoint} for logical_id, variables in state["functions"].items()
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(functions, indent=2, sort_keys=True) + "\n")
    print(f"wrote {output}: {len(functions)} functions, AWS endpoint {endpoint}")
    print(
        f"  sam local invoke ApiFunction -e events/api-health-get-200.json --env-vars {output} "
        "--add-host host.docker.internal:host-gateway"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentiment_local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "up", help="start the local stack (PORT, MOTO_PORT, MODEL_PORT, BACKEND, LOCAL_DATA, RETRAIN_THRESHOLD)"
    )
    run = commands.add_parser("invoke", help="invoke one function of the running stack with one event")
    run.add_argument("function", help="the function's logical id in template.yaml, e.g. ApiFunction")
    run.add_argument("event", type=Path, help="a JSON event file, e.g. events/api-health-get-200.json")
    variables = commands.add_parser("env-vars", help="write the --env-vars file for sam local invoke on this stack")
    variables.add_argument("--output", type=Path, default=ROOT / "build" / "local" / "sam-env-vars.json")
    variables.add_argument("--container-host", default=CONTAINER_HOST, help="how a container reaches this machine")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    try:
        settings = Settings.from_environment()
    except StackError as error:
        print(f"make {args.command}: {error}", file=sys.stderr)
        return 2
    if args.command == "up":
        return up(settings)
    if args.command == "env-vars":
        return env_vars(settings, args.output, args.container_host)
    return invoke(settings, args.function, args.event)


if __name__ == "__main__":
    sys.exit(main())
