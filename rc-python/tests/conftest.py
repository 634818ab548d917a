"""Fixtures: a real Prosody started by the project's scripts/prosody/*.sh on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest

import rcclient

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "prosody"
FIXTURES = REPO / "rc-core" / "tests" / "fixtures" / "mediawiki-1.39"

QUICK_RECONNECT = {"initial": 0.1, "max": 1.0, "factor": 2.0, "jitter": 0.1}
USERS = ("alice", "bob", "carol", "publisher")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def room_jid(name: str) -> str:
    return f"{name}@conference.localhost"


def fresh_room(prefix: str = "wiki") -> str:
    """A room no other test uses."""
    return room_jid(f"{prefix}-{uuid.uuid4().hex[:10]}")


class Prosody:
    """One throwaway Prosody instance with accounts alice, bob, carol and publisher
    (password: the name twice)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.state_dir = Path(f"/tmp/rcclient-test-{self.port}")
        self.env: Dict[str, str] = {}
        self.start(fresh=True)
        for user in USERS:
            self.add_user(user, user * 2)

    def _script(self, name: str, *args: str, **env: str) -> subprocess.CompletedProcess:
        full_env = dict(
            os.environ,
            PROSODY_C2S_PORT=str(self.port),
            PROSODY_STATE_DIR=str(self.state_dir),
            **env,
        )
        out = subprocess.run(
            ["bash", str(SCRIPTS / name), *args],
            env=full_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(f"{name} failed ({out.returncode}): {out.stderr[-2000:]}")
        return out

    def start(self, fresh: bool) -> None:
        out = self._script("start.sh", PROSODY_FRESH="1" if fresh else "0")
        for line in out.stdout.splitlines():
            if line.startswith("export ") and "=" in line:
                k, v = line[len("export ") :].split("=", 1)
                self.env[k] = v.strip("'")

    def add_user(self, user: str, password: str) -> None:
        self._script("adduser.sh", user, password)

    def kill(self) -> None:
        """SIGKILL, like a crash."""
        self._script("kill.sh")

    def restart(self) -> None:
        """Starts again after kill(), keeping accounts, rooms and archives."""
        self.start(fresh=False)

    def stop(self) -> None:
        try:
            self._script("stop.sh")
        finally:
            subprocess.run(["rm", "-rf", str(self.state_dir)], check=False)

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ca_cert(self) -> str:
        return self.env["PROSODY_CA_CERT"]

    def client(self, user: str, rooms: List[str], **kw) -> rcclient.Client:
        kw.setdefault("reconnect", QUICK_RECONNECT)
        return rcclient.Client(
            f"{user}@localhost",
            user * 2,
            rooms=rooms,
            server=self.addr,
            tls="plaintext-loopback",
            **kw,
        )

    def publisher(self, rooms: List[str]) -> rcclient.Publisher:
        p = rcclient.Publisher(
            "publisher@localhost",
            "publisherpublisher",
            rooms=rooms,
            server=self.addr,
            tls="plaintext-loopback",
            reconnect=QUICK_RECONNECT,
        )
        assert p.wait_until_joined(10), "the publisher joined its rooms"
        return p


def _skip_servers() -> Optional[str]:
    if os.environ.get("RCCLIENT_SKIP_PROSODY") == "1":
        return "RCCLIENT_SKIP_PROSODY=1"
    return None


@pytest.fixture(scope="session")
def prosody():
    """A Prosody shared by the tests of a session (each test uses rooms of its own)."""
    reason = _skip_servers()
    if reason:
        pytest.skip(reason)
    p = Prosody()
    yield p
    p.stop()


@pytest.fixture
def own_prosody():
    """A Prosody for one test alone (for tests that kill it)."""
    reason = _skip_servers()
    if reason:
        pytest.skip(reason)
    p = Prosody()
    yield p
    p.stop()


def change(wiki: str, n: int) -> rcclient.RecentChange:
    """Change number n of wiki: the Python twin of rc-xmpp's test change."""
    import datetime

    return rcclient.RecentChange(
        "edit",
        rcid=n,
        wiki=wiki,
        namespace=0,
        title=f"Page {n}",
        user="Tester",
        old_len=100,
        new_len=100 + n,
        rev_id=1000 + n,
        old_rev_id=999 + n,
        comment=f"edit number {n} <&>",
        timestamp=datetime.datetime.fromtimestamp(1_795_424_344 + n, tz=datetime.timezone.utc),
    )


@pytest.fixture
def python_exe() -> str:
    return sys.executable


class EventStreamsStandIn:
    """rc-testkit's EventStreams stand-in (the `eventstreams-standin` binary; Wikimedia's
    EventStreams needs Kafka, which cannot run here), on a free port of 127.0.0.1,
    driven through its /_control/ API. `flags` are the binary's (e.g. lifetime_ms=600)."""

    def __init__(self, **flags: object) -> None:
        binary = os.environ.get("RC_ES_STANDIN_BIN") or str(REPO / "target" / "debug" / "eventstreams-standin")
        args = [binary, "--port", "0"]
        for key, value in flags.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        assert line.startswith("listening on "), f"the stand-in did not start: {line!r}"
        self.base_url = line.split("listening on ", 1)[1].strip()

    def stream_url(self, streams: str = "recentchange") -> str:
        return f"{self.base_url}/v2/stream/{streams}"

    def _control(self, method: str, path: str, body: bytes = b"") -> object:
        import json
        import urllib.request

        req = urllib.request.Request(self.base_url + "/_control/" + path, data=body or None, method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
        return json.loads(text) if text.strip() else None

    def publish(self, n: int) -> None:
        self._control("POST", f"publish?n={n}")

    def publish_raw(self, data: str, topic: str = "eqiad.mediawiki.recentchange") -> None:
        self._control("POST", f"publish_raw?topic={topic}", data.encode())

    def freeze(self, on: bool) -> None:
        self._control("POST", f"freeze?on={int(on)}")

    def close_all(self) -> None:
        self._control("POST", "close_all")

    def requests(self) -> list:
        return self._control("GET", "requests")  # type: ignore[return-value]

    def events(self, stream: str = "recentchange") -> list:
        return self._control("GET", f"events?stream={stream}")  # type: ignore[return-value]

    def expected_rcids(self) -> List[int]:
        import json

        return [json.loads(e["data"])["id"] for e in self.events() if not e["canary"]]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def standin():
    """A factory of EventStreams stand-ins, all stopped after the test."""
    made: List[EventStreamsStandIn] = []

    def make(**flags: object) -> EventStreamsStandIn:
        s = EventStreamsStandIn(**flags)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()
