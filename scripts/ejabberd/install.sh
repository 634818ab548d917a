#!/usr/bin/env bash
# Install ejabberd (Debian package) for test fixtures. Idempotent.
# The distro's own ejabberd daemon (and the epmd it starts) is kept stopped/disabled:
# tests run their own throwaway instances via scripts/ejabberd/start.sh.
set -euo pipefail
# shellcheck source=../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

need_pkgs=()
[ -x /usr/sbin/ejabberdctl ] || need_pkgs+=(ejabberd)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
command -v setpriv >/dev/null 2>&1 || need_pkgs+=(util-linux)

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  # The package's maintainer scripts must not start the system daemon (it would take
  # 5222/5269/5280 and leave an epmd behind).
  rc_deny_service_starts
  rc_apt_update
  rc_apt_install "${need_pkgs[@]}"
fi

# Make sure no system ejabberd is running/enabled.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  rc_sudo systemctl disable --now ejabberd.service >/dev/null 2>&1 || true
else
  if [ -x /etc/init.d/ejabberd ]; then
    rc_sudo /etc/init.d/ejabberd stop >/dev/null 2>&1 || true
  fi
  command -v update-rc.d >/dev/null 2>&1 && rc_sudo update-rc.d ejabberd disable >/dev/null 2>&1 || true
fi
# A system node that is still up (started before this script ran, or by hand).
if id ejabberd >/dev/null 2>&1 && rc_sudo /usr/sbin/ejabberdctl status >/dev/null 2>&1; then
  rc_sudo /usr/sbin/ejabberdctl stop >/dev/null 2>&1 || true
fi

# The package's postinst may leave an epmd behind (on 0.0.0.0:4369); our instances use a
# distribution port each instead (ERL_DIST_PORT), so stop it when no node is registered.
if command -v epmd >/dev/null 2>&1 && epmd -names >/dev/null 2>&1 && ! epmd -names 2>/dev/null | grep -q '^name '; then
  epmd -kill >/dev/null 2>&1 || true
fi

dpkg-query -W -f='ejabberd ${Version}\n' ejabberd >&2 || true
