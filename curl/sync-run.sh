#!/bin/sh
# Run a sync now, whatever its schedule; prints the run's import id.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} ID

Start a run of a sync now, whatever its schedule (the next is then due an interval later),
and print the run's import id on stdout.

  ID          the sync's id
  -h, --help  show this help

Then: watch-import.sh IMPORT_ID

Exit status:
  0    the run started
  $EXIT_API_ERROR    an API error, e.g. 409 when the sync is paused or its folder has an
       import queued or running"

parse_id_argument sync "$@"
require_tools

api_request POST "/syncs/$(urlencode "$id")/run"
json .import_id
