"""rcclient.Client and rcclient.Publisher against a real Prosody."""

from __future__ import annotations

import asyncio
import builtins
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import rcclient
from conftest import QUICK_RECONNECT, change, fresh_room


def joined_client(prosody, user, rooms, **kw):
    c = prosody.client(user, rooms, **kw)
    assert c.wait_until_joined(10), c.status
    return c


def test_sync_iteration_receives_published_changes_in_order(prosody):
    room = fresh_room("enwiki")
    with joined_client(prosody, "alice", [room]) as client, prosody.publisher([room]) as pub:
        for n in range(1, 21):
            pub.publish(room, change("enwiki", n))
        got = []
        for rc in client:
            got.append(rc)
            if len(got) == 20:
                break
        assert got == [change("enwiki", n) for n in range(1, 21)], "every field arrives"
        assert all(rc.room == room and rc.stanza_id and not rc.replayed for rc in got)
        assert pub.flush(5) and pub.confirmed == 20
        status = client.status
        assert status["connection"] == "online" and status["rooms"][room]["state"] == "joined"
        assert (status["duplicates"], status["refetched"], status["dropped"]) == (0, 0, 0)
        pos = client.position
        assert pos["rooms"][room]["stanza_id"] == got[-1].stanza_id
        json.dumps(pos)  # JSON-ready
    assert client.closed and client.status["connection"] == "closed"


def test_async_iteration(prosody):
    room = fresh_room("enwiki")
    client = joined_client(prosody, "alice", [room])
    pub = prosody.publisher([room])

    async def main():
        got = []

        async def publish_later():
            await asyncio.sleep(0.3)  # the consumer is already waiting
            for n in range(1, 11):
                await asyncio.get_running_loop().run_in_executor(None, pub.publish, room, change("enwiki", n))

        task = asyncio.create_task(publish_later())
        ticks = 0

        async def ticker():  # the loop stays free while the client waits
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        t = asyncio.create_task(ticker())
        async with client:
            async for rc in client:
                got.append(rc.rcid)
                if len(got) == 10:
                    break
        await task
        t.cancel()
        return got, ticks

    got, ticks = asyncio.run(main())
    assert got == list(range(1, 11))
    assert ticks > 5, "the event loop was not blocked"
    assert client.closed
    pub.close()


def test_async_wait_cancelled_loses_nothing(prosody):
    room = fresh_room("enwiki")
    client = joined_client(prosody, "alice", [room])
    pub = prosody.publisher([room])

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.__anext__(), 0.3)
        pub.publish(room, change("enwiki", 1))
        pub.publish(room, change("enwiki", 2))
        a = await asyncio.wait_for(client.__anext__(), 10)
        b = await asyncio.wait_for(client.__anext__(), 10)
        return a.rcid, b.rcid

    assert asyncio.run(main()) == (1, 2)
    client.close()
    pub.close()


def test_filters_native_and_callable(prosody):
    room = fresh_room("enwiki")
    native = joined_client(prosody, "alice", [room], filter=rcclient.Filter(namespace=1, bot=False))
    py_filter = joined_client(prosody, "bob", [room], filter=lambda rc: rc.rcid % 3 == 0)
    mixed = joined_client(
        prosody, "carol", [room],
        filter=rcclient.Filter.any(rcclient.Filter(namespace=1), lambda rc: rc.rcid == 2),
    )
    with prosody.publisher([room]) as pub:
        for n in range(1, 13):
            rc = change("enwiki", n)
            d = rc.to_dict()
            d["namespace"] = n % 2
            d["bot"] = n % 4 == 1
            pub.publish(room, rcclient.RecentChange.from_dict(d))
        assert pub.flush(5)
    want_native = [n for n in range(1, 13) if n % 2 == 1 and n % 4 != 1]
    assert [rc.rcid for rc in native.take(len(want_native), timeout=10)] == want_native
    assert [rc.rcid for rc in py_filter.take(4, timeout=10)] == [3, 6, 9, 12]
    want_mixed = [n for n in range(1, 13) if n % 2 == 1 or n == 2]
    assert [rc.rcid for rc in mixed.take(len(want_mixed), timeout=10)] == want_mixed
    for c in (native, py_filter, mixed):
        assert c.take(1, timeout=0.3) == [], "nothing else came through"
        c.close()


def test_take_returns_what_it_got_when_the_timeout_passes(prosody):
    room = fresh_room("enwiki")
    with joined_client(prosody, "alice", [room]) as client, prosody.publisher([room]) as pub:
        for n in range(1, 4):
            pub.publish(room, change("enwiki", n))
        t0 = time.monotonic()
        got = client.take(10, timeout=1.5)
        elapsed = time.monotonic() - t0
        assert [rc.rcid for rc in got] == [1, 2, 3]
        assert 1.4 <= elapsed < 3.0, elapsed
        assert client.receive(timeout=0.2) is None
        t0 = time.monotonic()
        assert client.take(0, timeout=5) == [] and time.monotonic() - t0 < 0.5


def _post_bad_things(pub, room):
    pub.publish(room, change("enwiki", 1))
    pub.post(room, "[[Broken]] with a bad rcid", '<rc type="edit" rcid="12x" title="Broken"/>')
    pub.post(room, "just chatting, no payload")
    pub.publish(room, change("enwiki", 2))
    assert pub.flush(5)


def test_errors_skip_by_default_counted_and_logged(prosody, caplog):
    room = fresh_room("enwiki")
    with joined_client(prosody, "alice", [room]) as client, prosody.publisher([room]) as pub:
        _post_bad_things(pub, room)
        with caplog.at_level("WARNING", logger="rcclient"):
            assert [rc.rcid for rc in client.take(2, timeout=10)] == [1, 2]
        assert client.status["errors"] == {"bad_payload": 1, "no_payload": 1, "invalid_stanza": 0, "room": 0}
        kinds = [type(e) for e in client.recent_errors]
        assert kinds == [rcclient.PayloadError, rcclient.NoPayload]
        bad = client.recent_errors[0]
        assert bad.room == room and isinstance(bad.parse_error, rcclient.ParseError)
        assert '`rcid` has "12x"' in str(bad)
        assert any("12x" in r.getMessage() for r in caplog.records)


def test_errors_raise_then_the_iteration_goes_on(prosody):
    room = fresh_room("enwiki")
    with joined_client(prosody, "alice", [room], errors="raise") as client, prosody.publisher([room]) as pub:
        _post_bad_things(pub, room)
        it = iter(client)
        assert next(it).rcid == 1
        with pytest.raises(rcclient.PayloadError, match="12x") as bad:
            next(it)
        assert isinstance(bad.value, ValueError) and bad.value.room == room
        with pytest.raises(rcclient.NoPayload, match="just chatting") as chat:
            next(it)
        assert chat.value.body.startswith("just chatting")
        assert next(it).rcid == 2


def test_take_with_errors_raise_returns_the_changes_first(prosody):
    room = fresh_room("enwiki")
    with joined_client(prosody, "alice", [room], errors="raise") as client, prosody.publisher([room]) as pub:
        _post_bad_things(pub, room)
        assert [rc.rcid for rc in client.take(4, timeout=10)] == [1]
        with pytest.raises(rcclient.PayloadError):
            client.take(4, timeout=10)
        with pytest.raises(rcclient.NoPayload):
            client.take(4, timeout=10)
        assert [rc.rcid for rc in client.take(4, timeout=1)] == [2]


def test_async_iteration_raises_fatal_errors(prosody):
    client = rcclient.Client("alice@localhost", "wrong", rooms=[fresh_room()], server=prosody.addr,
                             tls="plaintext-loopback")

    async def main():
        async for rc in client:
            pass

    with pytest.raises(rcclient.ConnectionError, match="authentication failed"):
        asyncio.run(main())

    async def again():
        return [rc async for rc in client]

    assert asyncio.run(again()) == [], "then the iteration ends"
    client.close()


def test_errors_yield_puts_them_in_the_stream(prosody):
    room = fresh_room("enwiki")
    with joined_client(prosody, "alice", [room], errors="yield") as client, prosody.publisher([room]) as pub:
        _post_bad_things(pub, room)
        got = client.take(4, timeout=10)
        assert [type(x).__name__ for x in got] == ["RecentChange", "PayloadError", "NoPayload", "RecentChange"]
        assert isinstance(got[1], rcclient.StreamError)


def test_wrong_password_raises_connection_error(prosody):
    client = rcclient.Client(
        "alice@localhost", "not-her-password", rooms=[fresh_room()], server=prosody.addr,
        tls="plaintext-loopback",
    )
    with pytest.raises(rcclient.ConnectionError) as info:
        client.take(1, timeout=10)
    assert isinstance(info.value, builtins.ConnectionError)
    assert info.value.kind == "auth" and "alice@localhost" in str(info.value)
    assert "not-her-password" not in str(info.value)
    assert list(client) == [], "the iteration ends after a fatal error"
    assert client.status["connection"] == "failed"
    client.close()


def test_configuration_errors():
    with pytest.raises(rcclient.ConfigError, match="loopback"):
        rcclient.Client("a@example.org", "x", rooms=["r@conference.example.org"],
                        server="192.0.2.1:5222", tls="plaintext-loopback")
    with pytest.raises(rcclient.ConfigError, match="no room"):
        rcclient.Client("a@example.org", "x", rooms=[])
    with pytest.raises(rcclient.ConfigError, match="password"):
        rcclient.Client("a@example.org", rooms=["r@conference.example.org"])
    with pytest.raises(rcclient.ConfigError, match="errors"):
        rcclient.Client("a@example.org", "x", rooms=["r@c.example.org"], errors="ignore")
    with pytest.raises(ValueError):
        rcclient.Client("a@example.org", "x", rooms=["r@c.example.org"], server="nohost")


def test_anonymous_login_over_verified_starttls(prosody):
    room = fresh_room("enwiki")
    client = rcclient.Client("anon.localhost", rooms=[room], nick="reader", server=prosody.addr,
                             tls=prosody.ca_cert)
    assert client.wait_until_joined(10), client.status
    assert "@anon.localhost/" in client.status["jid"]
    with prosody.publisher([room]) as pub:
        pub.publish(room, change("enwiki", 3))
        assert [rc.rcid for rc in client.take(1, timeout=10)] == [3]
    client.close()


def test_resume_from_a_saved_position_and_from_a_file(prosody, tmp_path):
    room = fresh_room("enwiki")
    pos_file = tmp_path / "enwiki.pos"
    with prosody.publisher([room]) as pub:
        first = joined_client(prosody, "alice", [room], resume=str(pos_file))
        for n in range(1, 6):
            pub.publish(room, change("enwiki", n))
        assert [rc.rcid for rc in first.take(5, timeout=10)] == [1, 2, 3, 4, 5]
        saved = first.position
        first.close()
        assert json.loads(pos_file.read_text())["rooms"][room]["stanza_id"] == saved["rooms"][room]["stanza_id"]
        for n in range(6, 11):  # while nobody listens
            pub.publish(room, change("enwiki", n))
        assert pub.flush(5)
        from_dict = prosody.client("alice", [room], resume=json.loads(json.dumps(saved)))
        missed = from_dict.take(5, timeout=10)
        assert [rc.rcid for rc in missed] == [6, 7, 8, 9, 10] and all(rc.replayed for rc in missed)
        assert from_dict.take(1, timeout=1) == [], "nothing twice"
        from_dict.close()
        from_file = prosody.client("bob", [room], resume=pos_file)
        assert [rc.rcid for rc in from_file.take(5, timeout=10)] == [6, 7, 8, 9, 10]
        from_file.close()


CHILD = textwrap.dedent(
    """
    import signal, sys, time, rcclient
    # Python's own Ctrl-C handler, even when the parent ignores SIGINT (a background job
    # of a non-interactive shell does, and a child inherits it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    client = rcclient.Client("carol@localhost", "carolcarol", rooms=[sys.argv[2]],
                             server=sys.argv[1], tls="plaintext-loopback")
    assert client.wait_until_joined(10), client.status
    print("ready", flush=True)
    try:
        for rc in client:
            print("unexpected", rc, flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        raise
    """
)


def test_ctrl_c_interrupts_a_blocking_iteration_quickly(prosody, python_exe):
    room = fresh_room("idle")
    proc = subprocess.Popen(
        [python_exe, "-c", CHILD, prosody.addr, room],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", (line, proc.stderr.read() if proc.poll() is not None else "")
        time.sleep(0.5)  # it is blocked in the iteration now
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        watchdog = threading.Timer(15, proc.kill)  # a child that ignores it fails, not hangs
        watchdog.start()
        line = proc.stdout.readline()
        watchdog.cancel()
        interrupted_after = time.monotonic() - t0
        proc.wait(timeout=10)
        exited_after = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    assert line.strip() == "interrupted"
    assert interrupted_after < 1.0, interrupted_after
    assert exited_after < 3.0, exited_after
    assert "KeyboardInterrupt" in stderr
    assert proc.returncode != 0


def test_a_killed_and_restarted_server_loses_no_change(own_prosody):
    prosody = own_prosody
    room = fresh_room("enwiki")
    client = joined_client(prosody, "alice", [room])
    pub = prosody.publisher([room])
    total, cut_at = 150, 50
    midway = threading.Event()
    failures = []

    def burst():
        try:
            for n in range(1, total + 1):
                pub.publish(room, change("enwiki", n))
                if n == cut_at:
                    midway.set()
                time.sleep(0.005)
            assert pub.flush(60), "the publisher delivered everything"
        except BaseException as e:  # pragma: no cover - reported below
            failures.append(e)
            midway.set()

    t = threading.Thread(target=burst)
    t.start()
    assert midway.wait(30)
    prosody.kill()
    time.sleep(0.7)
    prosody.restart()
    got = client.take(total, timeout=60)
    t.join(90)
    assert not failures, failures
    assert [rc.rcid for rc in got] == list(range(1, total + 1)), "every change once, in order"
    assert client.take(1, timeout=1.5) == [], "nothing twice"
    assert client.status["connections"] >= 2, client.status
    client.close()
    pub.close()


KILLED_CONSUMER = textwrap.dedent(
    """
    import sys, time, rcclient
    kind, server, room, position, log, batch = sys.argv[1:7]
    login = dict(server=server, tls="plaintext-loopback", resume=position)
    if kind == "client":
        stream = rcclient.Client("alice@localhost", "alicealice", rooms=[room], **login)
    else:
        stream = rcclient.open("xmpp:" + room, jid="alice@localhost", password="alicealice",
                               **login)
    deadline = time.monotonic() + 20
    while stream.status["state"] != "live" if kind == "source" else not stream.wait_until_joined(1):
        assert time.monotonic() < deadline, stream.status
        time.sleep(0.05)
    open(log + ".ready", "w").close()
    out = open(log, "a")
    while True:
        # One change at a time, or batches as a notebook takes them.
        for rc in (stream.take(int(batch), timeout=0.2) if int(batch) > 1 else [next(stream)]):
            out.write(f"{rc.rcid}\\n")
            out.flush()
            time.sleep(0.001)
    """
)


@pytest.mark.parametrize("kind,batch", [("client", 1), ("source", 1), ("client", 25)])
def test_a_consumer_killed_mid_burst_repeats_at_most_what_it_was_handling(
        prosody, tmp_path, python_exe, kind, batch):
    room = fresh_room("killed")
    position, log = tmp_path / "room.pos", tmp_path / "rcids.log"
    script = tmp_path / "consumer.py"
    script.write_text(KILLED_CONSUMER)

    def logged():
        return [int(x) for x in log.read_text().split()] if log.exists() else []

    def wait_logged(n, secs=30):
        deadline = time.monotonic() + secs
        while len(logged()) < n:
            assert time.monotonic() < deadline, f"{len(logged())} of {n} logged"
            time.sleep(0.01)

    def spawn():
        return subprocess.Popen([python_exe, str(script), kind, prosody.addr, room,
                                 str(position), str(log), str(batch)])

    total = 500
    with prosody.publisher([room]) as pub:
        proc = spawn()
        try:
            ready = tmp_path / "rcids.log.ready"
            deadline = time.monotonic() + 20
            while not ready.exists():
                assert time.monotonic() < deadline and proc.poll() is None, "the consumer joins"
                time.sleep(0.05)
            pub.publish(room, change("enwiki", 1))
            wait_logged(1)
            done = threading.Event()

            def burst():
                for n in range(2, total + 1):
                    pub.publish(room, change("enwiki", n))
                    time.sleep(0.005)
                done.set()

            t = threading.Thread(target=burst)
            t.start()
            for kill_at in (120, 300):
                wait_logged(kill_at)
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)
                proc = spawn()
            t.join(60)
            assert done.is_set() and pub.flush(30)
            wait_logged(total, 60)
            time.sleep(1.5)
        finally:
            proc.kill()
            proc.wait(10)
    got = logged()
    assert sorted(set(got)) == list(range(1, total + 1)), "none lost across the kills"
    again = len(got) - len(set(got))
    # What the consumer was handling when killed: one change, or the batch it had taken.
    assert again <= 2 * batch, f"{again} changes came twice"
