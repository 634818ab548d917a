#!/usr/bin/env bash
# Install the Debian-packaged DokuWiki (0.0.20220731 "Igor" on bookworm) and the PHP CLI
# that serves it with `php -S`. Idempotent: does nothing when everything is there.
# `apt-get update` is left to the caller (.ci/run does it) unless the install fails
# without it.
set -euo pipefail
# shellcheck source=../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

PKGS=(dokuwiki php-cli php-xml)

have_all() {
    [ -f /usr/share/dokuwiki/lib/exe/xmlrpc.php ] || return 1
    [ -f /etc/dokuwiki/dokuwiki.php ] || return 1
    command -v php >/dev/null 2>&1 || return 1
    php -m 2>/dev/null | tr '[:upper:]' '[:lower:]' | grep -qx xml || return 1
    return 0
}

if have_all; then
    exit 0
fi

# dokuwiki Depends on a web server (apache2 | lighttpd | httpd): never start it.
rc_deny_service_starts
rc_log "installing ${PKGS[*]}"
if ! rc_apt_install "${PKGS[@]}"; then
    rc_apt_update
    rc_apt_install "${PKGS[@]}"
fi

if ! have_all; then
    rc_log "DokuWiki/PHP still incomplete after install"
    exit 1
fi
