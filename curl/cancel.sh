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

parse_id_argument import "$@"
require_tools

api_request POST "/imports/$(urlencode "$id")/cancel"
json '"import \(.import_id): \(.status); \(.cancelled_jobs) queued job(s) cancelled"'
