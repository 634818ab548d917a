#!/usr/bin/env bash
# Install Prosody (Debian package) for test fixtures. Idempotent.
# The distro's own prosody daemon is kept stopped/disabled: tests run their
# own throwaway instances via scripts/prosody/start.sh.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need_pkgs=()
command -v prosody >/dev/null 2>&1 || need_pkgs+=(prosody)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
# lua-unbound: async DNS (prosody warns without it; harmless on loopback, but quieter).
# lua-event: libevent backend (optional). lua-sec is a hard dependency of prosody.
dpkg -s lua-unbound >/dev/null 2>&1 || need_pkgs+=(lua-unbound)
command -v runuser >/dev/null 2>&1 || need_pkgs+=(util-linux)

if [ "${#need_pkgs[@]}" -gt 0 ]; then
  # Prevent the package's maintainer scripts from starting the system daemon
  # (only if the machine has no policy-rc.d of its own; containers usually do).
  added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  trap '[ "$added_policy" = 1 ] && $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  # Other sessions may hold the dpkg lock: wait for it instead of failing.
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 \
    install -y -q --no-install-recommends \
    "${need_pkgs[@]}" >&2
fi

# Make sure no system prosody is running/enabled (ports 5222/5269/5280 stay free).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now prosody.service >/dev/null 2>&1 || true
else
  if [ -x /etc/init.d/prosody ]; then
    $SUDO /etc/init.d/prosody stop >/dev/null 2>&1 || true
  fi
  command -v update-rc.d >/dev/null 2>&1 && $SUDO update-rc.d prosody disable >/dev/null 2>&1 || true
fi
if [ -s /run/prosody/prosody.pid ]; then
  syspid="$(cat /run/prosody/prosody.pid 2>/dev/null || true)"
  if [ -n "$syspid" ] && kill -0 "$syspid" 2>/dev/null; then
    $SUDO kill "$syspid" 2>/dev/null || true
  fi
fi

prosodyctl about 2>/dev/null | grep -m1 '^Prosody' >&2 || true
