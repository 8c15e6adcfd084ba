"""DynamoDB where moto 5.2.5 does otherwise:

- writes are isolated from each other: moto undoes a failed transaction by putting back a copy of each
  table it touched, which would also undo any write another request made meanwhile (a concurrent
  ``PutItem``, or half of another transaction), so writes and transactions take turns (developer guide,
  "Isolation levels for DynamoDB transactions",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-isolation);
- a ``Query`` refuses an ``ExclusiveStartKey`` that is not a key of the table or index queried, or that
  lies in another partition than the key condition's (API reference, Query,
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html);
- requests cost what they touch, not what the table holds: a failed transaction puts back its own items
  instead of a deep copy of each table, and a ``Query`` or a paged ``Scan`` reads its page from indexes
  kept in order (:mod:`sentiment_local.moto.dynamodb_order`) instead of sorting the table (developer guide,
  "Query operations": a query reads one partition's items in sort key order,
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.html);
- every write is reported to the journal (:class:`~sentiment_local.moto.changes.ChangeSink`).
"""

from __future__ import annotations

import copy
import inspect
import threading
from collections.abc import Callable
from typing import Any

from sentiment_local.moto.changes import ChangeSink
from sentiment_local.moto.dynamodb_order import TableOrder
from sentiment_local.moto.patching import Patches

DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items")


ORDER_ATTRIBUTE = "_local_stack_order"  # a table's TableOrder, kept on moto's table itself


DYNAMODB_STATEMENTS = ("execute_statement", "execute_transaction", "batch_execute_statement")


class _KeepTables:
    """``copy`` as moto's DynamoDB backend sees it: a table is not deep-copied. moto copies each table a
    transaction touches, to put the whole table back if the transaction fails; the gap below puts back
    the items the transaction touched instead."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table  # noqa: PLC0415

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


class _Window:
    """A moto table as one request sees it: only the items the request may read (moto sorts them)."""

    def __init__(self, table: Any, items: list[Any]) -> None:
        self._table = table
        self._items = items

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list[Any]:
        return list(self._items)

    def has_idx_items(self, index_name: str) -> list[Any]:
        del index_name
        return list(self._items)


def _written_key(table: Any, attributes: Any) -> tuple[Any, Any] | None:
    """The primary key a write names (an item's or a key's attributes), as moto's key values."""
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    if not isinstance(attributes, dict) or table.hash_key_attr not in attributes:
        return None
    if table.range_key_attr is None:
        return DynamoType(attributes[table.hash_key_attr]), None
    if table.range_key_attr not in attributes:
        return None
    return DynamoType(attributes[table.hash_key_attr]), DynamoType(attributes[table.range_key_attr])


class _DynamoDBGaps:
    """Three gaps of moto's DynamoDB, and its change feed.

    - Isolation: DynamoDB's transactions are isolated from other writes (DynamoDB developer guide,
      "Isolation levels for DynamoDB transactions"). moto's rollback is not, so writes take turns, and
      reads take turns with them (moto iterates a table's dicts while another request may change them).
    - A failed transaction puts back the items it touched, not a deep copy of every table it touched:
      its cost is that of its own items, not of the tables.
    - ``Query`` and paged ``Scan`` read only the page they return (:mod:`sentiment_local.moto.dynamodb_order`).
    """

    def __init__(self, changes: ChangeSink | None) -> None:
        from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
        from moto.dynamodb.models.table import Table  # noqa: PLC0415

        self.changes = changes
        self.turn = threading.RLock()
        self.transaction = threading.local()  # its items are reported together, once it succeeded or was undone
        self._transact = DynamoDBBackend.transact_write_items
        self._query = Table.query
        self._scan = Table.scan
        self._query_signature = inspect.signature(Table.query)
        self._scan_signature = inspect.signature(Table.scan)

    @staticmethod
    def order_of(table: Any) -> TableOrder:
        order: TableOrder | None = vars(table).get(ORDER_ATTRIBUTE)
        if order is None:
            order = TableOrder(table)
            setattr(table, ORDER_ATTRIBUTE, order)
        return order

    def report(self, table: Any, keys: list[tuple[Any, Any]]) -> None:
        order = self.order_of(table)
        found = []
        for hash_key, range_key in keys:
            item = order.refresh(hash_key, range_key)
            key = {table.hash_key_attr: hash_key.to_json()}
            if range_key is not None:
                key[table.range_key_attr] = range_key.to_json()
            found.append((key, None if item is None else item.to_json()["Attributes"]))
        if self.changes is not None and found:
            self.changes.items_changed(table.name, found)

    def report_whole(self, table: Any) -> None:
        """Any item may have changed: order the table again on first use, and say so."""
        vars(table).pop(ORDER_ATTRIBUTE, None)
        if self.changes is not None:
            self.changes.table_changed(table.name)

    @staticmethod
    def table_of(backend: Any, name: Any) -> Any:
        try:
            return backend.get_table(str(name))
        except Exception:  # moto answers the request with its own error
            return None

    def single_write(self, write: Callable[..., Any], attributes_name: str) -> Callable[..., Any]:
        """``put_item``, ``update_item`` or ``delete_item``: ``(table_name, attributes or key, ...)``."""

        def written(backend: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
            with self.turn:
                table = self.table_of(backend, table_name)
                attributes = args[0] if args else kwargs.get(attributes_name)
                key = None if table is None else _written_key(table, attributes)
                try:
                    return write(backend, table_name, *args, **kwargs)
                finally:
                    if getattr(self.transaction, "open", False):
                        pass
                    elif key is not None:
                        self.report(table, [key])
                    elif table is not None:  # a key moto reads its own way
                        self.report_whole(table)

        return written

    def transact_write_items(self, backend: Any, transact_items: list[dict[str, Any]]) -> None:
        with self.turn:
            touched: dict[str, tuple[Any, list[tuple[Any, Any]]]] = {}
            before: list[tuple[Any, Any, Any, Any]] = []
            for entry in transact_items:
                for operation, request in entry.items():
                    table = self.table_of(backend, request.get("TableName"))
                    named = request.get("Item" if operation == "Put" else "Key")
                    key = None if table is None else _written_key(table, named)
                    if key is None:
                        continue
                    touched.setdefault(table.name, (table, []))[1].append(key)
                    before.append((table, *key, copy.deepcopy(table.get_item(*key))))
            self.transaction.open = True
            try:
                self._transact(backend, transact_items)
            except BaseException:
                for table, hash_key, range_key, item in reversed(before):
                    _put_back(table, hash_key, range_key, item)
                raise
            finally:
                self.transaction.open = False
                for table, keys in touched.values():
                    self.report(table, keys)

    def statement(self, run: Callable[..., Any]) -> Callable[..., Any]:
        """A PartiQL call, which names its tables in its own text: every table may have changed."""

        def ran(backend: Any, *args: Any, **kwargs: Any) -> Any:
            with self.turn:
                try:
                    return run(backend, *args, **kwargs)
                finally:
                    for table in list(backend.tables.values()):
                        self.report_whole(table)

        return ran

    def query(self, table: Any, *args: Any, **kwargs: Any) -> Any:
        """moto's ``Table.query`` on the query's window when the table's order can give it."""
        asked = self._query_signature.bind(table, *args, **kwargs)
        asked.apply_defaults()
        given = asked.arguments
        hash_conditions = given["hash_key_conditions"] or []
        range_conditions = given["range_key_conditions"] or []
        if given["exclusive_start_key"]:
            _check_start_key(table, given["index_name"], given["exclusive_start_key"], hash_conditions)
        with self.turn:
            window = None
            if len(hash_conditions) == 1 and not given["filter_kwargs"] and len(range_conditions) <= 1:
                window = self.order_of(table).query_window(
                    given["index_name"],
                    hash_name=hash_conditions[0][0],
                    hash_key=hash_conditions[0][1],
                    condition=range_conditions[0] if range_conditions and given["range_comparison"] else None,
                    start_key=given["exclusive_start_key"],
                    forward=given["scan_index_forward"] is not False,
                    limit=given["limit"],
                )
            return self._query(table if window is None else _Window(table, window), *args, **kwargs)  # type: ignore[arg-type]

    def scan(self, table: Any, *args: Any, **kwargs: Any) -> Any:
        """moto's ``Table.scan`` on the page's window when the table's order can give it."""
        asked = self._scan_signature.bind(table, *args, **kwargs)
        asked.apply_defaults()
        given = asked.arguments
        with self.turn:
            window = None
            if not given["filters"] and tuple(given["segments"]) == (None, None):
                window = self.order_of(table).scan_window(
                    given["index_name"], start_key=given["exclusive_start_key"], limit=given["limit"]
                )
            return self._scan(table if window is None else _Window(table, window), *args, **kwargs)  # type: ignore[arg-type]


# What DynamoDB answers a Query whose ExclusiveStartKey is not a key of the table or index queried, or lies
# in another partition than the key condition's (moto 5.2.5 ignores both and starts from the first item).
# The Query API reference, ExclusiveStartKey: "The primary key of the first item that this operation will
# evaluate. Use the value that was returned for LastEvaluatedKey in the previous operation."
# (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html); the messages are DynamoDB's.
START_KEY_INVALID = "The provided starting key is invalid"


START_KEY_OUTSIDE = "The provided starting key is outside query boundaries based on provided conditions"


def _check_start_key(
    table: Any, index_name: str | None, start_key: dict[str, Any], hash_conditions: list[tuple[str, Any]]
) -> None:
    """Refuse, as DynamoDB does, a start key that names other attributes than the table's key and the
    index's, or whose partition key is not the one the key condition asks for."""
    from moto.dynamodb.exceptions import MockValidationException  # noqa: PLC0415
    from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

    expected = set(table.table_key_attrs)
    if index_name:
        expected |= set(table.get_index(index_name).schema_key_attrs)
    if set(start_key) != expected:
        raise MockValidationException(START_KEY_INVALID)
    for name, value in hash_conditions:
        if DynamoType(start_key[name]) != value:
            raise MockValidationException(START_KEY_OUTSIDE)


def plug_dynamodb(patches: Patches, changes: ChangeSink | None) -> None:
    from moto.dynamodb import models as dynamodb_models  # noqa: PLC0415
    from moto.dynamodb.models import DynamoDBBackend  # noqa: PLC0415
    from moto.dynamodb.models.table import Table  # noqa: PLC0415

    gaps = _DynamoDBGaps(changes)
    # Functions, not the bound methods: set on a class, a function binds to the backend or the table.
    patches.set(dynamodb_models, "copy", _KeepTables())
    for name, attributes in (("put_item", "item_attrs"), ("update_item", "key"), ("delete_item", "key")):
        patches.set(DynamoDBBackend, name, gaps.single_write(getattr(DynamoDBBackend, name), attributes))
    transact = gaps.transact_write_items
    patches.set(DynamoDBBackend, "transact_write_items", lambda backend, items: transact(backend, items))  # noqa: PLW0108
    for name in DYNAMODB_STATEMENTS:
        patches.set(DynamoDBBackend, name, gaps.statement(getattr(DynamoDBBackend, name)))
    patches.set(Table, "query", lambda table, *args, **kwargs: gaps.query(table, *args, **kwargs))  # noqa: PLW0108
    patches.set(Table, "scan", lambda table, *args, **kwargs: gaps.scan(table, *args, **kwargs))  # noqa: PLW0108


def _put_back(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    """One item as it was before a failed transaction (None: it did not exist)."""
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items[hash_key].pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item
