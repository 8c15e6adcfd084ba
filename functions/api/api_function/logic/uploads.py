"""An upload's two addresses: S3's own, for a script or curl, and the same PUT on the web page's origin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SignsUploads(Protocol):
    def upload_url(self, key: str, expires_in: int) -> str: ...

    def upload_path(self, key: str, expires_in: int) -> str: ...


@dataclass(frozen=True)
class Upload:
    url: str
    path: str


def sign_upload(links: SignsUploads, key: str, expires_in: int) -> Upload:
    return Upload(url=links.upload_url(key, expires_in), path=links.upload_path(key, expires_in))
