#!/usr/bin/env bash
# Start a throwaway MediaWiki 1.39 (Debian package) on 127.0.0.1 with sqlite
# and PHP's built-in web server. Re-runnable: wipes MW_STATE_DIR each time.
#
# Env vars (all optional):
#   MW_PORT            HTTP port on 127.0.0.1                       (8080)
#   MW_STATE_DIR       state dir: LocalSettings, sqlite db, logs    (/tmp/rc-mediawiki-$MW_PORT)
#   MW_FEED_XML        host:port UDP target for XMLRCFeedFormatter  (unset: no feed)
#   MW_FEED_JSON       host:port UDP target for JSONRCFeedFormatter (unset: no feed)
#   MW_ADMIN_PASSWORD  password of the "Admin" account             (adminpass123456)
#   MW_START_TIMEOUT   seconds to wait for the API to answer        (30)
#   MW_PHP_WORKERS     PHP_CLI_SERVER_WORKERS for php -S            (1 = single process)
#   MW_JOB_RUN_RATE    $wgJobRunRate: jobs run per index.php request (1; 0: only
#                      maintenance/runJobs.php runs them, e.g. late categorize rows)
#
# Prints the base URL (http://127.0.0.1:$MW_PORT) on stdout; everything else
# goes to stderr.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
MW_PORT="${MW_PORT:-8080}"
MW_STATE_DIR="${MW_STATE_DIR:-/tmp/rc-mediawiki-$MW_PORT}"
MW_ADMIN_PASSWORD="${MW_ADMIN_PASSWORD:-adminpass123456}"
MW_START_TIMEOUT="${MW_START_TIMEOUT:-30}"
MW_PHP_WORKERS="${MW_PHP_WORKERS:-1}"
MW_JOB_RUN_RATE="${MW_JOB_RUN_RATE:-1}"
MW_IP=/usr/share/mediawiki
WIKI_ID=wikidb
BASE_URL="http://127.0.0.1:$MW_PORT"

case "$MW_PORT" in
    ''|*[!0-9]*) rc_die "MW_PORT must be a number, got '$MW_PORT'" ;;
esac
case "$MW_JOB_RUN_RATE" in
    ''|*[!0-9.]*) rc_die "MW_JOB_RUN_RATE must be a number, got '$MW_JOB_RUN_RATE'" ;;
esac
case "$MW_STATE_DIR" in
    ''|/|/tmp|/tmp/) rc_die "refusing to use MW_STATE_DIR='$MW_STATE_DIR'" ;;
esac

# host:port (or bare port) -> udp://127.0.0.1:port; loopback only.
feed_uri() {
    local name="$1" val="$2" host port
    if [[ "$val" == *:* ]]; then
        host="${val%:*}"
        port="${val##*:}"
    else
        host=127.0.0.1
        port="$val"
    fi
    [ "$host" = 127.0.0.1 ] || rc_die "$name must point at 127.0.0.1, got '$val'"
    case "$port" in ''|*[!0-9]*) rc_die "$name: bad port in '$val'" ;; esac
    echo "udp://127.0.0.1:$port"
}
FEED_XML_URI=""
FEED_JSON_URI=""
[ -n "${MW_FEED_XML:-}" ] && FEED_XML_URI="$(feed_uri MW_FEED_XML "$MW_FEED_XML")"
[ -n "${MW_FEED_JSON:-}" ] && FEED_JSON_URI="$(feed_uri MW_FEED_JSON "$MW_FEED_JSON")"

"$HERE/install.sh"

# Stop a previous instance using the same state dir, then start from scratch.
MW_STATE_DIR="$MW_STATE_DIR" MW_PORT="$MW_PORT" "$HERE/stop.sh" >&2 || true

if rc_port_open "$MW_PORT"; then
    rc_die "something is already listening on 127.0.0.1:$MW_PORT"
fi

rm -rf "$MW_STATE_DIR"
mkdir -p "$MW_STATE_DIR/db" "$MW_STATE_DIR/cache" "$MW_STATE_DIR/images" "$MW_STATE_DIR/tmp"
SETTINGS="$MW_STATE_DIR/LocalSettings.php"
export MW_CONFIG_FILE="$SETTINGS"

T0=$(date +%s.%N)
rc_log "installing wiki '$WIKI_ID' into $MW_STATE_DIR"
# --confpath writes $MW_STATE_DIR/LocalSettings.php; MW_CONFIG_FILE keeps the
# installer from looking at the package's /etc/mediawiki/LocalSettings.php.
if ! php "$MW_IP/maintenance/install.php" \
        --dbtype sqlite \
        --dbpath "$MW_STATE_DIR/db" \
        --dbname "$WIKI_ID" \
        --confpath "$MW_STATE_DIR" \
        --server "$BASE_URL" \
        --scriptpath "" \
        --lang en \
        --pass "$MW_ADMIN_PASSWORD" \
        --skins "Vector" \
        "RC Test Wiki" Admin >"$MW_STATE_DIR/install.log" 2>&1; then
    cat "$MW_STATE_DIR/install.log" >&2
    rc_die "install.php failed"
fi
[ -f "$SETTINGS" ] || rc_die "install.php did not write $SETTINGS"

{
    cat <<EOF

# ---------------------------------------------------------------------------
# Appended by scripts/mediawiki/start.sh (throwaway test wiki)
# ---------------------------------------------------------------------------
\$wgServer = $(rc_php_str "$BASE_URL");
\$wgCanonicalServer = $(rc_php_str "$BASE_URL");
\$wgScriptPath = "";
\$wgUploadDirectory = $(rc_php_str "$MW_STATE_DIR/images");
\$wgCacheDirectory = $(rc_php_str "$MW_STATE_DIR/cache");
\$wgTmpDirectory = $(rc_php_str "$MW_STATE_DIR/tmp");
\$wgEnableUploads = false;
\$wgShowExceptionDetails = true;
\$wgDebugLogGroups['exception'] = $(rc_php_str "$MW_STATE_DIR/exception.log");
\$wgDebugLogGroups['error'] = $(rc_php_str "$MW_STATE_DIR/exception.log");

# The API (and write API) are always on since 1.35; these are no-ops kept for
# older versions' sake.
\$wgEnableAPI = true;
\$wgEnableWriteAPI = true;

# Recent changes: feeds, categorize changes, patrolling.
\$wgRCFeeds = [];
\$wgRCWatchCategoryMembership = true;
\$wgUseRCPatrol = true;
\$wgUseNPPatrol = true;
\$wgJobRunRate = $MW_JOB_RUN_RATE;
\$wgRunJobsAsync = false;

# No throttles or rate limits for the test users.
\$wgGroupPermissions['*']['noratelimit'] = true;
\$wgGroupPermissions['user']['noratelimit'] = true;
\$wgRateLimits = [];
\$wgAccountCreationThrottle = 0;
\$wgPasswordAttemptThrottle = false;
\$wgPasswordPolicy['policies']['default'] = [];
\$wgPasswordPolicy['policies']['sysop'] = [];
\$wgPasswordPolicy['policies']['bot'] = [];
\$wgPasswordPolicy['policies']['bureaucrat'] = [];
\$wgPasswordPolicy['policies']['suppress'] = [];
\$wgPasswordPolicy['policies']['interface-admin'] = [];

# Anyone may edit and create accounts; logged-in sysops can create accounts.
\$wgGroupPermissions['*']['edit'] = true;
\$wgGroupPermissions['*']['createaccount'] = true;
\$wgGroupPermissions['*']['writeapi'] = true;
\$wgGroupPermissions['user']['writeapi'] = true;
\$wgGroupPermissions['bot']['bot'] = true;

# Revision deletion and suppression: the stock 'suppress' group has them;
# sysops (Admin) get them too so no group change is needed to use them.
\$wgGroupPermissions['suppress']['hideuser'] = true;
\$wgGroupPermissions['suppress']['suppressrevision'] = true;
\$wgGroupPermissions['suppress']['viewsuppressed'] = true;
\$wgGroupPermissions['suppress']['suppressionlog'] = true;
\$wgGroupPermissions['suppress']['deleterevision'] = true;
\$wgGroupPermissions['suppress']['deletelogentry'] = true;
foreach ( [ 'hideuser', 'suppressrevision', 'viewsuppressed', 'suppressionlog',
        'deleterevision', 'deletelogentry', 'managechangetags', 'applychangetags' ] as \$right ) {
    \$wgGroupPermissions['sysop'][\$right] = true;
}
EOF
    if [ -n "$FEED_XML_URI" ]; then
        cat <<EOF
\$wgRCFeeds['xml'] = [
    'formatter' => 'XMLRCFeedFormatter',
    'uri' => $(rc_php_str "$FEED_XML_URI"),
    'omit_bots' => false,
];
EOF
    fi
    if [ -n "$FEED_JSON_URI" ]; then
        cat <<EOF
\$wgRCFeeds['json'] = [
    'formatter' => 'JSONRCFeedFormatter',
    'uri' => $(rc_php_str "$FEED_JSON_URI"),
    'omit_bots' => false,
];
EOF
    fi
} >>"$SETTINGS"

php -l "$SETTINGS" >/dev/null || rc_die "generated $SETTINGS has a syntax error"

rc_log "starting php -S 127.0.0.1:$MW_PORT"
cd "$MW_STATE_DIR"
# Own session/process group, so stop.sh can take down the workers too.
WORKER_ENV=()
if [ "$MW_PHP_WORKERS" -gt 1 ] 2>/dev/null; then
    WORKER_ENV=("PHP_CLI_SERVER_WORKERS=$MW_PHP_WORKERS")
fi
env "${WORKER_ENV[@]}" MW_CONFIG_FILE="$SETTINGS" \
    setsid php -d variables_order=EGPCS -d display_errors=stderr \
    -S "127.0.0.1:$MW_PORT" -t "$MW_IP" "$HERE/router.php" \
    >>"$MW_STATE_DIR/php.log" 2>&1 </dev/null &
PHP_PID=$!
echo "$PHP_PID" >"$MW_STATE_DIR/php.pid"
echo "$MW_PORT" >"$MW_STATE_DIR/port"

# Ready when the API names our wiki.
probe="$BASE_URL/api.php?action=query&meta=siteinfo&format=json"
if ! rc_await_php_server "$PHP_PID" "$MW_STATE_DIR/php.log" "$MW_START_TIMEOUT" \
        "$probe" "\"wikiid\":\"$WIKI_ID\""; then
    MW_STATE_DIR="$MW_STATE_DIR" "$HERE/stop.sh" >&2 || true
    rc_die "wiki did not answer within ${MW_START_TIMEOUT}s"
fi
T1=$(date +%s.%N)
rc_log "ready after $(awk "BEGIN{printf \"%.1f\", $T1-$T0}")s (pid $PHP_PID, state $MW_STATE_DIR)"
echo "$BASE_URL"
