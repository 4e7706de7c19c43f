#!/bin/sh
# Pause a sync: no run starts until it is resumed.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} ID

Pause a sync: no run starts until sync-resume.sh; a run in progress finishes.

  ID          the sync's id
  -h, --help  show this help

Exit status:
  0    the sync is paused"

parse_id_argument sync "$@"
require_tools

API_JSON='{"paused": true}'
api_request PATCH "/syncs/$(urlencode "$id")"
json '"sync \(.sync_id): paused"'
