#!/bin/sh
# Show one sync: its schedule, its last run and its next.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} ID

Print one sync as \"field: value\" lines: link, interval, paused or next run, runs so far,
why the last due run did not start (when it did not), images found removed, and the last
run's import id, status and counts.

  ID          the sync's id
  -h, --help  show this help

Exit status:
  0    the sync was shown"

parse_id_argument sync "$@"
require_tools

api_request GET "/syncs/$(urlencode "$id")"
json '"sync: \(.sync_id)",
    "link: \(.source_url)",
    "every: \(.every)\(if .recursive then "" else " (folder only, no subfolders)" end)",
    "removed files: \(.on_removed)",
    "notify: \(.notify_url // "-")",
    (if .paused then "next run: paused" else "next run: \(.next_run_at)" end),
    "runs: \(.runs)",
    (if .last_skip then "last skip: \(.last_skip)" else empty end),
    "images removed at the source: \(.removed_images)",
    (if .last_run then
        "last run: \(.last_run.import_id) \(.last_run.status)",
        "last run counts: \(.last_run.counts | to_entries | map("\(.value) \(.key)") | join(", "))"
     else "last run: -" end)'
