"""The Postman collection run with newman, the admin key kept off every command line and out of every
file left behind.

A value passed as ``--env-var adminKey=…`` is in newman's argv, which every user of the machine can read
(``ps``), and newman's JSON report records the environment and every request's headers. So the values
go in a copy of the collection's environment file, readable by this user only and deleted once newman
ends, and a JSON report, when one is wanted, is written beside it and read before it is deleted too.

``python -m sentiment_deploy.newman --base-url URL`` is ``make postman``: the key comes from
``ADMIN_API_KEY``, else from the local stack's key file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sentiment_deploy.stack import ROOT

POSTMAN = ROOT / "postman"
NEWMAN = POSTMAN / "node_modules" / ".bin" / "newman"
COLLECTION = "sentiment-api.postman_collection.json"
SECRET_VARIABLES = frozenset({"adminKey"})
Report = TypeVar("Report")


@contextmanager
def private_environment(environment: Path, values: Mapping[str, str]) -> Iterator[Path]:
    """``environment`` (a Postman environment file) with ``values`` set, written into a folder only this
    user can enter (``tempfile.mkdtemp``: 0700) as a file only this user can read (0600), both deleted
    when the block ends."""
    document = json.loads(environment.read_text())
    kept = [value for value in document.get("values", []) if value.get("key") not in values]
    document["values"] = kept + [
        {"key": key, "value": value, "type": "secret" if key in SECRET_VARIABLES else "default", "enabled": True}
        for key, value in values.items()
    ]
    with tempfile.TemporaryDirectory(prefix="newman-") as scratch:
        path = Path(scratch) / "environment.json"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(document, handle)
        yield path


def run(
    environment: Path,
    values: Mapping[str, str],
    read_report: Callable[[dict[str, Any]], Report] | None = None,
) -> tuple[int, Report | None]:
    """newman's exit code, and what ``read_report`` made of its JSON report (None without one, or when
    newman wrote none). Nothing newman was given or wrote is left on disk."""
    if not NEWMAN.exists():
        raise FileNotFoundError(f"{NEWMAN} is missing: run `cd postman && npm install` (make postman does it)")
    with private_environment(environment, values) as private:
        report = private.parent / "report.json"
        command = [str(NEWMAN), "run", COLLECTION, "-e", str(private), "--reporters", "cli"]
        if read_report is not None:
            command[-1] = "cli,json"
            command += ["--reporter-json-export", str(report)]
        finished = subprocess.run(command, cwd=POSTMAN, check=False)  # noqa: S603 - the project's own newman
        read = read_report(json.loads(report.read_text())) if read_report and report.exists() else None
    return finished.returncode, read


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentiment_deploy.newman", description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="the API, e.g. http://127.0.0.1:3000")
    parser.add_argument("--environment", type=Path, default=POSTMAN / "local.postman_environment.json")
    parser.add_argument(
        "--admin-key-file",
        type=Path,
        default=Path(os.environ.get("LOCAL_DATA", ROOT / "build" / "local")) / "admin-api-key",
        help="where the key is read when ADMIN_API_KEY is not set (default: the local stack's)",
    )
    args = parser.parse_args(argv)
    key = os.environ.get("ADMIN_API_KEY") or (
        args.admin_key_file.read_text().strip() if args.admin_key_file.exists() else ""
    )
    if not key:
        print(f"make postman: no ADMIN_API_KEY and no {args.admin_key_file}: start make up first", file=sys.stderr)
        return 2
    code, _ = run(args.environment, {"baseUrl": args.base_url.rstrip("/"), "adminKey": key})
    return code


if __name__ == "__main__":
    sys.exit(main())
