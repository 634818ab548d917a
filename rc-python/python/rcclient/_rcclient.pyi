"""Type stubs of the native part of rcclient (written in Rust with PyO3).

Checked against the built module by ``python -m mypy.stubtest rcclient`` (scripts/test.sh);
the dicts ``status`` and ``position`` return are described in ``rcclient._types``.
"""

from __future__ import annotations

import asyncio
import datetime
import os
from typing import (
    Any,
    Awaitable,
    Callable,
    ClassVar,
    Dict,
    Iterable,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
    final,
    overload,
)

from ._types import ClientPosition, ClientStatus, MirrorStats, SourcePosition, SourceStatus

__all__ = [
    "RecentChange",
    "Filter",
    "Client",
    "Waiter",
    "Publisher",
    "Source",
    "open",
    "mirror",
    "parse",
    "parse_many",
    "_unpickle",
    "FIELDS",
    "__version__",
]

__version__: str
"""The version of the package (the Rust crates' version)."""
FIELDS: List[str]
"""The contract's field names, in order (what ``to_dict()`` and ``to_dataframe`` use)."""

_JSON = Any
_Kind = str  # "edit", "new", "log", "categorize", "external", or another kind's name
_Patrolled = Literal["patrolled", "autopatrolled", "unpatrolled", "unknown"]
_FilterLike = Union["Filter", Callable[["RecentChange"], bool]]
_StrPath = Union[str, "os.PathLike[str]"]

@final
class RecentChange:
    """One change on a wiki: an edit, a page creation, a log action...

    Every field of the contract is an attribute (``rc.title``, ``rc.old_rev_id``, ...);
    absent fields are ``None`` (flags ``False``, lists and dicts empty). Item access takes
    the contract names and the wire names rcclient.py users wrote (``rc["old_revid"]``,
    ``rc["ns"]``, ``rc["type"]``) and the keys of ``extra``.
    """

    FIELDS: ClassVar[List[str]]
    """The contract's field names, in order."""

    def __new__(cls, kind: str = "edit", **fields: Any) -> RecentChange:
        """``RecentChange(kind="edit", **fields)``: a change built from contract fields,
        e.g. ``RecentChange("edit", rcid=4, wiki="enwiki", title="Alpha")``."""
    @staticmethod
    def from_dict(fields: Mapping[str, Any]) -> RecentChange:
        """A change from a dict of contract fields (``to_dict()``'s shape; ``None`` means
        absent)."""
    @staticmethod
    def from_json(text: Union[str, bytes]) -> RecentChange:
        """A change from rc-core's JSON shape (``to_json()``)."""

    @property
    def kind(self) -> _Kind:
        """What happened: "edit", "new", "log", "categorize", "external" or another kind's
        name."""
    @property
    def rcid(self) -> Optional[int]:
        """The recent-changes id (``rcid``, the feeds' ``id``), unique within one wiki."""
    @property
    def wiki(self) -> Optional[str]:
        """The wiki's database name (``wikiid``, the feeds' ``wiki``), e.g. "enwiki"."""
    @property
    def namespace(self) -> Optional[int]:
        """Namespace number of the page."""
    @property
    def title(self) -> Optional[str]:
        """Prefixed page title, e.g. "Talk:Alpha"; None when the action is hidden."""
    @property
    def page_id(self) -> Optional[int]:
        """Page id."""
    @property
    def rev_id(self) -> Optional[int]:
        """Revision created by the change."""
    @property
    def old_rev_id(self) -> Optional[int]:
        """Revision the change was made on; None for a new page."""
    @property
    def user(self) -> Optional[str]:
        """User name or IP address; None when hidden."""
    @property
    def user_id(self) -> Optional[int]:
        """User id; None for anonymous editors."""
    @property
    def bot(self) -> bool:
        """Flagged as a bot change."""
    @property
    def minor(self) -> bool:
        """Flagged as a minor edit."""
    @property
    def anon(self) -> bool:
        """Made by an anonymous (logged-out) editor."""
    @property
    def redirect(self) -> bool:
        """The page is a redirect (API form only)."""
    @property
    def patrolled(self) -> _Patrolled:
        """"patrolled", "autopatrolled", "unpatrolled" or "unknown"."""
    @property
    def old_len(self) -> Optional[int]:
        """Page size in bytes before the change."""
    @property
    def new_len(self) -> Optional[int]:
        """Page size in bytes after the change."""
    @property
    def timestamp(self) -> Optional[datetime.datetime]:
        """When the change was made: a timezone-aware datetime in UTC."""
    @property
    def comment(self) -> Optional[str]:
        """The edit summary or log reason, as wikitext."""
    @property
    def parsed_comment(self) -> Optional[str]:
        """The edit summary rendered as HTML."""
    @property
    def tags(self) -> List[str]:
        """Change tags (a new list each time)."""
    @property
    def sha1(self) -> Optional[str]:
        """SHA-1 of the new revision's content (hex)."""
    @property
    def log_id(self) -> Optional[int]:
        """Log entry id."""
    @property
    def log_type(self) -> Optional[str]:
        """Log type, e.g. "move", "delete", "block"."""
    @property
    def log_action(self) -> Optional[str]:
        """Log action, e.g. "move_redir"."""
    @property
    def log_params(self) -> Dict[str, _JSON]:
        """Log parameters as the form gives them (a new dict each time)."""
    @property
    def log_action_comment(self) -> Optional[str]:
        """The log action as a sentence (feeds only)."""
    @property
    def server_url(self) -> Optional[str]:
        """The wiki's server URL (feeds only)."""
    @property
    def server_name(self) -> Optional[str]:
        """The wiki's server name (feeds only)."""
    @property
    def script_path(self) -> Optional[str]:
        """The wiki's script path (feeds only)."""
    @property
    def url(self) -> Optional[str]:
        """A link to the change or its page as the source gave it (an Atom entry's link, a
        WikiPing url); MediaWiki's forms carry none (see ``diff_url()``)."""
    @property
    def entry_id(self) -> Optional[str]:
        """The source's identifier of the change where it is not an rcid (an Atom entry
        id)."""
    @property
    def comment_hidden(self) -> bool:
        """The comment was hidden by revision deletion."""
    @property
    def user_hidden(self) -> bool:
        """The user was hidden by revision deletion."""
    @property
    def action_hidden(self) -> bool:
        """The log action was hidden."""
    @property
    def suppressed(self) -> bool:
        """The hidden parts are suppressed."""
    @property
    def extra(self) -> Dict[str, _JSON]:
        """Every attribute or field the parser did not recognise, by wire name (a new dict
        each time)."""

    # Delivery (None / False for parsed changes)
    @property
    def room(self) -> Optional[str]:
        """Where the change came from: the XMPP room or PubSub node, the URL polled, the
        WikiPing listener (None for parsed changes)."""
    @property
    def stanza_id(self) -> Optional[str]:
        """The room's stanza id of the message (XEP-0359), when received over XMPP."""
    @property
    def replayed(self) -> bool:
        """Replayed from the room's archive or history rather than received live."""
    @property
    def sent_at(self) -> Optional[datetime.datetime]:
        """When the server says the message was sent (XEP-0203), or the event happened
        (EventStreams' ``meta.dt``), if it said."""
    @property
    def stream(self) -> Optional[str]:
        """EventStreams: the event's stream (``meta.stream``, e.g. "mediawiki.recentchange")."""
    @property
    def topic(self) -> Optional[str]:
        """EventStreams: the Kafka topic of the event (``meta.topic``)."""
    @property
    def partition(self) -> Optional[int]:
        """EventStreams: the partition of the topic (``meta.partition``)."""
    @property
    def offset(self) -> Optional[int]:
        """EventStreams: the offset in the topic-partition (``meta.offset``)."""
    @property
    def event_id(self) -> Optional[str]:
        """EventStreams: the event's unique id (``meta.id``)."""

    # Helpers
    @property
    def size_delta(self) -> Optional[int]:
        """Size change in bytes (new_len - old_len, a new page counting from 0), or None."""
    @property
    def identity(self) -> Tuple[Optional[str], Optional[int]]:
        """``(wiki, rcid)``: what identifies the change across forms and deliveries."""
    @property
    def base_url(self) -> Optional[str]:
        """The wiki's base URL from the feed fields server_url + script_path, or None."""
    def diff_url(self, base: Optional[str] = None) -> Optional[str]:
        """The URL of the change's diff (``index.php?diff=REV&oldid=OLD``), the new
        revision for a page creation, None for log entries. ``base`` is the directory
        holding index.php (e.g. "https://en.wikipedia.org/w"); None uses the feed's own
        server_url/script_path."""
    def page_url(self, base: Optional[str] = None) -> Optional[str]:
        """The page's URL (see ``diff_url`` for ``base``)."""
    def permalink(self, base: Optional[str] = None) -> Optional[str]:
        """The URL of the revision the change made (see ``diff_url`` for ``base``)."""
    def human_line(self, base: Optional[str] = None) -> str:
        """The one-line text the XMLRC bridge posted:
        ``[[Title]] FLAGS URL * user * (+delta) comment`` (also ``str(rc)``)."""
    def to_rc_xml(self) -> str:
        """The change as the XMLRC ``<rc>`` element."""
    def to_json(self) -> str:
        """rc-core's JSON shape: absent fields, false flags and empty lists left out."""
    def to_dict(self, omit_absent: bool = False) -> Dict[str, Any]:
        """Every contract field as a dict (timestamp a datetime, tags a list, log_params
        and extra dicts). ``omit_absent=True`` leaves out what the JSON shape leaves out."""

    # Mapping view
    def __getitem__(self, key: str, /) -> Any:
        """The value of a contract name, wire name or extra key; KeyError otherwise."""
    def get(self, key: str, default: Any = None) -> Any:
        """The value of a contract name, wire name or extra key, or ``default``."""
    def __contains__(self, key: object, /) -> bool:
        """Whether the change carries this field (flags: whether they are set), like a key
        of the ``<rc>`` element's attributes in rcclient.py."""
    def keys(self) -> List[str]:
        """The present fields (contract names), then the keys of ``extra``."""
    def values(self) -> List[Any]:
        """The values of ``keys()``."""
    def items(self) -> List[Tuple[str, Any]]:
        """``(key, value)`` pairs of ``keys()``."""
    def __len__(self) -> int:
        """How many keys ``keys()`` gives."""
    def __iter__(self) -> Iterator[str]:
        """Iterates over ``keys()``."""

    def _repr_html_(self) -> str:
        """An HTML table of the fields the change carries, for notebooks."""
    def __eq__(self, other: object, /) -> bool:
        """Equal when every field is (delivery details aside)."""
    def __ne__(self, other: object, /) -> bool:
        """Not ``==``."""
    def __hash__(self) -> int:
        """Hash of the change's identity ``(wiki, rcid)``: the same change from two forms
        or two deliveries lands in the same set slot."""
    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        """Pickling: rebuilt from its JSON shape and delivery details."""
    def __copy__(self) -> RecentChange:
        """The change itself (it is immutable)."""
    def __deepcopy__(self, memo: Any) -> RecentChange:
        """The change itself (it is immutable)."""

_Form = Literal["rc", "recentchange", "json", "atom", "auto"]

def parse(
    data: Union[str, bytes, bytearray, memoryview],
    *,
    form: Optional[_Form] = None,
) -> RecentChange:
    """Parses one change written in any of MediaWiki's three forms: the API / XMLRC ``<rc>``
    element, the RC feed ``<recentchange>`` element, or the RC feed / EventStreams JSON
    object; or an Atom ``<entry>`` (DokuWiki's PubSub payload).

    ``data`` is str or bytes. ``form`` forces one form ("rc", "recentchange", "json",
    "atom") instead of telling them apart. Raises ``rcclient.ParseError`` (a ValueError)
    saying what is wrong.
    """
@overload
def parse_many(
    items: Iterable[Union[str, bytes, bytearray, memoryview]],
    *,
    form: Optional[_Form] = None,
    errors: Literal["raise", "skip"] = "raise",
) -> List[RecentChange]:
    """Parses many changes at once and returns a list, in the inputs' order. The parsing
    runs with the GIL released, spread over the machine's cores for large batches.

    ``errors`` says what a malformed item does: "raise" (the default) raises ParseError
    naming the item's index, "skip" leaves it out, "none" puts None in its place.
    """
@overload
def parse_many(
    items: Iterable[Union[str, bytes, bytearray, memoryview]],
    *,
    form: Optional[_Form] = None,
    errors: Literal["none"],
) -> List[Optional[RecentChange]]:
    """Parses many changes at once; with ``errors="none"`` a malformed item is None."""

@final
class Filter:
    """Which changes to keep: every keyword given must hold (keywords taking a list accept
    any of its values). ``Filter()`` keeps everything.

    A filter is also a callable (``f(rc)`` is ``f.matches(rc)``), combines with ``&``,
    ``|`` and ``~``, and wherever a filter is accepted a plain callable taking a
    RecentChange and returning a bool is too.
    """

    def __new__(
        cls,
        *,
        wiki: Union[str, Sequence[str], None] = None,
        namespace: Union[int, Sequence[int], None] = None,
        kind: Union[str, Sequence[str], None] = None,
        bot: Optional[bool] = None,
        minor: Optional[bool] = None,
        anon: Optional[bool] = None,
        user: Union[str, Sequence[str], None] = None,
        title_prefix: Optional[str] = None,
        log_type: Union[str, Sequence[str], None] = None,
        predicate: Optional[_FilterLike] = None,
    ) -> Filter:
        """A filter keeping the changes for which every keyword given holds."""
    @staticmethod
    def any(*filters: Union[_FilterLike, Sequence[_FilterLike]]) -> Filter:
        """Changes matching at least one of the filters (Filters or callables)."""
    @staticmethod
    def all(*filters: Union[_FilterLike, Sequence[_FilterLike]]) -> Filter:
        """Changes matching every one of the filters (Filters or callables)."""
    @staticmethod
    def none(*filters: Union[_FilterLike, Sequence[_FilterLike]]) -> Filter:
        """Changes matching none of the filters (Filters or callables)."""
    def matches(self, rc: RecentChange) -> bool:
        """Whether ``rc`` passes the filter; a callable's exception propagates."""
    def __call__(self, rc: RecentChange) -> bool:
        """Same as ``matches(rc)``."""
    @property
    def is_native(self) -> bool:
        """Whether the filter runs without Python (no callables in it): such filters are
        applied in the client's network thread, before changes are buffered."""
    def __and__(self, other: _FilterLike, /) -> Filter:
        """Changes both filters keep."""
    def __rand__(self, other: _FilterLike, /) -> Filter:
        """Changes both filters keep."""
    def __or__(self, other: _FilterLike, /) -> Filter:
        """Changes either filter keeps."""
    def __ror__(self, other: _FilterLike, /) -> Filter:
        """Changes either filter keeps."""
    def __invert__(self) -> Filter:
        """Changes this filter drops."""

_RoomSpec = Union[str, Tuple[str, str], Tuple[str, str, str]]
_Item = Union[RecentChange, Exception]  # Exception only with errors="yield"
_Errors = Literal["skip", "raise", "yield"]
_Tls = Union[Literal["required", "plaintext-loopback"], _StrPath, Sequence[_StrPath], None]

@final
class Client:
    """Follows XMPP multi-user chat rooms where a bridge posts wiki changes (XMLRC) and
    yields each change as a RecentChange. The connection lives in a background thread and
    heals itself: reconnects with backoff, rejoins rooms, replays what was missed from the
    room archive, and drops duplicates.

    Iterate with ``for rc in client`` (blocking, the GIL released while waiting, Ctrl-C
    raises KeyboardInterrupt) or ``async for rc in client``; ``take(n, timeout)`` collects
    a list. Items that are not changes follow ``errors=``: "skip" (default: counted in
    ``status["errors"]``, kept in ``recent_errors``, logged), "raise" or "yield". A fatal
    error (wrong password, no TLS, reconnects exhausted) raises rcclient.ConnectionError.
    ``resume=`` a file path keeps the position there, committed each time you ask for
    the next change: a process killed while handling a change sees again at most that
    one (or the ``take`` batch it was handling).
    ``keepalive=(idle, timeout)`` in seconds (default ``(15, 10)``): a ping after ``idle``
    of silence, the connection replaced if it is not answered within ``timeout``;
    ``request_timeout`` (default 30): a room's join or archive page unanswered that long
    gets a new connection.
    """

    def __new__(
        cls,
        jid: Optional[str] = None,
        password: Optional[str] = None,
        rooms: Union[Sequence[_RoomSpec], Mapping[str, str], str, None] = None,
        *,
        nick: Optional[str] = None,
        anonymous: Union[bool, str, None] = None,
        server: Optional[str] = None,
        tls: _Tls = None,
        history: Union[int, datetime.datetime, None] = None,
        resume: Union[ClientPosition, Mapping[str, Any], _StrPath, None] = None,
        filter: Optional[_FilterLike] = None,
        errors: _Errors = "skip",
        buffer: int = 10000,
        backpressure: Literal["wait", "drop-oldest"] = "wait",
        reconnect: Optional[Mapping[str, float]] = None,
        keepalive: Optional[Tuple[float, float]] = None,
        dedup_window: Optional[int] = None,
        rejoin_delay: Optional[float] = None,
        request_timeout: Optional[float] = None,
    ) -> Client:
        """Starts following ``rooms`` as ``jid`` (see the README for every option); returns
        at once, the connection is made in the background."""
    def __iter__(self) -> Client:
        """The client itself (an iterator)."""
    def __next__(self) -> _Item:
        """The next change (blocking; Ctrl-C raises KeyboardInterrupt)."""
    def receive(self, timeout: Optional[float] = None) -> Optional[_Item]:
        """The next change, or None when ``timeout`` seconds pass first (or the stream has
        ended)."""
    def take(self, n: int, timeout: Optional[float] = None) -> List[_Item]:
        """Up to ``n`` changes as a list: returns when it has ``n``, when ``timeout``
        seconds have passed (with what it got by then), or when the stream has ended. An
        error to raise (see ``errors=``) met after some changes returns those first; the
        next call raises it."""
    def __aiter__(self) -> Client:
        """The client itself (an async iterator)."""
    def __anext__(self) -> Awaitable[_Item]:
        """The next change, awaited without blocking the event loop."""
    def __enter__(self) -> Client:
        """The client itself; leaving the block closes it."""
    def __exit__(self, *args: Any) -> bool:
        """Closes the client (exceptions propagate)."""
    def __aenter__(self) -> Awaitable[Client]:
        """The client itself; leaving the block closes it."""
    def __aexit__(self, *args: Any) -> Awaitable[bool]:
        """Closes the client in a worker thread (exceptions propagate)."""
    def close(self) -> None:
        """Stops the stream: leaves its rooms, closes its connection and saves the
        position file if there is one. Idempotent."""
    @property
    def closed(self) -> bool:
        """Whether close() was called."""
    @property
    def status(self) -> ClientStatus:
        """The client's state: the connection, each room's state, and the counters (see
        ``rcclient.ClientStatus``)."""
    @property
    def buffered(self) -> int:
        """Items received and not yet read."""
    @property
    def recent_errors(self) -> List[Exception]:
        """The last (up to 20) error items, as exception objects, newest last."""
    @property
    def position(self) -> ClientPosition:
        """Where the stream stands after the last item this client yielded:
        ``{"rooms": {room: {"stanza_id": ..., "time": "RFC 3339"}}}``. JSON-ready: store it
        and pass it as ``resume=`` in a later process to continue exactly there."""
    def wait_until_joined(self, timeout: float = 10.0) -> bool:
        """Waits until every room is joined (True) or one has failed, or ``timeout``
        passes (False). Handy before publishing in tests; iterating needs no such wait."""
    def _poll_ready(self) -> Any:
        """Non-blocking step of ``async for``: an item, or ``rcclient._aio.PENDING``."""
    def _arm(self, event_loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> Waiter:
        """Wakes ``future`` on ``event_loop`` once an item can be handed out."""

@final
class Waiter:
    """An armed wake-up of an ``async for`` (internal)."""

    def cancel(self) -> None:
        """Drops the wake-up (the item stays buffered)."""

def mirror(
    dir: _StrPath,
    api: Optional[str] = None,
    *,
    source: Optional[str] = None,
    wiki: Optional[str] = None,
    namespaces: Optional[Sequence[int]] = None,
    prefix: Optional[str] = None,
    pages: Optional[Sequence[str]] = None,
    category: Optional[str] = None,
    metadata: bool = False,
    interval: Optional[float] = None,
    user_agent: Optional[str] = None,
    duration: Optional[float] = None,
    credentials: Optional[Tuple[str, str]] = None,
) -> MirrorStats:
    """Keeps the directory ``dir`` holding the current text of every page of a wiki, one file
    per page, following ``source`` until ``duration`` seconds passed or Ctrl-C (which is raised
    after the batch in hand is saved); returns the counters.

    The texts come from ``api`` (the wiki's ``api.php``) or, without it, from the source
    itself when it is a wiki's own: ``mediawiki:API``, ``dokuwiki:URL`` or ``jspwiki:URL``
    (WikiRPC: ``getAllPages``, ``getPage``; ``credentials=(user, password)`` for HTTP basic
    auth). ``source`` defaults to ``mediawiki:API``, the API itself polled every
    ``interval`` seconds; or e.g. ``eventstreams:recentchange`` with ``wiki="enwiki"`` and
    ``api``. On DokuWiki a page saved empty is deleted, and loses its file.

    A new directory gets a full sync first, saved with the position the source had before
    it; then changes are applied in batches and the position is saved after each, so a
    killed or stopped mirror loses nothing and a later call continues where this one
    stopped. Scope: ``namespaces``, a title ``prefix``, an explicit list of ``pages``, a
    ``category`` (namespaces and category on MediaWiki only: a ``ConfigError`` on WikiRPC);
    ``metadata=True`` keeps each page's metadata in ``DIR/.meta/`` (MediaWiki: revision id,
    timestamp, SHA-1; WikiRPC: version, timestamp, author)."""

def open(
    source: str,
    *,
    jid: Optional[str] = None,
    password: Optional[str] = None,
    anonymous: Optional[str] = None,
    server: Optional[str] = None,
    tls: _Tls = None,
    nick: Optional[str] = None,
    rooms: Optional[Sequence[str]] = None,
    wiki: Optional[str] = None,
    backfill: Optional[str] = None,
    credentials: Optional[Tuple[str, str]] = None,
    interval: Optional[float] = None,
    start: Union[Literal["now", "beginning"], datetime.datetime, None] = None,
    since: Union[Literal["now", "beginning"], datetime.datetime, None] = None,
    end: Optional[datetime.datetime] = None,
    user_agent: Optional[str] = None,
    stall_timeout: Optional[float] = None,
    filter: Optional[_FilterLike] = None,
    resume: Union[SourcePosition, Mapping[str, Any], _StrPath, None] = None,
    errors: _Errors = "skip",
) -> Source:
    """Opens a source of recent changes by name and returns its ``Source`` iterator.

    Names: ``xmpp:room@conference.example.org`` (an XMLRC room),
    ``xmpp:pubsub.example.org?;node=NAME`` (a PubSub node, DokuWiki's dokupubsub),
    ``mediawiki:https://host/w/api.php``, ``dokuwiki:https://host/lib/exe/xmlrpc.php``,
    ``jspwiki:https://host/RPC2/``, ``wikiping:127.0.0.1:8090`` (a listener),
    ``eventstreams:recentchange`` (Wikimedia EventStreams; several streams
    comma-separated, or ``eventstreams:https://host/v2/stream/recentchange``).

    XMPP sources need ``jid`` and ``password``, or ``anonymous="anon.example.org"``;
    ``server``, ``tls`` and ``nick`` as for ``Client``; ``rooms`` adds rooms;
    ``backfill="https://host/w/api.php"`` (with ``wiki``) fills what a room's archive lacks
    from the wiki's API. Polling sources take ``wiki``, ``interval`` (seconds) and
    ``start`` (EventStreams takes it too, also as ``since``) and ``end`` (the iteration
    ends once every change up to it was yielded: with ``start``, a time range); HTTP
    sources take
    ``user_agent`` (your tool and a contact, as Wikimedia's policy asks); EventStreams
    takes ``stall_timeout`` (seconds without even a heartbeat before reconnecting, default
    60); WikiRPC takes ``credentials=(user, password)``. Every source takes
    ``filter``, ``resume`` (a position from ``.position``, or a file path where the
    position is kept: committed each time you ask for the next change, so a process
    killed while handling a change sees again at most that one, or the ``take`` batch it
    was handling) and ``errors``.
    """

@final
class Source:
    """The changes of one source, whatever it is (see ``open()``): iterate with
    ``for rc in source`` (blocking, Ctrl-C raises KeyboardInterrupt) or
    ``async for rc in source``; ``take(n, timeout)`` collects a list. Items that are not
    changes follow ``errors=`` as in ``Client``."""

    def __iter__(self) -> Source:
        """The source itself (an iterator)."""
    def __next__(self) -> _Item:
        """The next change (blocking; Ctrl-C raises KeyboardInterrupt)."""
    def receive(self, timeout: Optional[float] = None) -> Optional[_Item]:
        """The next change, or None when ``timeout`` seconds pass first (or the stream has
        ended)."""
    def take(self, n: int, timeout: Optional[float] = None) -> List[_Item]:
        """Up to ``n`` changes as a list: returns when it has ``n``, when ``timeout``
        seconds have passed (with what it got by then), or when the stream has ended. An
        error to raise met after some changes returns those first; the next call raises
        it."""
    def __aiter__(self) -> Source:
        """The source itself (an async iterator)."""
    def __anext__(self) -> Awaitable[_Item]:
        """The next change, awaited without blocking the event loop."""
    def __enter__(self) -> Source:
        """The source itself; leaving the block closes it."""
    def __exit__(self, *args: Any) -> bool:
        """Closes the source (exceptions propagate)."""
    def __aenter__(self) -> Awaitable[Source]:
        """The source itself; leaving the block closes it."""
    def __aexit__(self, *args: Any) -> Awaitable[bool]:
        """Closes the source in a worker thread (exceptions propagate)."""
    def close(self) -> None:
        """Stops the stream: leaves its rooms or stops polling, closes its connections and
        saves the position file if there is one. Idempotent."""
    @property
    def closed(self) -> bool:
        """Whether close() was called."""
    @property
    def name(self) -> str:
        """The source's name, e.g. "dokuwiki:http://127.0.0.1:8081/lib/exe/xmlrpc.php"."""
    @property
    def status(self) -> SourceStatus:
        """The source's state and counters (see ``rcclient.SourceStatus``)."""
    @property
    def recent_errors(self) -> List[Exception]:
        """The last (up to 20) error items, as exception objects, newest last."""
    @property
    def position(self) -> Optional[SourcePosition]:
        """Where the source stands after the last item yielded (None before any, and
        always for a WikiPing listener): JSON-ready; pass it as ``resume=`` to a later
        ``open`` of the same source to continue there. Its shape depends on the kind of
        source (see ``rcclient.SourcePosition``)."""
    def _poll_ready(self) -> Any:
        """Non-blocking step of ``async for``: an item, or ``rcclient._aio.PENDING``."""
    def _arm(self, event_loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> Waiter:
        """Wakes ``future`` on ``event_loop`` once an item can be handed out."""

@final
class Publisher:
    """Posts changes into XMPP rooms the way the XMLRC bridge did: the change's human line
    as the message body and its ``<rc>`` element beside it. Delivery is at least once: a
    message stays queued until the room echoes it back, and is sent again after a
    reconnect."""

    def __new__(
        cls,
        jid: str,
        password: str,
        rooms: Sequence[str],
        *,
        nick: str = "xmlrc",
        server: Optional[str] = None,
        tls: _Tls = None,
        outbox: int = 10000,
        reconnect: Optional[Mapping[str, float]] = None,
    ) -> Publisher:
        """Starts a publisher joining ``rooms`` as ``jid`` (options as for ``Client``;
        ``outbox`` bounds the messages queued and not yet confirmed)."""
    def publish(self, room: str, rc: Union[RecentChange, str, bytes]) -> None:
        """Posts a change into ``room`` (one of the publisher's rooms): its human line as
        the body, its ``<rc>`` element as the payload. ``rc`` is a RecentChange, or
        str/bytes in any form ``parse`` reads. Returns once queued."""
    def publish_many(self, room: str, changes: Iterable[Union[RecentChange, str, bytes]]) -> None:
        """Posts many changes into ``room``, in order."""
    def post(self, room: str, body: str, payload_xml: Optional[str] = None) -> None:
        """Posts any message: a body, and optionally one payload element as XML text.
        Without a payload it is a plain chat line."""
    def flush(self, timeout: float = 10.0) -> bool:
        """Waits until the rooms echoed everything posted so far (True), or ``timeout``
        seconds pass (False). Ctrl-C raises KeyboardInterrupt."""
    def wait_until_joined(self, timeout: float = 10.0) -> bool:
        """Waits until every room is joined (True), or ``timeout`` passes or the publisher
        fails (False)."""
    @property
    def confirmed(self) -> int:
        """Messages the rooms confirmed so far."""
    @property
    def connection(self) -> str:
        """The connection state: "connecting", "online", "reconnecting", "failed"..."""
    def close(self) -> None:
        """Leaves the rooms and disconnects; unconfirmed messages are dropped (flush
        first)."""
    def __enter__(self) -> Publisher:
        """The publisher itself; leaving the block closes it."""
    def __exit__(self, *args: Any) -> bool:
        """Closes the publisher (exceptions propagate)."""

def _unpickle(
    json: str,
    room: Optional[str] = None,
    stanza_id: Optional[str] = None,
    replayed: bool = False,
    sent_at: Optional[str] = None,
    kafka: Optional[Tuple[Optional[str], Optional[str], Optional[int], Optional[int]]] = None,
) -> RecentChange:
    """Rebuilds a pickled change."""
