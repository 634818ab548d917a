#!/usr/bin/env bash
# Stop the throwaway DokuWiki started by start.sh. Idempotent.
# Uses DW_STATE_DIR (default /tmp/rc-dokuwiki-$DW_PORT, DW_PORT default 8090).
set -uo pipefail
# shellcheck source=../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

DW_PORT="${DW_PORT:-8090}"
DW_STATE_DIR="${DW_STATE_DIR:-/tmp/rc-dokuwiki-$DW_PORT}"

rc_stop_php_server "$DW_STATE_DIR/php.pid" "DokuWiki's php -S"
exit 0
