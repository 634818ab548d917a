#!/usr/bin/env bash
# Install Prosody (Debian package) for test fixtures. Idempotent.
# The distro's own prosody daemon is kept stopped/disabled: tests run their
# own throwaway instances via scripts/prosody/start.sh.
set -euo pipefail
# shellcheck source=../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

need_pkgs=()
command -v prosody >/dev/null 2>&1 || need_pkgs+=(prosody)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
# lua-unbound: async DNS (prosody warns without it; harmless on loopback, but quieter).
# lua-event: libevent backend (optional). lua-sec is a hard dependency of prosody.
dpkg -s lua-unbound >/dev/null 2>&1 || need_pkgs+=(lua-unbound)
command -v runuser >/dev/null 2>&1 || need_pkgs+=(util-linux)

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  # The package's maintainer scripts must not start the system daemon.
  rc_deny_service_starts
  rc_apt_update
  rc_apt_install "${need_pkgs[@]}"
fi

# Make sure no system prosody is running/enabled (ports 5222/5269/5280 stay free).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  rc_sudo systemctl disable --now prosody.service >/dev/null 2>&1 || true
else
  if [ -x /etc/init.d/prosody ]; then
    rc_sudo /etc/init.d/prosody stop >/dev/null 2>&1 || true
  fi
  command -v update-rc.d >/dev/null 2>&1 && rc_sudo update-rc.d prosody disable >/dev/null 2>&1 || true
fi
if [ -s /run/prosody/prosody.pid ]; then
  syspid="$(cat /run/prosody/prosody.pid 2>/dev/null || true)"
  if [ -n "$syspid" ] && kill -0 "$syspid" 2>/dev/null; then
    rc_sudo kill "$syspid" 2>/dev/null || true
  fi
fi

prosodyctl about 2>/dev/null | grep -m1 '^Prosody' >&2 || true
