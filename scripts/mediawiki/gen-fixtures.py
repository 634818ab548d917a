#!/usr/bin/env python3
"""Generate recent-changes fixtures from a real MediaWiki 1.39.

Starts a throwaway wiki (start.sh) with two UDP RC feeds (XMLRCFeedFormatter
and JSONRCFeedFormatter) pointed at sockets owned by this script, performs a
scripted sequence of API actions, and writes for every recent change:

  NNNN.rc.xml       the API's <rc> element right after the step (wikiid added)
  NNNN.rc.late.xml  the API's <rc> element at the end, when it changed since
  NNNN.feed.xml     exact UDP payload of XMLRCFeedFormatter
  NNNN.feed.json    exact UDP payload of JSONRCFeedFormatter

plus index.json and api-recentchanges.xml into
rc-core/tests/fixtures/mediawiki-1.39/ (relative to the repository root).

Python 3 standard library only. Env: MW_PORT (default 8089), MW_STATE_DIR,
MW_ADMIN_PASSWORD, FIXTURES_DIR (override output directory).
"""

import atexit
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
OUT = Path(os.environ.get("FIXTURES_DIR") or REPO / "rc-core/tests/fixtures/mediawiki-1.39")

PORT = int(os.environ.get("MW_PORT", "8089"))
STATE_DIR = os.environ.get("MW_STATE_DIR", f"/tmp/rc-mediawiki-{PORT}")
ADMIN_PASSWORD = os.environ.get("MW_ADMIN_PASSWORD", "adminpass123456")
BASE = f"http://127.0.0.1:{PORT}"
API = f"{BASE}/api.php"
WIKI_ID = "wikidb"
USER_PASSWORD = "userpass1234567"

RCPROP = ("user|userid|comment|parsedcomment|flags|timestamp|title|ids|sizes|"
          "redirect|patrolled|loginfo|tags|sha1")
TAG = "rc-fixture-tag"

WARNINGS = []


def warn(msg):
    WARNINGS.append(msg)
    print(f"WARNING: {msg}", file=sys.stderr, flush=True)


def info(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# UDP collectors
# --------------------------------------------------------------------------
class Collector:
    def __init__(self, name):
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.packets = []  # (monotonic time, bytes)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"udp-{name}", daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                data, _addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                break
            with self.lock:
                self.packets.append((time.monotonic(), data))

    def last_time(self):
        with self.lock:
            return self.packets[-1][0] if self.packets else 0.0

    def count(self):
        with self.lock:
            return len(self.packets)

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


# --------------------------------------------------------------------------
# API sessions
# --------------------------------------------------------------------------
class ApiError(Exception):
    pass


class Session:
    def __init__(self, name, cookies=True):
        self.name = name
        handlers = []
        if cookies:
            self.jar = http.cookiejar.CookieJar()
            handlers.append(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener = urllib.request.build_opener(*handlers)
        self.opener.addheaders = [("User-Agent", "rc-fixture-generator/1.0 (127.0.0.1 test wiki)")]

    def raw(self, params, post=False):
        data = urllib.parse.urlencode(params).encode()
        if post:
            req = urllib.request.Request(API, data=data)
        else:
            req = urllib.request.Request(API + "?" + data.decode())
        with self.opener.open(req, timeout=60) as resp:
            return resp.read().decode("utf-8")

    def call(self, params, post=False, check=True):
        p = dict(params)
        p.setdefault("format", "json")
        p.setdefault("formatversion", "2")
        p.setdefault("errorformat", "plaintext")
        text = self.raw(p, post)
        try:
            res = json.loads(text)
        except ValueError:
            raise ApiError(f"non-JSON response to {params.get('action')}: {text[:500]}")
        if check and "errors" in res:
            raise ApiError(f"{self.name}: {params.get('action')} failed: {json.dumps(res['errors'])}")
        for w in res.get("warnings", []) if isinstance(res.get("warnings"), list) else []:
            if w.get("code") not in ("deprecation", "unrecognizedparams"):
                info(f"  api warning ({params.get('action')}): {w.get('text') or w}")
        return res

    def token(self, kind="csrf"):
        res = self.call({"action": "query", "meta": "tokens", "type": kind})
        return res["query"]["tokens"][f"{kind}token"]

    def post(self, action, token_kind="csrf", **params):
        p = {"action": action}
        p.update({k: v for k, v in params.items() if v is not None})
        if token_kind:
            # action=createaccount wants "createtoken" instead of "token".
            p["createtoken" if action == "createaccount" else "token"] = self.token(token_kind)
        return self.call(p, post=True)

    def login(self, user, password):
        tok = self.token("login")
        res = self.call({"action": "clientlogin", "username": user, "password": password,
                         "loginreturnurl": BASE + "/", "logintoken": tok}, post=True)
        status = res.get("clientlogin", {}).get("status")
        if status != "PASS":
            raise ApiError(f"clientlogin as {user} failed: {res}")
        info(f"  logged in as {user}")


# --------------------------------------------------------------------------
# <rc> extraction (exact substrings of the API response text)
# --------------------------------------------------------------------------
RC_START = re.compile(r"<rc\b[^>]*>")
RCID_ATTR = re.compile(r'\srcid="(\d+)"')


def extract_rc_elements(text):
    """Yield (rcid, exact element text) for every <rc> element in text."""
    pos = 0
    while True:
        m = RC_START.search(text, pos)
        if not m:
            return
        start_tag = m.group(0)
        if start_tag.endswith("/>"):
            end = m.end()
        else:
            close = text.find("</rc>", m.end())
            if close < 0:
                raise ValueError("unterminated <rc> element in API response")
            end = close + len("</rc>")
        element = text[m.start():end]
        idm = RCID_ATTR.search(start_tag)
        if not idm:
            raise ValueError(f"<rc> without rcid: {start_tag}")
        yield int(idm.group(1)), element
        pos = end


def add_wikiid(element):
    """Insert wikiid="wikidb" as the last attribute of the start tag (as XMLRC did)."""
    m = RC_START.match(element)
    tag = m.group(0)
    if tag.endswith(" />"):
        new = tag[:-3] + f' wikiid="{WIKI_ID}" />'
    elif tag.endswith("/>"):
        new = tag[:-2] + f' wikiid="{WIKI_ID}"/>'
    else:
        new = tag[:-1] + f' wikiid="{WIKI_ID}">'
    return new + element[m.end():]


def fetch_rc(session, extra=None, rcprop=RCPROP):
    """All <rc> elements (rcid -> exact text) plus the raw first page."""
    params = {"action": "query", "list": "recentchanges", "format": "xml",
              "rcdir": "newer", "rclimit": "max", "rcprop": rcprop}
    if extra:
        params.update(extra)
    elements = {}
    first_raw = None
    cont = {}
    for _ in range(100):
        p = dict(params)
        p.update(cont)
        text = session.raw(p)
        if first_raw is None:
            first_raw = text
        if "<error" in text:
            raise ApiError(f"recentchanges query failed: {text[:500]}")
        for rcid, el in extract_rc_elements(text):
            elements[rcid] = el
        m = re.search(r"<continue\b([^>]*)/>", text)
        if not m:
            break
        cont = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        cont = {k: v.replace("&amp;", "&").replace("&quot;", '"') for k, v in cont.items()}
    return elements, first_raw


# --------------------------------------------------------------------------
# Wiki lifecycle
# --------------------------------------------------------------------------
STARTED = False


def stop_wiki():
    global STARTED
    if STARTED:
        STARTED = False
        env = dict(os.environ, MW_PORT=str(PORT), MW_STATE_DIR=STATE_DIR)
        subprocess.run([str(HERE / "stop.sh")], env=env, check=False)


def start_wiki(xml_port, json_port):
    global STARTED
    env = dict(os.environ, MW_PORT=str(PORT), MW_STATE_DIR=STATE_DIR,
               MW_ADMIN_PASSWORD=ADMIN_PASSWORD, MW_PHP_WORKERS="1",
               MW_FEED_XML=f"127.0.0.1:{xml_port}", MW_FEED_JSON=f"127.0.0.1:{json_port}")
    t0 = time.monotonic()
    STARTED = True
    proc = subprocess.run([str(HERE / "start.sh")], env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"start.sh failed with {proc.returncode}")
    info(f"wiki up at {proc.stdout.strip()} in {time.monotonic() - t0:.1f}s")


def job_count(session):
    res = session.call({"action": "query", "meta": "siteinfo", "siprop": "statistics"})
    return int(res["query"]["statistics"].get("jobs", 0))


def page_view(session):
    req = urllib.request.Request(f"{BASE}/index.php?title=Special:BlankPage")
    with session.opener.open(req, timeout=60) as resp:
        resp.read()


def drain_jobs(session, max_requests=20):
    """Let $wgJobRunRate run queued jobs; fall back to maintenance/runJobs.php.

    In 1.39 only index.php requests (MediaWiki::run) schedule post-send jobs,
    api.php requests never do; so view a cheap page until the queue is empty.
    php -S is single-threaded: the next request is served only after the
    previous one finished its post-send work (deferred updates, jobs).
    """
    for _ in range(max_requests):
        if job_count(session) == 0:
            return
        page_view(session)
    info("  job queue not drained by web requests; running maintenance/runJobs.php")
    env = dict(os.environ, MW_CONFIG_FILE=f"{STATE_DIR}/LocalSettings.php")
    subprocess.run(["php", "/usr/share/mediawiki/maintenance/runJobs.php",
                    "--conf", f"{STATE_DIR}/LocalSettings.php"],
                   env=env, check=False, stdout=subprocess.DEVNULL)
    if job_count(session) != 0:
        warn("job queue still not empty after runJobs.php")


# --------------------------------------------------------------------------
# The scripted sequence
# --------------------------------------------------------------------------
class Recorder:
    def __init__(self, admin):
        self.admin = admin
        self.first = {}     # rcid -> element text (with wikiid) as first seen
        self.step_of = {}   # rcid -> step description
        self.steps = []     # (description, [rcids], ok)
        self.windows = []   # (t_start, t_end, description) in time.monotonic()
        self.baseline()

    def baseline(self):
        els, _ = fetch_rc(self.admin)
        for rcid, el in els.items():
            self.first[rcid] = add_wikiid(el)
            self.step_of[rcid] = "maintenance/install.php (before the feeds were configured)"
        self.steps.append(("install.php", sorted(els), True))

    def snapshot(self, desc):
        drain_jobs(self.admin)
        els, _ = fetch_rc(self.admin)
        new = sorted(r for r in els if r not in self.first)
        for rcid in new:
            self.first[rcid] = add_wikiid(els[rcid])
            self.step_of[rcid] = desc
        return new

    def step(self, desc, fn, optional=False):
        info(f"- {desc}")
        t_start = time.monotonic()
        ok = True
        result = None
        try:
            result = fn()
        except (ApiError, urllib.error.URLError, KeyError) as e:
            ok = False
            if optional:
                warn(f"optional step failed: {desc}: {e}")
            else:
                raise
        new = self.snapshot(desc)
        self.windows.append((t_start, time.monotonic(), desc))
        if ok and not new:
            info("    (no recent change row)")
        self.steps.append((desc, new, ok))
        return result


def rev_of(res):
    return res["edit"].get("newrevid")


def run_sequence(admin, anon, rec):
    s = {}  # remembered ids

    def edit(sess, title, text=None, summary=None, **kw):
        params = {"title": title}
        if summary is not None:
            params["summary"] = summary
        if text is not None:
            params["text"] = text
        params.update(kw)
        tok = "+\\" if sess is anon else sess.token()
        params["token"] = tok
        params["action"] = "edit"
        res = sess.call(params, post=True)
        if res.get("edit", {}).get("result") != "Success":
            raise ApiError(f"edit {title} failed: {res}")
        return res

    # --- accounts and tags -------------------------------------------------
    rec.step("Admin creates account Botty (action=createaccount while logged in)",
             lambda: admin.post("createaccount", token_kind="createaccount", username="Botty",
                                password=USER_PASSWORD, retype=USER_PASSWORD,
                                createreturnurl=BASE + "/", reason="bot account for fixtures"))
    newbie = Session("Newbie")
    rec.step("anonymous visitor registers account Newbie (action=createaccount, self-creation)",
             lambda: newbie.post("createaccount", token_kind="createaccount", username="Newbie",
                                 password=USER_PASSWORD, retype=USER_PASSWORD,
                                 createreturnurl=BASE + "/"))
    rec.step("Admin adds Botty to group bot (action=userrights add=bot)",
             lambda: admin.post("userrights", token_kind="userrights", user="Botty", add="bot",
                                reason="flag as bot"))
    botty = Session("Botty")
    botty.login("Botty", USER_PASSWORD)
    rec.step(f"Admin creates change tag {TAG} (action=managetags operation=create)",
             lambda: admin.post("managetags", operation="create", tag=TAG,
                                reason="tag for fixture edits"))

    # --- plain edits ---------------------------------------------------------
    r = rec.step("Admin creates page Alpha (action=edit, new page)",
                 lambda: edit(admin, "Alpha", "Alpha text.\n\n== Section ==\nBody.\n", "create Alpha",
                              createonly=1))
    s["alpha1"] = rev_of(r)
    rec.step("Admin edits section of Alpha with an autocomment summary (action=edit section=1)",
             lambda: edit(admin, "Alpha", "== Section ==\nBody, longer now.\n",
                          "/* Section */ expand section", section=1))
    rec.step("Admin makes a minor edit to Alpha (action=edit minor=1)",
             lambda: edit(admin, "Alpha", "Alpha text, fixed.\n\n== Section ==\nBody, longer now.\n",
                          "typo fix", minor=1))
    rec.step("Botty makes a bot edit to Alpha (action=edit bot=1 as bot user)",
             lambda: edit(botty, "Alpha", "Alpha text, fixed.\n\n== Section ==\nBody, longer now.\n\n"
                          "[[Talk:Alpha]]\n", "bot: add link", bot=1, minor=1))
    r = rec.step("anonymous edit to Alpha from 127.0.0.1 (cookie-less session, unpatrolled)",
                 lambda: edit(anon, "Alpha", "Alpha text, fixed by an IP.\n\n== Section ==\nBody.\n",
                              "anon change"))
    s["anon_rev"] = rev_of(r)
    s["anon_rcid"] = rec.steps[-1][1][0] if rec.steps[-1][1] else None
    rec.step("anonymous creation of page Anon page (unpatrolled new page)",
             lambda: edit(anon, "Anon page", "Created by an IP.", "new page by IP", createonly=1))
    rec.step(f"Admin edits Alpha with change tag {TAG} (action=edit tags=...)",
             lambda: edit(admin, "Alpha", "Alpha text, fixed again.\n\n== Section ==\nBody.\n",
                          "tagged edit", tags=TAG))
    rec.step("Admin edits Alpha with a summary linking [[Beta]] and an external link",
             lambda: edit(admin, "Alpha", "Alpha text, fixed again and again.\n\n== Section ==\nBody.\n",
                          "see [[Beta|the beta page]] and [http://127.0.0.1/ local]"))
    if s.get("anon_rcid"):
        rec.step("Admin patrols the anonymous edit (action=patrol; patrol log goes to feeds only)",
                 lambda: admin.post("patrol", token_kind="patrol", rcid=s["anon_rcid"]))
    else:
        warn("no rcid for the anonymous edit; skipping patrol")

    # --- redirects, moves -----------------------------------------------------
    rec.step("Admin creates redirect page Alpha redirect (new redirect, tag mw-new-redirect)",
             lambda: edit(admin, "Alpha redirect", "#REDIRECT [[Alpha]]", "redirect to Alpha",
                          createonly=1))
    rec.step("Admin creates page Beta",
             lambda: edit(admin, "Beta", "Beta text.", "create Beta", createonly=1))
    rec.step("Admin moves Beta to Beta moved, leaving a redirect (action=move)",
             lambda: admin.post("move", **{"from": "Beta", "to": "Beta moved",
                                           "reason": "move with redirect", "movetalk": 1}))
    rec.step("Admin creates page Gamma",
             lambda: edit(admin, "Gamma", "Gamma text.", "create Gamma", createonly=1))
    rec.step("Admin moves Gamma to Gamma moved without redirect (action=move noredirect=1)",
             lambda: admin.post("move", **{"from": "Gamma", "to": "Gamma moved",
                                           "reason": "move it", "noredirect": 1}))
    rec.step("Admin retargets Alpha redirect to Gamma moved (tag mw-changed-redirect-target)",
             lambda: edit(admin, "Alpha redirect", "#REDIRECT [[Gamma moved]]", "retarget"))

    # --- protection -------------------------------------------------------------
    rec.step("Admin protects Alpha (edit=autoconfirmed 1 week, move=sysop infinite)",
             lambda: admin.post("protect", title="Alpha", protections="edit=autoconfirmed|move=sysop",
                                expiry="1 week|infinite", reason="protect for test"))
    rec.step("Admin changes Alpha's protection (protect/modify, cascade)",
             lambda: admin.post("protect", title="Alpha", protections="edit=sysop|move=sysop",
                                expiry="infinite|infinite", cascade=1, reason="raise protection"))
    rec.step("Admin unprotects Alpha (protect/unprotect)",
             lambda: admin.post("protect", title="Alpha", protections="edit=all|move=all",
                                reason="unprotect"))
    rec.step("Admin create-protects missing page Forbidden (protect create=sysop)",
             lambda: admin.post("protect", title="Forbidden", protections="create=sysop",
                                expiry="1 month", reason="salt"))

    # --- namespaces, unicode, escaping --------------------------------------------
    rec.step("Admin creates Talk:Alpha (namespace 1)",
             lambda: edit(admin, "Talk:Alpha", "Let's talk. --~~~~", "talk page", createonly=1))
    newbie.login("Newbie", USER_PASSWORD)
    rec.step("Newbie creates own user page User:Newbie (namespace 2)",
             lambda: edit(newbie, "User:Newbie", "Hi, I am Newbie.", "about me", createonly=1))
    rec.step("Admin leaves a message on User talk:Newbie (namespace 3, section=new)",
             lambda: edit(admin, "User talk:Newbie", "Welcome! --~~~~", "Welcome", section="new"))
    rec.step("Admin creates non-ASCII page Café_Ünïcode with a summary containing < & \" '",
             lambda: edit(admin, "Café_Ünïcode", "Ünïcode text: 日本語, emoji 🙂.",
                          "Test <b>bold</b> & \"double\" 'single' quotes & &amp; entity",
                          createonly=1))
    rec.step("Newbie edits Café_Ünïcode with an empty summary",
             lambda: edit(newbie, "Café_Ünïcode", "Ünïcode text: 日本語, emoji 🙂, more.", ""))

    # --- categories (categorize changes come from CategoryMembershipChangeJob) ----
    rec.step("Admin creates Category:Fruits",
             lambda: edit(admin, "Category:Fruits", "All fruits.", "category page", createonly=1))
    rec.step("Admin creates page Apple already in [[Category:Fruits]] (categorize via job)",
             lambda: edit(admin, "Apple", "An apple.\n[[Category:Fruits]]", "create Apple",
                          createonly=1))
    rec.step("Admin creates page Banana without category",
             lambda: edit(admin, "Banana", "A banana.", "create Banana", createonly=1))
    rec.step("Admin adds Banana to Category:Fruits by an edit (categorize 'added')",
             lambda: edit(admin, "Banana", "A banana.\n[[Category:Fruits]]", "categorise Banana"))
    rec.step("Admin removes Apple from Category:Fruits by an edit (categorize 'removed')",
             lambda: edit(admin, "Apple", "An apple, uncategorised.", "decategorise Apple"))
    rec.step("Admin creates Template:Fruity that adds [[Category:Sweet]]",
             lambda: edit(admin, "Template:Fruity", "Sweet!<includeonly>[[Category:Sweet]]</includeonly>",
                          "template", createonly=1))
    rec.step("Admin creates page Cherry transcluding {{Fruity}} (categorize via the template's category)",
             lambda: edit(admin, "Cherry", "A cherry. {{Fruity}}", "create Cherry", createonly=1))
    rec.step("Admin changes Template:Fruity to [[Category:Sour]] (1.39 emits no categorize change "
             "for the transcluding page Cherry)",
             lambda: edit(admin, "Template:Fruity", "Sour!<includeonly>[[Category:Sour]]</includeonly>",
                          "template now sour"))

    # --- rollback, undo, blanking, tags after the fact ---------------------------------
    rec.step("Admin creates page Zeta",
             lambda: edit(admin, "Zeta", "Zeta is fine.", "create Zeta", createonly=1))
    rec.step("Newbie vandalises Zeta",
             lambda: edit(newbie, "Zeta", "Zeta is BAD.", "improve"))
    rec.step("Admin rolls back Newbie's edit on Zeta with markbot=1 (action=rollback)",
             lambda: admin.post("rollback", token_kind="rollback", title="Zeta", user="Newbie",
                                markbot=1, summary="revert vandalism"), optional=True)
    r = rec.step("Newbie edits Zeta again",
                 lambda: edit(newbie, "Zeta", "Zeta is fine. Newbie was here.", "add signature"))
    s["zeta_newbie"] = rev_of(r)
    rec.step("Admin undoes Newbie's edit on Zeta (action=edit undo=..., tag mw-undo)",
             lambda: edit(admin, "Zeta", None, None, undo=s["zeta_newbie"]), optional=True)
    rec.step("Newbie blanks Anon page (tag mw-blank)",
             lambda: edit(newbie, "Anon page", "", "blank"))
    if s.get("anon_rev"):
        rec.step(f"Admin adds tag {TAG} to the earlier anonymous revision (action=tag; tag/update log)",
                 lambda: admin.post("tag", revid=s["anon_rev"], add=TAG, reason="tag after the fact"))
    rec.step("Admin creates page Config then changes its content model to json "
             "(action=changecontentmodel)",
             lambda: (edit(admin, "Config", '{"a": 1}', "create Config", createonly=1),
                      admin.post("changecontentmodel", title="Config", model="json",
                                 summary="make it JSON")), optional=True)

    # --- blocks -----------------------------------------------------------------
    rec.step("Admin blocks Newbie for 1 week (nocreate, autoblock, allowusertalk)",
             lambda: admin.post("block", user="Newbie", expiry="1 week", reason="testing blocks",
                                nocreate=1, autoblock=1, allowusertalk=1))
    rec.step("Admin re-blocks Newbie indefinitely with noemail (block/reblock)",
             lambda: admin.post("block", user="Newbie", expiry="infinite", reason="longer block",
                                nocreate=1, noemail=1, reblock=1))
    rec.step("Admin unblocks Newbie (action=unblock)",
             lambda: admin.post("unblock", user="Newbie", reason="done testing"))
    rec.step("Admin partially blocks IP range 192.0.2.0/24 from page Alpha and namespace Talk",
             lambda: admin.post("block", user="192.0.2.0/24", expiry="2 days", reason="partial block",
                                partial=1, pagerestrictions="Alpha", namespacerestrictions="1",
                                allowusertalk=1))

    # --- rights --------------------------------------------------------------------
    rec.step("Admin adds Newbie to sysop with expiry 1 month (action=userrights expiry)",
             lambda: admin.post("userrights", token_kind="userrights", user="Newbie", add="sysop",
                                expiry="1 month", reason="temporary adminship"))
    rec.step("Admin removes Newbie from sysop and adds interface-admin (action=userrights add+remove)",
             lambda: admin.post("userrights", token_kind="userrights", user="Newbie", remove="sysop",
                                add="interface-admin", reason="swap groups"))

    # --- deletion ---------------------------------------------------------------------
    rec.step("Admin creates page Delta",
             lambda: edit(admin, "Delta", "Delta v1.", "create Delta", createonly=1))
    rec.step("Newbie edits Delta",
             lambda: edit(newbie, "Delta", "Delta v2.", "Newbie touches Delta"))
    rec.step("Admin deletes Delta (action=delete; its edit rows leave recentchanges)",
             lambda: admin.post("delete", title="Delta", reason="delete test"))
    rec.step("Admin undeletes Delta (action=undelete; delete/restore)",
             lambda: admin.post("undelete", title="Delta", reason="restore test"))

    # --- revision deletion / suppression -------------------------------------------------
    r = rec.step("Newbie edits page Epsilon (will get comment+user revision-deleted)",
                 lambda: edit(newbie, "Epsilon", "Epsilon by Newbie.", "Newbie's secret summary",
                              createonly=1))
    s["eps1"] = rev_of(r)
    r = rec.step("Newbie edits Epsilon again (will get suppressed)",
                 lambda: edit(newbie, "Epsilon", "Epsilon with private info.", "private info in summary"))
    s["eps2"] = rev_of(r)
    rec.step("Admin edits Epsilon (so the revisions to hide are not the current one)",
             lambda: edit(admin, "Epsilon", "Epsilon, cleaned up.", "clean up"))
    rec.step("Admin revision-deletes comment and user of Epsilon's first revision "
             "(action=revisiondelete type=revision hide=comment|user)",
             lambda: admin.post("revisiondelete", type="revision", target="Epsilon", ids=s["eps1"],
                                hide="comment|user", reason="hide summary and user"))
    rec.step("Admin suppresses content, comment and user of Epsilon's second revision "
             "(action=revisiondelete suppress=yes; suppress log is not in recentchanges)",
             lambda: admin.post("revisiondelete", type="revision", target="Epsilon", ids=s["eps2"],
                                hide="content|comment|user", suppress="yes", reason="oversight"))
    # Hide the action and summary of the Gamma move log entry.
    logid = None
    res = admin.call({"action": "query", "list": "logevents", "letype": "move",
                      "letitle": "Gamma", "lelimit": 1})
    if res["query"]["logevents"]:
        logid = res["query"]["logevents"][0]["logid"]
    if logid:
        rec.step(f"Admin revision-deletes action and summary of move log entry {logid} "
                 "(action=revisiondelete type=logging hide=content|comment)",
                 lambda: admin.post("revisiondelete", type="logging", ids=logid,
                                    hide="content|comment", reason="hide log entry details"))
    else:
        warn("could not find the Gamma move log entry")

    rec.step(f"Admin deactivates change tag {TAG} (action=managetags operation=deactivate)",
             lambda: admin.post("managetags", operation="deactivate", tag=TAG, reason="done"))
    rec.step("Admin edits the Main Page (last edit, sanity)",
             lambda: edit(admin, "Main Page", "Welcome to the RC test wiki.", "final edit"))
    return s


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------
def attr(element, name):
    m = re.search(r"\s%s=\"([^\"]*)\"" % re.escape(name), RC_START.match(element).group(0))
    return m.group(1) if m else None


def packet_id_xml(data):
    m = re.match(rb'\s*<recentchange id="([^"]*)"', data)
    if not m:
        return None
    try:
        return int(m.group(1))
    except ValueError:
        return m.group(1).decode()


def packet_id_json(data):
    try:
        return json.loads(data.decode("utf-8")).get("id")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None


def main():
    xml_col = Collector("xml")
    json_col = Collector("json")
    info(f"UDP collectors: xml 127.0.0.1:{xml_col.port}, json 127.0.0.1:{json_col.port}")

    atexit.register(stop_wiki)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: sys.exit(130))

    start_wiki(xml_col.port, json_col.port)

    admin = Session("Admin")
    anon = Session("anon", cookies=False)
    admin.login("Admin", ADMIN_PASSWORD)
    rec = Recorder(admin)
    t0 = time.monotonic()
    run_sequence(admin, anon, rec)
    drain_jobs(admin)
    info(f"sequence done in {time.monotonic() - t0:.1f}s")

    # Wait until the feeds are quiet (bounded).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        last = max(xml_col.last_time(), json_col.last_time())
        if time.monotonic() - last > 2.0:
            break
        time.sleep(0.2)
    late_all, raw_first_page = fetch_rc(admin)
    # Anonymous view of the late state (no patrolled prop: needs the patrol right).
    anon_late, _ = fetch_rc(anon, rcprop=RCPROP.replace("|patrolled", ""))
    stop_wiki()
    xml_col.close()
    json_col.close()

    # Group packets by id.
    def group(col, idfn):
        by_id, orphans = {}, []
        for t, data in col.packets:
            pid = idfn(data)
            if isinstance(pid, int) and pid > 0:
                by_id.setdefault(pid, []).append(data)
            else:
                orphans.append((t, data))
        return by_id, orphans

    def step_at(t):
        for t0, t1, desc in rec.windows:
            if t0 <= t <= t1:
                return desc
        return "unknown step"

    xml_by, xml_orphans = group(xml_col, packet_id_xml)
    json_by, json_orphans = group(json_col, packet_id_json)

    # Write output.
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)

    all_ids = sorted(set(rec.first) | set(late_all) | set(xml_by) | set(json_by))
    index = []
    for rcid in all_ids:
        stem = f"{rcid:04d}"
        forms = []
        notes = []
        first = rec.first.get(rcid)
        late = late_all.get(rcid)
        late = add_wikiid(late) if late is not None else None
        if first is None and late is not None:
            first = late
            notes.append("row first seen only in the final query")
        if first is not None:
            (OUT / f"{stem}.rc.xml").write_text(first, encoding="utf-8")
            forms.append("rc")
        else:
            notes.append("no API recentchanges row")
        for suffix, by in (("feed.xml", xml_by), ("feed.json", json_by)):
            pkts = by.get(rcid, [])
            if pkts:
                (OUT / f"{stem}.{suffix}").write_bytes(pkts[0])
                forms.append(suffix)
                if len(pkts) > 1:
                    notes.append(f"{len(pkts)} {suffix} packets with this id; first kept")
            else:
                notes.append(f"no {suffix} packet")
        if first is not None and late is None:
            notes.append("row no longer returned by the API at the end (page deleted)")
        elif late is not None and late != first:
            (OUT / f"{stem}.rc.late.xml").write_text(late, encoding="utf-8")
            forms.append("rc.late")
            anon_el = anon_late.get(rcid)
            if anon_el is not None and re.search(r'\s(commenthidden|userhidden|actionhidden|sha1hidden|suppressed)=""',
                                                 RC_START.match(late).group(0)):
                (OUT / f"{stem}.rc.late.anon.xml").write_text(add_wikiid(anon_el), encoding="utf-8")
                forms.append("rc.late.anon")
        el = first or late
        entry = {
            "rcid": rcid,
            "type": attr(el, "type") if el else None,
            "step": rec.step_of.get(rcid, "unknown (not seen during the scripted steps)"),
            "forms": forms,
        }
        if el is not None:
            entry["title"] = attr(el, "title")
            entry["ns"] = int(attr(el, "ns"))
            if attr(el, "logtype") is not None:
                entry["log_type"] = attr(el, "logtype")
                entry["log_action"] = attr(el, "logaction")
        else:
            pkt = json_by.get(rcid, [None])[0]
            if pkt:
                j = json.loads(pkt)
                entry["type"] = j.get("type")
                entry["title"] = j.get("title")
                entry["log_type"] = j.get("log_type")
                entry["log_action"] = j.get("log_action")
        if notes:
            entry["notes"] = notes
            if any(n.startswith("no ") for n in notes):
                warn(f"rcid {rcid}: " + "; ".join(n for n in notes if n.startswith("no ")))
        index.append(entry)

    # Packets that carry no usable rc id (e.g. patrol log entries, sent to feeds only).
    # They are paired across the two feeds by log_id.
    def orphan_key(data, is_json):
        if is_json:
            try:
                return json.loads(data.decode("utf-8")).get("log_id")
            except ValueError:
                return None
        m = re.search(rb'\slog_id="(\d+)"', data)
        return int(m.group(1)) if m else None

    xml_orph = {}
    for t, d in xml_orphans:
        xml_orph.setdefault(orphan_key(d, False), []).append((t, d))
    json_orph = {}
    for t, d in json_orphans:
        json_orph.setdefault(orphan_key(d, True), []).append((t, d))
    orphan_entries = []
    keys = sorted(set(xml_orph) | set(json_orph), key=lambda k: (k is None, k or 0))
    n = 0
    for key in keys:
        xs, js = xml_orph.get(key, []), json_orph.get(key, [])
        for i in range(max(len(xs), len(js))):
            n += 1
            stem = f"orphan-{n:02d}"
            forms = []
            when = None
            if i < len(xs):
                when = xs[i][0]
                (OUT / f"{stem}.feed.xml").write_bytes(xs[i][1])
                forms.append("feed.xml")
            j = {}
            if i < len(js):
                when = js[i][0] if when is None else when
                (OUT / f"{stem}.feed.json").write_bytes(js[i][1])
                forms.append("feed.json")
                try:
                    j = json.loads(js[i][1].decode("utf-8"))
                except ValueError:
                    j = {}
            orphan_entries.append({
                "rcid": None, "file_stem": stem, "type": j.get("type"),
                "log_type": j.get("log_type"), "log_action": j.get("log_action"),
                "log_id": key, "title": j.get("title"), "forms": forms,
                "step": step_at(when),
                "notes": ["feed-only packet: no recentchanges row (ManualLogEntry::publish($logid, 'udp'));"
                          f" id is {json.dumps(j.get('id'))} in JSON and absent in XML"]})
            warn(f"feed packet without rc id: {stem} ({j.get('log_type')}/{j.get('log_action')}, "
                 f"log_id {key}, forms {forms})")
    index.extend(orphan_entries)

    (OUT / "index.json").write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    (OUT / "api-recentchanges.xml").write_text(raw_first_page, encoding="utf-8")
    (OUT / "steps.json").write_text(json.dumps(
        [{"step": d, "rcids": ids, "ok": ok} for d, ids, ok in rec.steps],
        indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    # Summary.
    print(f"{'rcid':>5}  {'type':<10} {'log_type':<16} forms")
    for e in index:
        lt = f"{e.get('log_type') or ''}{'/' + e['log_action'] if e.get('log_action') else ''}"
        rid = e["rcid"] if e["rcid"] is not None else e.get("file_stem")
        print(f"{rid!s:>5}  {e['type'] or '?':<10} {lt:<16} {','.join(e['forms'])}")
    print(f"\n{len(index)} entries, {xml_col.count()} xml packets, {json_col.count()} json packets; "
          f"written to {OUT}")
    if WARNINGS:
        print(f"{len(WARNINGS)} warning(s):")
        for w in WARNINGS:
            print(f"  - {w}")


if __name__ == "__main__":
    main()
