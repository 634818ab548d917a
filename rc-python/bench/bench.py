#!/usr/bin/env python3
"""rcclient benchmark: one run, one table.

1. Parsing: ``rcclient.parse_many`` on the recorded MediaWiki 1.39 changes (the three forms
   mixed, and each form alone) against the same parse written in Python with
   ``xml.etree.ElementTree`` (XML forms) and ``json.loads`` (JSON form), building dicts with
   the same typed values (ints, flags, UTC datetimes, tags, log params).
2. Streaming: changes/second through ``rcclient.Client`` iteration from a buffered stream
   (every change already received, the loop only turns them into Python objects), the
   and the rate at which a consumer process drains a backlog the server holds for it:
   rcclient.Client against a slixmpp consumer on the same Prosody room parsing each
   ``<rc>`` payload into a dict (skipped if slixmpp is not installed). Live publishing is
   bound by the server (it archives every message), so it is shown for reference only.

    python rc-python/bench/bench.py [--changes 20000] [--parse-items 50000] [--no-xmpp]

Needs rcclient installed (scripts/test.sh's venv has it); the streaming half starts a
Prosody with scripts/prosody/start.sh on a free port of 127.0.0.1 and stops it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import json
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import rcclient

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURES = REPO / "rc-core" / "tests" / "fixtures" / "mediawiki-1.39"
UTC = dt.timezone.utc

# ------------------------------------------------------------------ Python baselines


def _int(v):
    return None if v is None else int(v)


def _id(v):
    """The API writes 0 for 'none'."""
    if v is None:
        return None
    n = int(v)
    return n or None


def _elem_value(el):
    if len(el) == 0 and not el.attrib:
        return el.text or ""
    d = dict(el.attrib)
    if len(el) and all(c.tag == "_v" for c in el):
        return [_elem_value(c) for c in el]
    for c in el:
        d[c.tag] = _elem_value(c)
    return d


def et_rc(el):
    """An API / XMLRC <rc> element as a dict of typed values."""
    a = el.attrib
    ts = a.get("timestamp")
    tags = el.find("tags")
    lp = el.find("logparams")
    patrolled = (
        "autopatrolled" if "autopatrolled" in a else
        "patrolled" if "patrolled" in a else
        "unpatrolled" if "unpatrolled" in a else "unknown"
    )
    return {
        "kind": a.get("type"),
        "rcid": _int(a.get("rcid")),
        "wiki": a.get("wikiid"),
        "namespace": _int(a.get("ns")),
        "title": a.get("title"),
        "page_id": _id(a.get("pageid")),
        "rev_id": _id(a.get("revid")),
        "old_rev_id": _id(a.get("old_revid")),
        "user": a.get("user"),
        "user_id": _id(a.get("userid")),
        "bot": "bot" in a,
        "minor": "minor" in a,
        "anon": "anon" in a,
        "redirect": "redirect" in a,
        "patrolled": patrolled,
        "old_len": _int(a.get("oldlen")),
        "new_len": _int(a.get("newlen")),
        "timestamp": dt.datetime.fromisoformat(ts.replace("Z", "+00:00")) if ts else None,
        "comment": a.get("comment"),
        "parsed_comment": a.get("parsedcomment"),
        "tags": [t.text for t in tags] if tags is not None else [],
        "sha1": a.get("sha1"),
        "log_id": _int(a.get("logid")),
        "log_type": a.get("logtype"),
        "log_action": a.get("logaction"),
        "log_params": _elem_value(lp) if lp is not None else {},
        "commenthidden": "commenthidden" in a,
        "userhidden": "userhidden" in a,
        "actionhidden": "actionhidden" in a,
        "suppressed": "suppressed" in a,
    }


def et_recentchange(el):
    """An RC feed <recentchange> element as a dict of typed values."""
    a = el.attrib
    length = el.find("length")
    rev = el.find("revision")
    lp = el.find("log_params")
    ts = a.get("timestamp")
    return {
        "kind": a.get("type"),
        "rcid": _int(a.get("id")),
        "wiki": a.get("wiki"),
        "namespace": _int(a.get("namespace")),
        "title": a.get("title"),
        "user": a.get("user"),
        "bot": "bot" in a,
        "minor": "minor" in a,
        "patrolled": "patrolled" if "patrolled" in a else "unknown",
        "old_len": _int(length.get("old")) if length is not None else None,
        "new_len": _int(length.get("new")) if length is not None else None,
        "old_rev_id": _int(rev.get("old")) if rev is not None else None,
        "rev_id": _int(rev.get("new")) if rev is not None else None,
        "timestamp": dt.datetime.fromtimestamp(int(ts), UTC) if ts else None,
        "comment": a.get("comment"),
        "log_id": _int(a.get("log_id")),
        "log_type": a.get("log_type"),
        "log_action": a.get("log_action"),
        "log_action_comment": a.get("log_action_comment"),
        "log_params": _elem_value(lp) if lp is not None else {},
        "server_url": a.get("server_url"),
        "server_name": a.get("server_name"),
        "script_path": a.get("server_script_path"),
    }


def json_change(data):
    """An RC feed JSON object as a dict of typed values."""
    j = json.loads(data)
    length = j.get("length") or {}
    rev = j.get("revision") or {}
    ts = j.get("timestamp")
    p = j.get("patrolled")
    lp = j.get("log_params")
    return {
        "kind": j.get("type"),
        "rcid": j.get("id"),
        "wiki": j.get("wiki"),
        "namespace": j.get("namespace"),
        "title": j.get("title"),
        "user": j.get("user"),
        "bot": bool(j.get("bot")),
        "minor": bool(j.get("minor")),
        "patrolled": "unknown" if p is None else ("patrolled" if p else "unpatrolled"),
        "old_len": length.get("old"),
        "new_len": length.get("new"),
        "old_rev_id": rev.get("old"),
        "rev_id": rev.get("new"),
        "timestamp": dt.datetime.fromtimestamp(ts, UTC) if ts is not None else None,
        "comment": j.get("comment"),
        "parsed_comment": j.get("parsedcomment"),
        "log_id": j.get("log_id"),
        "log_type": j.get("log_type"),
        "log_action": j.get("log_action"),
        "log_action_comment": j.get("log_action_comment"),
        "log_params": lp if isinstance(lp, dict) else {},
        "server_url": j.get("server_url"),
        "server_name": j.get("server_name"),
        "script_path": j.get("server_script_path"),
    }


def python_parse(data: bytes):
    if data.lstrip()[:1] == b"{":
        return json_change(data)
    el = ET.fromstring(data)
    return et_rc(el) if el.tag == "rc" else et_recentchange(el)


# ------------------------------------------------------------------ timing


def rates(ours, baseline, n_items, rounds=11):
    """Items per second of ours() and baseline() (each handles n_items): runs alternate, so
    both see the same machine load, and the best run of each counts."""
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for i, fn in enumerate((ours, baseline)):
            gc.collect()
            t0 = time.perf_counter()
            out = fn()
            del out
            best[i] = min(best[i], time.perf_counter() - t0)
    return n_items / best[0], n_items / best[1]


def fmt(r):
    if r >= 1e6:
        return f"{r / 1e6:.2f}M/s"
    if r >= 1e3:
        return f"{r / 1e3:.0f}k/s"
    return f"{r:.0f}/s"


def fixtures():
    forms = {"<rc>": [], "<recentchange>": [], "JSON": []}
    for p in sorted(FIXTURES.iterdir()):
        if p.name in ("index.json", "steps.json", "api-recentchanges.xml"):
            continue
        if p.name.endswith(".feed.json"):
            forms["JSON"].append(p.read_bytes())
        elif p.name.endswith(".feed.xml"):
            forms["<recentchange>"].append(p.read_bytes())
        elif p.name.endswith(".xml"):
            forms["<rc>"].append(p.read_bytes())
    return forms


def bench_parse(n_items):
    forms = fixtures()
    rows = []
    mix = [d for items in forms.values() for d in items]
    cases = [("mix of the 3 forms", mix, "ElementTree + json.loads")]
    cases += [(f"{name} only", items, "json.loads" if name == "JSON" else "ElementTree")
              for name, items in forms.items()]
    for name, items, baseline in cases:
        data = (items * (n_items // len(items) + 1))[:n_items]
        # sanity: both sides agree on what they parse
        ours = rcclient.parse_many(data[:50])
        theirs = [python_parse(d) for d in data[:50]]
        assert [o.title for o in ours] == [t["title"] for t in theirs]
        assert [o.timestamp for o in ours] == [t["timestamp"] for t in theirs]
        r_ours, r_base = rates(
            lambda: rcclient.parse_many(data), lambda: [python_parse(d) for d in data], len(data)
        )
        rows.append((f"parse: {name}", f"rcclient.parse_many {fmt(r_ours)}",
                     f"{baseline} {fmt(r_base)}", f"{r_ours / r_base:.1f}x"))
    return rows


# ------------------------------------------------------------------ streaming


def make_changes(n):
    base = rcclient.parse((FIXTURES / "0002.rc.xml").read_bytes()).to_dict()
    out = []
    for i in range(1, n + 1):
        d = dict(base, rcid=i, wiki="benchwiki", title=f"Page {i % 977}", new_len=1000 + i)
        out.append(rcclient.RecentChange.from_dict(d))
    return out


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def bench_buffered(prosody, n):
    """Publish n changes while the client does not read, then time the iteration alone."""
    from conftest import fresh_room

    room = fresh_room("bench")
    client = prosody.client("alice", [room], buffer=n + 100)
    assert client.wait_until_joined(15)
    changes = make_changes(n)
    with prosody.publisher([room]) as pub:
        t0 = time.perf_counter()
        pub.publish_many(room, changes)
        wait_for(lambda: client.buffered >= n, 600, f"{n} changes buffered")
        delivered = n / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    count = 0
    for rc in client:
        count += 1
        if count == n:
            break
    bare = n / (time.perf_counter() - t0)
    client.close()
    return bare, delivered


def bench_drain(prosody, kind, n):
    """Changes/second a consumer process drains from a backlog of n changes held by the
    server (the process is stopped while they are posted). None if it cannot run."""
    import os
    import signal
    import subprocess

    from conftest import fresh_room

    if kind == "slixmpp":
        try:
            import slixmpp  # noqa: F401
        except ImportError:
            return None
    room = fresh_room(f"drain-{kind}")
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "consumer.py"), kind, str(prosody.port), room, str(n)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "joined", line
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            with prosody.publisher([room]) as pub:
                pub.publish_many(room, make_changes(n))
                assert pub.flush(900), "the room took every change"
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    result = json.loads(out.strip().splitlines()[-1])
    assert result["n"] == n, result
    return (n - 1) / (result["last"] - result["first"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--changes", type=int, default=20000, help="changes per streaming run")
    ap.add_argument("--parse-items", type=int, default=10000, help="items per parsing run")
    ap.add_argument("--drain-changes", type=int, default=5000, help="changes per backlog-drain run")
    ap.add_argument("--no-xmpp", action="store_true", help="only the parsing half")
    args = ap.parse_args()

    rows = bench_parse(args.parse_items)
    if not args.no_xmpp:
        sys.path.insert(0, str(REPO / "rc-python" / "tests"))
        from conftest import Prosody

        prosody = Prosody()
        try:
            bare, delivered = bench_buffered(prosody, args.changes)
            drain_rc = bench_drain(prosody, "rcclient", args.drain_changes)
            drain_slix = bench_drain(prosody, "slixmpp", args.drain_changes)
        finally:
            prosody.stop()
        rows.append(("stream: buffered, for rc in client", f"rcclient.Client {fmt(bare)}", "-", "-"))
        rows.append(("stream: drain a server backlog", f"rcclient.Client {fmt(drain_rc)}",
                     f"slixmpp + ElementTree {fmt(drain_slix)}" if drain_slix else "slixmpp not installed",
                     f"{drain_rc / drain_slix:.1f}x" if drain_slix else "-"))
        rows.append(("stream: live publish -> client buffer", f"{fmt(delivered)} (server-bound)", "-", "-"))

    widths = [max(len(r[i]) for r in rows + [("what", "rcclient", "baseline", "ratio")]) for i in range(4)]
    line = " | ".join
    print("| " + line(h.ljust(w) for h, w in zip(("what", "rcclient", "baseline", "ratio"), widths)) + " |")
    print("|-" + "-|-".join("-" * w for w in widths) + "-|")
    for r in rows:
        print("| " + line(c.ljust(w) for c, w in zip(r, widths)) + " |")
    print(f"\n(rcclient {rcclient.__version__}, Python {sys.version.split()[0]}, "
          f"{args.parse_items} items per parse run, {args.changes} changes per stream run)")


if __name__ == "__main__":
    main()
