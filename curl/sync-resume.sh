#!/bin/sh
# Resume a paused sync.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} ID

Resume a paused sync; prints when its next run starts (at once if one fell due meanwhile).

  ID          the sync's id
  -h, --help  show this help

Exit status:
  0    the sync is running on its schedule again"

parse_id_argument sync "$@"
require_tools

API_JSON='{"paused": false}'
api_request PATCH "/syncs/$(urlencode "$id")"
json '"sync \(.sync_id): every \(.every), next run \(.next_run_at)"'
