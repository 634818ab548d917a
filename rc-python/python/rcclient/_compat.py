"""The rcclient.py style: ``RCClient`` with ``connect``, ``join``, ``add_handler`` and a
blocking ``service_loop``; handlers are ``RCHandler`` subclasses (or plain callables)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, List, Optional, Tuple, Union, cast

from ._rcclient import Client, RecentChange

log = logging.getLogger("rcclient")

__all__ = ["RCClient", "RCHandler"]


class RCHandler:
    """Base class of the objects ``RCClient.add_handler`` takes: override ``process``."""

    def process(self, rc: RecentChange) -> None:
        """Called with each change received."""
        raise NotImplementedError("RCHandler subclasses implement process(rc)")


Handler = Union[RCHandler, Callable[[RecentChange], Any]]


class RCClient:
    """rcclient.py's client, on top of :class:`rcclient.Client`::

        client = rcclient.RCClient()
        client.connect("me@example.org", "secret")
        client.join("enwiki@conference.example.org", "me")
        client.add_handler(Printer())
        client.service_loop()          # until Ctrl-C

    The connection is made when ``service_loop`` starts; it reconnects and resumes by
    itself. A handler raising an exception is logged (logger "rcclient") and the loop goes
    on with the next change.
    """

    def __init__(self) -> None:
        self._jid: Optional[str] = None
        self._password: Optional[str] = None
        self._options: "dict[str, Any]" = {}
        self._rooms: List[Tuple[str, str]] = []
        self._handlers: List[Handler] = []
        self._stop = threading.Event()
        self.client: Optional[Client] = None

    def connect(
        self,
        jid: str,
        password: Optional[str] = None,
        server: Optional[str] = None,
        tls: Any = "required",
        **options: Any,
    ) -> None:
        """Sets the account (``jid`` without a password, or ``anonymous=True``, logs in
        anonymously on that domain), the server address (host:port; default: the JID's
        domain) and TLS ("required", "plaintext-loopback" or a CA file). Other keywords go
        to :class:`rcclient.Client`."""
        self._jid = jid
        self._password = password
        self._options = dict(options, server=server, tls=tls)

    def join(self, room: str, nick: Optional[str] = None) -> None:
        """Joins ``room`` with ``nick`` (default: the JID's user part) when the loop runs."""
        if self.client is not None:
            raise RuntimeError("join() rooms before service_loop() starts")
        if nick is None:
            nick = (self._jid or "rcclient").split("@")[0] if self._jid and "@" in self._jid else "rcclient"
        self._rooms.append((room, nick))

    def add_handler(self, handler: Handler) -> None:
        """Adds an object with a ``process(rc)`` method, or a callable taking the change."""
        if not (hasattr(handler, "process") or callable(handler)):
            raise TypeError("a handler is an object with process(rc), or a callable")
        self._handlers.append(handler)

    def remove_handler(self, handler: Handler) -> None:
        """Removes a handler added before."""
        self._handlers.remove(handler)

    def stop(self) -> None:
        """Makes a running ``service_loop`` return (from any thread)."""
        self._stop.set()

    def dispatch(self, rc: RecentChange) -> None:
        """Hands one change to every handler."""
        for h in list(self._handlers):
            try:
                if hasattr(h, "process"):
                    h.process(rc)
                else:
                    h(rc)
            except Exception:
                log.exception("handler %r failed on %r", h, rc)

    def service_loop(self, timeout: Optional[float] = None) -> None:
        """Receives changes and hands each to the handlers until Ctrl-C (which returns
        quietly), ``stop()``, or ``timeout`` seconds if given."""
        if self._jid is None:
            raise RuntimeError("connect() first")
        if not self._rooms:
            raise RuntimeError("join() a room first")
        deadline = None if timeout is None else time.monotonic() + timeout
        self._stop.clear()
        self.client = Client(self._jid, self._password, rooms=self._rooms, **self._options)
        try:
            while not self._stop.is_set():
                wait = 0.25
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        break
                rc = self.client.receive(timeout=wait)
                if rc is not None:
                    # A change: with the default errors="skip" no error item is handed
                    # out (errors="yield" passed to connect() hands those on as they are).
                    self.dispatch(cast(RecentChange, rc))
                elif self.client.status["connection"] == "failed":
                    break
        except KeyboardInterrupt:
            pass
        finally:
            self.client.close()
            self.client = None
