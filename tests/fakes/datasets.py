"""The datasets in memory, with the adapters' semantics (``tests/contract`` holds both to them): the records
as the DynamoDB adapter keeps them, the files as the data bucket holds them."""

from __future__ import annotations

from datetime import datetime

from sentiment_common.dal.datasets import _after, _instant, _token
from sentiment_common.datasets import Dataset, DatasetStatus, ImportOutcome
from sentiment_common.errors import ConflictError, NotFoundError


class FakeDatasets:
    def __init__(self) -> None:
        self.records: dict[str, Dataset] = {}

    def create(self, dataset: Dataset, now: datetime) -> Dataset:
        held = self.records.get(dataset.name)
        if held is not None and held.as_of(now).status is not DatasetStatus.EXPIRED:
            raise ConflictError(f"a dataset named {dataset.name!r} exists")
        self.records[dataset.name] = dataset
        return dataset

    def get(self, name: str) -> Dataset:
        if name not in self.records:
            raise NotFoundError(f"no dataset named {name!r}")
        return self.records[name]

    def finish_import(self, name: str, outcome: ImportOutcome) -> bool:
        held = self.records.get(name)
        if held is None or held.status is not DatasetStatus.SUBMITTED:
            return False
        self.records[name] = held.imported(outcome)
        return True

    def delete(self, name: str) -> Dataset:
        return self.records.pop(name) if name in self.records else self.get(name)

    def active(self) -> list[Dataset]:
        return sorted((d for d in self.records.values() if d.status is DatasetStatus.ACTIVE), key=lambda d: d.name)

    def list(self, limit: int, token: str | None) -> tuple[list[Dataset], str | None]:
        everything = sorted(self.records.values(), key=lambda d: (_instant(d.created_at), d.name), reverse=True)
        if token is not None:
            after = _after(token)
            everything = [d for d in everything if (_instant(d.created_at), d.name) < after]
        page = everything[:limit]
        return page, _token(page[-1]) if len(everything) > limit else None


class FakeDatasetFiles:
    """Presigned addresses that name what they grant, over a bucket's objects (a ``FakeDataStore``'s dict)."""

    def __init__(self, objects: dict[str, bytes] | None = None, bucket: str = "data-bucket") -> None:
        self.objects = {} if objects is None else objects
        self.bucket = bucket

    def upload_url(self, key: str, expires_in: int) -> str:
        return f"https://{self.bucket}.s3.amazonaws.com/{key}?X-Amz-Expires={expires_in}&X-Amz-Signature=put"

    def upload_path(self, key: str, expires_in: int) -> str:
        return f"/{key}?X-Amz-Expires={expires_in}&X-Amz-Signature=put"

    def download_url(self, key: str, expires_in: int) -> str:
        return f"https://{self.bucket}.s3.amazonaws.com/{key}?X-Amz-Expires={expires_in}&X-Amz-Signature=get"

    def delete_under(self, prefix: str) -> int:
        doomed = [key for key in self.objects if key.startswith(prefix)]
        for key in doomed:
            del self.objects[key]
        return len(doomed)
