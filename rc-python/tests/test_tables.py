"""to_arrow / arrow_stream / to_polars (typed tables, checked by schema) and progress, on
the changes recorded from a real MediaWiki 1.39. The Arrow and polars tests are skipped
where pyarrow or polars is not installed; the progress tests need neither."""

from __future__ import annotations

import builtins
import datetime as dt
import io
import json
import subprocess
import sys
import types

import pytest

import rcclient
from conftest import FIXTURES
from test_parse import FILES

UTC = dt.timezone.utc
INT64 = [
    *("rcid", "page_id", "rev_id", "old_rev_id", "user_id", "old_len", "new_len", "log_id"),
    *("size_delta", "offset"),
]
INT32 = ["namespace", "partition"]
FLAGS = [
    *("bot", "minor", "anon", "redirect", "comment_hidden", "user_hidden", "action_hidden"),
    *("suppressed", "replayed"),
]
DELIVERY = [
    *("room", "stanza_id", "replayed", "sent_at"),
    *("stream", "topic", "partition", "offset", "event_id"),
]
NOT_NULL = {*FLAGS, "kind", "patrolled", "tags", "log_params", "extra"}


@pytest.fixture(scope="module")
def changes():
    assert all(f.parent == FIXTURES for f in FILES)
    return [rcclient.parse(f.read_bytes()) for f in FILES]


def delivered(rc):
    """``rc`` as if received from EventStreams (room, event id, sent_at, Kafka position)."""
    return rcclient._rcclient._unpickle(
        rc.to_json(),
        room="https://stream.example/v2/stream/recentchange",
        stanza_id="evt-1",
        replayed=True,
        sent_at="2026-11-23T10:45:53Z",
        kafka=("mediawiki.recentchange", "eqiad.mediawiki.recentchange", 2, 12345),
    )


def expected(rc, name):
    """What a column holds for ``rc`` as Python values (JSON columns decoded)."""
    return getattr(rc, name)


def column_values(values, name):
    return [json.loads(v) for v in values] if name in ("log_params", "extra") else values


def hide_module(monkeypatch, *names):
    real_import = builtins.__import__

    def without(name, *args, **kwargs):
        if name.split(".")[0] in names:
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without)


# --- Arrow -------------------------------------------------------------------------------


def test_arrow_schema_is_typed():
    pa = pytest.importorskip("pyarrow")
    schema = rcclient.arrow_schema()
    assert schema.names == [*rcclient.FIELDS, "size_delta", *DELIVERY]
    assert schema.field("timestamp").type == pa.timestamp("us", tz="UTC")
    assert schema.field("sent_at").type == pa.timestamp("us", tz="UTC")
    for name in INT64:
        assert schema.field(name).type == pa.int64(), name
    for name in INT32:
        assert schema.field(name).type == pa.int32(), name
    for name in FLAGS:
        assert schema.field(name).type == pa.bool_(), name
    for name in ("kind", "patrolled"):
        assert schema.field(name).type == pa.dictionary(pa.int32(), pa.string()), name
    assert schema.field("tags").type == pa.list_(pa.string())
    for name in ("log_params", "extra", "title", "user", "wiki", "room", "event_id", "stream"):
        assert schema.field(name).type == pa.string(), name
    for field in schema:
        assert field.nullable == (field.name not in NOT_NULL), field.name
    assert rcclient.arrow_schema(["title", "timestamp"]).names == ["title", "timestamp"]
    with pytest.raises(ValueError, match="unknown column"):
        rcclient.arrow_schema(["title", "no_such_column"])


def test_to_arrow_holds_the_fixtures(changes):
    pa = pytest.importorskip("pyarrow")
    table = rcclient.to_arrow(changes)
    assert isinstance(table, pa.Table)
    assert table.schema == rcclient.arrow_schema()
    assert table.num_rows == len(changes) > 150
    for name in table.schema.names:
        got = column_values(table.column(name).to_pylist(), name)
        assert got == [expected(rc, name) for rc in changes], name
    # absent is null, not 0 or NaN; never-null columns have no nulls
    for name in ("old_rev_id", "size_delta", "log_id", "user_id", "sha1", "room", "sent_at"):
        absent = sum(getattr(rc, name) is None for rc in changes)
        assert table.column(name).null_count == absent > 0, name
    for name in NOT_NULL:
        assert table.column(name).null_count == 0, name
    assert table.column("timestamp").null_count == 0
    ts = table.column("timestamp").to_pylist()
    assert ts[0] == changes[0].timestamp and ts[0].utcoffset() == dt.timedelta(0)
    kinds = table.column("kind").combine_chunks().dictionary.to_pylist()
    assert set(kinds) == {"new", "edit", "log", "categorize"}
    patrolled = set(table.column("patrolled").to_pylist())
    assert patrolled == {"patrolled", "autopatrolled", "unpatrolled", "unknown"}
    assert any(table.column("tags").to_pylist()), "some change carries tags"
    assert any(json.loads(v) for v in table.column("log_params").to_pylist())


def test_to_arrow_delivery_columns(changes):
    pytest.importorskip("pyarrow")
    table = rcclient.to_arrow([delivered(changes[0]), changes[1]])
    row = table.to_pylist()[0]
    assert row["room"] == "https://stream.example/v2/stream/recentchange"
    assert (row["stream"], row["topic"], row["partition"], row["offset"]) == (
        "mediawiki.recentchange",
        "eqiad.mediawiki.recentchange",
        2,
        12345,
    )
    assert row["event_id"] == row["stanza_id"] == "evt-1" and row["replayed"] is True
    assert row["sent_at"] == dt.datetime(2026, 11, 23, 10, 45, 53, tzinfo=UTC)
    other = table.to_pylist()[1]
    assert all(other[n] is None for n in DELIVERY if n != "replayed") and other["replayed"] is False


def test_to_arrow_columns_empty_and_non_changes(changes):
    pa = pytest.importorskip("pyarrow")
    small = rcclient.to_arrow(changes[:3], columns=["title", "kind", "timestamp"])
    assert small.schema.names == ["title", "kind", "timestamp"] and small.num_rows == 3
    empty = rcclient.to_arrow([])
    assert empty.num_rows == 0 and empty.schema == rcclient.arrow_schema()
    with_errors = rcclient.to_arrow([changes[0], rcclient.NoPayload("a chat line"), changes[1]])
    assert with_errors.num_rows == 2, "errors yielded with errors='yield' are left out"
    none = pa.Table.from_batches(rcclient.arrow_stream([]), schema=rcclient.arrow_schema())
    assert none.num_rows == 0


def test_arrow_stream_is_lazy_and_batched(changes):
    pytest.importorskip("pyarrow")
    taken = []

    def source():
        for rc in changes:
            taken.append(rc)
            yield rc

    reader = rcclient.arrow_stream(source(), batch_size=50)
    assert reader.schema == rcclient.arrow_schema()
    assert taken == [], "nothing read before the first batch is asked for"
    first = reader.read_next_batch()
    assert first.num_rows == 50 and len(taken) == 50
    rest = reader.read_all()
    assert first.num_rows + rest.num_rows == len(changes)
    with pytest.raises(ValueError):
        rcclient.arrow_stream([], batch_size=0)


def test_without_pyarrow_says_so(monkeypatch):
    hide_module(monkeypatch, "pyarrow")
    for call in (rcclient.to_arrow, rcclient.arrow_stream):
        with pytest.raises(ImportError, match=r"pip install 'recentchanges\[arrow\]'"):
            call([])
    with pytest.raises(ImportError, match=r"recentchanges\[arrow\]"):
        rcclient.arrow_schema()


# --- the PyCapsule stream interface into polars ----------------------------------------


class CapsuleOnly:
    """Exposes nothing but ``__arrow_c_stream__``: the reader must go through the
    capsule, not recognise a pyarrow object."""

    def __init__(self, source):
        self._source = source

    def __arrow_c_stream__(self, requested_schema=None):
        return self._source.__arrow_c_stream__(requested_schema)


def test_pycapsule_round_trip_into_polars(changes):
    pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    table = rcclient.to_arrow(changes)
    assert hasattr(table, "__arrow_c_stream__")
    for frame in (
        pl.DataFrame(CapsuleOnly(table)),
        pl.DataFrame(CapsuleOnly(rcclient.arrow_stream(changes, batch_size=64))),
        pl.from_arrow(rcclient.arrow_stream(changes, batch_size=64)),
    ):
        assert frame.schema == rcclient.polars_schema()
        assert frame.height == len(changes)
        assert frame["timestamp"].to_list() == [rc.timestamp for rc in changes]
        assert frame["old_rev_id"].to_list() == [rc.old_rev_id for rc in changes]
        assert frame["kind"].cast(pl.String).to_list() == [rc.kind for rc in changes]


# --- polars ------------------------------------------------------------------------------


def test_polars_schema_is_typed():
    pl = pytest.importorskip("polars")
    schema = rcclient.polars_schema()
    assert list(schema.names()) == [*rcclient.FIELDS, "size_delta", *DELIVERY]
    assert schema["timestamp"] == pl.Datetime("us", "UTC")
    assert schema["sent_at"] == pl.Datetime("us", "UTC")
    assert all(schema[n] == pl.Int64 for n in INT64) and all(schema[n] == pl.Int32 for n in INT32)
    assert all(schema[n] == pl.Boolean for n in FLAGS)
    assert schema["kind"] == pl.Categorical and schema["patrolled"] == pl.Categorical
    assert schema["tags"] == pl.List(pl.String)
    assert schema["log_params"] == pl.String and schema["title"] == pl.String


def polars_checks(pl, frame, changes):
    assert frame.schema == rcclient.polars_schema()
    assert frame.height == len(changes)
    for name in frame.columns:
        values = frame[name].to_list()
        assert column_values(values, name) == [expected(rc, name) for rc in changes], name
    assert frame["old_rev_id"].null_count() == sum(rc.old_rev_id is None for rc in changes) > 0
    assert frame["bot"].null_count() == 0
    per_user = dict(frame.group_by("user").len().iter_rows())
    assert per_user["Admin"] == sum(rc.user == "Admin" for rc in changes)


def test_to_polars_from_arrow(changes):
    pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    polars_checks(pl, rcclient.to_polars(changes), changes)
    small = rcclient.to_polars(changes[:2], columns=["rcid", "timestamp"])
    assert small.columns == ["rcid", "timestamp"] and small.height == 2


def test_to_polars_without_pyarrow(changes, monkeypatch):
    pl = pytest.importorskip("polars")
    hide_module(monkeypatch, "pyarrow")
    frame = rcclient.to_polars(changes)
    polars_checks(pl, frame, changes)
    assert rcclient.to_polars([]).schema == rcclient.polars_schema()
    small = rcclient.to_polars(changes[:2], columns=["rcid", "timestamp"])
    assert small.schema == rcclient.polars_schema(["rcid", "timestamp"])


def test_to_polars_paths_agree(changes, monkeypatch):
    pytest.importorskip("pyarrow")
    pl = pytest.importorskip("polars")
    items = [delivered(changes[0]), *changes]
    through_arrow = rcclient.to_polars(items)
    hide_module(monkeypatch, "pyarrow")
    direct = rcclient.to_polars(items)
    assert direct.schema == through_arrow.schema
    for name in direct.columns:
        assert direct[name].to_list() == through_arrow[name].to_list(), name


def test_without_polars_says_so(monkeypatch):
    hide_module(monkeypatch, "polars")
    with pytest.raises(ImportError, match=r"pip install 'recentchanges\[polars\]'"):
        rcclient.to_polars([])


CHILD = r"""
import importlib.abc, json, sys

class NotInstalled(importlib.abc.MetaPathFinder):
    # as if pandas (and pyarrow for "no-pyarrow") were not installed
    hidden = {"pandas"} | ({"pyarrow"} if sys.argv[1] == "no-pyarrow" else set())

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.hidden:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, NotInstalled())
import rcclient
changes = [rcclient.parse(open(p, "rb").read()) for p in sys.argv[2:]]
out = {}
frame = rcclient.to_polars(changes)
out["polars"] = [frame.height, {k: str(v) for k, v in frame.schema.items()}]
out["polars_ok"] = frame.schema == rcclient.polars_schema()
try:
    table = rcclient.to_arrow(changes)
    out["arrow"] = [table.num_rows, str(table.schema.field("timestamp").type)]
except ImportError as e:
    out["arrow"] = str(e)
out["pandas_loaded"] = "pandas" in sys.modules
print(json.dumps(out))
"""


@pytest.mark.parametrize("mode", ["with-pyarrow", "no-pyarrow"])
def test_without_pandas(mode):
    pytest.importorskip("polars")
    if mode == "with-pyarrow":
        pytest.importorskip("pyarrow")
    files = [str(f) for f in FILES[:20]]
    run = subprocess.run(
        [sys.executable, "-c", CHILD, mode, *files], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["polars"][0] == 20 and out["polars_ok"], out
    assert out["polars"][1]["timestamp"] == "Datetime(time_unit='us', time_zone='UTC')"
    assert out["pandas_loaded"] is False
    if mode == "with-pyarrow":
        assert out["arrow"] == [20, "timestamp[us, tz=UTC]"]
    else:
        assert "pip install 'recentchanges[arrow]'" in out["arrow"]


# --- progress ----------------------------------------------------------------------------


@pytest.fixture
def no_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)


def test_progress_line_without_tqdm(no_tqdm):
    out = io.StringIO()
    assert list(rcclient.progress([1, 2, 3], desc="backfill", file=out)) == [1, 2, 3]
    text = out.getvalue()
    assert text.startswith("\rbackfill: 0/3 (0%)") and text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1]
    assert last.startswith("backfill: 3/3 (100%) changes,") and "changes/s" in last


def test_progress_line_is_throttled(no_tqdm):
    out = io.StringIO()
    n = sum(1 for _ in rcclient.progress(iter(range(100_000)), file=out, unit="item"))
    assert n == 100_000
    # the first line, the last, and at most one rewrite per 0.2 s in between
    assert out.getvalue().count("\r") <= 2 + 50
    assert out.getvalue().split("\r")[-1].startswith("100,000 items,"), "no total: a count"
    every = io.StringIO()
    list(rcclient.progress(range(5), file=every, mininterval=0))
    assert every.getvalue().count("\r") == 1 + 5 + 1


def test_progress_line_ends_when_the_loop_breaks(no_tqdm):
    out = io.StringIO()
    it = rcclient.progress(iter(range(10)), total=10, file=out)
    assert next(it) == 0
    it.close()
    assert out.getvalue().endswith("\n") and "1/10 (10%)" in out.getvalue()
    quiet = io.StringIO()
    assert list(rcclient.progress([1, 2], file=quiet, disable=True)) == [1, 2]
    assert quiet.getvalue() == ""


def test_progress_uses_tqdm_auto(monkeypatch):
    calls = []

    class FakeTqdm:
        def __init__(self, iterable, **kwargs):
            calls.append(kwargs)
            self.iterable = iterable

        def __iter__(self):
            return iter(self.iterable)

    package = types.ModuleType("tqdm")
    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = FakeTqdm
    package.auto = auto
    monkeypatch.setitem(sys.modules, "tqdm", package)
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    assert list(rcclient.progress(["a", "b"], desc="backfill")) == ["a", "b"]
    assert (calls[0]["total"], calls[0]["desc"], calls[0]["unit"]) == (2, "backfill", "change")


def test_progress_with_real_tqdm(changes):
    pytest.importorskip("tqdm")
    out = io.StringIO()
    got = list(rcclient.progress(iter(changes), total=len(changes), desc="backfill", file=out))
    assert got == changes
    assert f"{len(changes)}/{len(changes)}" in out.getvalue() and "backfill" in out.getvalue()
