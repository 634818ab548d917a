"""No change pulled from a stream is lost to Python: a `take` that Ctrl-C interrupts keeps
what it collected for the next call, and a change taken from the stream for an `async for`
that was cancelled before it got it is not counted in the position `close()` saves.
Against rc-testkit's EventStreams stand-in (see test_eventstreams.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time

import pytest

import rcclient


def _ctrl_c_after(seconds: float) -> threading.Timer:
    """Ctrl-C (SIGINT to this process) in `seconds`: KeyboardInterrupt in the main thread."""
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def _rcids(changes):
    return [c.rcid for c in changes]


def test_ctrl_c_during_take_keeps_what_it_collected_for_the_next_call(standin):
    es = standin(initial_events=6)
    with rcclient.open(f"eventstreams:{es.stream_url()}", since="beginning") as source:
        before = source.position
        _ctrl_c_after(2.0)
        with pytest.raises(KeyboardInterrupt):
            source.take(100)  # gets the 6, then waits for more until Ctrl-C
        assert source.position == before, "the kept changes are not counted yet"
        first = next(source)
        rest = source.take(100, timeout=2)
        assert source.position != before
    assert _rcids([first] + rest) == es.expected_rcids()


def test_close_after_an_interrupted_take_saves_the_position_before_what_it_kept(standin, tmp_path):
    es = standin(initial_events=6)
    pos = tmp_path / "es.pos"
    url = f"eventstreams:{es.stream_url()}"
    with rcclient.open(url, since="beginning", resume=str(pos)) as source:
        first = source.take(2, timeout=10)
        _ctrl_c_after(2.0)
        with pytest.raises(KeyboardInterrupt):
            source.take(100)
    with rcclient.open(url, since="beginning", resume=str(pos)) as source:
        rest = source.take(100, timeout=3)
    assert _rcids(first + rest) == es.expected_rcids(), "each once: the kept ones again"


def test_a_change_stashed_for_a_cancelled_async_wait_is_not_counted_when_closed(standin, tmp_path):
    es = standin(initial_events=3)
    pos = tmp_path / "es.pos"
    url = f"eventstreams:{es.stream_url()}"
    source = rcclient.open(url, since="beginning", resume=str(pos))
    first = source.take(3, timeout=10)
    assert len(first) == 3
    after_first = source.position

    async def cancelled_wait():
        task = asyncio.ensure_future(source.__anext__())
        await asyncio.sleep(0.3)  # armed: waiting for the next change
        es.publish(1)
        # The loop is blocked: the change is taken from the stream and stashed, but the
        # wait is cancelled before it can hand it out.
        time.sleep(2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(cancelled_wait())
    assert source.position == after_first, "the stashed change is not counted"
    source.close()
    with rcclient.open(url, since="beginning", resume=str(pos)) as again:
        rest = again.take(10, timeout=3)
    assert _rcids(first + rest) == es.expected_rcids(), "the stashed change comes again"
