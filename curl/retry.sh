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

id=
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) print_help; exit 0 ;;
        -*) usage_error "unknown option: $1" ;;
        *) [ -z "$id" ] || usage_error "give one import id"; id=$1 ;;
    esac
    shift
done
[ -n "$id" ] || usage_error "give the import's id"
require_tools

api_request POST "/imports/$(urlencode "$id")/retry"
json '"import \(.import_id): \(.requeued) failed file(s) queued again; status \(.status)"'
