"""``make rotate-admin-key``: a new random admin key as the next version of the stack's secret.

The key is never printed, logged or put on a command line: the command says where to read it. The
admin authorizer reads the secret again once its cached copy is ``AdminKeyCacheSeconds`` old (60 by
default), so the new key works, and the previous one is refused, within that long of the rotation.
On the stack ``make up`` runs, the key file it keeps with its data is replaced too (readable by this
user only), so both places hold the same key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from sentiment_deploy.stack import DeployedStack

KEY_BYTES = 32  # as the template's GenerateSecretString and the local stack's first key: 43 URL-safe characters


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def write_key_file(path: Path, key: str) -> None:
    """Replaced whole, never readable by others, even for a moment."""
    scratch = path.with_name(f".{path.name}.new")
    scratch.unlink(missing_ok=True)
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    scratch.replace(path)


def rotate(session: Any, stack: DeployedStack, key_file: Path | None = None) -> list[str]:
    """Store a new key as the secret's current version (and in ``key_file``, the local stack's); returns
    what to tell the user, which names where to read the key and never the key."""
    secret = stack.output("AdminApiKeySecretArn")
    key = new_key()
    version = session.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=key)["VersionId"]
    said = [f"stored a new admin key as version {version} of {secret}"]
    if key_file is not None:
        write_key_file(key_file, key)
        said.append(f"read it with: cat {key_file}")
    else:
        said.append(f"read it with: aws secretsmanager get-secret-value --secret-id {secret} --query SecretString")
    cache = stack.parameters.get("AdminKeyCacheSeconds") or "60"
    said.append(f"the admin routes take it, and refuse the previous key, within {cache} s (AdminKeyCacheSeconds)")
    return said
