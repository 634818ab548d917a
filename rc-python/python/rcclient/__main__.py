"""Command line: ``python -m rcclient follow SOURCE`` prints each change of any source
(``eventstreams:recentchange``, ``mediawiki:https://host/w/api.php``, ``xmpp:ROOM``...)
as it arrives, as the bridge's human line or as JSON lines; ``python -m rcclient tail
ROOM... --jid JID`` does the same for XMPP rooms; ``python -m rcclient parse FILE...``
prints the JSON shape of changes saved in files."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional

import time

from . import Client, ConnectionError, Filter, ParseError, Source, open as open_source, parse


def _filter_and_output_args(p: argparse.ArgumentParser) -> None:
    """The options `tail` and `follow` share: filters, output, limits, errors."""
    p.add_argument("--json", action="store_true", help="print JSON lines (rc-core's JSON shape) instead of text")
    p.add_argument("--namespace", type=int, action="append", help="only this namespace (repeatable)")
    p.add_argument("--no-bots", action="store_true", help="leave out bot changes")
    p.add_argument("--kind", action="append", help="only this kind: edit, new, log, categorize (repeatable)")
    p.add_argument("--wiki", action="append", help="only this wiki database name, e.g. enwiki (repeatable)")
    p.add_argument("--user", action="append", help="only changes by this user (repeatable)")
    p.add_argument("--title-prefix", help="only titles starting with this")
    p.add_argument("--resume", metavar="FILE", help="continue from (and keep) the position in FILE")
    p.add_argument("--base-url", help="wiki base URL for links, e.g. https://en.wikipedia.org/w")
    p.add_argument("--limit", type=int, help="exit after N changes")
    p.add_argument("--timeout", type=float, help="exit after this many seconds")
    p.add_argument(
        "--errors",
        choices=["skip", "raise", "yield"],
        default="skip",
        help="what items that are not changes do (default: skip; yield prints them to stderr)",
    )


def _follow_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "follow",
        help="follow any source and print each change",
        description=(
            "Follow a source of recent changes by name (eventstreams:recentchange, "
            "mediawiki:https://host/w/api.php, xmpp:ROOM@SERVICE, dokuwiki:URL, jspwiki:URL, "
            "wikiping:HOST:PORT) and print one line per change."
        ),
    )
    p.add_argument("source", metavar="SOURCE", help="the source's name, e.g. eventstreams:recentchange")
    p.add_argument("--since", help='where to start without a position: "now" (default), "beginning", or an ISO 8601 time')
    p.add_argument(
        "--user-agent",
        help="User-Agent of HTTP requests: your tool and a contact (Wikimedia's policy asks for one)",
    )
    p.add_argument("--source-wiki", help="the wiki id stamped on API / WikiRPC changes (default: the URL's host)")
    p.add_argument("--interval", type=float, help="seconds between polls (API, WikiRPC)")
    p.add_argument("--jid", help="XMPP sources: account JID, or an anonymous domain (no @)")
    p.add_argument("--anonymous", action="store_true", help="XMPP sources: log in anonymously on the JID's domain")
    p.add_argument("--server", help="XMPP sources: HOST:PORT to connect to instead of the JID's domain")
    p.add_argument("--tls", default="required", help='XMPP sources: "required" (default), "plaintext-loopback", or a CA file')
    p.add_argument("--nick", help="XMPP rooms: the nick to join with")
    _filter_and_output_args(p)


def _tail_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = sub.add_parser(
        "tail",
        help="follow rooms and print each change",
        description="Join XMPP rooms where a bridge posts wiki changes and print one line per change.",
    )
    p.add_argument("rooms", nargs="+", metavar="ROOM", help="room JID, e.g. enwiki@conference.example.org")
    p.add_argument("--jid", required=True, help="account JID, or an anonymous domain (no @)")
    p.add_argument("--anonymous", action="store_true", help="log in anonymously on the JID's domain")
    p.add_argument("--server", help="HOST:PORT to connect to instead of the JID's domain")
    p.add_argument(
        "--tls",
        default="required",
        help='"required" (default), "plaintext-loopback", or a CA certificate file to trust',
    )
    p.add_argument("--nick", help="nick in the rooms (default: the JID's user part)")
    p.add_argument("--history", type=int, help="also print the last N messages of each room")
    _filter_and_output_args(p)


def _filter(args: argparse.Namespace) -> Optional[Filter]:
    kw = {}
    if args.namespace:
        kw["namespace"] = args.namespace
    if args.no_bots:
        kw["bot"] = False
    if args.kind:
        kw["kind"] = args.kind
    if args.wiki:
        kw["wiki"] = args.wiki
    if args.user:
        kw["user"] = args.user
    if args.title_prefix:
        kw["title_prefix"] = args.title_prefix
    return Filter(**kw) if kw else None


def _password(args: argparse.Namespace, anonymous: bool) -> Optional[str]:
    """$RCCLIENT_PASSWORD, else asked on a terminal (never on the command line, where
    `ps` shows it); None when anonymous or when there is no way to ask."""
    password = os.environ.get("RCCLIENT_PASSWORD")
    if password is None and not anonymous and sys.stdin.isatty():
        password = getpass.getpass(f"password for {args.jid}: ")
    return password


def _print_loop(args: argparse.Namespace, stream: "Client | Source", failed: "Callable[[], bool]") -> int:
    """Prints changes from `stream` until --limit, --timeout, the end, or a fatal error."""
    printed = 0
    out = sys.stdout
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    while args.limit is None or printed < args.limit:
        wait = None
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0:
                break
        try:
            rc = stream.receive(timeout=wait)
        except ConnectionError as e:
            print(f"rcclient: {e}", file=sys.stderr)
            return 2
        except Exception as e:  # errors="raise": report and go on
            print(f"rcclient: {type(e).__name__}: {e}", file=sys.stderr)
            if failed():
                return 2
            continue
        if rc is None:
            if failed() or deadline is not None:
                break
            continue
        if isinstance(rc, Exception):
            print(f"rcclient: {type(rc).__name__}: {rc}", file=sys.stderr)
            continue
        line = rc.to_json() if args.json else rc.human_line(args.base_url)
        out.write(line + "\n")
        out.flush()
        printed += 1
    return 0


def _since(value: Optional[str]) -> Any:
    if value is None or value in ("now", "beginning"):
        return value
    import datetime

    t = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=datetime.timezone.utc)


def _follow(args: argparse.Namespace) -> int:
    xmpp = args.source.startswith("xmpp:")
    kw: Dict[str, Any] = {}
    if xmpp:
        if not args.jid:
            print("rcclient: an xmpp: source needs --jid (an account, or a domain with --anonymous)", file=sys.stderr)
            return 2
        anonymous = args.anonymous or "@" not in args.jid
        if anonymous:
            kw["anonymous"] = args.jid.split("@")[-1]
        else:
            password = _password(args, anonymous)
            if password is None:
                print("rcclient: no password: set RCCLIENT_PASSWORD or run on a terminal", file=sys.stderr)
                return 2
            kw.update(jid=args.jid, password=password)
        kw.update(server=args.server, tls=args.tls, nick=args.nick)
    try:
        since = _since(args.since)
    except ValueError:
        print(f"rcclient: --since {args.since!r}: not now, beginning or an ISO 8601 time", file=sys.stderr)
        return 2
    source = open_source(
        args.source,
        wiki=args.source_wiki,
        interval=args.interval,
        since=since,
        user_agent=args.user_agent,
        resume=args.resume,
        filter=_filter(args),
        errors=args.errors,
        **kw,
    )
    with source:
        code = _print_loop(args, source, lambda: source.status["state"] == "failed")
    return code


def _tail(args: argparse.Namespace) -> int:
    anonymous = args.anonymous or "@" not in args.jid
    password = _password(args, anonymous)
    if password is None and not anonymous:
        print("rcclient: no password: set RCCLIENT_PASSWORD or run on a terminal", file=sys.stderr)
        return 2
    client = Client(
        args.jid,
        None if anonymous else password,
        rooms=args.rooms,
        nick=args.nick,
        anonymous=anonymous or None,
        server=args.server,
        tls=args.tls,
        history=args.history,
        resume=args.resume,
        filter=_filter(args),
        errors=args.errors,
    )
    with client:
        code = _print_loop(args, client, lambda: client.status["connection"] in ("failed", "closed"))
    return code


def _parse_cmd(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            with open(path, "rb") as f:
                rc = parse(f.read())
            print(rc.to_json())
        except (OSError, ParseError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            status = 1
    return status


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``python -m rcclient`` and the ``rcclient`` script."""
    parser = argparse.ArgumentParser(prog="python -m rcclient", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _follow_parser(sub)
    _tail_parser(sub)
    pp = sub.add_parser("parse", help="print the JSON shape of changes saved in files")
    pp.add_argument("files", nargs="+", metavar="FILE")
    args = parser.parse_args(argv)
    try:
        if args.command == "follow":
            return _follow(args)
        if args.command == "tail":
            return _tail(args)
        return _parse_cmd(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): exit quietly.
        try:
            sys.stdout.close()
        except Exception:
            pass
        return 0


if __name__ == "__main__":
    sys.exit(main())
