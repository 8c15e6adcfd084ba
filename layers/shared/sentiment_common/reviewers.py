"""Named reviewers: people an admin trusts to label, each with a key of their own.

An admin creates a reviewer and is shown the key once; only its SHA-256 is stored, so a leak of the
table gives no usable key. A reviewer is *revoked* when their key stops working (at once: the reviewer
authorizer reads the key's item on every call), and *withdrawn* when their labels must no longer train
the model: the next run's prepare step drops every label whose ``reviewer`` is in the withdrawn set.
Withdrawal revokes the key too, since labels given after it would be dropped anyway. Labels are matched
by name, so a withdrawn name is never given out again.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

KEY_PREFIX = "rvw_"  # recognisable in a log or a leaked file; the admin key (letters and digits) never has it
NAME_PATTERN = r"^[a-z0-9._-]{1,64}$"
ADMIN_REVIEWER = "admin"  # the name labels given with the admin key carry; no reviewer may take it


def new_key() -> str:
    """256 random bits, URL-safe, behind the prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    """What is stored and looked up: the key's SHA-256, hex. The key is random, so no salt is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_reviewer_key(key: str) -> bool:
    return key.startswith(KEY_PREFIX)


class Reviewer(BaseModel):
    """A reviewer as the admin sees them (never their key)."""

    model_config = ConfigDict(frozen=True)

    name: Annotated[str, Field(pattern=NAME_PATTERN, description="Unique; carried by every label they give")]
    created_at: Annotated[datetime, Field(description="When their current key was issued")]
    revoked_at: Annotated[datetime | None, Field(description="When their key stopped working")] = None
    withdrawn_at: Annotated[datetime | None, Field(description="When their labels were withdrawn from training")] = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class IssuedReviewer(BaseModel):
    """A reviewer just created, with the key: shown once, to the admin who created them."""

    model_config = ConfigDict(frozen=True)

    reviewer: Reviewer
    key: str
