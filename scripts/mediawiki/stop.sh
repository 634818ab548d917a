#!/usr/bin/env bash
# Stop the throwaway MediaWiki started by start.sh. Idempotent.
# Uses MW_STATE_DIR (default /tmp/rc-mediawiki-$MW_PORT, MW_PORT default 8080).
set -uo pipefail
# shellcheck source=../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

MW_PORT="${MW_PORT:-8080}"
MW_STATE_DIR="${MW_STATE_DIR:-/tmp/rc-mediawiki-$MW_PORT}"

rc_stop_php_server "$MW_STATE_DIR/php.pid" "php -S"
exit 0
