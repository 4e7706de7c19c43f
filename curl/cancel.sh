#!/bin/sh
# Cancel a queued or running import.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} ID

Cancel a queued or running import: its queued jobs are cancelled, what it imported stays.
Prints the import's status and how many queued jobs were cancelled.

  ID          the import's id
  -h, --help  show this help

Exit status:
  0    the import was cancelled
  $EXIT_API_ERROR    an API error, e.g. 409 when the import had already finished"

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

api_request POST "/imports/$(urlencode "$id")/cancel"
json '"import \(.import_id): \(.status); \(.cancelled_jobs) queued job(s) cancelled"'
