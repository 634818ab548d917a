"""The Rust side's log (connection, rooms, refused items) on Python's logging, under the
"rcclient" logger, against a real Prosody."""

from __future__ import annotations

import logging
import time

import rcclient
from conftest import fresh_room


def _wait_for(caplog, predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [r for r in caplog.records if predicate(r)]
        if found:
            return found
        time.sleep(0.05)
    return []


def test_connection_and_room_events_reach_python_logging(prosody, caplog):
    room = fresh_room("enwiki")
    with caplog.at_level(logging.INFO, logger="rcclient"):
        with prosody.client("alice", [room]) as client:
            assert client.wait_until_joined(10), client.status
            online = _wait_for(caplog, lambda r: r.name == "rcclient.xmpp.session.connect" and "online" in r.getMessage())
            joined = _wait_for(caplog, lambda r: r.name == "rcclient.xmpp.room.driver" and "joined" in r.getMessage())
    assert online and online[0].levelno == logging.INFO
    assert "alice@localhost" in online[0].getMessage(), "fields come with the message"
    assert joined and room in joined[0].getMessage()
    assert not any("alicealice" in r.getMessage() for r in caplog.records), "no password in any log line"


def test_records_below_the_loggers_level_are_left_out(prosody, caplog):
    room = fresh_room("enwiki")
    with caplog.at_level(logging.WARNING, logger="rcclient"):
        with prosody.client("alice", [room]) as client:
            assert client.wait_until_joined(10), client.status
            client.close()
        # A warning still comes through: a wrong password is logged by the network thread.
        bad = rcclient.Client("bob@localhost", "wrong-pw", rooms=[room], server=prosody.addr,
                              tls="plaintext-loopback")
        try:
            try:
                bad.take(1, timeout=10)
            except rcclient.ConnectionError:
                pass
            warned = _wait_for(caplog, lambda r: r.name.startswith("rcclient.xmpp") and r.levelno >= logging.WARNING)
        finally:
            bad.close()
    assert warned, [(r.name, r.getMessage()) for r in caplog.records]
    assert not any(r.name.startswith(("rcclient.xmpp", "rcclient.http", "rcclient.source")) and r.levelno < logging.WARNING for r in caplog.records)
    assert not any("wrong-pw" in r.getMessage() for r in caplog.records), "no password in any log line"
