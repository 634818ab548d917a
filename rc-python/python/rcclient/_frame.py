"""``to_dataframe``: changes as a pandas DataFrame (pandas is optional)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import pandas  # type: ignore[import-untyped,unused-ignore]  # typed with pandas-stubs

    from ._rcclient import RecentChange

_BOOL_FIELDS = {
    "bot",
    "minor",
    "anon",
    "redirect",
    "comment_hidden",
    "user_hidden",
    "action_hidden",
    "suppressed",
    "replayed",
}

_INT_FIELDS = {
    "rcid",
    "namespace",
    "page_id",
    "rev_id",
    "old_rev_id",
    "user_id",
    "old_len",
    "new_len",
    "log_id",
    "size_delta",
}


def to_dataframe(
    changes: "Iterable[RecentChange]", columns: Optional[Sequence[str]] = None
) -> "pandas.DataFrame":
    """The changes as a pandas DataFrame, one row per change.

    Columns are the contract's fields (``rcclient.FIELDS``) plus ``size_delta`` and
    ``room``, or ``columns`` if given (any attribute name). Integer columns use pandas'
    nullable ``Int64`` (absent is ``<NA>``), ``timestamp`` is ``datetime64[ns, UTC]``,
    ``tags`` holds lists and ``log_params`` / ``extra`` dicts.

    Needs pandas (``pip install pandas``); raises ImportError saying so otherwise.
    Objects that are not RecentChange (e.g. errors yielded with ``errors="yield"``) are
    left out.
    """
    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover - exercised only without pandas
        raise ImportError(
            "rcclient.to_dataframe needs pandas, which is not installed: "
            "pip install pandas (or pip install 'recentchanges[pandas]')"
        ) from e
    from ._rcclient import FIELDS, RecentChange

    rows = [c for c in changes if isinstance(c, RecentChange)]
    names = list(columns) if columns is not None else [*FIELDS, "size_delta", "room"]
    data: "dict[str, Any]" = {}
    for name in names:
        values = [getattr(rc, name) for rc in rows]
        if name in _INT_FIELDS:
            data[name] = pd.array(values, dtype="Int64")
        elif name in _BOOL_FIELDS:
            data[name] = pd.array(values, dtype="bool")
        elif name == "timestamp":
            data[name] = pd.to_datetime(pd.Series(values, dtype="object"), utc=True)
        else:
            data[name] = pd.Series(values, dtype="object") if values else pd.Series([], dtype="object")
    return pd.DataFrame(data, columns=names)
