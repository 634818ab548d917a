# shellcheck shell=bash
# Helpers shared by the scripts that install, start and stop the throwaway test servers
# (scripts/dokuwiki, scripts/mediawiki, scripts/prosody, scripts/ejabberd). Source it; do not execute it.
# A script finds it from its own location, so it works from any directory:
#
#   . "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"
#
# Everything it prints goes to stderr: the scripts' stdout is for what callers eval or read.

# ---------------------------------------------------------------- messages

# "start.sh: ..." on stderr: the message, named after the script that says it.
rc_log() { echo "${0##*/}: $*" >&2; }
rc_die() { rc_log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- processes and ports

# True while process $1 exists and is not a zombie (a killed server's new parent may take
# a while to reap it; a zombie holds no sockets). Reads /proc: no procps needed.
rc_alive() {
  local state
  [ -e "/proc/$1" ] || return 1
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
  [ "$state" != Z ]
}

# Wait until process $1 is gone (or a zombie), at most $2 seconds. Returns 1 on timeout.
rc_wait_gone() {
  local pid="$1" deadline=$((SECONDS + $2))
  while rc_alive "$pid"; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.05
  done
  return 0
}

# True if something accepts TCP connections on 127.0.0.1:$1.
rc_port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------- Debian packages

# Run a command as root: directly when we are root (CI, containers: no sudo there),
# else through sudo.
rc_sudo() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Keep the packages' maintainer scripts from starting their daemons while we install
# (apache2 would take port 80, the system prosody 5222): a policy-rc.d that denies every
# start, removed again when the script exits. Not when the machine has a policy-rc.d of
# its own (Docker images ship one that denies everything).
RC_POLICY_RC_D=/usr/sbin/policy-rc.d
rc_deny_service_starts() {
  [ -e "$RC_POLICY_RC_D" ] && return 0
  printf '#!/bin/sh\nexit 101\n' | rc_sudo tee "$RC_POLICY_RC_D" >/dev/null
  rc_sudo chmod 755 "$RC_POLICY_RC_D"
  trap 'rc_sudo rm -f "$RC_POLICY_RC_D"' EXIT
}

# apt-get update / install PKG..., quietly, output on stderr. Both wait for the dpkg lock
# (other tooling may be running apt) instead of failing.
RC_APT_OPTS=(-o DPkg::Lock::Timeout=600)
rc_apt_update() {
  rc_sudo apt-get "${RC_APT_OPTS[@]}" update -qq >&2
}
rc_apt_install() {
  rc_sudo env DEBIAN_FRONTEND=noninteractive apt-get "${RC_APT_OPTS[@]}" install -y -qq \
    --no-install-recommends "$@" >&2
}

# ---------------------------------------------------------------- PHP's built-in web server

# A single-quoted PHP string literal.
rc_php_str() {
  local s="${1//\\/\\\\}"
  printf "'%s'" "${s//\'/\\\'}"
}

# Print what URL answers to a GET, or with a second argument to a POST of it as text/xml.
# PHP is the HTTP client (no curl or wget needed). Fails when there is no answer.
rc_php_http() {
  # shellcheck disable=SC2016
  php -r '$http = ["timeout" => 10];
    if ($argc > 2) $http += ["method" => "POST", "header" => "Content-Type: text/xml", "content" => $argv[2]];
    $r = @file_get_contents($argv[1], false, stream_context_create(["http" => $http]));
    if ($r === false) exit(1); echo $r;' -- "$@" 2>/dev/null
}

# rc_await_php_server PID LOG TIMEOUT URL WANT [BODY]: ask URL (rc_php_http, BODY as for
# it) every 0.2 s until the answer contains WANT. Dies, after the tail of LOG, when the
# server (PID) exits first; returns 1, after the tail of LOG, once TIMEOUT seconds passed.
rc_await_php_server() {
  local pid="$1" log="$2" timeout="$3" url="$4" want="$5" deadline out
  shift 5
  deadline=$(($(date +%s) + timeout))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$log" >&2 || true
      rc_die "php -S exited early (see $log)"
    fi
    if out="$(rc_php_http "$url" "$@")" && [[ "$out" == *"$want"* ]]; then
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 30 "$log" >&2 || true
      return 1
    fi
    sleep 0.2
  done
}

# rc_stop_php_server PIDFILE WHAT: stop the php -S whose pid PIDFILE holds, and remove the
# file: SIGTERM, SIGKILL after 5 s; says "stopped WHAT (pid N)" or "killed WHAT (pid N)".
# Does nothing when there is no such file, or when that pid is no longer our php -S (pids
# get reused).
rc_stop_php_server() {
  local pidfile="$1" what="$2" pid cmd target
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile" 2>/dev/null || true)"
  rm -f "$pidfile"
  case "$pid" in '' | *[!0-9]*) return 0 ;; esac
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  case "$cmd" in
    *php*-S*127.0.0.1:*) ;;
    *) return 0 ;;
  esac
  # The start scripts run php -S under setsid, so its pid is also its process group's
  # (which holds the PHP_CLI_SERVER_WORKERS children too).
  if [ "$(awk '{print $5}' "/proc/$pid/stat" 2>/dev/null)" = "$pid" ]; then
    target="-$pid"
  else
    target="$pid"
  fi
  kill -TERM -- "$target" 2>/dev/null || true
  if rc_wait_gone "$pid" 5; then
    rc_log "stopped $what (pid $pid)"
    return 0
  fi
  kill -KILL -- "$target" 2>/dev/null || true
  rc_log "killed $what (pid $pid)"
}

# Print the pid in pidfile $1 if that process is alive (a zombie counts as gone) and its
# command line contains $2 (guards against pid reuse); else nothing.
rc_pidfile_pid() {
  local pid
  [ -s "$1" ] || return 0
  pid="$(tr -dc '0-9' <"$1" 2>/dev/null || true)"
  [ -n "$pid" ] || return 0
  rc_alive "$pid" || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"; then
    echo "$pid"
  fi
}

# True once an XMPP server answers a stream header on 127.0.0.1:$1 with
# <stream:features> for domain $2 (default localhost), i.e. its event loop runs and the
# host is active (a bare TCP accept can precede that).
rc_xmpp_ready() {
  local resp=""
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>" "${2:-localhost}" >&3
    deadline=$((SECONDS + 3))
    while [ "$SECONDS" -lt "$deadline" ]; do
      chunk=""
      IFS= read -r -t 0.05 -N 4096 chunk <&3 || true
      resp+="$chunk"
      case "$resp" in *"</stream:features>"*) printf '</stream:stream>' >&3; exit 0 ;; esac
      case "$resp" in *"<stream:error"*) exit 1 ;; esac
    done
    exit 1
  ) 2>/dev/null
}

# ---------------------------------------------------------------- stopping a server

# "[NAME-fixture] ..." on stderr, as the servers' own lib.sh say it.
rc_fixture_log() { local name="$1"; shift; printf '[%s-fixture] %s\n' "$name" "$*" >&2; }

# rc_stop_server NAME PID PIDFILE STATE_DIR TIMEOUT: SIGTERM, then SIGKILL after TIMEOUT
# seconds; removes the pidfile. Idempotent: without a PID (not running) it only removes
# the pidfile.
rc_stop_server() {
  local name="$1" pid="$2" pidfile="$3" dir="$4" timeout="$5"
  if [ -z "$pid" ]; then
    rc_fixture_log "$name" "not running ($dir)"
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  if ! rc_wait_gone "$pid" "$timeout"; then
    rc_fixture_log "$name" "pid $pid ignored SIGTERM for ${timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    rc_wait_gone "$pid" 5 || { rc_fixture_log "$name" "ERROR: pid $pid still alive after SIGKILL"; exit 1; }
  fi
  rm -f "$pidfile"
  rc_fixture_log "$name" "stopped pid $pid ($dir)"
}

# rc_kill_server NAME PID STATE_DIR: SIGKILL (a crash), waiting until the process is gone;
# the stale pidfile stays, as after a real crash. Idempotent: nothing without a PID.
rc_kill_server() {
  local name="$1" pid="$2" dir="$3"
  if [ -z "$pid" ]; then
    rc_fixture_log "$name" "not running ($dir)"
    return 0
  fi
  kill -KILL "$pid" 2>/dev/null || true
  rc_wait_gone "$pid" 5 || { rc_fixture_log "$name" "ERROR: pid $pid still alive after SIGKILL"; exit 1; }
  rc_fixture_log "$name" "killed pid $pid with SIGKILL ($dir)"
}
