"""End to end from a real MediaWiki to a Python consumer.

MediaWiki 1.39 ($wgRCFeeds, JSON over UDP) -> the udp2xmpp bridge (examples/udp2xmpp.rs)
-> a Prosody room -> rcclient.Client. Every change made through the wiki's API arrives
once, in order, with the fields list=recentchanges reports for the same rcid.
"""
import datetime as dt
import importlib.util
import os
import subprocess
import time

import pytest

from conftest import REPO, free_port, fresh_room

MW = REPO / "scripts" / "mediawiki"


def _bridge_binary():
    path = REPO / "target" / "debug" / "examples" / "udp2xmpp"
    if not path.exists():
        subprocess.run(["cargo", "build", "-q", "--example", "udp2xmpp"], cwd=REPO, check=True)
    return path


@pytest.fixture
def wiki(tmp_path):
    """A MediaWiki on a port of its own, its JSON feed sent to a UDP port; yields
    (api module, admin session, feed port, state dir)."""
    port, feed = free_port(), free_port()
    state = tmp_path / "mw"
    env = dict(os.environ, MW_PORT=str(port), MW_STATE_DIR=str(state), MW_FEED_JSON=f"127.0.0.1:{feed}")
    subprocess.run(["bash", str(MW / "start.sh")], env=env, check=True, stdout=subprocess.DEVNULL)
    os.environ["MW_PORT"] = str(port)  # gen-fixtures.py reads it when loaded
    spec = importlib.util.spec_from_file_location(f"genfix_{port}", MW / "gen-fixtures.py")
    g = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(g)
    admin = g.Session("Admin")
    admin.login("Admin", g.ADMIN_PASSWORD)
    try:
        yield g, admin, feed, state
    finally:
        subprocess.run(["bash", str(MW / "stop.sh")], env=env, check=False, capture_output=True)


def test_every_wiki_change_reaches_a_python_consumer(prosody, wiki, tmp_path):
    g, admin, feed, state = wiki
    room = fresh_room("wikidb")
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'listen = "127.0.0.1:{feed}"\njid = "publisher@localhost"\nserver = "{prosody.addr}"\n'
        f'tls = "plaintext-loopback"\nnick = "bridge"\n[rooms]\nwikidb = "{room}"\n'
    )
    bridge = subprocess.Popen(
        [str(_bridge_binary()), str(config)],
        env=dict(os.environ, BRIDGE_PASSWORD="publisherpublisher", RUST_LOG="warn"),
    )
    try:
        with prosody.client("alice", [room]) as client:
            assert client.wait_until_joined(10)
            time.sleep(0.5)  # let the bridge join its room
            anon = g.Session("anon", cookies=False)
            steps = [
                (admin, "edit", dict(title="E2E", text="Hello [[Category:Tests]]", summary="new page")),
                (admin, "edit", dict(title="E2E", appendtext="\nmore", summary="edit")),
                (admin, "edit", dict(title="E2E", appendtext="\nsmall", summary="minor", minor=1)),
                (anon, "edit", dict(title="E2E", appendtext="\nanon", summary="anonymous")),
                (admin, "createaccount", dict(username="Botty", password=g.USER_PASSWORD, retype=g.USER_PASSWORD, createreturnurl="http://127.0.0.1/")),
                (admin, "userrights", dict(user="Botty", add="bot", reason="bot")),
                (admin, "move", {"from": "E2E", "to": "E2E moved", "reason": "move"}),
                (admin, "protect", dict(title="E2E moved", protections="edit=sysop", reason="protect")),
                (admin, "block", dict(user="192.0.2.7", expiry="1 day", reason="block")),
                (admin, "edit", dict(title="Doomed", text="short-lived", summary="doomed page")),
                # Deleting a page takes its own rows out of list=recentchanges (not the feed).
                (admin, "delete", dict(title="Doomed", reason="delete")),
            ]
            for sess, action, params in steps:
                kind = "createaccount" if action == "createaccount" else ("userrights" if action == "userrights" else "csrf")
                sess.post(action, token_kind=kind, **params)
            botty = g.Session("Botty")
            botty.login("Botty", g.USER_PASSWORD)
            botty.post("edit", title="Bot page", text="by a bot", summary="bot edit", bot=1)
            # Category membership changes are made by jobs.
            subprocess.run(
                ["php", "/usr/share/mediawiki/maintenance/runJobs.php", "--conf", str(state / "LocalSettings.php")],
                env=dict(os.environ, MW_CONFIG_FILE=str(state / "LocalSettings.php")),
                check=True, capture_output=True,
            )

            api = admin.call({
                "action": "query", "list": "recentchanges", "rcdir": "newer", "rclimit": "max",
                "rcprop": "user|comment|flags|timestamp|title|ids|sizes|loginfo",
            })["query"]["recentchanges"]
            expected = [rc for rc in api if rc["rcid"] > 1]  # rcid 1: the installer, before the feed
            kinds = {rc["type"] for rc in expected}
            assert {"new", "edit", "log", "categorize"} <= kinds, kinds

            # In the order the wiki made them (rcid). The API sorts by timestamp, and a
            # categorize row made later by a job carries its edit's earlier timestamp.
            expected.sort(key=lambda rc: rc["rcid"])
            want_ids = [rc["rcid"] for rc in expected]
            received = []
            deadline = time.time() + 30
            while not set(want_ids) <= {rc.rcid for rc in received} and time.time() < deadline:
                received += [rc for rc in client.take(100, timeout=1) if rc.rcid is not None]
            received += [rc for rc in client.take(100, timeout=1) if rc.rcid is not None]
            got = [rc for rc in received if rc.rcid in set(want_ids)]
            assert [rc.rcid for rc in got] == want_ids, "every change once, in order"
            vanished = [rc for rc in received if rc.rcid not in set(want_ids)]
            assert [(rc.kind, rc.title) for rc in vanished] == [("new", "Doomed")], "only the deleted page's row is gone from the API"

            for rc, want in zip(got, expected):
                assert rc.kind == want["type"]
                assert rc.namespace == want["ns"] and rc.title == want["title"]
                assert rc.user == want["user"] and rc.comment == want["comment"]
                assert rc.timestamp == dt.datetime.fromisoformat(want["timestamp"].replace("Z", "+00:00"))
                assert rc.bot == want.get("bot", False) and rc.minor == want.get("minor", False)
                assert rc.wiki == "wikidb" and rc.room == room
                if want["type"] in ("edit", "new"):
                    assert rc.rev_id == want["revid"] and rc.new_len == want["newlen"]
                    assert rc.old_rev_id == (want["old_revid"] or None)
                if want["type"] == "log":
                    assert (rc.log_type, rc.log_action, rc.log_id) == (want["logtype"], want["logaction"], want["logid"])
            assert any(rc.anon and rc.user == "127.0.0.1" for rc in got)
    finally:
        bridge.terminate()
        bridge.wait(timeout=10)
