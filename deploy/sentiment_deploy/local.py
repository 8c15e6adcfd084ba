"""The stack ``make up`` runs, found by the URL it serves, so that ``make smoke URL=<the banner's URL>``
works from a fresh shell as against a deployed stack: ``make up`` writes where it is to its state file
(``stack.json`` in its data folder, ``LOCAL_DATA``), and the deployer's key for it is the one the local
IAM check reads as the deployer's (checked against ``deploy/deployer-policies/``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sentiment_deploy.stack import ROOT, DeployError
from sentiment_template import policies

LOCAL_DATA = ROOT / "build" / "local"  # make up's data folder, unless LOCAL_DATA names another
STATE_FILE = "stack.json"  # where in it make up writes where it serves
LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}  # noqa: S104 - names of this machine, not a bind


@dataclass(frozen=True)
class LocalStack:
    api: str  # the URL make up printed
    endpoint: str  # its AWS endpoint (moto)
    region: str
    stack_name: str
    key_file: Path | None = None  # the admin key it keeps with its data (None: ADMIN_API_KEY gave it one)

    def environment(self) -> dict[str, str]:
        """What boto3 needs to call this stack as the deployer."""
        return {
            **policies.credentials_for(policies.DEPLOYER_ARN),
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or ""
    return parts.scheme, "127.0.0.1" if host in LOOPBACK else host, parts.port


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def running(environ: Mapping[str, str] = os.environ) -> LocalStack | None:
    """The local stack ``make up`` (with this ``LOCAL_DATA``) is serving, if it is running."""
    state_file = Path(environ.get("LOCAL_DATA", LOCAL_DATA)).resolve() / STATE_FILE
    if not state_file.is_file():
        return None
    state = json.loads(state_file.read_text())
    if not _running(int(state["pid"])):
        return None
    return _stack(state, state_file)


def serving(url: str, environ: Mapping[str, str] = os.environ) -> LocalStack | None:
    """The local stack if ``make up`` (with this ``LOCAL_DATA``) serves ``url``, else None."""
    state_file = Path(environ.get("LOCAL_DATA", LOCAL_DATA)).resolve() / STATE_FILE
    if not state_file.is_file():
        return None
    state = json.loads(state_file.read_text())
    if _origin(str(state["api"])) != _origin(url):
        return None
    if not _running(int(state["pid"])):
        raise DeployError(
            f"{url} is where make up served the local stack, but it is no longer running (pid {state['pid']}): "
            "start it again with make up"
        )
    return _stack(state, state_file)


def _stack(state: dict[str, object], state_file: Path) -> LocalStack:
    return LocalStack(
        api=str(state["api"]),
        endpoint=str(state["aws"]),
        region=str(state.get("region", "us-east-1")),
        stack_name=str(state.get("stack_name", "sentiment-local")),
        key_file=state_file.parent / "admin-api-key",
    )
