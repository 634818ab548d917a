#!/usr/bin/env bash
# Install the Debian-packaged DokuWiki (0.0.20220731 "Igor" on bookworm) and the PHP CLI
# that serves it with `php -S`. Idempotent: does nothing when everything is there.
# `apt-get update` is left to the caller (.ci/run does it) unless the install fails
# without it.
set -euo pipefail

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

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

# dokuwiki Depends on a web server (apache2 | lighttpd | httpd): never start it (nor let
# it take port 80) while installing, unless a policy-rc.d already exists.
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
APT_OPTS=(-o DPkg::Lock::Timeout=600)
install_pkgs() {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y -qq \
        --no-install-recommends "${PKGS[@]}" >&2
}
if ! install_pkgs; then
    $SUDO apt-get "${APT_OPTS[@]}" update -qq
    install_pkgs
fi

if ! have_all; then
    echo "install.sh: DokuWiki/PHP still incomplete after install" >&2
    exit 1
fi
