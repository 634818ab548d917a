"""rcclient.mirror: a directory of page texts kept in step with a real MediaWiki 1.39
(scripts/mediawiki/) by polling its API, and with a real DokuWiki (scripts/dokuwiki/) over
WikiRPC: no XMPP server at all."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

import rcclient
from test_mediawiki_e2e import wiki  # noqa: F401  (the fixture)
from test_sources import dokuwiki  # noqa: F401  (the fixture)


def _mirrored(path):
    """The pages of a mirror directory by title (files whose name starts with a dot are
    the mirror's own)."""
    out = {}
    for f in path.rglob("*"):
        rel = f.relative_to(path)
        if f.is_file() and not any(part.startswith(".") for part in rel.parts):
            title = urllib.parse.unquote(str(rel).replace("~/", "")).replace("_", " ")
            out[title] = f.read_text()
    return out


def _raw(api, title):
    base = api.rsplit("/", 1)[0]
    url = f"{base}/index.php?title={urllib.parse.quote(title)}&action=raw"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode()
    except urllib.error.HTTPError:
        return None


def test_a_mirror_polling_the_api_holds_the_wikis_pages_byte_for_byte(wiki, tmp_path):  # noqa: F811
    g, admin, _feed, _state = wiki
    api = g.API
    for title, text in [("Py Alpha", "alpha v1"), ("Py Beta", "beta v1"), ("Talk:Py Alpha", "talk")]:
        admin.post("edit", title=title, text=text, summary="create")
    pages = tmp_path / "pages"
    # An edit while the first run follows: a change applied, its position saved.
    import threading

    threading.Timer(2.0, lambda: admin.post("edit", title="Py Gamma", text="gamma", summary="new")).start()
    stats = rcclient.mirror(str(pages), api, interval=0.3, duration=5, metadata=True)
    assert stats["full_syncs"] == 1
    assert stats["changes"] >= 1, stats
    admin.post("edit", title="Py Alpha", text="alpha v2", summary="edit")
    admin.post("move", **{"from": "Py Beta", "to": "Py Beta moved", "reason": "move"})
    admin.post("delete", title="Talk:Py Alpha", reason="delete")
    stats = rcclient.mirror(str(pages), api, interval=0.3, duration=4, metadata=True)
    assert stats["full_syncs"] == 0, "the second run resumed from the saved position"
    assert stats["changes"] >= 3
    got = _mirrored(pages)
    for title in ["Py Alpha", "Py Beta", "Py Beta moved", "Py Gamma", "Main Page"]:
        assert got.get(title) == _raw(api, title), title
    assert "Talk:Py Alpha" not in got
    meta = json.loads((pages / ".meta" / "Py_Alpha.json").read_text())
    assert meta["title"] == "Py Alpha" and isinstance(meta["rev_id"], int) and meta["sha1"]


def test_mirror_arguments_are_checked():
    with pytest.raises(ValueError, match="duration"):
        rcclient.mirror("/tmp/x", "http://127.0.0.1:1/api.php", duration=float("nan"))
    with pytest.raises(rcclient.ConfigError):
        rcclient.mirror("/tmp/x", "http://127.0.0.1:1/api.php", source="nonsense")
    with pytest.raises(rcclient.ConfigError, match="api"):
        rcclient.mirror("/tmp/x")
    with pytest.raises(rcclient.ConfigError, match="gives no page texts"):
        rcclient.mirror("/tmp/x", source="eventstreams:recentchange")


def _doku_pages(state_dir):
    """The DokuWiki's pages from its own data directory (data/pages/NS/ID.txt), by page id."""
    import pathlib

    root = pathlib.Path(state_dir) / "data" / "pages"
    return {str(f.relative_to(root).with_suffix("")).replace("/", ":"): f.read_text()
            for f in root.rglob("*.txt")}


def _doku_mirrored(path):
    """Mirror files by title (no `_`-for-space rule: DokuWiki ids keep `_`, encoded %5F)."""
    return {urllib.parse.unquote(f.name): f.read_text()
            for f in path.iterdir() if f.is_file() and not f.name.startswith(".")}


def test_a_dokuwiki_mirror_equals_the_wiki_and_a_stopped_one_resumes_without_a_full_sync(dokuwiki, tmp_path):  # noqa: F811
    import threading
    import xmlrpc.client

    url, user, password = dokuwiki["DOKUWIKI_XMLRPC_URL"], dokuwiki["DOKUWIKI_USER"], dokuwiki["DOKUWIKI_PASSWORD"]
    rpc = xmlrpc.client.ServerProxy(url.replace("http://", f"http://{user}:{password}@"))
    for page, text in [("start", "Welcome"), ("notes:alpha", "Alpha v1"), ("notes:beta", "Beta v1")]:
        assert rpc.wiki.putPage(page, text, {"sum": "create"})
    pages = tmp_path / "pages"

    def run(seconds, **kw):
        return rcclient.mirror(str(pages), source=f"dokuwiki:{url}", credentials=(user, password),
                               interval=0.3, duration=seconds, **kw)

    stats = run(2, metadata=True)
    assert (stats["full_syncs"], stats["changes"]) == (1, 0), stats
    assert _doku_mirrored(pages) == _doku_pages(dokuwiki["DOKUWIKI_STATE_DIR"])
    meta = json.loads((pages / ".meta" / "notes%3Aalpha.json").read_text())
    assert meta["title"] == "notes:alpha" and meta["author"] == user and meta["version"]

    # Changed while stopped: an edit, a new page, a deletion (DokuWiki's: an empty text).
    assert rpc.wiki.putPage("notes:alpha", "Alpha v2", {"sum": "edit"})
    assert rpc.wiki.putPage("notes:gamma", "Gamma", {"sum": "new"})
    assert rpc.wiki.putPage("notes:beta", "", {"sum": "delete"})
    threading.Timer(1.5, lambda: rpc.wiki.putPage("start", "Welcome back", {"sum": "live"})).start()
    stats = run(4, metadata=True)
    assert stats["full_syncs"] == 0, "resumed from the position saved with the first sync"
    assert stats["fetches"] == 4, stats
    got = _doku_mirrored(pages)
    assert got == _doku_pages(dokuwiki["DOKUWIKI_STATE_DIR"])
    assert got == {"start": "Welcome back", "notes:alpha": "Alpha v2", "notes:gamma": "Gamma"}

    with pytest.raises(rcclient.ConfigError, match="namespaces"):
        run(1, namespaces=[0])
