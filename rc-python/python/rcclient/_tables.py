"""Changes as typed Arrow tables and polars frames (pyarrow and polars are optional).

One column list, :data:`COLUMNS`, defines the table: :func:`arrow_schema` and
:func:`polars_schema` map it to each library's types, and :func:`to_arrow`,
:func:`arrow_stream` and :func:`to_polars` fill it. None of them imports pandas.

======================  ==============================  =================  ==========
column                  Arrow type                      polars dtype       null
======================  ==============================  =================  ==========
kind, patrolled         dictionary<int32, string>       Categorical        never
rcid, page_id, rev_id,  int64                           Int64              if absent
old_rev_id, user_id,
old_len, new_len,
log_id, size_delta,
offset
namespace, partition    int32                           Int32              if absent
timestamp, sent_at      timestamp[us, tz=UTC]           Datetime(us, UTC)  if absent
the flags (bot, minor,  bool                            Boolean            never
anon, redirect,
comment_hidden,
user_hidden,
action_hidden,
suppressed, replayed)
tags                    list<string>                    List(String)       never
log_params, extra       string (JSON object, "{}")      String             never
every other column      string                          String             if absent
======================  ==============================  =================  ==========

Column order: the contract's fields (``rcclient.FIELDS``), ``size_delta``, then the
delivery columns ``room``, ``stanza_id``, ``replayed``, ``sent_at`` and EventStreams'
``stream``, ``topic``, ``partition``, ``offset``, ``event_id``.
"""

from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

if TYPE_CHECKING:  # pragma: no cover - private names: never bound at runtime
    import polars as _pl  # type: ignore[import-not-found,unused-ignore]
    import pyarrow as _pa  # type: ignore[import-untyped,import-not-found,unused-ignore]

    from ._rcclient import RecentChange

# Logical types of the columns; arrow_schema() and polars_schema() map them.
STRING = "string"
CATEGORY = "category"
INT64 = "int64"
INT32 = "int32"
BOOL = "bool"
TIMESTAMP = "timestamp"
STRING_LIST = "list<string>"
JSON = "json"

_NOT_NULL = {BOOL, CATEGORY, STRING_LIST, JSON}

COLUMNS: Tuple[Tuple[str, str], ...] = (
    # the contract's fields, in rcclient.FIELDS' order
    ("kind", CATEGORY),
    ("rcid", INT64),
    ("wiki", STRING),
    ("namespace", INT32),
    ("title", STRING),
    ("page_id", INT64),
    ("rev_id", INT64),
    ("old_rev_id", INT64),
    ("user", STRING),
    ("user_id", INT64),
    ("bot", BOOL),
    ("minor", BOOL),
    ("anon", BOOL),
    ("redirect", BOOL),
    ("patrolled", CATEGORY),
    ("old_len", INT64),
    ("new_len", INT64),
    ("timestamp", TIMESTAMP),
    ("comment", STRING),
    ("parsed_comment", STRING),
    ("tags", STRING_LIST),
    ("sha1", STRING),
    ("log_id", INT64),
    ("log_type", STRING),
    ("log_action", STRING),
    ("log_params", JSON),
    ("log_action_comment", STRING),
    ("server_url", STRING),
    ("server_name", STRING),
    ("script_path", STRING),
    ("url", STRING),
    ("entry_id", STRING),
    ("comment_hidden", BOOL),
    ("user_hidden", BOOL),
    ("action_hidden", BOOL),
    ("suppressed", BOOL),
    ("extra", JSON),
    # derived
    ("size_delta", INT64),
    # delivery: XMPP rooms and PubSub nodes, the URL polled...
    ("room", STRING),
    ("stanza_id", STRING),
    ("replayed", BOOL),
    ("sent_at", TIMESTAMP),
    # delivery: EventStreams' meta
    ("stream", STRING),
    ("topic", STRING),
    ("partition", INT32),
    ("offset", INT64),
    ("event_id", STRING),
)
"""The table's columns as ``(name, logical type)``, in order: the one definition the
Arrow schema and the polars schema are made from."""

_TYPES: Dict[str, str] = dict(COLUMNS)


def _import_pyarrow(what: str) -> Any:
    try:
        import pyarrow  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError as e:
        raise ImportError(
            f"rcclient.{what} needs pyarrow, which is not installed: "
            "pip install 'recentchanges[arrow]' (or pip install pyarrow)"
        ) from e
    return pyarrow


def _import_polars(what: str) -> Any:
    try:
        import polars  # type: ignore[import-not-found,unused-ignore]
    except ImportError as e:
        raise ImportError(
            f"rcclient.{what} needs polars, which is not installed: "
            "pip install 'recentchanges[polars]' (or pip install polars)"
        ) from e
    return polars


def _column_names(columns: Optional[Sequence[str]]) -> List[str]:
    if columns is None:
        return [name for name, _ in COLUMNS]
    names = list(columns)
    unknown = [n for n in names if n not in _TYPES]
    if unknown:
        raise ValueError(
            f"unknown column(s) {unknown!r}; the columns are those of rcclient.arrow_schema()"
        )
    return names


def arrow_schema(columns: Optional[Sequence[str]] = None) -> "_pa.Schema":
    """The ``pyarrow.Schema`` of :func:`to_arrow`'s tables (of ``columns`` if given).

    Timestamps are ``timestamp[us, tz=UTC]``; ids, sizes and offsets ``int64``,
    ``namespace`` and ``partition`` ``int32``, null where the change does not carry them;
    the flags ``bool``; ``kind`` and ``patrolled`` dictionary-encoded strings; ``tags``
    ``list<string>``; ``log_params`` and ``extra`` JSON text; the rest strings. Fields
    that are never null are marked ``nullable=False``. Needs pyarrow.
    """
    pa = _import_pyarrow("arrow_schema")
    types = {
        STRING: pa.string(),
        CATEGORY: pa.dictionary(pa.int32(), pa.string()),
        INT64: pa.int64(),
        INT32: pa.int32(),
        BOOL: pa.bool_(),
        TIMESTAMP: pa.timestamp("us", tz="UTC"),
        STRING_LIST: pa.list_(pa.string()),
        JSON: pa.string(),
    }
    return pa.schema(
        [
            pa.field(name, types[_TYPES[name]], nullable=_TYPES[name] not in _NOT_NULL)
            for name in _column_names(columns)
        ]
    )


def polars_schema(columns: Optional[Sequence[str]] = None) -> "_pl.Schema":
    """The ``polars.Schema`` of :func:`to_polars`'s frames (of ``columns`` if given): the
    same columns as :func:`arrow_schema`, as ``Int64`` / ``Int32``, ``Boolean``,
    ``Datetime("us", "UTC")``, ``Categorical``, ``List(String)`` and ``String``. Needs
    polars (not pyarrow)."""
    pl = _import_polars("polars_schema")
    types = {
        STRING: pl.String(),
        CATEGORY: pl.Categorical(),
        INT64: pl.Int64(),
        INT32: pl.Int32(),
        BOOL: pl.Boolean(),
        TIMESTAMP: pl.Datetime("us", "UTC"),
        STRING_LIST: pl.List(pl.String()),
        JSON: pl.String(),
    }
    schema: _pl.Schema = pl.Schema([(name, types[_TYPES[name]]) for name in _column_names(columns)])
    return schema


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _changes(changes: "Iterable[Any]") -> "Iterator[RecentChange]":
    from ._rcclient import RecentChange

    return (c for c in changes if isinstance(c, RecentChange))


def _values(rows: "Sequence[RecentChange]", names: Sequence[str]) -> Dict[str, List[Any]]:
    """Column name -> Python values, ready for either library (JSON columns as text)."""
    data: Dict[str, List[Any]] = {}
    for name in names:
        if _TYPES[name] == JSON:
            data[name] = [_json(getattr(rc, name)) for rc in rows]
        else:
            data[name] = [getattr(rc, name) for rc in rows]
    return data


def _record_batch(pa: Any, schema: Any, rows: "Sequence[RecentChange]") -> Any:
    arrays = []
    for field, values in zip(schema, _values(rows, schema.names).values()):
        if pa.types.is_dictionary(field.type):
            arrays.append(pa.array(values, type=pa.string()).dictionary_encode())
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def to_arrow(changes: "Iterable[Any]", columns: Optional[Sequence[str]] = None) -> "_pa.Table":
    """The changes as a ``pyarrow.Table``, one row per change, typed by
    :func:`arrow_schema` (``columns`` picks and orders a subset of its columns).

    The table implements the Arrow PyCapsule stream interface (``__arrow_c_stream__``), so
    polars (``pl.DataFrame(table)``), DuckDB and other Arrow readers take it without a
    copy. Items that are not RecentChange (errors yielded with ``errors="yield"``) are
    left out. Needs pyarrow (``pip install 'recentchanges[arrow]'``); raises ImportError
    saying so otherwise.
    """
    pa = _import_pyarrow("to_arrow")
    schema = arrow_schema(columns)
    batch = _record_batch(pa, schema, list(_changes(changes)))
    return pa.Table.from_batches([batch], schema=schema)


def arrow_stream(
    changes: "Iterable[Any]",
    columns: Optional[Sequence[str]] = None,
    batch_size: int = 10_000,
) -> "_pa.RecordBatchReader":
    """The changes as a ``pyarrow.RecordBatchReader`` read lazily, ``batch_size`` changes
    per record batch, typed by :func:`arrow_schema`: for more changes than should be held
    as Python objects at once (``rcclient.arrow_stream(itertools.islice(source, 10**6))``).

    The reader implements ``__arrow_c_stream__``: polars, DuckDB or
    ``pyarrow.dataset.write_dataset`` consume it batch by batch, once. Needs pyarrow.
    """
    pa = _import_pyarrow("arrow_stream")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    schema = arrow_schema(columns)
    items = _changes(changes)

    def batches() -> Iterator[Any]:
        while True:
            rows = list(itertools.islice(items, batch_size))
            if not rows:
                return
            yield _record_batch(pa, schema, rows)

    return pa.RecordBatchReader.from_batches(schema, batches())


def to_polars(changes: "Iterable[Any]", columns: Optional[Sequence[str]] = None) -> "_pl.DataFrame":
    """The changes as a ``polars.DataFrame`` with :func:`polars_schema`'s dtypes
    (``columns`` picks and orders a subset).

    Built from :func:`to_arrow`'s table when pyarrow is installed, otherwise straight
    from Python values with the explicit polars schema; the dtypes are the same either
    way, and pandas is never needed. Needs polars (``pip install
    'recentchanges[polars]'``); raises ImportError saying so otherwise.
    """
    pl = _import_polars("to_polars")
    frame: _pl.DataFrame
    try:
        import pyarrow  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        names = _column_names(columns)
        rows = list(_changes(changes))
        frame = pl.DataFrame(_values(rows, names), schema=polars_schema(names))
    else:
        frame = pl.from_arrow(to_arrow(changes, columns))  # a Table gives a DataFrame
    return frame
