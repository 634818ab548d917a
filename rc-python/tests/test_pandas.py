"""to_dataframe (skipped only where pandas is not installed)."""

from __future__ import annotations

import pytest

import rcclient
from test_parse import FILES


def test_to_dataframe():
    pd = pytest.importorskip("pandas")
    changes = rcclient.parse_many(f.read_bytes() for f in FILES)
    df = rcclient.to_dataframe(changes)
    assert len(df) == len(changes)
    assert list(df.columns) == [*rcclient.FIELDS, "size_delta", "room"]
    assert str(df["timestamp"].dt.tz) == "UTC"
    assert df["rcid"].dtype == "Int64" and df["bot"].dtype == bool
    assert df["size_delta"].isna().sum() > 0, "absent is NA"
    counts = df.groupby("user").size()
    assert counts["Admin"] == sum(1 for rc in changes if rc.user == "Admin")
    assert df.loc[0, "title"] == changes[0].title
    small = rcclient.to_dataframe(changes[:3], columns=["title", "kind"])
    assert list(small.columns) == ["title", "kind"] and len(small) == 3
    assert len(rcclient.to_dataframe([])) == 0


def test_to_dataframe_without_pandas_says_so(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pandas(name, *args, **kwargs):
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pandas)
    with pytest.raises(ImportError, match="pip install pandas"):
        rcclient.to_dataframe([])
