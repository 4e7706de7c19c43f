#!/bin/sh
# Keep a shared folder in sync: import it now and again every INTERVAL; prints the sync's id.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} LINK --every INTERVAL [--no-subfolders] [--delete-removed] [--notify URL]

Import a shared folder now and again every INTERVAL, each run moving only new and changed
files and marking the images whose source file is gone; prints the sync's id on stdout and its
first run's import id on stderr. A folder has one sync: for one it has already, the API
answers 409 naming it (change it with sync-change.sh).

  LINK               the folder's link (any source the API knows, see GET /sources)
  --every INTERVAL   how often: 15m, 1h, 1h30m, 2d or PT1H (at least the API's
                     SYNC_MIN_INTERVAL_SECONDS, 15 minutes unless changed)
  --no-subfolders    sync only the folder itself, not its subfolders
  --delete-removed   delete the stored image (object and row) when its file is gone,
                     instead of only marking it removed
  --notify URL       POST a signed event to URL when each run ends
  -h, --help         show this help

  LINK_PASSWORD      the link's password, for a link its owner protected with one

Then: syncs.sh, sync-show.sh ID, watch-import.sh IMPORT_ID

Exit status:
  0    the sync was created and its first run started"

link=
every=
recursive=true
on_removed=keep
notify=
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) print_help; exit 0 ;;
        --every) need_value "$1" $#; every=$2; shift ;;
        --no-subfolders) recursive=false ;;
        --delete-removed) on_removed=delete ;;
        --notify) need_value "$1" $#; notify=$2; shift ;;
        -*) usage_error "unknown option: $1" ;;
        *) [ -z "$link" ] || usage_error "give one link"; link=$1 ;;
    esac
    shift
done
[ -n "$link" ] || usage_error "give the folder's link"
[ -n "$every" ] || usage_error "give --every INTERVAL, e.g. --every 1h"
require_tools

body=$(jq -nc --arg url "$link" --arg every "$every" --argjson recursive "$recursive" \
    --arg on_removed "$on_removed" --arg notify "$notify" --arg password "${LINK_PASSWORD:-}" \
    '{url: $url, every: $every, recursive: $recursive, on_removed: $on_removed}
     + (if $notify == "" then {} else {notify_url: $notify} end)
     + (if $password == "" then {} else {password: $password} end)')
api_post_json /syncs "$body"
run=$(json '.last_run.import_id // empty')
if [ -n "$run" ]; then
    printf '%s: first run: import %s (watch-import.sh %s)\n' "$PROG" "$run" "$run" >&2
fi
json .sync_id
