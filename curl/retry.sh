#!/bin/sh
# Queue every failed file of an import for another try.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} ID

Queue every file of an import that failed for good for another transfer. A finished import is
running again until they settle: follow it with watch-import.sh ID. Prints how many files were
queued and the import's status.

  ID          the import's id
  -h, --help  show this help

Exit status:
  0    the failed files were queued (none to queue: 0 queued)
  $EXIT_API_ERROR    an API error, e.g. 409 when the import failed as a whole, is still queued,
       or its folder has another live import"

parse_id_argument import "$@"
require_tools

api_request POST "/imports/$(urlencode "$id")/retry"
json '"import \(.import_id): \(.requeued) failed file(s) queued again; status \(.status)"'
