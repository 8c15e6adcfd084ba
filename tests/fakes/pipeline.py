"""What the pipeline's logic needs besides the registry and the stores the API shares with it, in memory:
the data bucket, and whose labels were withdrawn."""

from __future__ import annotations

from collections.abc import Iterator

from pipeline_function.adapters.store import DataStore


class FakeDataStore(DataStore):
    """The bucket's objects in a dict; addresses and the champion pointer as the adapter makes them."""

    def __init__(self, bucket: str = "data-bucket") -> None:
        super().__init__(bucket)
        self.objects: dict[str, bytes] = {}

    def keys(self, prefix: str) -> Iterator[str]:
        yield from sorted(key for key in self.objects if key.startswith(prefix))

    def folders(self, prefix: str) -> Iterator[str]:
        below = (key[len(prefix) :] for key in self.objects if key.startswith(prefix))
        yield from sorted({f"{prefix}{rest.split('/', 1)[0]}/" for rest in below if "/" in rest})

    def read(self, key: str) -> bytes:
        return self.objects[key]

    def read_if_exists(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def write(self, key: str, body: bytes | bytearray, content_type: str) -> None:
        self.objects[key] = bytes(body)

    def copy(self, source_key: str, key: str) -> None:
        self.objects[key] = self.objects[source_key]


class FakeWithdrawnReviewers:
    """The names of reviewers whose labels were withdrawn, as a test sets them."""

    def __init__(self, *names: str) -> None:
        self.names = set(names)

    def withdrawn(self) -> set[str]:
        return set(self.names)
