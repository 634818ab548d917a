"""rcclient: wiki recent changes as typed Python objects.

Every edit, page creation and log action a MediaWiki publishes, in any of its three forms
(the API / XMLRC ``<rc>`` element, the RC feed ``<recentchange>`` element, the RC feed /
EventStreams JSON object), and the other wikis' feeds (DokuWiki's PubSub Atom entries,
WikiRPC, WikiPing), becomes one :class:`RecentChange`. :class:`Client` follows the
XMPP chat rooms the XMLRC bridge posts into, healing its connection by itself;
:func:`open` follows any source by name (``xmpp:``, ``mediawiki:``, ``dokuwiki:``,
``jspwiki:``, ``wikiping:``) with the same iteration, filter, status and position.

>>> import rcclient
>>> rc = rcclient.parse('<rc type="edit" ns="0" title="Alpha" rcid="4" oldlen="22" newlen="14" old_revid="2" revid="3" />')
>>> rc.title, rc["old_revid"], rc.size_delta
('Alpha', 2, -8)

The native part is written in Rust (PyO3) on the crates rc-core and rc-xmpp.
"""

from __future__ import annotations

from collections.abc import Mapping as _Mapping

from ._errors import (
    ConfigError,
    ConnectionError,
    Error,
    NoPayload,
    ParseError,
    PayloadError,
    PublishError,
    RoomError,
    StreamError,
)
from ._rcclient import (
    FIELDS,
    Client,
    Filter,
    Publisher,
    RecentChange,
    Source,
    __version__,
    mirror,
    open,
    parse,
    parse_many,
)
from ._compat import RCClient, RCHandler
from ._frame import to_dataframe
from ._progress import progress
from ._tables import arrow_schema, arrow_stream, polars_schema, to_arrow, to_polars
from ._types import (
    BackfillPosition,
    ClientPosition,
    ClientStatus,
    ErrorCounts,
    EventStreamsPosition,
    KafkaAssignment,
    MediaWikiPosition,
    MirrorStats,
    NodePosition,
    PubSubPosition,
    RoomPosition,
    RoomStatus,
    SeenPage,
    SourcePosition,
    SourceStatus,
    WikiRpcPosition,
)

# A RecentChange reads like a (flat, read-only) mapping: rc["title"], rc.keys(), dict(rc).
_Mapping.register(RecentChange)

__all__ = [
    "FIELDS",
    "Client",
    "ConfigError",
    "ConnectionError",
    "Error",
    "Filter",
    "NoPayload",
    "ParseError",
    "PayloadError",
    "PublishError",
    "Publisher",
    "RCClient",
    "RCHandler",
    "Source",
    "open",
    "mirror",
    "RecentChange",
    "RoomError",
    "StreamError",
    "__version__",
    "parse",
    "parse_many",
    "to_dataframe",
    # typed tables (pyarrow / polars optional) and a progress display (tqdm optional)
    "arrow_schema",
    "arrow_stream",
    "polars_schema",
    "progress",
    "to_arrow",
    "to_polars",
    # the shapes of `status` and `position` (TypedDicts: plain dicts at runtime)
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
