"""A moto DynamoDB table's items kept in the order moto sorts them, per index, as they change.

moto 5.2.5 answers a ``Query`` or a paged ``Scan`` by sorting every item of the table, so one page of
20 costs as much as the whole table; at 100,000 comments that is most of a second. DynamoDB reads
only the items a request returns (DynamoDB developer guide, "Query operations": a query reads one
partition's items in sort key order). :class:`TableOrder` keeps each index's entries sorted, so a
request finds where its page starts by bisection and hands moto just that page, plus the item after
it. moto then answers from those items with its own rules (conditions, ``Limit``, ``LastEvaluatedKey``,
filters, projections); only the choice of candidates is ours.

Orders are kept for key attributes of type S and N, which moto orders by value as DynamoDB does, and
for indexes with one partition key and one sort key. Anything else (binary keys, which moto orders by
their base64 text; multi-attribute keys; an item whose index key has another type) is left to moto.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedList

ORDERED_TYPES = frozenset({"S", "N"})

Entry = tuple[Any, ...]
PrimaryKey = tuple[Any, Any]


class _Above:
    """Sorts after every value: ``(h, v, ABOVE)`` comes after every entry that begins with ``(h, v)``."""

    def __lt__(self, other: object) -> bool:
        return False

    def __le__(self, other: object) -> bool:
        return other is self

    def __gt__(self, other: object) -> bool:
        return other is not self

    def __ge__(self, other: object) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return id(self)


ABOVE = _Above()


class Unordered(Exception):
    """A key value this order cannot place as moto would."""


@dataclass
class Ordering:
    """One index (or the table itself, ``name`` None) sorted as moto sorts it: the index's partition and
    sort keys, then the table's own keys, which make every entry unique."""

    name: str | None
    attributes: tuple[str, ...]
    types: tuple[str, ...]
    primary: tuple[int, int | None]  # where the table's hash and range values sit in an entry
    entries: SortedList = field(default_factory=SortedList)
    where: dict[PrimaryKey, Entry] = field(default_factory=dict)
    exact: bool = True  # False once an item could not be placed: moto answers this index itself

    def entry(self, attributes: Mapping[str, Any]) -> Entry | None:
        """The item's entry, or None when the item is not in this index (a key attribute missing)."""
        values = []
        for name, kind in zip(self.attributes, self.types, strict=True):
            value = attributes.get(name)
            if value is None:
                return None
            if value.type != kind:
                raise Unordered(f"{name} is {value.type}, the index orders {kind}")
            values.append(value.cast_value)
        return tuple(values)

    def start_entry(self, key: Mapping[str, Any]) -> Entry | None:
        """An ``ExclusiveStartKey`` (DynamoDB JSON) as an entry; None when it lacks a key attribute."""
        from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415 - moto only where a stack runs

        try:
            return self.entry({name: DynamoType(key[name]) for name in self.attributes if name in key})
        except (Unordered, KeyError, TypeError, AttributeError):
            return None

    def primary_key(self, entry: Entry) -> PrimaryKey:
        hash_at, range_at = self.primary
        return entry[hash_at], None if range_at is None else entry[range_at]

    def put(self, key: PrimaryKey, attributes: Mapping[str, Any]) -> None:
        try:
            entry = self.entry(attributes)
        except Unordered:
            self.exact = False
            return
        if entry is not None:
            self.entries.add(entry)
            self.where[key] = entry

    def discard(self, key: PrimaryKey) -> None:
        entry = self.where.pop(key, None)
        if entry is not None:
            self.entries.remove(entry)


def _type_of(table: Any, name: str) -> str | None:
    return next((a["AttributeType"] for a in table.attr if a["AttributeName"] == name), None)


def orderings_of(table: Any) -> list[Ordering]:
    """The orders kept for a moto table: itself, and each index with one partition and one sort key."""
    table_keys = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    found = []
    candidates: list[tuple[str | None, list[str]]] = [(None, table_keys)]
    for index in table.all_indexes():
        hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        if len(hashes) == 1 and len(ranges) == 1:
            candidates.append((index.name, hashes + ranges + table_keys))
    for name, attributes in candidates:
        types = tuple(_type_of(table, attribute) or "" for attribute in attributes)
        if not set(types) <= ORDERED_TYPES:
            continue
        hash_at = len(attributes) - len(table_keys)
        primary = (hash_at, hash_at + 1 if table.range_key_attr else None)
        found.append(Ordering(name, tuple(attributes), types, primary))
    return found


def _items_of(table: Any) -> Iterable[Any]:
    for stored in list(table.items.values()):
        if table.range_key_attr:
            yield from list(stored.values())
        else:
            yield stored


class TableOrder:
    """Every kept order of one moto table, and its items by primary key."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.orderings = {ordering.name: ordering for ordering in orderings_of(table)}
        self.items: dict[PrimaryKey, Any] = {}
        for item in _items_of(table):
            self._put(item)

    @staticmethod
    def key_of(hash_key: Any, range_key: Any) -> PrimaryKey:
        return hash_key.cast_value, None if range_key is None else range_key.cast_value

    def _put(self, item: Any) -> None:
        key = self.key_of(item.hash_key, item.range_key)
        self.items[key] = item
        for ordering in self.orderings.values():
            ordering.put(key, item.attrs)

    def refresh(self, hash_key: Any, range_key: Any) -> Any:
        """Re-read one item after a write (it may be new, changed, moved between partitions or gone);
        returns it, or None."""
        key = self.key_of(hash_key, range_key)
        self.items.pop(key, None)
        for ordering in self.orderings.values():
            ordering.discard(key)
        item = self.table.get_item(hash_key, range_key)
        if item is not None:
            self._put(item)
        return item

    def _usable(self, index_name: str | None) -> Ordering | None:
        ordering = self.orderings.get(index_name)
        return ordering if ordering is not None and ordering.exact else None

    def query_window(
        self,
        index_name: str | None,
        *,
        hash_name: str,
        hash_key: Any,
        condition: tuple[str, str, list[Any]] | None,
        start_key: Mapping[str, Any] | None,
        forward: bool,
        limit: int | None,
    ) -> list[Any] | None:
        """The items a query may read: its partition, narrowed by its sort key condition, after its
        start key, ``limit`` of them and the partition's next one; None when moto must answer it alone."""
        ordering = self._usable(index_name)
        if ordering is None or ordering.attributes[0] != hash_name or hash_key.type != ordering.types[0]:
            return None
        entries = ordering.entries
        partition = hash_key.cast_value
        whole = entries.bisect_left((partition,)), entries.bisect_left((partition, ABOVE))
        bounds: tuple[int, int] | None = whole
        if condition is not None:
            bounds = self._condition_bounds(ordering, partition, condition, *whole)
        if bounds is None:
            return None
        return self._window(ordering, bounds, whole, start_key=start_key, forward=forward, limit=limit)

    def scan_window(
        self, index_name: str | None, *, start_key: Mapping[str, Any] | None, limit: int | None
    ) -> list[Any] | None:
        """The items a scan page may read: those after its start key, ``limit`` of them and the one after."""
        ordering = self._usable(index_name)
        if ordering is None:
            return None
        whole = (0, len(ordering.entries))
        return self._window(ordering, whole, whole, start_key=start_key, forward=True, limit=limit)

    def _window(
        self,
        ordering: Ordering,
        bounds: tuple[int, int],
        whole: tuple[int, int],
        *,
        start_key: Mapping[str, Any] | None,
        forward: bool,
        limit: int | None,
    ) -> list[Any] | None:
        entries = ordering.entries
        low, high = bounds
        if start_key is not None:
            start = ordering.start_entry(start_key)
            if start is None:
                return None
            if forward:
                low = max(low, entries.bisect_right(start))
            else:
                high = min(high, entries.bisect_left(start))
        if limit is not None:
            # The page, and the partition's next item whatever it is: moto gives a LastEvaluatedKey when
            # the page is full and any item of the partition follows it.
            if forward:
                high = min(high, low + int(limit))
                if high - low == int(limit) and high < whole[1]:
                    high += 1
            else:
                low = max(low, high - int(limit))
                if high - low == int(limit) and low > whole[0]:
                    low -= 1
        if low >= high:
            return []
        return [self.items[ordering.primary_key(entry)] for entry in entries.islice(low, high)]

    @staticmethod
    def _condition_bounds(
        ordering: Ordering, partition: Any, condition: tuple[str, str, list[Any]], low: int, high: int
    ) -> tuple[int, int] | None:
        """The positions a sort key condition keeps: they are contiguous for every condition a key
        condition expression allows (=, <, <=, >, >=, BETWEEN, begins_with)."""
        name, comparison, operands = condition
        if len(ordering.attributes) < 2 or ordering.attributes[1] != name:
            return None
        if any(operand.type != ordering.types[1] for operand in operands):
            return None
        values = [operand.cast_value for operand in operands]
        entries = ordering.entries

        def at_least(value: Any) -> int:
            return max(low, min(high, int(entries.bisect_left((partition, value)))))

        def after(value: Any) -> int:
            return max(low, min(high, int(entries.bisect_left((partition, value, ABOVE)))))

        def prefixed(prefix: Any) -> tuple[int, int] | None:
            if not isinstance(prefix, str):
                return None
            first = end_low = at_least(prefix)
            end_high = high  # the values that begin with the prefix follow it directly; find where they end
            while end_low < end_high:
                middle = (end_low + end_high) // 2
                if str(entries[middle][1]).startswith(prefix):
                    end_low = middle + 1
                else:
                    end_high = middle
            return first, end_low

        bounds: dict[str, Callable[[], tuple[int, int] | None]] = {
            "=": lambda: (at_least(values[0]), after(values[0])),
            "<": lambda: (low, at_least(values[0])),
            "<=": lambda: (low, after(values[0])),
            ">": lambda: (after(values[0]), high),
            ">=": lambda: (at_least(values[0]), high),
            "BETWEEN": lambda: (at_least(values[0]), after(values[1])),
            "BEGINS_WITH": lambda: prefixed(values[0]),
        }
        operator = {"EQ": "=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}.get(comparison.upper(), comparison.upper())
        found = bounds.get(operator)
        return None if found is None else found()
