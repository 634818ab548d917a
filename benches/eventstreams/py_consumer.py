"""A Python consumer process for the EventStreams bench (run.py starts it).

    python py_consumer.py requests-sse|rcclient URL (--n N | --seconds S) [--filter]

- ``requests-sse``: the way Python users read EventStreams today, as pywikibot does since
  its 10.0 (``pywikibot.comms.eventstreams``): ``requests_sse.EventSource`` over
  ``requests``, each ``message`` event's data through ``json.loads`` into a dict, the
  filter (namespace 0, not bot) on the dict.
- ``rcclient``: ``rcclient.open("eventstreams:URL", since=...)``, each item a
  ``RecentChange``; the filter is an ``rcclient.Filter`` (applied in Rust).

``--n N``: from the beginning (``since``), until N events were consumed. ``--seconds S``:
live events only, for S seconds from the first one read. Prints one JSON line: events
consumed, events yielded (kept by the filter), CPU seconds (user + system, all threads)
and wall seconds of the measured part (from before connecting for ``--n``; from the first
event for ``--seconds``), and the mean size of an event's data (requests-sse only).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_requests_sse(url: str, n: int | None, seconds: float | None, filt: bool) -> dict:
    from requests_sse import EventSource

    if n is not None:
        url += "?since=1970-01-01T00:00:00Z"
    cpu0, t0 = cpu_s(), time.monotonic()
    consumed = kept = size = titles = 0
    window = None
    with EventSource(url, timeout=60) as source:
        for event in source:
            if event.type != "message":
                continue
            try:
                change = json.loads(event.data)
            except ValueError:
                continue
            consumed += 1
            size += len(event.data)
            if filt and (change.get("namespace") != 0 or change.get("bot")):
                continue
            kept += 1
            titles += len(change.get("title", ""))
            if n is not None:
                if consumed >= n:
                    break
            elif window is None:
                window = (time.monotonic(), cpu_s(), consumed, kept)
            elif time.monotonic() - window[0] >= seconds:
                break
    if window is None:
        return dict(events=consumed, yielded=kept, cpu_s=cpu_s() - cpu0,
                    wall_s=time.monotonic() - t0, bytes=size / max(consumed, 1))
    return dict(events=consumed - window[2], yielded=kept - window[3], cpu_s=cpu_s() - window[1],
                wall_s=time.monotonic() - window[0], bytes=size / max(consumed, 1))


def _consumed(position) -> int:
    return sum(max(a.get("offset", 0), 0) for a in (position or []))


def run_rcclient(url: str, n: int | None, seconds: float | None, filt: bool) -> dict:
    import rcclient

    kwargs = {}
    if filt:
        kwargs["filter"] = rcclient.Filter(namespace=0, bot=False)
    if n is not None:
        kwargs["since"] = "beginning"
    cpu0, t0 = cpu_s(), time.monotonic()
    kept = titles = 0
    window = None
    with rcclient.open(f"eventstreams:{url}", **kwargs) as source:
        for rc in source:
            kept += 1
            titles += len(rc.title or "")
            if n is not None:
                # Without a filter every event is an item; the position is the check.
                if kept >= n or (filt and _consumed(source.position) >= n):
                    break
            elif window is None:
                window = (time.monotonic(), cpu_s(), _consumed(source.position), kept)
            elif time.monotonic() - window[0] >= seconds:
                break
        consumed = _consumed(source.position)
    if window is None:
        return dict(events=consumed, yielded=kept, cpu_s=cpu_s() - cpu0,
                    wall_s=time.monotonic() - t0)
    return dict(events=consumed - window[2], yielded=kept - window[3], cpu_s=cpu_s() - window[1],
                wall_s=time.monotonic() - window[0])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["requests-sse", "rcclient"])
    ap.add_argument("url")
    ap.add_argument("--n", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--filter", action="store_true")
    a = ap.parse_args()
    run = run_requests_sse if a.kind == "requests-sse" else run_rcclient
    print(json.dumps(run(a.url, a.n, a.seconds, a.filter)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
