"""rcclient.open: any source by name, the same iterator, filter, status and position,
against the real Prosody and MediaWiki the project's scripts start."""

from __future__ import annotations

import json
import time

import pytest

import rcclient
from conftest import change, fresh_room
from test_mediawiki_e2e import wiki  # noqa: F401  (the MediaWiki fixture)


def wait_live(source, timeout=15):
    deadline = time.time() + timeout
    while source.status["state"] != "live":
        assert time.time() < deadline, source.status
        time.sleep(0.05)


def test_a_room_by_name_filters_and_resumes_from_its_file(prosody, tmp_path):
    room = fresh_room("named")
    pos = tmp_path / "room.pos"

    def open_room():
        return rcclient.open(
            f"xmpp:{room}", anonymous="anon.localhost", server=prosody.addr,
            tls="plaintext-loopback", nick="reader", resume=str(pos),
            filter=lambda rc: rc.rcid % 2 == 1,
        )

    with prosody.publisher([room]) as pub:
        with open_room() as source:
            wait_live(source)
            assert source.name == f"xmpp:{room}"
            time.sleep(0.3)  # the room joined
            for n in range(1, 5):
                pub.publish(room, change("enwiki", n))
            got = source.take(2, timeout=20)
            assert [rc.rcid for rc in got] == [1, 3], "the Python filter keeps odd rcids"
            assert got[0] == change("enwiki", 1) and got[0].room == room
            assert source.status["changes"] >= 3
        assert room in json.loads(pos.read_text())["rooms"]
        for n in (5, 6, 7):
            pub.publish(room, change("enwiki", n))
        assert pub.flush(5)
        with open_room() as source:
            got = source.take(2, timeout=20)
            assert [rc.rcid for rc in got] == [5, 7], "only what came after the saved position"
            assert all(rc.replayed for rc in got)


def test_mediawiki_by_name_iterates_and_resumes_from_its_position(wiki, tmp_path):  # noqa: F811
    g, admin, _feed, _state = wiki
    api = g.API
    admin.post("edit", token_kind="csrf", title="Named", text="one", summary="first")
    source = rcclient.open(f"mediawiki:{api}", wiki="wikidb", start="beginning", interval=0.2)
    seen = []
    for rc in source:
        seen.append(rc)
        if rc.title == "Named":
            break
    assert all(rc.wiki == "wikidb" and rc.room == api for rc in seen)
    assert len({rc.rcid for rc in seen}) == len(seen), "once each"
    position = source.position
    source.close()
    admin.post("edit", token_kind="csrf", title="Named", appendtext=" two", summary="second")
    with rcclient.open(f"mediawiki:{api}", wiki="wikidb", resume=position, interval=0.2) as again:
        rc = again.receive(timeout=20)
        assert (rc.title, rc.comment) == ("Named", "second")
        assert again.status["state"] == "live"


def test_bad_names_and_options_raise_config_errors():
    with pytest.raises(rcclient.ConfigError, match="unknown scheme"):
        rcclient.open("ftp:x")
    with pytest.raises(rcclient.ConfigError, match="anonymous"):
        rcclient.open("xmpp:room@conference.localhost")
    with pytest.raises(ValueError):
        rcclient.open("mediawiki:http://127.0.0.1:1/api.php", errors="ignore")
