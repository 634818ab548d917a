"""The shapes of the dicts ``status`` and ``position`` return, as ``TypedDict`` classes.

They are plain dicts at runtime (the native part builds them); these classes only describe
their keys for type checkers and readers, and are importable at runtime from ``rcclient``
(e.g. ``def save(pos: rcclient.ClientPosition) -> None``). Keys that are only sometimes
present are in the ``total=False`` half of each class (Python 3.9 has no ``NotRequired``).
"""

from __future__ import annotations

from typing import Dict, List, Optional, TypedDict, Union

__all__ = [
    "BackfillPosition",
    "ClientPosition",
    "ClientStatus",
    "ErrorCounts",
    "EventStreamsPosition",
    "KafkaAssignment",
    "MediaWikiPosition",
    "MirrorStats",
    "NodePosition",
    "PubSubPosition",
    "RoomPosition",
    "RoomStatus",
    "SeenPage",
    "SourcePosition",
    "SourceStatus",
    "WikiRpcPosition",
]


# -- status ---------------------------------------------------------------------------


class _RoomStatusKeys(TypedDict):
    state: str


class RoomStatus(_RoomStatusKeys, total=False):
    """One room in ``Client.status["rooms"]``.

    ``state`` is "joining", "joined", "rejoining" or "failed"; a joined room also has
    ``nick`` (the nick in use) and ``recovered`` (changes recovered on this join), a
    rejoining or failed one ``reason``.
    """

    nick: str
    recovered: int
    reason: str


class ErrorCounts(TypedDict):
    """``Client.status["errors"]``: the items that were not changes, by kind."""

    bad_payload: int
    """Payloads that did not parse (``PayloadError`` with a ``parse_error``)."""
    no_payload: int
    """Messages without a change payload (``NoPayload``)."""
    invalid_stanza: int
    """Stanzas that were not valid XMPP (``PayloadError`` without a ``parse_error``)."""
    room: int
    """Rooms that could not be joined or were lost for good (``RoomError``)."""


class _ClientStatusKeys(TypedDict):
    connection: str
    rooms: Dict[str, RoomStatus]
    recovered: int
    dropped: int
    duplicates: int
    refetched: int
    connections: int
    buffered: int
    errors: ErrorCounts


class ClientStatus(_ClientStatusKeys, total=False):
    """``Client.status``: the connection, each room, and the counters.

    ``connection`` is "connecting", "online" (with ``jid``, the full JID bound),
    "reconnecting" (with ``attempt`` and ``delay`` in seconds), "disconnected" or "failed"
    (with ``reason``), or "closed". ``rooms`` maps each room's JID to its
    :class:`RoomStatus`. Counters: ``recovered`` (changes recovered from archives or
    history after joins), ``dropped`` (by ``backpressure="drop-oldest"``), ``duplicates``
    (same wiki and rcid), ``refetched`` (live changes let go during an archive catch-up
    because more came than the buffer holds, and replayed from the archive),
    ``connections`` (successful connections so far), ``buffered`` (received, not yet
    read) and ``errors`` (:class:`ErrorCounts`).
    """

    jid: str
    reason: str
    attempt: int
    delay: float


class SourceStatus(TypedDict):
    """``Source.status``: the source's state and counters.

    ``state`` is "starting", "live", "retrying", "failed" or "finished" (a source with an
    ``end`` that reached it); ``reason`` says why for
    retrying and failed (None otherwise). Counters: ``changes`` handed out, ``errors``
    (error items), ``duplicates`` dropped, ``dropped`` (by a slow consumer), and
    ``canaries`` (EventStreams' own test events, dropped).
    """

    state: str
    reason: Optional[str]
    changes: int
    errors: int
    duplicates: int
    dropped: int
    canaries: int


# -- position -------------------------------------------------------------------------


class RoomPosition(TypedDict, total=False):
    """Where one room stands: the room's ``stanza_id`` of the last message delivered and
    when it was sent (``time``, RFC 3339)."""

    stanza_id: str
    time: str


class ClientPosition(TypedDict):
    """``Client.position``, and the position of an ``xmpp:ROOM`` source: each room's
    :class:`RoomPosition` by room JID. JSON-ready; give it back as ``resume=``."""

    rooms: Dict[str, RoomPosition]


class NodePosition(TypedDict, total=False):
    """Where one PubSub node stands: the id of the last item delivered (``item_id``) and
    when the position last moved (``time``, RFC 3339)."""

    item_id: str
    time: str


class PubSubPosition(TypedDict):
    """The position of an ``xmpp:SERVICE?;node=NODE`` source: each node's
    :class:`NodePosition` by the node's XMPP URI."""

    nodes: Dict[str, NodePosition]


# `continue` is a keyword: the functional syntax.
MediaWikiPosition = TypedDict(
    "MediaWikiPosition",
    {
        "timestamp": str,
        "rcid": int,
        "seen": Dict[str, str],
        "continue": Dict[str, str],
    },
    total=False,
)
MediaWikiPosition.__doc__ = """The position of a ``mediawiki:URL`` source: the
``timestamp`` (RFC 3339) and ``rcid`` of the newest change yielded, the changes of the
overlap window already yielded (``seen``: rcid as a string -> timestamp), and the API's
``continue`` parameters of a poll stopped between two pages."""


class _SeenPageKeys(TypedDict):
    name: str


class SeenPage(_SeenPageKeys, total=False):
    """A page change a WikiRPC source already handed out at its position's second: the
    page ``name`` as the wiki sent it and its ``version`` when the wiki gave one."""

    version: int


class WikiRpcPosition(TypedDict, total=False):
    """The position of a ``dokuwiki:URL`` or ``jspwiki:URL`` source: the ``timestamp``
    (RFC 3339) of the newest change handed out and the changes of that second
    (``seen``)."""

    timestamp: str
    seen: List[SeenPage]


class _BackfillPositionKeys(TypedDict):
    room: ClientPosition
    api: MediaWikiPosition


class BackfillPosition(_BackfillPositionKeys, total=False):
    """The position of a room source with ``backfill=``: the room's position (``room``),
    the API poller's (``api``) and the highest rcid yielded (``max_rcid``)."""

    max_rcid: int


class KafkaAssignment(TypedDict, total=False):
    """One topic-partition's place in an EventStreams position (the ``Last-Event-ID``
    array): ``topic``, ``partition``, and ``offset`` (the next to read) or ``timestamp``
    (milliseconds since the epoch)."""

    topic: str
    partition: int
    offset: int
    timestamp: int


EventStreamsPosition = List[KafkaAssignment]
"""An ``eventstreams:`` source's position: the newest place of every topic-partition."""

SourcePosition = Union[
    ClientPosition,
    BackfillPosition,
    PubSubPosition,
    MediaWikiPosition,
    WikiRpcPosition,
    EventStreamsPosition,
]
"""``Source.position`` once a change was yielded (or a position was resumed), by source
kind; ``None`` before that, and always for a ``wikiping:`` listener."""


# -- mirror ---------------------------------------------------------------------------


class MirrorStats(TypedDict):
    """The counters ``mirror()`` returns."""

    full_syncs: int
    """Full syncs made (a new directory, or one without a saved position)."""
    batches: int
    """Batches of changes applied."""
    changes: int
    """Changes applied."""
    written: int
    """Page files written (new or changed text)."""
    removed: int
    """Page files removed (deleted, moved away, out of scope)."""
    fetches: int
    """Page texts fetched from the API."""
