"""rcclient.parse / parse_many and RecentChange, on the changes recorded from a real
MediaWiki 1.39 (rc-core/tests/fixtures/mediawiki-1.39/)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path

import pytest

import rcclient
from conftest import FIXTURES, REPO

UTC = dt.timezone.utc


def fixture_files():
    files = sorted(
        p
        for p in FIXTURES.iterdir()
        if p.name.endswith((".xml", ".json"))
        and p.name not in ("index.json", "steps.json", "api-recentchanges.xml")
    )
    assert len(files) > 150, "the fixture set is there"
    return files


FILES = fixture_files()


def rust_shapes(files):
    """rc-core's JSON shape of each file, printed by the rc-json binary."""
    exe = os.environ.get("RC_JSON_BIN")
    if exe:
        cmd = [exe]
    else:
        cargo = shutil.which("cargo")
        if cargo is None:
            pytest.skip("neither RC_JSON_BIN nor cargo to run rc-core")
        cmd = [cargo, "run", "-q", "-p", "rc-python", "--bin", "rc-json", "--"]
    out = subprocess.run(
        cmd + [str(f) for f in files], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, out.stderr
    shapes = {}
    for line in out.stdout.splitlines():
        entry = json.loads(line)
        shapes[entry["file"]] = entry
    return shapes


def typed(shape: dict) -> dict:
    """The JSON shape with the timestamp as a datetime, like to_dict gives it."""
    d = dict(shape)
    if "timestamp" in d:
        d["timestamp"] = dt.datetime.fromisoformat(d["timestamp"].replace("Z", "+00:00"))
    return d


def test_every_fixture_agrees_with_rc_core():
    shapes = rust_shapes(FILES)
    assert len(shapes) == len(FILES)
    for f in FILES:
        entry = shapes[str(f)]
        assert "error" not in entry, f"{f.name}: {entry.get('error')}"
        rc = rcclient.parse(f.read_bytes())
        assert rc.to_dict(omit_absent=True) == typed(entry["change"]), f.name
        assert json.loads(rc.to_json()) == entry["change"], f.name
        # str input gives the same change as bytes
        assert rcclient.parse(f.read_text(encoding="utf-8")) == rc


def test_parse_many_equals_parse_one_by_one():
    data = [f.read_bytes() for f in FILES]
    many = rcclient.parse_many(data)
    assert isinstance(many, list) and len(many) == len(FILES)
    assert many == [rcclient.parse(d) for d in data]
    # any iterable, str items too
    assert rcclient.parse_many(d.decode() for d in data[:5]) == many[:5]


def test_json_fixture_values():
    for f in FILES:
        if not f.name.endswith(".feed.json"):
            continue
        j = json.loads(f.read_text())
        rc = rcclient.parse(f.read_bytes())
        assert rc.rcid == j["id"]
        assert rc.kind == j["type"]
        assert rc.namespace == j["namespace"]
        assert rc.title == j["title"]
        assert rc.user == j["user"]
        assert rc.comment == j["comment"]
        assert rc.wiki == j["wiki"]
        assert rc.bot is j["bot"]
        assert rc.timestamp == dt.datetime.fromtimestamp(j["timestamp"], tz=UTC)
        assert rc.timestamp.tzinfo is not None and rc.timestamp.utcoffset() == dt.timedelta(0)
        assert rc.server_url == j["server_url"]
        assert rc.script_path == j["server_script_path"]
        if "length" in j:
            assert (rc.old_len, rc.new_len) == (j["length"].get("old"), j["length"].get("new"))
            assert rc["length"] == {"old": j["length"].get("old"), "new": j["length"].get("new")}
        if "revision" in j:
            assert (rc.old_rev_id, rc.rev_id) == (j["revision"].get("old"), j["revision"].get("new"))
        if j["type"] == "log":
            assert rc.log_id == j["log_id"]
            assert rc.log_type == j["log_type"] and rc["logtype"] == j["log_type"]
            assert rc.log_action == j["log_action"]
            assert rc.log_action_comment == j["log_action_comment"]
            if isinstance(j.get("log_params"), dict):
                assert rc.log_params == j["log_params"]
        if "minor" in j:
            assert rc.minor is j["minor"]
        if "patrolled" in j:
            assert rc.patrolled == ("patrolled" if j["patrolled"] else "unpatrolled")


def test_the_three_forms_agree_on_what_they_share():
    shared = ["kind", "rcid", "wiki", "namespace", "title", "user", "timestamp", "comment",
              "log_type", "log_action", "bot", "minor"]
    checked = 0
    for f in FILES:
        if not f.name.endswith(".feed.json"):
            continue
        stem = f.name[: -len(".feed.json")]
        rc_xml = FIXTURES / f"{stem}.rc.xml"
        feed_xml = FIXTURES / f"{stem}.feed.xml"
        if not rc_xml.exists():
            continue
        a, b, c = (rcclient.parse(p.read_bytes()) for p in (rc_xml, feed_xml, f))
        for name in shared:
            assert getattr(a, name) == getattr(b, name) == getattr(c, name), (stem, name)
        for rc in (a, b, c):
            assert hash(rc) == hash(a), "the same change hashes the same in every form"
        checked += 1
    assert checked > 50


def test_attributes_and_wire_names():
    rc = rcclient.parse(
        '<rc type="edit" ns="1" title="Talk:Alpha" pageid="7" revid="3" old_revid="2" rcid="4"'
        ' user="Admin" userid="1" oldlen="22" newlen="14" minor="" unpatrolled=""'
        ' timestamp="2026-11-23T08:59:04Z" comment="fix" parsedcomment="fix" logtype="x"'
        ' wikiid="wikidb" sha1="abc" foo="bar"><tags><tag>t1</tag><tag>t2</tag></tags></rc>'
    )
    assert rc.kind == "edit" and isinstance(rc.kind, str)
    assert rc.timestamp == dt.datetime(2026, 11, 23, 8, 59, 4, tzinfo=UTC)
    assert rc.tags == ["t1", "t2"] and isinstance(rc.tags, list)
    assert rc.patrolled == "unpatrolled"
    assert rc.extra == {"foo": "bar"} and isinstance(rc.log_params, dict)
    wire = {
        "rcid": 4, "ns": 1, "old_revid": 2, "type": "edit", "pageid": 7, "revid": 3,
        "oldlen": 22, "newlen": 14, "logtype": "x", "wikiid": "wikidb", "userid": 1,
        "parsedcomment": "fix", "unpatrolled": True, "new": False, "foo": "bar",
        "namespace": 1, "old_rev_id": 2, "page_id": 7, "title": "Talk:Alpha",
    }
    for key, value in wire.items():
        assert rc[key] == value, key
    assert rc.get("nope") is None and rc.get("nope", 5) == 5
    with pytest.raises(KeyError):
        rc["nope"]
    assert "minor" in rc and "bot" not in rc and "foo" in rc and "sha1" in rc
    assert rc.size_delta == -8
    assert rc.identity == ("wikidb", 4)
    assert rc.diff_url("https://w.example/w/") == "https://w.example/w/index.php?diff=3&oldid=2"
    assert rc.page_url("https://w.example/w") == "https://w.example/w/index.php?title=Talk:Alpha"
    assert rc.diff_url() is None, "no server_url in the API form"
    assert str(rc) == rc.human_line() == "[[Talk:Alpha]] M! * Admin * (-8) fix"
    assert "Talk:Alpha" in repr(rc) and "rcid=4" in repr(rc)
    html = rc._repr_html_()
    assert html.startswith("<table") and "Talk:Alpha" in html
    # new page: absent is None, not 0
    new = rcclient.parse('<rc type="new" title="B" old_revid="0" revid="5" oldlen="0" newlen="9" />')
    assert new["old_revid"] is None and new.old_rev_id is None and new.size_delta == 9
    assert new.old_len is None, "a new page had no size before"


def test_mapping_view_to_dict_and_constructor():
    rc = rcclient.parse((FIXTURES / "0004.rc.xml").read_bytes())
    d = rc.to_dict()
    assert list(d) == list(rcclient.FIELDS) == list(rcclient.RecentChange.FIELDS)
    assert d["log_params"]["newgroups"] == ["bot"]
    assert rcclient.RecentChange.from_dict(d) == rc
    assert rcclient.RecentChange.from_json(rc.to_json()) == rc
    assert set(rc.keys()) <= set(rcclient.FIELDS) | set(rc.extra)
    assert dict(rc) == {k: rc[k] for k in rc.keys()} and len(rc) == len(rc.keys())
    from collections.abc import Mapping

    assert isinstance(rc, Mapping)
    made = rcclient.RecentChange("new", rcid=9, title="X", tags=["a"], extra={"k": 1},
                                 timestamp=dt.datetime(2026, 1, 1))
    assert made.kind == "new" and made.tags == ["a"] and made["k"] == 1
    assert made.timestamp == dt.datetime(2026, 1, 1, tzinfo=UTC), "naive datetimes are UTC"
    with pytest.raises(TypeError, match="no field"):
        rcclient.RecentChange("edit", bogus=1)
    # every change round-trips through the <rc> element its fields allow
    for f in FILES[:40]:
        rc = rcclient.parse(f.read_bytes())
        assert rcclient.parse(rc.to_rc_xml()).title == rc.title


def test_pickle_copy_eq_hash():
    changes = rcclient.parse_many(f.read_bytes() for f in FILES)
    assert pickle.loads(pickle.dumps(changes)) == changes
    assert copy.deepcopy(changes) == changes
    a, b = changes[0], rcclient.parse(FILES[0].read_bytes())
    assert a == b and not (a != b) and a is not b and hash(a) == hash(b)
    assert a != changes[5] and a != "x"
    # hashing by identity (wiki, rcid), equality by every field: the same delivery twice
    # collapses in a set, the same change in two forms does not
    again = rcclient.parse_many(f.read_bytes() for f in FILES)
    assert len(set(changes) | set(again)) == len(set(changes))
    assert len({rc.identity for rc in changes}) < len(FILES)


MALFORMED = [
    ('<rc type="edit" title="A" rcid="12x" />', "attribute `rcid` has \"12x\", expected an unsigned integer"),
    ("", "input is empty"),
    ("   \n", "input is empty"),
    ("hello", "not a recent change"),
    ("<page/>", "not a recent change"),
    ('<rc type="edit" title="A"', "malformed"),
    ('{"id": "x", "type": "edit"}', "`id`"),
    ('{"type": "edit", "timestamp": "yesterday"}', "timestamp"),
    ('{"type": "edit",', "JSON change"),
    (b"<rc type=\"edit\" title=\"\xff\" />", "UTF-8"),
    ('<recentchange type="edit" namespace="zero"/>', "namespace"),
    ('<!DOCTYPE x [<!ENTITY a "b">]><rc type="edit"/>', "DTD"),
]


@pytest.mark.parametrize("data,message", MALFORMED)
def test_malformed_input_raises_parse_error_naming_the_problem(data, message):
    with pytest.raises(rcclient.ParseError) as info:
        rcclient.parse(data)
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, rcclient.Error)
    assert message.lower() in str(err).lower(), str(err)


def test_parse_error_details_and_parse_many_policies():
    with pytest.raises(rcclient.ParseError) as info:
        rcclient.parse('<rc type="edit" title="A" rcid="12x" />')
    assert info.value.form == "rc" and info.value.offset == 32
    good = (FIXTURES / "0002.feed.json").read_bytes()
    with pytest.raises(rcclient.ParseError, match=r"^item 1: "):
        rcclient.parse_many([good, "nope", good])
    assert len(rcclient.parse_many([good, "nope", good], errors="skip")) == 2
    out = rcclient.parse_many([good, "nope"], errors="none")
    assert out[1] is None and out[0].rcid == 2
    with pytest.raises(TypeError):
        rcclient.parse(42)
    with pytest.raises(rcclient.ParseError, match="expected <rc>"):
        rcclient.parse((FIXTURES / "0002.feed.xml").read_bytes(), form="rc")
    assert rcclient.parse(good, form="json").rcid == 2


ATOM_ENTRY = """<entry xmlns="http://www.w3.org/2005/Atom">
  <title>wiki:start</title>
  <link rel="alternate" href="http://127.0.0.1:8080/doku.php?id=wiki:start&amp;rev=1795424344"/>
  <id>urn:uuid:be096541-c728-42f8-b0f6-f330a86b5ec7</id>
  <updated>2026-11-23T08:59:04Z</updated>
  <author><name>alice</name></author>
  <summary>typo</summary>
  <rights>CC0</rights>
</entry>"""


def test_an_atom_entry_parses_with_link_and_entry_id():
    for rc in (rcclient.parse(ATOM_ENTRY), rcclient.parse(ATOM_ENTRY, form="atom")):
        assert rc.kind == "edit"
        assert rc.title == "wiki:start"
        assert rc.url == "http://127.0.0.1:8080/doku.php?id=wiki:start&rev=1795424344"
        assert rc.entry_id == "urn:uuid:be096541-c728-42f8-b0f6-f330a86b5ec7"
        assert rc.user == "alice" and rc.comment == "typo"
        assert rc.timestamp == dt.datetime(2026, 11, 23, 8, 59, 4, tzinfo=UTC)
        assert rc.extra == {"rights": "CC0"}
        assert rc["url"] == rc.url and rc.to_dict()["entry_id"] == rc.entry_id
    with pytest.raises(rcclient.ParseError, match="Atom entry: required element `title`"):
        rcclient.parse("<entry><id>x</id></entry>", form="atom")
