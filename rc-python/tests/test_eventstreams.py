"""rcclient.open("eventstreams:...") and `python -m rcclient follow` against rc-testkit's
EventStreams stand-in (Wikimedia's service needs Kafka, which cannot run here; the
stand-in is built on axum's SSE implementation and serves changes recorded from a real
MediaWiki 1.39 JSON feed with `meta` added per the mediawiki/recentchange schema)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import rcclient

UA = "rcclient-tests/1.0 (tests@example.org)"


def _take_all(source, n, timeout=20):
    got = source.take(n, timeout=timeout)
    assert len(got) == n, f"{len(got)} of {n}: {source.status}"
    return got


def _assert_once_in_order(changes, want):
    rcids = [c.rcid for c in changes]
    assert len(set(rcids)) == len(rcids), f"a change twice: {rcids}"
    assert sorted(rcids) == sorted(want), f"missing {set(want) - set(rcids)}"
    by_topic = {}
    for c in changes:
        by_topic.setdefault(c.topic, []).append(c.offset)
    for topic, offsets in by_topic.items():
        assert offsets == sorted(set(offsets)), f"{topic} out of order: {offsets}"


def test_every_event_once_and_in_order_across_server_closes_without_canaries(standin):
    es = standin(initial_events=40, canary_every=9, lifetime_ms=600, heartbeat_ms=200)
    with rcclient.open(f"eventstreams:{es.stream_url()}", since="beginning", user_agent=UA) as source:
        got = _take_all(source, len(es.expected_rcids()))
        for _ in range(3):
            es.publish(10)
            time.sleep(0.4)
        got += _take_all(source, len(es.expected_rcids()) - len(got))
        assert source.take(1, timeout=1) == [], "nothing more"
        status = source.status
    _assert_once_in_order(got, es.expected_rcids())
    canaries = sum(1 for e in es.events() if e["canary"])
    assert canaries > 3 and status["canaries"] == canaries
    assert status["duplicates"] == 0
    first = got[0]
    assert first.stream == "mediawiki.recentchange"
    assert first.topic in ("eqiad.mediawiki.recentchange", "codfw.mediawiki.recentchange")
    assert first.partition == 0 and isinstance(first.offset, int)
    assert first.event_id and first.sent_at is not None and first.sent_at.tzinfo is not None
    requests = es.requests()
    assert len(requests) >= 3, "the server closed connections"
    assert "since=" in (requests[0]["query"] or "") and requests[0]["last_event_id"] is None
    assert all(r["last_event_id"] and "since" not in (r["query"] or "") for r in requests[1:])
    assert all(r["user_agent"] == UA for r in requests)


def test_a_cut_and_a_frozen_server_lose_nothing(standin):
    es = standin(initial_events=10, heartbeat_ms=200)
    with rcclient.open(f"eventstreams:{es.stream_url()}", since="beginning", stall_timeout=1.0) as source:
        got = _take_all(source, 10)
        es.close_all()
        es.publish(5)
        got += _take_all(source, 5)
        es.freeze(True)
        es.publish(5)
        time.sleep(2.5)
        es.freeze(False)
        got += _take_all(source, 5)
    _assert_once_in_order(got, es.expected_rcids())


CONSUMER = textwrap.dedent(
    """
    import json, os, sys
    import rcclient
    url, out_path = sys.argv[1], sys.argv[2]
    resume = None
    if os.path.exists(out_path):
        lines = [l for l in open(out_path).read().splitlines() if l.endswith("}")]
        if lines:
            resume = json.loads(lines[-1])["position"]
    with rcclient.open("eventstreams:" + url, since="beginning", resume=resume) as source:
        out = open(out_path, "a")
        for rc in source:
            # The change and the position after it, in one write (as a reuser commits both).
            out.write(json.dumps({"rcid": rc.rcid, "position": source.position}) + "\\n")
            out.flush()
    """
)


def test_a_consumer_killed_and_restarted_from_its_position_gets_every_event_once(standin, tmp_path, python_exe):
    es = standin(initial_events=30, lifetime_ms=700)
    out = tmp_path / "out.jsonl"
    script = tmp_path / "consumer.py"
    script.write_text(CONSUMER)

    def lines():
        return out.read_text().splitlines() if out.exists() else []

    # Killed (SIGKILL) after 12 of 30, after 25 of 40, and once all 50 are in.
    for publish, kill_at in ((0, 12), (10, 25), (10, 50)):
        if publish:
            es.publish(publish)
        proc = subprocess.Popen([python_exe, str(script), es.stream_url(), str(out)])
        deadline = time.monotonic() + 30
        while len(lines()) < kill_at and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    rcids = [json.loads(line)["rcid"] for line in lines()]
    assert len(rcids) == len(set(rcids)), f"a change twice: {rcids}"
    assert sorted(rcids) == sorted(es.expected_rcids())


def test_a_restart_with_since_now_continues_from_the_position_file(standin, tmp_path):
    es = standin(initial_events=20)
    pos = tmp_path / "es.pos"
    with rcclient.open(f"eventstreams:{es.stream_url()}", since="beginning", resume=str(pos)) as source:
        got = _take_all(source, 8)
    assert pos.exists()
    es.publish(6)
    with rcclient.open(f"eventstreams:{es.stream_url()}", since="now", resume=str(pos)) as source:
        got += _take_all(source, len(es.expected_rcids()) - 8)
        assert source.take(1, timeout=1) == []
    _assert_once_in_order(got, es.expected_rcids())


def test_a_throttled_source_never_asks_before_retry_after(standin):
    # Connections that live 1.1 s are made again at once: the second within 3 s is refused.
    es = standin(initial_events=0, lifetime_ms=1100, rate_limit=1, rate_window_ms=3000)
    with rcclient.open(f"eventstreams:{es.stream_url()}") as source:
        time.sleep(6)
        assert source.status["state"] != "failed"
    requests = es.requests()
    throttled = [r for r in requests if r["status"] == 429]
    assert throttled, requests
    for a, b in zip(requests, requests[1:]):
        if a["status"] == 429:
            assert b["since_start_ms"] - a["since_start_ms"] >= 1000 * a["retry_after"], (a, b)


def test_malformed_and_oversized_events_are_error_items_and_the_stream_goes_on(standin):
    es = standin(initial_events=0)
    with rcclient.open(f"eventstreams:{es.stream_url()}", errors="yield") as source:
        deadline = time.monotonic() + 10
        while source.status["state"] != "live" and time.monotonic() < deadline:
            time.sleep(0.05)
        es.publish_raw("{not json")
        es.publish_raw('{"meta": {"id": "x1", "stream": "mediawiki.recentchange"}, "id": 5, "type": "edit", "namespace": "zero"}')
        es.publish_raw('{"comment": "' + "x" * (1536 * 1024) + '"}')
        es.publish(1)
        items = source.take(4, timeout=15)
    assert len(items) == 4, items
    assert all(isinstance(i, rcclient.StreamError) for i in items[:3]), items
    assert "namespace" in str(items[1])
    assert "larger than" in str(items[2])
    assert isinstance(items[3], rcclient.RecentChange)


def test_follow_prints_json_lines_of_an_eventstreams_source(standin):
    es = standin(initial_events=6)
    out = subprocess.run(
        [sys.executable, "-m", "rcclient", "follow", f"eventstreams:{es.stream_url()}",
         "--since", "beginning", "--json", "--limit", "6", "--user-agent", UA],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    rcids = [json.loads(line)["rcid"] for line in out.stdout.splitlines()]
    assert rcids == es.expected_rcids()
    assert all(r["user_agent"] == UA for r in es.requests())


def test_follow_takes_no_password_on_the_command_line():
    out = subprocess.run([sys.executable, "-m", "rcclient", "follow", "--help"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "--password" not in out.stdout
