#!/bin/sh
# Delete a sync: no more runs; every image stays.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} ID

Delete a sync: no run starts any more; a run in progress ends as an ordinary import, and every
image it brought stays.

  ID          the sync's id
  -h, --help  show this help

Exit status:
  0    the sync was deleted"

parse_id_argument sync "$@"
require_tools

api_request DELETE "/syncs/$(urlencode "$id")"
printf 'sync %s: deleted\n' "$id"
