"""rcclient.Filter: the same meaning as recentchanges_core::Filter, plus callables."""

from __future__ import annotations

import pytest

import rcclient
from test_parse import FILES

CHANGES = rcclient.parse_many(f.read_bytes() for f in FILES)


def kept(f):
    return [rc for rc in CHANGES if f.matches(rc)]


def expect(pred):
    return [rc for rc in CHANGES if pred(rc)]


@pytest.mark.parametrize(
    "kwargs,pred",
    [
        ({}, lambda rc: True),
        ({"wiki": "wikidb"}, lambda rc: rc.wiki == "wikidb"),
        ({"wiki": ["other", "wikidb"]}, lambda rc: rc.wiki in ("other", "wikidb")),
        ({"namespace": 0}, lambda rc: rc.namespace == 0),
        ({"namespace": [1, 2]}, lambda rc: rc.namespace in (1, 2)),
        ({"kind": "log"}, lambda rc: rc.kind == "log"),
        ({"kind": ["edit", "new"]}, lambda rc: rc.kind in ("edit", "new")),
        ({"bot": False}, lambda rc: not rc.bot),
        ({"bot": True}, lambda rc: rc.bot),
        ({"minor": True}, lambda rc: rc.minor),
        ({"anon": True}, lambda rc: rc.anon),
        ({"user": "Admin"}, lambda rc: rc.user == "Admin"),
        ({"title_prefix": "User:"}, lambda rc: (rc.title or "").startswith("User:")),
        ({"log_type": ["move", "delete"]}, lambda rc: rc.log_type in ("move", "delete")),
        ({"namespace": 0, "bot": False, "kind": "edit"},
         lambda rc: rc.namespace == 0 and not rc.bot and rc.kind == "edit"),
    ],
)
def test_keywords(kwargs, pred):
    f = rcclient.Filter(**kwargs)
    assert f.is_native
    got = kept(f)
    assert got == expect(pred)
    assert [rc for rc in CHANGES if f(rc)] == got, "a Filter is a callable too"


def test_the_fixture_set_exercises_the_filters():
    assert expect(lambda rc: rc.bot) and expect(lambda rc: rc.anon) and expect(lambda rc: rc.minor)
    assert expect(lambda rc: rc.log_type == "move")


def test_combinators_and_callables():
    edits = rcclient.Filter(kind="edit")
    talk = rcclient.Filter(namespace=1)
    big = lambda rc: (rc.size_delta or 0) > 50  # noqa: E731
    assert kept(rcclient.Filter.any(edits, talk)) == expect(lambda rc: rc.kind == "edit" or rc.namespace == 1)
    assert kept(rcclient.Filter.all([edits, talk])) == expect(lambda rc: rc.kind == "edit" and rc.namespace == 1)
    assert kept(rcclient.Filter.none(edits, talk)) == expect(lambda rc: rc.kind != "edit" and rc.namespace != 1)
    assert rcclient.Filter.any(edits, talk).is_native
    mixed = rcclient.Filter.any(talk, big)
    assert not mixed.is_native
    assert kept(mixed) == expect(lambda rc: rc.namespace == 1 or (rc.size_delta or 0) > 50)
    assert kept(edits & big) == expect(lambda rc: rc.kind == "edit" and (rc.size_delta or 0) > 50)
    assert kept(big & edits) == kept(edits & big)
    assert kept(edits | talk) == kept(rcclient.Filter.any(edits, talk))
    assert kept(~edits) == expect(lambda rc: rc.kind != "edit")
    assert kept(~mixed) == expect(lambda rc: not (rc.namespace == 1 or (rc.size_delta or 0) > 50))
    assert kept(rcclient.Filter(kind="edit", predicate=big)) == kept(edits & big)
    assert kept(rcclient.Filter.any()) == [], "any of nothing keeps nothing, as in rc-core"
    assert kept(rcclient.Filter.all()) == CHANGES
    assert "namespace in [1]" in repr(talk) and "any(" in repr(mixed)


def test_callable_errors_propagate_and_bad_arguments_are_type_errors():
    def boom(rc):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        rcclient.Filter(predicate=boom).matches(CHANGES[0])
    with pytest.raises(TypeError):
        rcclient.Filter(namespace="main")
    with pytest.raises(TypeError):
        rcclient.Filter.any(42)
    with pytest.raises(TypeError):
        rcclient.Filter(wiki=3)
