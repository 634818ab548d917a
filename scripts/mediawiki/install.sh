#!/usr/bin/env bash
# Install the Debian-packaged MediaWiki (1.39 on bookworm) plus the PHP bits
# needed to run it with sqlite under `php -S`. Idempotent: does nothing when
# everything is already there.
set -euo pipefail
# shellcheck source=../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

PKGS=(mediawiki php-cli php-sqlite3 php-mbstring php-xml php-intl)

have_all() {
    [ -f /usr/share/mediawiki/maintenance/install.php ] || return 1
    command -v php >/dev/null 2>&1 || return 1
    local mods
    mods="$(php -m 2>/dev/null | tr '[:upper:]' '[:lower:]')" || return 1
    for m in pdo_sqlite mbstring xml intl; do
        grep -qx "$m" <<<"$mods" || return 1
    done
    return 0
}

if have_all; then
    exit 0
fi

# mediawiki Depends on "apache2 | httpd" and php8.2 pulls libapache2-mod-php.
# We never use Apache: do not let dpkg start it.
rc_deny_service_starts
rc_log "installing ${PKGS[*]}"
rc_apt_update
rc_apt_install "${PKGS[@]}"

if ! have_all; then
    rc_log "MediaWiki/PHP still incomplete after install"
    exit 1
fi
