#!/bin/sh
# Change a sync's interval, what becomes of removed files, or where its runs are notified.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} ID [--every INTERVAL] [--on-removed keep|delete] [--notify URL | --no-notify]

Change a sync; what is not given stays as it is. Prints the sync's line as syncs.sh does.

  ID                    the sync's id
  --every INTERVAL      how often: 15m, 1h, 1h30m, 2d or PT1H; counts from the last run
  --on-removed keep     mark an image removed when its file is gone (the default)
  --on-removed delete   delete its object and row as well
  --notify URL          POST a signed event to URL when each run ends
  --no-notify           stop notifying
  -h, --help            show this help

Exit status:
  0    the sync was changed"

sync_id=
changes='{}'
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) print_help; exit 0 ;;
        --every)
            need_value "$1" $#
            changes=$(printf '%s' "$changes" | jq -c --arg v "$2" '. + {every: $v}'); shift ;;
        --on-removed)
            need_value "$1" $#
            case $2 in keep | delete) ;; *) usage_error "--on-removed is keep or delete" ;; esac
            changes=$(printf '%s' "$changes" | jq -c --arg v "$2" '. + {on_removed: $v}'); shift ;;
        --notify)
            need_value "$1" $#
            changes=$(printf '%s' "$changes" | jq -c --arg v "$2" '. + {notify_url: $v}'); shift ;;
        --no-notify) changes=$(printf '%s' "$changes" | jq -c '. + {notify_url: null}') ;;
        -*) usage_error "unknown option: $1" ;;
        *) [ -z "$sync_id" ] || usage_error "give one sync id"; sync_id=$1 ;;
    esac
    shift
done
[ -n "$sync_id" ] || usage_error "give the sync's id"
[ "$changes" != '{}' ] || usage_error "nothing to change: give --every, --on-removed or --notify"
require_tools

API_JSON=$changes
api_request PATCH "/syncs/$(urlencode "$sync_id")"
json "$SYNC_TSV"
