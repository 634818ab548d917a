"""The rcclient.py style: RCClient, RCHandler, service_loop."""

from __future__ import annotations

import threading
import time

import pytest

import rcclient
from conftest import change, fresh_room


class Collector(rcclient.RCHandler):
    def __init__(self):
        self.titles = []

    def process(self, rc):
        self.titles.append(rc.title)


def test_handlers_receive_changes_in_the_service_loop(prosody):
    room = fresh_room("enwiki")
    client = rcclient.RCClient()
    client.connect("bob@localhost", "bobbob", server=prosody.addr, tls="plaintext-loopback")
    client.join(room, "bob")
    collector = Collector()
    seen = []
    client.add_handler(collector)
    client.add_handler(seen.append)  # plain callables work too

    def failing(rc):
        raise RuntimeError("a broken handler does not stop the others")

    client.add_handler(failing)
    loop = threading.Thread(target=client.service_loop)
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while (client.client is None or not client.client.wait_until_joined(0.1)) and time.monotonic() < deadline:
            time.sleep(0.05)
        with prosody.publisher([room]) as pub:
            for n in range(1, 4):
                pub.publish(room, change("enwiki", n))
            deadline = time.monotonic() + 10
            while len(collector.titles) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        client.stop()
        loop.join(10)
    assert not loop.is_alive(), "stop() ends the loop"
    assert collector.titles == ["Page 1", "Page 2", "Page 3"]
    assert [rc.rcid for rc in seen] == [1, 2, 3]


def test_service_loop_with_a_timeout_and_misuse(prosody):
    client = rcclient.RCClient()
    with pytest.raises(RuntimeError, match="connect"):
        client.service_loop()
    client.connect("bob@localhost", "bobbob", server=prosody.addr, tls="plaintext-loopback")
    with pytest.raises(RuntimeError, match="join"):
        client.service_loop()
    client.join(fresh_room(), "bob")
    with pytest.raises(TypeError):
        client.add_handler(42)
    t0 = time.monotonic()
    client.service_loop(timeout=0.5)
    assert time.monotonic() - t0 < 5
    with pytest.raises(NotImplementedError):
        rcclient.RCHandler().process(None)
