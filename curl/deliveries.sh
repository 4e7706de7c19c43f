#!/bin/sh
# List the webhooks an import sent to its notify_url when it ended, one line per attempt.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} ID

List the webhook deliveries of an import (newest first), one line per attempt: the delivery's
id (its webhook-id), event type, state (pending, queued, delivered or failed), attempt number,
the receiver's HTTP status and the error, separated by tabs. A delivery not yet tried prints
one line with empty attempt fields; nothing is printed for an import without notify_url.

  ID           the import's id
  -h, --help   show this help

Exit status:
  0    the deliveries were listed (none is not an error)"

parse_id_argument import "$@"
require_tools

api_request GET "/imports/$(urlencode "$id")/deliveries"
# shellcheck disable=SC2016 # a jq program, not shell
json '.items[] | . as $d
    | if (.attempts | length) == 0 then [$d.delivery_id, $d.event_type, $d.state, "", "", ""]
      else .attempts[] | [$d.delivery_id, $d.event_type, $d.state, .attempt,
                          (.response_status // ""), (.error // "")]
      end
    | @tsv'
