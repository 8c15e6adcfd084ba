"""Keep the local stack's data across restarts: every change moto makes is appended to a journal before
its answer leaves, and replayed on the next start.

moto holds everything in memory. The journal keeps the tables, objects and queued messages of the
resources the template declares, in one folder:

    base-<n>.jsonl      the whole state when generation n began, written whole and then renamed in
    journal-<n>.jsonl   every change since, one line per write
    blobs/<sha256>      the bytes of each object, written before the line that names them

A line is ``<crc32> <JSON list of records>``; a transaction's items share one line, so it comes back
whole or not at all. A line is written (one ``write`` call) before moto answers, so a stack killed
at any moment (SIGKILL included) has every change it acknowledged on disk; the file is flushed to the
device every second, so a power cut loses at most that second. A line cut short by a crash fails its
checksum and is dropped, with anything after it.

Writing a change costs the change's own size, however much data there is. When the journal has grown
past the base (and at every start), the state is written to a new base in the background and the old
files are removed; a crash during that leaves the previous base and both journals, replayed in order.

Saving is refused until the restore has run, so a start that failed to load the data can never
overwrite it.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import hashlib
import itertools
import json
import logging
import os
import re
import shutil
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiment_local.moto import data as moto_data
from sentiment_local.moto.s3 import ObjectGone, Pieces
from sentiment_template.reader import Template

log = logging.getLogger(__name__)

FORMAT = 2
MIN_COMPACT_BYTES = 32 * 1024 * 1024  # below this a journal is never worth rewriting the base for
SYNC_SECONDS = 1.0
BASE_LINE_RECORDS = 100
_NAME = re.compile(r"^(base|journal)-(\d+)\.jsonl$")

Record = list[Any]


class JournalError(RuntimeError):
    pass


@dataclass
class Restored:
    items: int = 0
    objects: int = 0
    messages: int = 0
    tables: dict[str, int] = field(default_factory=dict)


def _from_legacy(value: Any) -> Any:
    """Format 1 wrapped binary values as ``{"$base64": ...}``; DynamoDB JSON carries them as base64 text."""
    if isinstance(value, dict):
        if set(value) == {"$base64"}:
            return value["$base64"]
        return {key: _from_legacy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_legacy(item) for item in value]
    return value


def _base64(value: Any) -> str:
    """moto hands nested binary values over as bytes; DynamoDB JSON (what a client sends) has base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not DynamoDB JSON")


READS_OF_A_DELETED_OBJECT = 5


def _digest(pieces: Iterable[bytes]) -> str:
    hashed = hashlib.sha256()
    for piece in pieces:
        hashed.update(piece)
    return hashed.hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_base64)


def _line(records: list[Record]) -> bytes:
    payload = _canonical(records).encode()
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def _records(line: bytes) -> list[Record] | None:
    """The records of one line, or None when it is cut short or damaged."""
    checksum, _, payload = line.rstrip(b"\n").partition(b" ")
    if not line.endswith(b"\n") or len(checksum) != 8:  # eight hex digits
        return None
    try:
        if int(checksum, 16) != zlib.crc32(payload):
            return None
        records = json.loads(payload)
    except ValueError:
        return None
    return records if isinstance(records, list) else None


class _State:
    """What the journal holds besides moto, by logical id: objects by key and messages by id (both few),
    and, only while restoring, the items (afterwards moto holds them)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, dict[str, Any]]] = {}
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.messages: dict[str, dict[str, str]] = {}
        self.restoring = True

    def apply(self, record: Record) -> None:
        kind, resource, key = record[0], record[1], record[2]
        if kind == "item":
            if self.restoring:
                self._set(self.items, resource, key, record[3])
        elif kind == "table":  # every item of the table follows
            if self.restoring:
                self.items[resource] = {}
        elif kind == "object":
            self._set(self.objects, resource, key, record[3])
        elif kind == "message":
            self._set(self.messages, resource, key, record[3])
        else:
            raise JournalError(f"unknown record {kind!r}")

    @staticmethod
    def _set(store: dict[str, dict[str, Any]], resource: str, key: str, value: Any) -> None:
        if value is None:
            store.get(resource, {}).pop(key, None)
        else:
            store.setdefault(resource, {})[key] = value

    def copy(self) -> _State:
        """Objects and messages (the items are read from moto)."""
        copied = _State()
        copied.restoring = False
        copied.objects = {name: dict(values) for name, values in self.objects.items()}
        copied.messages = {name: dict(values) for name, values in self.messages.items()}
        return copied

    def records(self) -> Iterator[Record]:
        for bucket, objects in self.objects.items():
            for key, entry in objects.items():
                yield ["object", bucket, key, entry]
        for queue, messages in self.messages.items():
            for message_id, body in messages.items():
                yield ["message", queue, message_id, body]

    def blobs(self) -> set[str]:
        return {entry["sha256"] for objects in self.objects.values() for entry in objects.values()}


class Journal:
    """The local stack's data on disk (see the module's docstring). moto reports each change through
    the :class:`~sentiment_local.moto.changes.ChangeSink` methods; objects and queues are read when the
    request that changed them ends (:meth:`request`), once moto has finished writing them."""

    def __init__(
        self,
        directory: Path,
        template: Template,
        *,
        legacy: Path | None = None,
        compact_bytes: int = MIN_COMPACT_BYTES,
    ) -> None:
        self.directory = directory
        self._blobs = directory / "blobs"
        self._legacy = legacy  # a format-1 snapshot folder (one state.json), read once and then removed
        self._compact_bytes = compact_bytes
        self._by_physical: dict[str, tuple[str, str]] = {}
        for kind, type_name in (("item", "AWS::DynamoDB::Table"), ("object", "AWS::S3::Bucket"),
                                ("message", "AWS::SQS::Queue")):  # fmt: skip
            for logical_id in template.of_type(type_name):
                self._by_physical[f"{kind}:{template.physical_name(logical_id)}"] = (kind, logical_id)
        self._template = template
        self._lock = threading.Lock()
        self._state = _State()
        self._mode = "waiting"  # → "restoring" → "recording" → "closed"
        self._generation = 0
        self._fd: int | None = None
        self._journal_bytes = 0
        self._base_bytes = 0
        self._unsynced = False
        self._pending = threading.local()
        self._compacting = threading.Lock()
        self._wake = threading.Event()
        self._worker: threading.Thread | None = None

    # ---- the change feed (sentiment_local.moto.changes.ChangeSink) ----

    def _logical(self, kind: str, physical: str) -> str | None:
        found = self._by_physical.get(f"{kind}:{physical}")
        return None if found is None else found[1]

    def _accepting(self) -> bool:
        if self._mode == "waiting":
            raise JournalError("the local data has not been restored yet: refusing to save over it")
        return self._mode == "recording"  # a restore's own writes, and writes after closing, are not saved

    def items_changed(self, table: str, changes: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> None:
        logical = self._logical("item", table)
        if logical is None or not self._accepting():
            return
        records: list[Record] = [["item", logical, _canonical(key), item] for key, item in changes]
        self._append(lambda: records)

    def table_changed(self, table: str) -> None:
        logical = self._logical("item", table)
        if logical is None or not self._accepting():
            return
        records: list[Record] = [["table", logical, ""]]
        records += [["item", logical, _canonical(key), item] for key, item in moto_data.table_items(table)]
        self._append(lambda: records)

    def resource_deleted(self, kind: str, physical: str) -> None:
        """A table or queue the stack's deletion removed: it comes back empty on the next start, when the
        stack is created again (a bucket is deleted only once empty, each object's removal saved already)."""
        journal_kind = {"AWS::DynamoDB::Table": "item", "AWS::SQS::Queue": "message"}.get(kind)
        name = physical.rsplit("/", 1)[-1]  # a queue's URL ends in its name
        logical = None if journal_kind is None else self._logical(journal_kind, name)
        if logical is None or not self._accepting():
            return
        if journal_kind == "item":
            records: list[Record] = [["table", logical, ""]]
        else:
            records = [["message", logical, message, None] for message in self._state.messages.get(logical, {})]
        self._append(lambda: records)

    def object_changed(self, bucket: str, key: str) -> None:
        self._changed("object", bucket, key)

    def queue_changed(self, queue: str) -> None:
        self._changed("message", queue, "")

    def _changed(self, kind: str, physical: str, key: str) -> None:
        if self._logical(kind, physical) is None or not self._accepting():
            return
        pending: set[tuple[str, str, str]] | None = getattr(self._pending, "changes", None)
        if pending is None:  # not inside a request: moto has finished with it
            self._commit({(kind, physical, key)})
        else:
            pending.add((kind, physical, key))

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """One request to moto: the objects and queues it changed are saved when it ends."""
        outer = getattr(self._pending, "changes", None)
        if outer is not None:
            yield
            return
        self._pending.changes = set()
        try:
            yield
        finally:
            changed, self._pending.changes = self._pending.changes, None
            if changed:
                self._commit(changed)

    def _commit(self, changed: set[tuple[str, str, str]]) -> None:
        # Read and appended under one lock: a later request's line always holds a later state.
        self._append(lambda: self._read_changes(changed))

    def _read_changes(self, changed: set[tuple[str, str, str]]) -> list[Record]:
        records: list[Record] = []
        for kind, physical, key in sorted(changed):
            logical = self._logical(kind, physical)
            if logical is None:
                continue
            if kind == "object":
                records.append(["object", logical, key, self._object_entry(physical, key)])
            else:
                records.extend(self._message_records(logical, physical))
        return records

    def _object_entry(self, bucket: str, key: str) -> dict[str, Any] | None:
        """The object as it is now, its bytes saved; None when there is none. An object deleted while it is
        read is read again: what is there by then (nothing, or what replaced it) is what is recorded."""
        for attempt in itertools.count(1):
            stored = moto_data.stored_object(bucket, key)
            if stored is None:
                return None
            pieces, headers = stored
            try:
                digest, size = self._write_blob(pieces)
            except ObjectGone:
                if attempt == READS_OF_A_DELETED_OBJECT:  # a closed object still current: moto's fault, said loudly
                    raise
                continue
            return {"sha256": digest, "size": size, "headers": headers}
        raise AssertionError("unreachable")

    def _write_blob(self, pieces: Iterable[bytes]) -> tuple[str, int]:
        """The bytes saved under their SHA-256, a piece at a time; their digest and size. A blob is written
        whole under another name and renamed: a blob that exists is complete, and is kept."""
        self._blobs.mkdir(parents=True, exist_ok=True)
        scratch = self._blobs / f"incoming.{threading.get_ident()}.tmp"
        hashed = hashlib.sha256()
        size = 0
        try:
            with scratch.open("wb") as out:
                for piece in pieces:
                    hashed.update(piece)
                    out.write(piece)
                    size += len(piece)
        except BaseException:
            scratch.unlink(missing_ok=True)
            raise
        digest = hashed.hexdigest()
        blob = self._blobs / digest
        if blob.exists():
            scratch.unlink()
        else:
            scratch.replace(blob)
        return digest, size

    def _message_records(self, logical: str, physical: str) -> list[Record]:
        current = dict(moto_data.queue_messages(physical))
        known = self._state.messages.get(logical, {})
        records: list[Record] = [["message", logical, gone, None] for gone in known if gone not in current]
        records += [["message", logical, new, body] for new, body in current.items() if new not in known]
        return records

    def _append(self, read: Callable[[], list[Record]]) -> None:
        with self._lock:
            records = read()
            if not records:
                return
            if self._fd is None:
                raise JournalError("the journal is closed")
            line = _line(records)
            os.write(self._fd, line)
            for record in records:
                self._state.apply(record)
            self._journal_bytes += len(line)
            self._unsynced = True
            if self._journal_bytes > max(self._compact_bytes, self._base_bytes):
                self._wake.set()

    # ---- restore ----

    def _files(self, kind: str) -> dict[int, Path]:
        found = {}
        for path in self.directory.glob(f"{kind}-*.jsonl") if self.directory.is_dir() else []:
            match = _NAME.match(path.name)
            if match:
                found[int(match.group(2))] = path
        return found

    def _read(self) -> None:
        bases = self._files("base")
        generation = max(bases, default=0)
        if generation:
            self._replay(bases[generation], must_be_whole=True)
        elif self._legacy is not None and (self._legacy / "state.json").exists():
            self._read_legacy(self._legacy)
        journals = sorted((n, path) for n, path in self._files("journal").items() if n >= generation)
        for position, (_, path) in enumerate(journals):
            whole = self._replay(path, must_be_whole=False)
            if not whole and position < len(journals) - 1:
                log.warning("%s ends in a damaged line; the journals after it are not replayed", path)
                break
        self._generation = max([generation, *(n for n, _ in journals)])

    def _replay(self, path: Path, *, must_be_whole: bool) -> bool:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                records = _records(line)
                if records is None:
                    if must_be_whole:
                        raise JournalError(f"{path} line {number} is damaged")
                    log.warning("%s line %d is cut short or damaged; it and what follows are dropped", path, number)
                    return False
                if number == 1 and path.name.startswith("base-"):
                    if records[:1] != [["format", FORMAT, int(_NAME.match(path.name).group(2))]]:  # type: ignore[union-attr]
                        raise JournalError(f"{path} is not a format {FORMAT} base")
                    continue
                for record in records:
                    self._state.apply(record)
        return True

    def _read_legacy(self, folder: Path) -> None:
        """A format-1 ``state.json`` (the whole state, rewritten every few seconds) as the first base."""
        state = json.loads((folder / "state.json").read_text())
        for table, items in state.get("tables", {}).items():
            for saved in items:
                item = _from_legacy(saved)
                key = {name: item[name] for name in self._key_names(table) if name in item}
                self._state.apply(["item", table, _canonical(key), item])
        for bucket, objects in state.get("objects", {}).items():
            for key, entry in objects.items():
                digest, size = self._write_blob(Pieces.of_file(folder / "blobs" / entry["sha256"]))
                headers = {"Content-Type": entry["content_type"]}
                headers |= {f"x-amz-meta-{name}": value for name, value in entry.get("metadata", {}).items()}
                self._state.apply(["object", bucket, key, {"sha256": digest, "size": size, "headers": headers}])
        for queue, bodies in state.get("queues", {}).items():
            for number, body in enumerate(bodies):
                self._state.apply(["message", queue, f"legacy-{number}", body])

    def _key_names(self, logical_id: str) -> list[str]:
        schema = self._template.resources[logical_id]["Properties"]["KeySchema"]
        return [str(key["AttributeName"]) for key in schema]

    def restore(self) -> Restored:
        """Load the saved data into moto's freshly created resources (those the template still declares),
        write it to a new base, and start saving."""
        if self._mode != "waiting":
            raise JournalError("the local data was restored already")
        self._mode = "restoring"
        # A restore makes millions of objects that live as long as the stack: the cyclic collector
        # would walk them again and again while they are made, and on every full collection after.
        gc.disable()
        try:
            self._read()
            restored = Restored()
            self._load_tables(restored)
            self._load_objects(restored)
            self._load_messages(restored)
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._lock:
                self._start_generation()
                state = self._state.copy()
            items, self._state.items, self._state.restoring = self._state.items, {}, False
            self._write_base(self._item_records(items), state)
            del items
        finally:
            gc.enable()
        gc.freeze()
        self._mode = "recording"
        if self._legacy is not None and self._legacy.exists():
            shutil.rmtree(self._legacy)
        self._worker = threading.Thread(target=self._keep_up, name="journal", daemon=True)
        self._worker.start()
        return restored

    @staticmethod
    def _item_records(items: dict[str, dict[str, dict[str, Any]]]) -> Iterator[Record]:
        for table, stored in items.items():
            for key, item in stored.items():
                yield ["item", table, key, item]

    def _declared(self, store: dict[str, Any], type_name: str) -> dict[str, Any]:
        """What ``store`` keeps of resources the template still declares (the rest is dropped)."""
        declared = set(self._template.of_type(type_name))
        for dropped in set(store) - declared:
            del store[dropped]
        return store

    def _load_tables(self, restored: Restored) -> None:
        for table, items in self._declared(self._state.items, "AWS::DynamoDB::Table").items():
            moto_data.load_items(self._template.physical_name(table), list(items.values()))
            restored.tables[table] = len(items)
            restored.items += len(items)

    def _load_objects(self, restored: Restored) -> None:
        for bucket, objects in self._declared(self._state.objects, "AWS::S3::Bucket").items():
            for key, entry in list(objects.items()):
                blob = self._blobs / entry["sha256"]
                if not blob.exists() or _digest(Pieces.of_file(blob)) != entry["sha256"]:
                    log.warning("object %s in %s has lost its bytes (%s); it is not restored", key, bucket, blob)
                    del objects[key]
                    continue
                moto_data.load_object(self._template.physical_name(bucket), key, blob, entry["headers"])
                restored.objects += 1

    def _load_messages(self, restored: Restored) -> None:
        for queue, messages in self._declared(self._state.messages, "AWS::SQS::Queue").items():
            bodies = list(messages.values())
            ids = moto_data.load_messages(self._template.physical_name(queue), bodies)
            self._state.messages[queue] = dict(zip(ids, bodies, strict=True))  # new ids, same order
            restored.messages += len(bodies)

    # ---- compaction ----

    def _start_generation(self) -> None:
        """A new, empty journal for every write from now on (called under the lock)."""
        self._generation += 1
        path = self.directory / f"journal-{self._generation}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
        self._fd = fd
        self._journal_bytes = 0

    def _write_base(self, items: Iterator[Record], state: _State) -> None:
        """The base of the current generation: ``items``, and the objects and messages of ``state`` (as of
        the generation's start); then the older files go.

        Items may be read from moto after the generation started, so a base can hold a change its
        journal holds too. Replaying it again is harmless: every record is a whole item, object or
        message, or its removal, so the journal's later line gives the same end state."""
        generation = self._generation
        scratch = self.directory / f"base-{generation}.jsonl.tmp"
        size = 0
        with scratch.open("wb") as handle:
            size += handle.write(_line([["format", FORMAT, generation]]))
            batch: list[Record] = []
            for record in itertools.chain(items, state.records()):
                batch.append(record)
                if len(batch) == BASE_LINE_RECORDS:
                    size += handle.write(_line(batch))
                    batch = []
            if batch:
                size += handle.write(_line(batch))
            handle.flush()
            os.fsync(handle.fileno())
        scratch.replace(self.directory / f"base-{generation}.jsonl")
        self._sync_directory()
        self._base_bytes = size
        for kind in ("base", "journal"):
            for number, path in self._files(kind).items():
                if number < generation:
                    path.unlink(missing_ok=True)
        for stale in self.directory.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        self._collect_garbage(state)

    def _sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _collect_garbage(self, state: _State) -> None:
        if not self._blobs.is_dir():
            return
        with self._lock:
            used = state.blobs() | self._state.blobs()  # and any a newer line names
            for blob in self._blobs.iterdir():
                if blob.name not in used and not blob.name.endswith(".tmp"):
                    blob.unlink(missing_ok=True)

    def _moto_items(self) -> Iterator[Record]:
        for table in self._template.of_type("AWS::DynamoDB::Table"):
            try:
                items = moto_data.table_items(self._template.physical_name(table))
            except moto_data.NoSuchTable:  # deleted with the stack
                continue
            for key, item in items:
                yield ["item", table, _canonical(key), item]

    def compact(self) -> None:
        """Write the data to a new base and drop the journal before it; writes go on meanwhile."""
        with self._compacting:
            with self._lock:
                if self._fd is None:
                    return
                self._start_generation()
                state = self._state.copy()
            self._write_base(self._moto_items(), state)

    def sync(self) -> None:
        with self._lock:
            if self._fd is not None and self._unsynced:
                os.fsync(self._fd)
                self._unsynced = False

    def _keep_up(self) -> None:
        while self._mode == "recording":
            if self._wake.wait(SYNC_SECONDS):
                self._wake.clear()
                try:
                    self.compact()
                except Exception:
                    log.exception("compacting the local data failed; the journal keeps growing until it works")
            with contextlib.suppress(OSError):
                self.sync()

    def close(self) -> None:
        """Flush and close; later changes are not saved (the stack is stopping)."""
        with self._compacting, self._lock:
            if self._mode == "recording":
                self._mode = "closed"
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None
        self._wake.set()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=5)
