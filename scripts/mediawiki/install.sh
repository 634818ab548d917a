#!/usr/bin/env bash
# Install the Debian-packaged MediaWiki (1.39 on bookworm) plus the PHP bits
# needed to run it with sqlite under `php -S`. Idempotent: does nothing when
# everything is already there.
set -euo pipefail

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

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

# mediawiki Depends on "apache2 | httpd" and php8.2 pulls libapache2-mod-php.
# We never use Apache; make sure dpkg does not start it (and grab port 80)
# while installing, unless a policy-rc.d already exists (Docker images ship
# one that denies everything).
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod +x "$POLICY"
    CREATED_POLICY=1
fi
cleanup() {
    if [ "$CREATED_POLICY" = 1 ]; then
        $SUDO rm -f "$POLICY"
    fi
}
trap cleanup EXIT

echo "install.sh: installing ${PKGS[*]}" >&2
# Other tooling may be running apt concurrently: wait for the dpkg lock.
APT_OPTS=(-o DPkg::Lock::Timeout=600)
$SUDO apt-get "${APT_OPTS[@]}" update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y -qq \
    --no-install-recommends "${PKGS[@]}" >&2

if ! have_all; then
    echo "install.sh: MediaWiki/PHP still incomplete after install" >&2
    exit 1
fi
