"""A consumer process for bench.py's backlog-drain comparison.

    python consumer.py rcclient|slixmpp PORT ROOM N

Logs in as carol on 127.0.0.1:PORT, joins ROOM, prints "joined", then reads N changes
(each turned into Python values: a RecentChange, or for slixmpp a dict built from the
<rc> payload with ElementTree) and prints {"first": t, "last": t, "n": n} as JSON. bench.py
stops this process (SIGSTOP) while the changes are posted, so they wait on the server, and
resumes it: the rate is how fast the consumer drains a backlog.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


def run_rcclient(port: int, room: str, n: int) -> dict:
    import rcclient

    client = rcclient.Client("carol@localhost", "carolcarol", rooms=[room], server=f"127.0.0.1:{port}",
                             tls="plaintext-loopback", buffer=n + 100)
    assert client.wait_until_joined(30), client.status
    print("joined", flush=True)
    first = last = None
    count = 0
    titles = 0
    for rc in client:
        last = time.perf_counter()
        if first is None:
            first = last
        titles += len(rc.title)
        count += 1
        if count == n:
            break
    client.close()
    return {"first": first, "last": last, "n": count}


def run_slixmpp(port: int, room: str, n: int) -> dict:
    import slixmpp

    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from bench import et_rc

    ns_rc = "{jabber:client}rc"

    async def run() -> dict:
        c = slixmpp.ClientXMPP("carol@localhost", "carolcarol")
        c.register_plugin("xep_0045")
        c.enable_direct_tls = False
        c.enable_starttls = False
        c.enable_plaintext = True
        mech = c.plugin["feature_mechanisms"]
        mech.unencrypted_plain = True
        mech.unencrypted_scram = True
        loop = asyncio.get_running_loop()
        started = loop.create_future()
        done = loop.create_future()
        state = {"first": None, "last": None, "n": 0}

        def on_message(msg):
            if msg["type"] != "groupchat":
                return
            el = msg.xml.find(ns_rc)
            if el is None:
                return
            et_rc(el)
            t = time.perf_counter()
            if state["first"] is None:
                state["first"] = t
            state["last"] = t
            state["n"] += 1
            if state["n"] == n and not done.done():
                done.set_result(None)

        c.add_event_handler("session_start", lambda _e: started.done() or started.set_result(True))
        c.add_event_handler("groupchat_message", on_message)
        c.connect("127.0.0.1", port)
        await asyncio.wait_for(started, 30)
        c.send_presence()
        await c.plugin["xep_0045"].join_muc_wait(slixmpp.JID(room), "carol", maxstanzas=0, timeout=30)
        print("joined", flush=True)
        await asyncio.wait_for(done, 900)
        c.disconnect()
        return state

    return asyncio.run(run())


if __name__ == "__main__":
    kind, port, room, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    result = run_rcclient(port, room, n) if kind == "rcclient" else run_slixmpp(port, room, n)
    print(json.dumps(result), flush=True)
