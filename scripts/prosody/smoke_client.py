#!/usr/bin/env python3
"""Tiny XMPP smoke client for the Prosody test fixture (uses slixmpp).

One run:
  1. alice@localhost logs in over STARTTLS, verifying the fixture's CA cert;
     checks XEP-0198 (smacks) was enabled and XEP-0199 ping answers.
  2. bob@localhost logs in over plaintext (SCRAM/PLAIN without TLS, allowed on loopback).
  3. both join ROOM; alice sends a groupchat message carrying --token; bob receives it.
  4. the room's MAM archive (XEP-0313, mod_muc_mam) contains --token and every --expect token
     (tokens from earlier runs, i.e. before a SIGKILL + restart).
  5. an anonymous user logs in on anon.localhost, joins ROOM and sees the same archive.

Exit 0 on success; prints one "ok ..." line per check, "FAIL ..." and exit 1 otherwise.
"""
import argparse
import asyncio
import logging
import ssl
import sys
import uuid

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

TIMEOUT = 15


def ok(msg):
    print(f"ok   {msg}", flush=True)


class Fail(Exception):
    pass


def make_client(jid, password, args, tls):
    c = slixmpp.ClientXMPP(
        jid,
        password,
        sasl_mech="ANONYMOUS" if not password else None,
    )
    for p in ("xep_0030", "xep_0045", "xep_0059", "xep_0198", "xep_0199", "xep_0313"):
        c.register_plugin(p)
    # Never let slixmpp try direct TLS / SRV: plain TCP to our loopback port.
    c.enable_direct_tls = False
    c.enable_starttls = tls
    c.enable_plaintext = not tls
    if tls:
        c.ca_certs = args.ca
    else:
        # Allow SASL over an unencrypted loopback stream.
        mech = c.plugin["feature_mechanisms"]
        mech.unencrypted_plain = True
        mech.unencrypted_scram = True
    return c


async def login(jid, password, args, tls):
    c = make_client(jid, password, args, tls)
    loop = asyncio.get_running_loop()
    started = loop.create_future()
    c.sm_result = loop.create_future()
    c.add_event_handler("sm_enabled", lambda _e: c.sm_result.done() or c.sm_result.set_result(True))
    c.add_event_handler("sm_failed", lambda _e: c.sm_result.done() or c.sm_result.set_result(False))
    c.add_event_handler("session_start", lambda _e: started.done() or started.set_result(True))
    c.add_event_handler(
        "failed_auth", lambda _e: started.done() or started.set_exception(Fail(f"auth failed for {jid}"))
    )
    c.add_event_handler(
        "connection_failed",
        lambda e: started.done() or started.set_exception(Fail(f"connection failed for {jid}: {e}")),
    )
    c.connect(args.host, args.port)
    try:
        await asyncio.wait_for(started, TIMEOUT)
    except asyncio.TimeoutError:
        raise Fail(f"no session for {jid} within {TIMEOUT}s")
    c.send_presence()
    sslobj = c.transport.get_extra_info("ssl_object") if c.transport else None
    if tls and not isinstance(sslobj, ssl.SSLObject):
        raise Fail(f"{jid}: expected a TLS stream")
    if not tls and sslobj is not None:
        raise Fail(f"{jid}: expected a plaintext stream")
    return c


async def join(c, room, nick):
    try:
        pres, _subject, _occupants, _history = await c.plugin["xep_0045"].join_muc_wait(
            room, nick, maxstanzas=0, timeout=TIMEOUT
        )
    except Exception as e:  # PresenceError or timeout
        raise Fail(f"{c.boundjid} could not join {room}: {e!r}")
    return pres


async def archive_bodies(c, room):
    bodies = []
    async for msg in c.plugin["xep_0313"].iterate(jid=slixmpp.JID(room), rsm={"max": 100}):
        fwd = msg["mam_result"]["forwarded"]["stanza"]
        if fwd["body"]:
            bodies.append(fwd["body"])
    return bodies


async def run(args):
    room = args.room
    token = args.token or f"smoke-{uuid.uuid4().hex[:12]}"
    clients = []
    try:
        # 1. alice over STARTTLS with CA verification
        alice = await login(f"{args.user1}@localhost", args.password1, args, tls=True)
        clients.append(alice)
        ok(f"login {alice.boundjid} over STARTTLS (cert verified against {args.ca})")
        try:
            sm = await asyncio.wait_for(alice.sm_result, TIMEOUT)
        except asyncio.TimeoutError:
            sm = False
        if not sm:
            raise Fail("XEP-0198 stream management was not enabled")
        ok("XEP-0198 stream management enabled")
        rtt = await alice.plugin["xep_0199"].ping(slixmpp.JID("localhost"), timeout=TIMEOUT)
        ok(f"XEP-0199 ping to localhost answered ({rtt * 1000:.1f} ms)")

        # 2. bob over plaintext
        bob = await login(f"{args.user2}@localhost", args.password2, args, tls=False)
        clients.append(bob)
        ok(f"login {bob.boundjid} over plaintext")

        # 3. MUC
        if args.expect and not args.allow_room_recreate:
            # After a restart the (persistent) room must exist before anyone rejoins it.
            try:
                await alice.plugin["xep_0030"].get_info(jid=room, timeout=TIMEOUT)
            except IqError as e:
                raise Fail(f"room {room} did not survive the restart: {e.iq['error']['condition']}")
            ok(f"room {room} survived the restart")
        await join(alice, room, "alice")
        ok(f"alice joined {room}")
        info = await alice.plugin["xep_0030"].get_info(jid=room, timeout=TIMEOUT)
        feats = set(info["disco_info"]["features"])
        if "urn:xmpp:mam:2" not in feats:
            raise Fail(f"room does not advertise urn:xmpp:mam:2: {sorted(feats)}")
        ok(f"room advertises urn:xmpp:mam:2 (persistent={'muc_persistent' in feats})")
        await join(bob, room, "bob")
        ok(f"bob joined {room}")

        got = asyncio.get_running_loop().create_future()

        def on_gc(msg):
            if msg["body"] == token and not got.done():
                got.set_result(msg)

        bob.add_event_handler("groupchat_message", on_gc)
        alice.send_message(mto=room, mbody=token, mtype="groupchat")
        try:
            await asyncio.wait_for(got, TIMEOUT)
        except asyncio.TimeoutError:
            raise Fail("bob did not receive alice's groupchat message")
        ok(f"groupchat message {token!r} delivered to bob")

        # 4. MAM
        bodies = await archive_bodies(alice, room)
        missing = [t for t in [token, *args.expect] if t not in bodies]
        if missing:
            raise Fail(f"room archive lacks {missing}; archive has {len(bodies)} bodies: {bodies[-10:]}")
        ok(f"room MAM archive has {len(bodies)} messages incl. this run's token and {len(args.expect)} earlier token(s)")

        # 5. anonymous
        anon = await login("anon.localhost", "", args, tls=False)
        clients.append(anon)
        if anon.boundjid.domain != "anon.localhost" or not anon.boundjid.user:
            raise Fail(f"unexpected anonymous jid {anon.boundjid}")
        ok(f"anonymous login as {anon.boundjid}")
        await join(anon, room, "anon-" + anon.boundjid.user[:6])
        anon_bodies = await archive_bodies(anon, room)
        if token not in anon_bodies:
            raise Fail("anonymous user cannot see token in room archive")
        ok("anonymous user joined the room and read its archive")
        print(f"TOKEN {token}", flush=True)
        return 0
    except (Fail, IqError, IqTimeout) as e:
        if isinstance(e, IqError):
            e = f"IQ error: {e.iq['error']['condition']} {e.iq['error']['text']}"
        print(f"FAIL {e}", flush=True)
        return 1
    finally:
        for c in clients:
            c.disconnect(wait=1)
        await asyncio.sleep(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True, help="CA cert of the fixture (PROSODY_CA_CERT)")
    ap.add_argument("--user1", default="alice")
    ap.add_argument("--password1", default="alice-pw")
    ap.add_argument("--user2", default="bob")
    ap.add_argument("--password2", default="bob-pw")
    ap.add_argument("--room", default="smoke@conference.localhost")
    ap.add_argument("--token", default=None, help="body of the groupchat message to send")
    ap.add_argument("--expect", action="append", default=[], help="token that must already be archived")
    ap.add_argument("--allow-room-recreate", action="store_true",
                    help="don't require the room to exist before rejoining (PROSODY_SAVE_NEW_ROOMS=0)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.ERROR,
                        format="%(levelname)s %(name)s %(message)s")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
