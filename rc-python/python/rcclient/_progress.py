"""``progress``: a progress display around any iterable (tqdm optional)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sized
from typing import IO, Iterable, Iterator, Optional, TypeVar

T = TypeVar("T")


def progress(
    iterable: Iterable[T],
    total: Optional[int] = None,
    desc: Optional[str] = None,
    *,
    unit: str = "change",
    file: Optional[IO[str]] = None,
    mininterval: float = 0.2,
    disable: bool = False,
) -> Iterator[T]:
    """Yields what ``iterable`` yields (a ``Source``, a ``Client``, a list...) while
    showing how far it got: ``for rc in rcclient.progress(source, total=10_000): ...``.

    With tqdm installed (``pip install 'recentchanges[progress]'``) this is a
    ``tqdm.auto`` bar: a widget in notebooks, a bar on the terminal. Without it, one
    line on stderr (or ``file``), rewritten at most every ``mininterval`` seconds (five
    times a second by default): count, percentage and time left when ``total`` is known
    (``len(iterable)`` when it has one), rate, elapsed time; finished with a newline
    when the iteration ends, breaks or raises. ``disable=True`` shows nothing. The
    progress never ends the iteration: wrap ``source`` in ``itertools.islice`` or use
    ``take`` to stop after ``total`` changes.
    """
    if total is None and isinstance(iterable, Sized):
        total = len(iterable)
    if disable:
        return iter(iterable)
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return _line(iterable, total, desc, unit, file, mininterval)
    bar = tqdm(iterable, total=total, desc=desc, unit=unit, file=file, mininterval=mininterval)
    return iter(bar)  # type: ignore[no-any-return,unused-ignore]


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60:02d}:{s % 60:02d}"


def _status(n: int, total: Optional[int], desc: Optional[str], unit: str, elapsed: float) -> str:
    rate = n / elapsed if elapsed > 0 else 0.0
    head = f"{desc}: " if desc else ""
    if total:
        done = f"{n:,}/{total:,} ({100 * n / total:.0f}%)"
    else:
        done = f"{n:,}"
    line = f"{head}{done} {unit}s, {_duration(elapsed)} elapsed, {rate:,.1f} {unit}s/s"
    if total and rate > 0 and n < total:
        line += f", {_duration((total - n) / rate)} left"
    return line


def _line(
    iterable: Iterable[T],
    total: Optional[int],
    desc: Optional[str],
    unit: str,
    file: Optional[IO[str]],
    mininterval: float,
) -> Iterator[T]:
    out = file if file is not None else sys.stderr
    start = last = time.monotonic()
    n = 0
    width = 0

    def show(now: float, end: str = "") -> None:
        nonlocal width
        text = _status(n, total, desc, unit, now - start)
        try:
            out.write("\r" + text + " " * max(0, width - len(text)) + end)
            out.flush()
        except (OSError, ValueError):  # a closed or broken stream: keep iterating
            pass
        width = len(text)

    show(start)
    try:
        for item in iterable:
            n += 1
            now = time.monotonic()
            if now - last >= mininterval:
                show(now)
                last = now
            yield item
    finally:
        show(time.monotonic(), "\n")
