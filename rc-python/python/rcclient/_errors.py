"""Exceptions raised (or, with ``errors="yield"``, yielded) by rcclient."""

from __future__ import annotations

import builtins
from typing import Optional

__all__ = [
    "Error",
    "ParseError",
    "ConfigError",
    "ConnectionError",
    "StreamError",
    "PayloadError",
    "NoPayload",
    "RoomError",
    "PublishError",
]


class Error(Exception):
    """Base class of every rcclient exception."""


class ParseError(Error, ValueError):
    """The input is not a recent change in any form rcclient reads.

    The message names the form, the attribute or field, the offending value and the byte
    offset, e.g. ``<rc> element: attribute `rcid` has "12x", expected an unsigned integer
    (at byte 32)``.

    Attributes: ``form`` ("rc", "recentchange", "json" or None when unknown) and ``offset``
    (byte offset of the problem, or None).
    """

    def __init__(self, message: str, *, form: Optional[str] = None, offset: Optional[int] = None):
        super().__init__(message)
        self.form = form
        self.offset = offset


class ConfigError(Error, ValueError):
    """A Client or Publisher cannot be built as asked (bad JID, no room, plaintext to a
    non-loopback server...)."""


class ConnectionError(Error, builtins.ConnectionError):
    """The client stopped for good: authentication failed, the server offers no TLS while
    TLS is required, or the reconnect attempts allowed were used up.

    ``kind`` is "auth", "no-tls" or "retries-exhausted".
    """

    def __init__(self, message: str, *, kind: str = "other"):
        super().__init__(message)
        self.kind = kind


class StreamError(Error):
    """An item of a room's stream that is not a change (see ``Client``'s ``errors=``)."""

    def __init__(self, message: str, *, room: Optional[str] = None):
        super().__init__(message)
        self.room = room


class PayloadError(StreamError, ValueError):
    """A message carried an ``<rc>`` (or ``<recentchange>``) payload that does not parse,
    or the room sent a stanza that is not valid XMPP.

    ``parse_error`` is the ParseError (None for an invalid stanza), ``stanza_id`` the
    room's id of the message."""

    def __init__(
        self,
        message: str,
        *,
        room: Optional[str] = None,
        stanza_id: Optional[str] = None,
        parse_error: Optional[ParseError] = None,
    ):
        super().__init__(message, room=room)
        self.stanza_id = stanza_id
        self.parse_error = parse_error


class NoPayload(StreamError):
    """A message in the room carried no change payload (someone chatting); ``body`` is
    the start of its text."""

    def __init__(self, message: str, *, room: Optional[str] = None, body: Optional[str] = None):
        super().__init__(message, room=room)
        self.body = body


class RoomError(StreamError):
    """A room could not be joined or was lost for good (banned, members-only, destroyed,
    wrong password...); ``reason`` says which. The other rooms carry on."""

    def __init__(self, message: str, *, room: Optional[str] = None, reason: Optional[str] = None):
        super().__init__(message, room=room)
        self.reason = reason


class PublishError(Error):
    """The publisher has stopped or is closed."""
