"""rcclient.open: any source by name, the same iterator, filter, status and position,
against the real Prosody and MediaWiki the project's scripts start."""

from __future__ import annotations

import json
import os
import subprocess
import time
import xmlrpc.client

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
            assert source.name == f"xmpp:{room}"  # live: the room is joined
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


def test_a_source_whose_only_room_cannot_be_joined_says_it_failed(prosody):
    room = "wiki@conference.nowhere.invalid"
    with rcclient.open(f"xmpp:{room}", anonymous="anon.localhost", server=prosody.addr,
                       tls="plaintext-loopback", errors="yield") as source:
        item = source.receive(timeout=15)
        assert isinstance(item, rcclient.RoomError), item
        deadline = time.time() + 5
        while source.status["state"] != "failed":
            assert time.time() < deadline, source.status
            time.sleep(0.05)
        assert room in source.status["reason"], source.status


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


@pytest.fixture
def dokuwiki(tmp_path):
    """A DokuWiki (Debian package) on a port of its own, started by scripts/dokuwiki."""
    from conftest import REPO, free_port

    port = free_port()
    env = dict(os.environ, DW_PORT=str(port), DW_STATE_DIR=str(tmp_path / "dw"))
    out = subprocess.run(["bash", str(REPO / "scripts/dokuwiki/start.sh")], env=env,
                         check=True, capture_output=True, text=True).stdout
    vars = dict(line[len("export "):].split("=", 1) for line in out.splitlines() if line.startswith("export "))
    vars = {k: v.strip("'") for k, v in vars.items()}
    try:
        yield vars
    finally:
        subprocess.run(["bash", str(REPO / "scripts/dokuwiki/stop.sh")], env=env, capture_output=True)


def test_dokuwiki_by_name_yields_edits_typed_and_resumes(dokuwiki, tmp_path):
    url, user, password = dokuwiki["DOKUWIKI_XMLRPC_URL"], dokuwiki["DOKUWIKI_USER"], dokuwiki["DOKUWIKI_PASSWORD"]
    authed = url.replace("http://", f"http://{user}:{password}@")
    rpc = xmlrpc.client.ServerProxy(authed)
    assert rpc.wiki.putPage("notes:alpha", "Hello from Python", {"sum": "first words"})
    pos = tmp_path / "dw.pos"

    def open_wiki():
        return rcclient.open(f"dokuwiki:{url}", credentials=(user, password), wiki="testwiki",
                             start="beginning", interval=0.2, resume=str(pos))

    with open_wiki() as source:
        rc = source.receive(timeout=20)
        assert (rc.kind, rc.title, rc.user, rc.wiki) == ("edit", "notes:alpha", user, "testwiki")
        assert rc.new_len == len("Hello from Python") and rc.rev_id and rc.timestamp
        assert rc.url.endswith(f"doku.php?id=notes%3Aalpha&rev={rc.rev_id}") and rc.room == url
        assert source.status["state"] == "live"
    time.sleep(1.1)  # DokuWiki keeps one revision per page and second
    assert rpc.wiki.putPage("notes:beta", "Second page", {"sum": "more"})
    with open_wiki() as source:
        rc = source.receive(timeout=20)
        assert rc.title == "notes:beta", "resumed after notes:alpha"
        assert source.receive(timeout=1) is None


def test_dokuwiki_wrong_password_raises_without_the_password(dokuwiki):
    url = dokuwiki["DOKUWIKI_XMLRPC_URL"]
    source = rcclient.open(f"dokuwiki:{url}", credentials=("editor", "not-the-s3cret"), start="beginning")
    with pytest.raises(rcclient.ConnectionError) as info:
        source.receive(timeout=20)
    assert info.value.kind == "auth"
    assert "not-the-s3cret" not in str(info.value) and "editor" in str(info.value)
    assert source.receive(timeout=1) is None, "the source ended"
    source.close()


def test_wikiping_by_name_receives_pings(tmp_path):
    from conftest import free_port

    port = free_port()
    with rcclient.open(f"wikiping:127.0.0.1:{port}", filter=rcclient.Filter(wiki="mindWiki")) as source:
        deadline = time.time() + 5
        while source.status["state"] != "live":
            assert time.time() < deadline
            time.sleep(0.05)
        proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/")
        answer = proxy.wiki.ping({"tag": "HomePage", "url": "http://mindwiki.de/HomePage", "wiki": "mindWiki",
                                  "Author": "sebastian", "changelog": "just an example!"})
        assert answer["error"] is False
        refused = proxy.wiki.ping({"tag": "HomePage", "url": "http://mindwiki.de/HomePage"})
        assert refused == {"error": True, "message": "wiki name required"}
        rc = source.receive(timeout=5)
        assert (rc.title, rc.url, rc.wiki, rc.user, rc.comment) == (
            "HomePage", "http://mindwiki.de/HomePage", "mindWiki", "sebastian", "just an example!")
        # The refusal was queued after the accepted ping; reading on skips it (errors="skip").
        assert source.receive(timeout=2) is None, "nothing but the refused ping followed"
        assert source.status["errors"] == 1, "the refused ping was counted"
        assert "wiki name required" in str(source.recent_errors[0])


def test_dokuwiki_edits_reach_a_pubsub_subscriber_the_dokupubsub_way(prosody, dokuwiki, tmp_path):
    """DokuWiki -> examples/doku2pubsub (WikiRPC poll, Atom entries) -> Prosody PubSub ->
    rcclient.open("xmpp:pubsub.localhost?;node=...")."""
    from conftest import REPO

    binary = REPO / "target" / "debug" / "examples" / "doku2pubsub"
    if not binary.exists():
        subprocess.run(["cargo", "build", "-q", "--example", "doku2pubsub"], cwd=REPO, check=True)
    node = f"dokuwiki-{os.getpid()}-{time.monotonic_ns()}"
    url, user, password = dokuwiki["DOKUWIKI_XMLRPC_URL"], dokuwiki["DOKUWIKI_USER"], dokuwiki["DOKUWIKI_PASSWORD"]
    rpc = xmlrpc.client.ServerProxy(url.replace("http://", f"http://{user}:{password}@"))
    assert rpc.wiki.putPage("wiki:start", "Welcome", {"sum": "created"})  # creates the node
    bridge = subprocess.Popen(
        [str(binary), url, "--user", user, "--jid", "publisher@localhost", "--server", prosody.addr,
         "--tls", "plaintext-loopback", "--node", node, "--from-beginning", "--interval", "0.2",
         "--position", str(tmp_path / "bridge.pos")],
        env=dict(os.environ, WIKI_PASSWORD=password, XMPP_PASSWORD="publisherpublisher"),
    )
    try:
        # The bridge creates the node with its first entry, then saves its position.
        deadline = time.time() + 30
        while not (tmp_path / "bridge.pos").exists():
            assert time.time() < deadline and bridge.poll() is None, "the bridge published its first entry"
            time.sleep(0.1)
        with rcclient.open(f"xmpp:pubsub.localhost?;node={node}", anonymous="anon.localhost",
                           server=prosody.addr, tls="plaintext-loopback", wiki="testwiki",
                           errors="raise") as source:
            time.sleep(1.1)  # a new second: DokuWiki keeps one revision per page and second
            assert rpc.wiki.putPage("wiki:start", "Welcome, again", {"sum": "second words"})
            info = rpc.wiki.getPageInfo("wiki:start")
            deadline = time.time() + 30
            rc = None
            while time.time() < deadline:
                rc = source.receive(timeout=1)
                if rc is not None and rc.rev_id is None and rc.url.endswith(f"&rev={info['version']}"):
                    break
            assert rc is not None and rc.url.endswith(f"&rev={info['version']}"), source.status
            assert (rc.title, rc.user, rc.wiki) == ("wiki:start", user, "testwiki")
            assert rc.url.startswith(url.replace("lib/exe/xmlrpc.php", "doku.php?id=wiki%3Astart"))
            assert rc.entry_id == rc.url, "the revision link is the entry's id"
            assert rc.timestamp.timestamp() == info["version"], "updated = the revision's time"
            assert rc.room == f"xmpp:pubsub.localhost?;node={node}"
            assert source.status["state"] == "live"
    finally:
        bridge.terminate()
        bridge.wait(10)


def test_async_iteration_over_a_source():
    import asyncio

    from conftest import free_port

    port = free_port()

    async def main():
        got = []
        async with rcclient.open(f"wikiping:127.0.0.1:{port}") as source:
            while source.status["state"] != "live":
                await asyncio.sleep(0.05)
            proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/")
            loop = asyncio.get_running_loop()
            for tag in ("One", "Two"):
                ping = {"tag": tag, "url": f"http://w.example/{tag}", "wiki": "w"}
                await loop.run_in_executor(None, proxy.wiki.ping, ping)
            async for rc in source:
                got.append(rc.title)
                if len(got) == 2:
                    break
        return got

    assert asyncio.run(asyncio.wait_for(main(), 20)) == ["One", "Two"]
