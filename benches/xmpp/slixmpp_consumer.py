#!/usr/bin/env python3
"""The slixmpp baseline consumer of the rc-xmpp benchmark (benches/xmpp/main.rs).

It does what the Rust consumer does with the same messages: joins the room, takes each
groupchat message's <rc> element, turns its attributes into typed values (ints, flags,
tags), and reads the send time the driver wrote into the comment
("bench:<phase>:<seq>:<CLOCK_MONOTONIC ns>") to record the latency.

It speaks the same line protocol as the Rust consumer, on stdin/stdout:
  (start)       -> "ready" once joined (or "failed <reason>")
  "poll"        -> {"cpu_ns", "wall_ns", "wakeups", "received", "errors", "phases": {id: [n, first_ns, last_ns]}}
  "lat <phase>" -> {"phase", "lat_ns": [...]} (and forgets that phase's samples)
  "quit"        -> leaves, disconnects, exits
CPU time is getrusage(RUSAGE_SELF) user + system, like the Rust consumer's.
"""
import argparse
import asyncio
import json
import logging
import resource
import sys
import time

import slixmpp

NS = "{jabber:client}"
INTS = ("rcid", "ns", "pageid", "revid", "old_revid", "userid", "oldlen", "newlen", "logid")
FLAGS = ("bot", "new", "minor", "anon", "redirect", "patrolled", "autopatrolled", "unpatrolled")


def cpu_ns():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return int((r.ru_utime + r.ru_stime) * 1e9)


def typed(rc):
    """The <rc> element as typed values, as recentchanges_core::from_element does (minus validation)."""
    a = rc.attrib
    change = {"kind": a.get("type")}
    for k in INTS:
        v = a.get(k)
        if v is not None:
            change[k] = int(v)
    for k in FLAGS:
        change[k] = k in a
    for k in ("wikiid", "title", "user", "timestamp", "comment", "server_url", "server_name"):
        v = a.get(k)
        if v is not None:
            change[k] = v
    tags = rc.find(NS + "tags")
    change["tags"] = [t.text for t in tags] if tags is not None else []
    return change


class Consumer(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0045")
        self.enable_direct_tls = False
        if args.ca:
            self.enable_starttls = True
            self.enable_plaintext = False
            self.ca_certs = args.ca
        else:
            self.enable_starttls = False
            self.enable_plaintext = True
            mech = self.plugin["feature_mechanisms"]
            mech.unencrypted_plain = True
            mech.unencrypted_scram = True
        self.received = 0
        self.errors = 0
        self.phases = {}  # phase -> [n, first_ns, last_ns]
        self.lat = {}  # phase -> [ns]
        self.add_event_handler("groupchat_message", self.on_groupchat)

    def on_groupchat(self, msg):
        now = time.monotonic_ns()
        rc = msg.xml.find(NS + "rc")
        if rc is None:
            if msg["body"]:
                self.errors += 1
            return
        try:
            change = typed(rc)
        except ValueError:
            self.errors += 1
            return
        self.received += 1
        parts = change.get("comment", "").split(":", 4)
        if len(parts) < 4 or parts[0] != "bench":
            return
        phase, sent = parts[1], int(parts[3])
        p = self.phases.get(phase)
        if p is None:
            p = self.phases[phase] = [0, now, now]
            self.lat[phase] = []
        p[0] += 1
        p[2] = now
        self.lat[phase].append(now - sent)

    def poll(self):
        return {
            "cpu_ns": cpu_ns(),
            "wakeups": resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw,
            "wall_ns": time.monotonic_ns(),
            "received": self.received,
            "errors": self.errors,
            "phases": self.phases,
        }


def say(obj):
    sys.stdout.write(obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":")))
    sys.stdout.write("\n")
    sys.stdout.flush()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True, help="host:port")
    ap.add_argument("--jid", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--room", required=True)
    ap.add_argument("--nick", required=True)
    ap.add_argument("--ca", help="STARTTLS verified with this CA; plaintext without it")
    args = ap.parse_args()
    host, port = args.server.rsplit(":", 1)

    c = Consumer(args)
    loop = asyncio.get_running_loop()
    started = loop.create_future()
    c.add_event_handler("session_start", lambda _e: started.done() or started.set_result(True))
    c.add_event_handler("failed_auth", lambda _e: started.done() or started.set_exception(RuntimeError("auth failed")))
    c.connect(host, int(port))
    try:
        await asyncio.wait_for(started, 20)
        c.send_presence()
        await c.plugin["xep_0045"].join_muc_wait(slixmpp.JID(args.room), args.nick, maxstanzas=0, timeout=20)
    except Exception as e:  # noqa: BLE001 - reported to the driver
        say(f"failed {e!r}")
        return 1
    say("ready")

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = (await reader.readline()).decode().strip()
        if not line or line == "quit":
            break
        if line == "poll":
            say(c.poll())
        elif line.startswith("lat "):
            phase = line[4:]
            say({"phase": phase, "lat_ns": c.lat.pop(phase, [])})
    c.plugin["xep_0045"].leave_muc(slixmpp.JID(args.room), args.nick)
    c.disconnect()
    try:
        await asyncio.wait_for(c.disconnected, 3)
    except Exception:  # noqa: BLE001
        pass
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    sys.exit(asyncio.run(main()))
