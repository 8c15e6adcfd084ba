"""The reviewers in memory, with the DynamoDB adapter's semantics (``tests/contract`` holds both to them)."""

from __future__ import annotations

from datetime import datetime

from sentiment_common.errors import ConflictError, NotFoundError
from sentiment_common.reviewers import Reviewer


class FakeReviewers:
    def __init__(self) -> None:
        self._reviewers: dict[str, Reviewer] = {}
        self._keys: dict[str, str] = {}  # active key digest -> name
        self._digests: dict[str, str] = {}  # name -> their current key's digest

    def create(self, name: str, key_sha256: str, at: datetime) -> Reviewer:
        existing = self._reviewers.get(name)
        if (existing is not None and (existing.active or existing.withdrawn_at is not None)) or (
            key_sha256 in self._keys
        ):
            raise ConflictError(f"a reviewer named {name!r} is active or was withdrawn")
        reviewer = Reviewer(name=name, created_at=at)
        self._reviewers[name] = reviewer
        self._keys[key_sha256] = name
        self._digests[name] = key_sha256
        return reviewer

    def get(self, name: str) -> Reviewer:
        if name not in self._reviewers:
            raise NotFoundError(f"no reviewer named {name!r}")
        return self._reviewers[name]

    def list(self) -> list[Reviewer]:
        return sorted(self._reviewers.values(), key=lambda reviewer: reviewer.name)

    def revoke(self, name: str, at: datetime) -> Reviewer:
        reviewer = self.get(name)
        if reviewer.active:
            reviewer = reviewer.model_copy(update={"revoked_at": at})
            self._reviewers[name] = reviewer
            self._keys.pop(self._digests[name], None)
        return reviewer

    def withdraw(self, name: str, at: datetime) -> Reviewer:
        reviewer = self.revoke(name, at)
        if reviewer.withdrawn_at is None:
            reviewer = reviewer.model_copy(update={"withdrawn_at": at})
            self._reviewers[name] = reviewer
        return reviewer

    def reviewer_for(self, key_sha256: str) -> str | None:
        return self._keys.get(key_sha256)

    def withdrawn(self) -> set[str]:
        return {name for name, reviewer in self._reviewers.items() if reviewer.withdrawn_at is not None}
