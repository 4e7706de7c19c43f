#!/bin/sh
# List syncs, newest first: one per line.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} [--limit N] [--all]

List syncs, newest first, one per line: id, interval, next run (or \"paused\"), the last
run's status and import id, runs so far, images found removed, and the link, separated by
tabs. Without --all, prints one page and says on stderr when there are more.

  --limit N     syncs per page, 1-500 (default 50)
  --all         follow the pages to the last sync
  -h, --help    show this help

Exit status:
  0    the syncs were listed (none is not an error)"

limit=
all=false
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) print_help; exit 0 ;;
        --limit) need_value "$1" $#; limit=$2; shift ;;
        --all) all=true ;;
        *) usage_error "unexpected argument: $1" ;;
    esac
    shift
done
require_tools

cursor=
while :; do
    set -- -G
    if [ -n "$limit" ]; then set -- "$@" --data-urlencode "limit=$limit"; fi
    if [ -n "$cursor" ]; then set -- "$@" --data-urlencode "cursor=$cursor"; fi
    api_request GET /syncs "$@"
    json ".items[] | $SYNC_TSV"
    cursor=$(json '.next_cursor // empty')
    [ -n "$cursor" ] || break
    if ! $all; then
        printf '%s: more syncs: add --all to list them all\n' "$PROG" >&2
        break
    fi
done
