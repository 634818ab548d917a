#!/usr/bin/env python3
"""EventStreams (SSE) consumer benchmark driver: one run, one table.

    cargo bench --bench eventstreams [-- OPTIONS]      # builds the Rust consumer, runs this
    python3 benches/eventstreams/run.py [OPTIONS]       # the same (builds with cargo itself)

Starts the EventStreams stand-in (``eventstreams-standin``, release build) on 127.0.0.1 and
measures consumers, each a process of its own reporting its own CPU time
(``getrusage(RUSAGE_SELF)``, user + system, all threads):

1. throughput: the stand-in holds ``--events`` recentchange events (about 1 KB each, made
   from the recorded MediaWiki 1.39 changes); each consumer reads them from the beginning
   as fast as it can, one after the other: the Rust consumer (this bench's binary,
   ``recentchanges::http::eventstreams::EventStreams`` on a current-thread tokio runtime)
   without and with a filter (namespace 0, not bot), ``rcclient.open("eventstreams:URL")``,
   and the baseline, ``requests-sse`` + ``json.loads`` into dicts (what pywikibot does);
2. firehose: a second stand-in publishes ``--rate`` events/s live (Wikimedia's
   recentchange peak is about 1,000/s); the Rust consumer, rcclient and the baseline, all
   with the filter, follow it at the same time for ``--seconds``.

Then one table, the ratios against the baseline measured in the same run, and the targets
(at least 10x less CPU per event than the baseline; the firehose under 2 % of one core for
the Rust consumer with a filter). Needs a Python with ``requests-sse`` (installed with pip
if missing) and ``rcclient`` (its row is skipped if missing): ``--python``, else
``$RC_BENCH_PYTHON``, else ``target/rc-python-venv/bin/python``, else this Python.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PY_CONSUMER = HERE / "py_consumer.py"
FILTER = "namespace 0, not bot"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cargo_build_standin() -> Path:
    cmd = ["cargo", "build", "--release", "-p", "rc-testkit", "--features", "eventstreams",
           "--bin", "eventstreams-standin", "--message-format=json-render-diagnostics"]
    return _cargo_exe(cmd, "eventstreams-standin", "bin")


def cargo_build_consumer() -> Path:
    cmd = ["cargo", "bench", "--bench", "eventstreams", "--no-run",
           "--message-format=json-render-diagnostics"]
    return _cargo_exe(cmd, "eventstreams", "bench")


def _cargo_exe(cmd: list[str], name: str, kind: str) -> Path:
    log("$ " + " ".join(cmd))
    out = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True, check=True).stdout
    for line in out.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        t = msg.get("target", {})
        if msg.get("reason") == "compiler-artifact" and t.get("name") == name \
                and kind in t.get("kind", []) and msg.get("executable"):
            return Path(msg["executable"])
    raise SystemExit(f"cargo built no {kind} {name}")


def pick_python(arg: str | None) -> str:
    for p in (arg, os.environ.get("RC_BENCH_PYTHON"), str(REPO / "target/rc-python-venv/bin/python")):
        if p and Path(p).exists():
            return p
    return sys.executable


def has_module(python: str, module: str) -> bool:
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (/proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


class StandIn:
    def __init__(self, exe: Path, *args: str):
        self.proc = subprocess.Popen([str(exe), *args], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.stop()
            raise SystemExit(f"the stand-in did not start: {line!r}")
        self.base = line.split()[-1]
        self.url = f"{self.base}/v2/stream/recentchange"

    def cpu_s(self) -> float:
        return proc_cpu_s(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Run:
    """One consumer process: its command, and its report once done."""

    def __init__(self, label: str, mode: str, cmd: list[str]):
        self.label, self.mode, self.cmd = label, mode, cmd
        self.report: dict | None = None
        self.error: str | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, cwd=REPO)

    def finish(self, timeout: float) -> None:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            self.error = f"no result within {timeout:.0f} s"
            return
        lines = out.strip().splitlines()
        if self.proc.returncode != 0 or not lines:
            self.error = f"exit {self.proc.returncode}: {err.strip()[-300:]}"
            return
        self.report = json.loads(lines[-1])


class CurlRun(Run):
    """``curl -N URL -o /dev/null`` for a while: the cost of only receiving the bytes (no
    parsing), from the kernel's accounting of the process (wait4), startup included."""

    def __init__(self, url: str, seconds: float, rate: float):
        super().__init__("curl -N > /dev/null (floor)", "firehose",
                         ["curl", "-s", "-N", "--max-time", str(seconds), "-o", "/dev/null", url])
        self.seconds, self.rate = seconds, rate

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def finish(self, timeout: float) -> None:
        _, status, ru = os.wait4(self.proc.pid, 0)
        self.proc.returncode = status
        wall = time.monotonic() - self.t0
        # Events received: the publishing rate times the time connected (a close estimate).
        self.report = dict(events=round(self.rate * wall), yielded=0,
                           cpu_s=ru.ru_utime + ru.ru_stime, wall_s=wall)


def run_one(run: Run, server: StandIn, timeout: float) -> None:
    log(f"  {run.label} ({run.mode}) ...")
    busy0, s0, t0 = machine_busy(), server.cpu_s(), time.monotonic()
    run.start()
    run.finish(timeout)
    busy1, s1, t1 = machine_busy(), server.cpu_s(), time.monotonic()
    run.server_core = (s1 - s0) / (t1 - t0)
    run.machine = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1) * os.cpu_count()
    if run.error:
        log(f"    failed: {run.error}")


def fmt_row(cols: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 or i == 1 else c.rjust(w)
                     for i, (c, w) in enumerate(zip(cols, widths)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000, help="events read in throughput mode (100000)")
    ap.add_argument("--rate", type=float, default=1000.0, help="firehose events/s (1000)")
    ap.add_argument("--seconds", type=float, default=20.0, help="firehose duration (20)")
    ap.add_argument("--tick-ms", type=int, default=1,
                    help="the firehose publishes the events due every this many ms (1: each event on its own)")
    ap.add_argument("--quick", action="store_true", help="10,000 events and a 5 s firehose")
    ap.add_argument("--python", help="the Python for rcclient and requests-sse")
    ap.add_argument("--consumer-bin", help="the Rust consumer (this bench's binary); built if not given")
    ap.add_argument("--threads", type=int, default=1, help="tokio worker threads of the Rust consumer (1: current-thread)")
    ap.add_argument("--only", help="comma-separated: rust,rcclient,requests-sse (default all)")
    a = ap.parse_args()
    if a.quick:
        a.events, a.seconds = 10_000, 5.0
    only = set((a.only or "rust,rcclient,requests-sse").split(","))

    standin = cargo_build_standin()
    consumer = Path(a.consumer_bin) if a.consumer_bin else cargo_build_consumer()
    python = pick_python(a.python)
    if "requests-sse" in only and not has_module(python, "requests_sse"):
        log(f"installing requests-sse into {python}")
        subprocess.run([python, "-m", "pip", "install", "-q", "requests-sse"], check=True)
    have_rcclient = has_module(python, "rcclient")
    if "rcclient" in only and not have_rcclient:
        log(f"rcclient is not installed in {python}: its rows are skipped (see rc-python/README.md)")
        only.discard("rcclient")
    versions = subprocess.run(
        [python, "-c", "import importlib.metadata as m, sys; print(sys.version.split()[0], "
         "*[f'{p} {m.version(p)}' for p in ('requests-sse', 'requests', 'recentchanges') "
         "if __import__('importlib.util').util.find_spec(p.replace('-', '_').replace('recentchanges', 'rcclient'))]"
         ", sep=', ')"], capture_output=True, text=True).stdout.strip()

    b0 = machine_busy()
    time.sleep(1)
    b1 = machine_busy()
    before = (b1[0] - b0[0]) / max(b1[1] - b0[1], 1) * os.cpu_count()

    rust = [str(consumer), "consume", "--threads", str(a.threads)]
    pyc = [python, str(PY_CONSUMER)]
    runs: list[Run] = []
    t_start = time.monotonic()

    # 1. Throughput.
    log(f"stand-in with {a.events} events per stream ...")
    server = StandIn(standin, "--initial-events", str(a.events), "--event-interval-ms", "1")
    n = str(a.events)
    try:
        plan = []
        if "rust" in only:
            plan += [Run("Rust EventStreams", "all", rust + ["--url", server.url, "--n", n]),
                     Run("Rust EventStreams", "filter", rust + ["--url", server.url, "--n", n, "--filter"])]
        if "rcclient" in only:
            plan += [Run("rcclient (Python)", "all", pyc + ["rcclient", server.url, "--n", n])]
        if "requests-sse" in only:
            plan += [Run("requests-sse + json.loads", "all", pyc + ["requests-sse", server.url, "--n", n])]
        for r in plan:
            run_one(r, server, timeout=120)
        runs += plan
    finally:
        server.stop()

    # 2. Firehose: all three at once, each with the filter, on live events.
    log(f"firehose: {a.rate:.0f} events/s for {a.seconds:.0f} s ...")
    server = StandIn(standin, "--initial-events", "10", "--publish-rate", str(a.rate),
                     "--publish-tick-ms", str(a.tick_ms))
    secs = str(a.seconds)
    fire = []
    try:
        if "rust" in only:
            fire.append(Run("Rust EventStreams", "firehose", rust + ["--url", server.url, "--seconds", secs, "--filter"]))
        if "rcclient" in only:
            fire.append(Run("rcclient (Python)", "firehose", pyc + ["rcclient", server.url, "--seconds", secs, "--filter"]))
        if "requests-sse" in only:
            fire.append(Run("requests-sse + json.loads", "firehose", pyc + ["requests-sse", server.url, "--seconds", secs, "--filter"]))
        if shutil.which("curl"):
            fire.append(CurlRun(server.url, a.seconds, a.rate))
        busy0, s0, t0 = machine_busy(), server.cpu_s(), time.monotonic()
        for r in fire:
            r.start()
        threads = [threading.Thread(target=r.finish, args=(a.seconds + 60,)) for r in fire]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        busy1, s1, t1 = machine_busy(), server.cpu_s(), time.monotonic()
        for r in fire:
            r.server_core = (s1 - s0) / (t1 - t0)
            r.machine = (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1) * os.cpu_count()
            if r.error:
                log(f"  {r.label} failed: {r.error}")
        runs += fire
    finally:
        server.stop()
    elapsed = time.monotonic() - t_start

    # The table.
    base = {r.mode: r for r in runs if r.label.startswith("requests-sse") and r.report}
    size = next((r.report.get("bytes") for r in runs if r.report and r.report.get("bytes")), None)
    print()
    print(f"EventStreams consumers on {os.cpu_count()} cores; machine busy {before:.2f} cores the second before; "
          f"Python {versions}")
    print(f"throughput: {a.events} events from the beginning" + (f", {size:.0f} bytes of data each on average" if size else "")
          + f"; firehose: {a.rate:.0f} events/s live (published every {a.tick_ms} ms) for {a.seconds:.0f} s, "
          f"all three at once; filter = {FILTER}")
    head = ["consumer", "mode", "events", "kept", "events/s", "CPU us/event", "% of a core",
            "baseline CPU / this", "stand-in % core", "machine cores"]
    rows = []
    for r in runs:
        if not r.report:
            rows.append([r.label, r.mode, "failed", "", "", "", "", "", "", ""])
            continue
        rep = r.report
        ev = max(rep["events"], 1)
        us = rep["cpu_s"] / ev * 1e6
        b = base.get("all" if r.mode != "firehose" else "firehose")
        ratio = ""
        if b and b is not r:
            bus = b.report["cpu_s"] / max(b.report["events"], 1) * 1e6
            ratio = f"{bus / us:.1f}x"
        r.us = us
        r.core = rep["cpu_s"] / rep["wall_s"] * 100
        kept = "" if isinstance(r, CurlRun) else f"{rep['yielded']}"
        rows.append([r.label, r.mode, f"{rep['events']}", kept,
                     f"{rep['events'] / rep['wall_s']:,.0f}", f"{us:.2f}", f"{r.core:.2f}", ratio,
                     f"{r.server_core * 100:.0f}", f"{r.machine:.2f}"])
    widths = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
    print(fmt_row(head, widths))
    for row in rows:
        print(fmt_row(row, widths))

    print()
    print("targets:")
    rust_all = next((r for r in runs if r.label.startswith("Rust") and r.mode == "all" and r.report), None)
    rust_fire = next((r for r in runs if r.label.startswith("Rust") and r.mode == "firehose" and r.report), None)
    b = base.get("all")
    if rust_all and b:
        ratio = (b.report["cpu_s"] / max(b.report["events"], 1) * 1e6) / rust_all.us
        print(f"  >= 10x less CPU per event than requests-sse + json.loads (throughput): "
              f"{ratio:.1f}x -> {'met' if ratio >= 10 else 'MISSED'}")
    if rust_fire:
        got = rust_fire.report["events"] / rust_fire.report["wall_s"]
        note = ""
        if got < 0.95 * a.rate:
            note = f" (received {got:.0f}/s, not {a.rate:.0f}/s)"
        print(f"  firehose ({a.rate:.0f}/s, filter) under 2 % of one core for the Rust consumer: "
              f"{rust_fire.core:.2f} %{note} -> {'met' if rust_fire.core < 2 else 'MISSED'}")
    floor = next((r for r in runs if isinstance(r, CurlRun) and r.report), None)
    if floor:
        print(f"  (receiving the same firehose with curl, parsing nothing, costs {floor.core:.2f} % of a core here)")
    print(f"(measured in {elapsed:.0f} s)")
    return 0 if all(r.report for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
