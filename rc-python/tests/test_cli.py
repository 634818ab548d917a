"""python -m rcclient tail / parse."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import rcclient
from conftest import FIXTURES, change, fresh_room


def run_cli(*args, timeout=30, password=None):
    env = dict(os.environ)
    env.pop("RCCLIENT_PASSWORD", None)
    if password is not None:
        env["RCCLIENT_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "rcclient", *args], capture_output=True, text=True, timeout=timeout,
        env=env,
    )


def test_tail_prints_the_bridge_line_per_change(prosody):
    room = fresh_room("enwiki")
    with prosody.publisher([room]) as pub:
        for n in range(1, 4):
            pub.publish(room, change("enwiki", n))
        assert pub.flush(5)
    out = run_cli("tail", room, "--jid", "bob@localhost",
                  "--server", prosody.addr, "--tls", "plaintext-loopback",
                  "--history", "3", "--limit", "3", password="bobbob")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [change("enwiki", n).human_line() for n in range(1, 4)]
    assert out.stdout.splitlines()[0] == "[[Page 1]]  * Tester * (+1) edit number 1 <&>"


def test_tail_json_lines_and_filters(prosody):
    room = fresh_room("enwiki")
    with prosody.publisher([room]) as pub:
        for n in range(1, 7):
            d = change("enwiki", n).to_dict()
            d["namespace"] = n % 2
            d["bot"] = n == 5
            pub.publish(room, rcclient.RecentChange.from_dict(d))
        assert pub.flush(5)
    out = run_cli("tail", room, "--jid", "bob@localhost", "--server", prosody.addr,
                  "--tls", "plaintext-loopback", "--history", "6", "--json",
                  "--namespace", "1", "--no-bots", "--timeout", "3",
                  )
    # the password from the environment
    assert out.returncode == 2 and "password" in out.stderr
    env_out = subprocess.run(
        [sys.executable, "-m", "rcclient", "tail", room, "--jid", "bob@localhost",
         "--server", prosody.addr, "--tls", "plaintext-loopback", "--history", "6", "--json",
         "--namespace", "1", "--no-bots", "--timeout", "3"],
        capture_output=True, text=True, timeout=30,
        env={**__import__("os").environ, "RCCLIENT_PASSWORD": "bobbob"},
    )
    assert env_out.returncode == 0, env_out.stderr
    lines = [json.loads(line) for line in env_out.stdout.splitlines()]
    assert [d["rcid"] for d in lines] == [1, 3]
    assert rcclient.RecentChange.from_json(json.dumps(lines[0])).title == "Page 1"


def test_tail_wrong_password_exits_2(prosody):
    out = run_cli("tail", fresh_room(), "--jid", "bob@localhost",
                  "--server", prosody.addr, "--tls", "plaintext-loopback", "--timeout", "10",
                  password="nope")
    assert out.returncode == 2 and "authentication failed" in out.stderr


def test_parse_command():
    out = run_cli("parse", str(FIXTURES / "0004.rc.xml"), str(FIXTURES / "0002.feed.json"))
    assert out.returncode == 0, out.stderr
    first, second = (json.loads(line) for line in out.stdout.splitlines())
    assert first["rcid"] == 4 and second["rcid"] == 2
    bad = run_cli("parse", "/nonexistent")
    assert bad.returncode == 1


def test_no_subcommand_takes_a_password_on_the_command_line():
    for command in ("tail", "follow"):
        out = run_cli(command, "--help")
        assert out.returncode == 0 and "--password" not in out.stdout, command
    refused = run_cli("tail", "room@conference.localhost", "--jid", "bob@localhost", "--password", "x")
    assert refused.returncode == 2 and "unrecognized arguments: --password" in refused.stderr
