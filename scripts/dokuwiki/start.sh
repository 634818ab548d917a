#!/usr/bin/env bash
# Start a throwaway DokuWiki (the Debian package's code, unchanged) on 127.0.0.1 with
# PHP's built-in web server, its XML-RPC API on, and one editor account.
#
#   eval "$(scripts/dokuwiki/start.sh)"     # start and export DOKUWIKI_* vars
#
# The instance has its own configuration and data under DW_STATE_DIR (wiped on each
# start); the package's code in /usr/share/dokuwiki is used as it is: a PHP
# auto_prepend_file points DokuWiki's DOKU_CONF at the state dir's conf/.
#
# Env (all optional):
#   DW_PORT           HTTP port on 127.0.0.1                      (8090)
#   DW_STATE_DIR      conf, data, logs                            (/tmp/rc-dokuwiki-$DW_PORT)
#   DW_USER           the editor account, in group "user"          (editor)
#   DW_PASSWORD       its password                                 (editorpass123)
#   DW_START_TIMEOUT  seconds to wait for the API to answer        (30)
#
# Access: the XML-RPC API (remote = 1) is for members of @user only (remoteuser);
# anonymous visitors may read pages, @user may create and edit them. Authenticate with
# HTTP basic auth (DokuWiki reads the Authorization header itself) or dokuwiki.login.
#
# Stdout carries only `export ...` lines; diagnostics go to stderr.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
DW_PORT="${DW_PORT:-8090}"
DW_STATE_DIR="${DW_STATE_DIR:-/tmp/rc-dokuwiki-$DW_PORT}"
DW_USER="${DW_USER:-editor}"
DW_PASSWORD="${DW_PASSWORD:-editorpass123}"
DW_START_TIMEOUT="${DW_START_TIMEOUT:-30}"
DW_CODE=/usr/share/dokuwiki
BASE_URL="http://127.0.0.1:$DW_PORT"
XMLRPC_URL="$BASE_URL/lib/exe/xmlrpc.php"

case "$DW_PORT" in ''|*[!0-9]*) rc_die "DW_PORT must be a number, got '$DW_PORT'" ;; esac
case "$DW_STATE_DIR" in
    ''|/|/tmp|/tmp/) rc_die "refusing to use DW_STATE_DIR='$DW_STATE_DIR'" ;;
    /*) ;;
    *) DW_STATE_DIR="$PWD/$DW_STATE_DIR" ;;
esac
case "$DW_USER" in ''|*[!a-z0-9_.-]*) rc_die "DW_USER must be a lowercase user name" ;; esac
case "$DW_PASSWORD" in *:*|*$'\n'*|'') rc_die "DW_PASSWORD must be non-empty, without ':' or newlines" ;; esac

"$HERE/install.sh" >&2

DW_STATE_DIR="$DW_STATE_DIR" DW_PORT="$DW_PORT" "$HERE/stop.sh" >&2 || true
if rc_port_open "$DW_PORT"; then
    rc_die "something is already listening on 127.0.0.1:$DW_PORT"
fi

rm -rf "$DW_STATE_DIR"
mkdir -p "$DW_STATE_DIR/conf" "$DW_STATE_DIR/sessions"
for d in pages attic media media_attic meta media_meta cache index locks tmp log; do
    mkdir -p "$DW_STATE_DIR/data/$d"
done

# The package's configuration files (defaults, plugins, mime types...), except its
# ACL and user files, which are the instance's own.
for f in /etc/dokuwiki/*; do
    [ -L "$f" ] && continue
    [ -f "$f" ] && cp "$f" "$DW_STATE_DIR/conf/"
done

cat >"$DW_STATE_DIR/conf/local.php" <<PHP
<?php
// Written by scripts/dokuwiki/start.sh (throwaway test wiki).
\$conf['title'] = 'RC Test DokuWiki';
\$conf['lang'] = 'en';
\$conf['savedir'] = $(rc_php_str "$DW_STATE_DIR/data");
\$conf['useacl'] = 1;
\$conf['authtype'] = 'authplain';
\$conf['superuser'] = '@admin';
\$conf['remote'] = 1;
\$conf['remoteuser'] = '@user';
\$conf['disableactions'] = '';
\$conf['userewrite'] = 0;
\$conf['updatecheck'] = 0;
\$conf['usedraft'] = 0;
\$conf['locktime'] = 0;
\$conf['dnslookups'] = 0;
PHP

cat >"$DW_STATE_DIR/conf/acl.auth.php" <<'ACL'
# acl.auth.php (scripts/dokuwiki/start.sh): everyone reads, users create and edit.
*	@ALL	1
*	@user	8
ACL

HASH="$(php -r 'echo password_hash($argv[1], PASSWORD_BCRYPT);' -- "$DW_PASSWORD")"
cat >"$DW_STATE_DIR/conf/users.auth.php" <<USERS
# users.auth.php (scripts/dokuwiki/start.sh)
# login:passwordhash:Real Name:email:groups,comma,separated
$DW_USER:$HASH:Test Editor:$DW_USER@example.invalid:user
USERS

# Loaded before DokuWiki's init.php: the instance's configuration directory.
cat >"$DW_STATE_DIR/prepend.php" <<PHP
<?php
if (!defined('DOKU_CONF')) define('DOKU_CONF', $(rc_php_str "$DW_STATE_DIR/conf/"));
PHP
php -l "$DW_STATE_DIR/conf/local.php" >/dev/null || rc_die "generated local.php has a syntax error"

rc_log "starting php -S 127.0.0.1:$DW_PORT (state $DW_STATE_DIR)"
cd "$DW_STATE_DIR"
# PHP's warnings go to a log, not into the XML answers.
setsid php -d display_errors=0 -d log_errors=1 -d error_log="$DW_STATE_DIR/php-errors.log" \
    -d date.timezone=UTC \
    -d session.save_path="$DW_STATE_DIR/sessions" \
    -d auto_prepend_file="$DW_STATE_DIR/prepend.php" \
    -S "127.0.0.1:$DW_PORT" -t "$DW_CODE" \
    >>"$DW_STATE_DIR/php.log" 2>&1 </dev/null &
PHP_PID=$!
echo "$PHP_PID" >"$DW_STATE_DIR/php.pid"

# Ready when dokuwiki.getTitle (a public method) answers with our title.
GET_TITLE='<?xml version="1.0"?><methodCall><methodName>dokuwiki.getTitle</methodName><params></params></methodCall>'
if ! rc_await_php_server "$PHP_PID" "$DW_STATE_DIR/php.log" "$DW_START_TIMEOUT" \
        "$XMLRPC_URL" 'RC Test DokuWiki' "$GET_TITLE"; then
    DW_STATE_DIR="$DW_STATE_DIR" "$HERE/stop.sh" >&2 || true
    rc_die "DokuWiki did not answer within ${DW_START_TIMEOUT}s"
fi
rc_log "ready (pid $PHP_PID)"
cat <<EOT
export DOKUWIKI_URL='$BASE_URL'
export DOKUWIKI_XMLRPC_URL='$XMLRPC_URL'
export DOKUWIKI_USER='$DW_USER'
export DOKUWIKI_PASSWORD='$DW_PASSWORD'
export DOKUWIKI_STATE_DIR='$DW_STATE_DIR'
export DOKUWIKI_PID='$PHP_PID'
EOT
