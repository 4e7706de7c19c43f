#!/bin/sh
# An operator's look at one job, and its retry or cancel (the operators' console's job page).
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} ID [--retry | --cancel]

Show one job of the queue as \`field: value\` lines: its task, queue, status, attempts, import,
worker, and its last error as the worker recorded it (class, message, attempt, when; the
traceback with --traceback). With --retry, run a failed (or stalled) job again now; with
--cancel, cancel a queued job or ask a running one to abort; then show the job. The routes are
the operators' (/ops): they need OPS_TOKEN, and each change is logged with OPERATOR.

  ID           the job's id (GET /ops/jobs lists them; the console shows them)
  --retry      run the job again now (POST /ops/jobs/ID/retry)
  --cancel     cancel or abort the job (POST /ops/jobs/ID/cancel)
  --traceback  print the last error's traceback too
  -h, --help   show this help

  OPS_TOKEN  the operators' token (sent instead of API_TOKEN when set)
  OPERATOR   who is asking, for the API's log (default: \$USER)

Exit status:
  0    the job was shown (and retried or cancelled when asked)"

id=
action=
traceback=false
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) print_help; exit 0 ;;
        --retry | --cancel)
            [ -z "$action" ] || usage_error "give --retry or --cancel, not both"
            action=${1#--} ;;
        --traceback) traceback=true ;;
        -*) usage_error "unknown option: $1" ;;
        *) [ -z "$id" ] || usage_error "give one job id"; id=$1 ;;
    esac
    shift
done
[ -n "$id" ] || usage_error "give the job's id"
case $id in
    *[!0-9]*) usage_error "a job's id is a number: $id" ;;
esac
require_tools

if [ -n "${OPS_TOKEN:-}" ]; then
    API_TOKEN=$OPS_TOKEN
fi
operator=${OPERATOR:-${USER:-}}
set --
if [ -n "$operator" ]; then
    set -- -H "x-operator: $operator"
fi

if [ -n "$action" ]; then
    api_request POST "/ops/jobs/$id/$action" "$@"
    json '"job \(.job_id // "?"): \(.action // "?" | gsub("_"; " ")) (now \(.status // "?"))"' >&2
fi
api_request GET "/ops/jobs/$id" "$@"
json '
"job: \(.job_id // "-")",
"task: \(.task // "-")",
"queue: \(.queue // "-")",
"status: \(.status // "-")\(if .abort_requested then " (asked to abort)" else "" end)",
"attempts: \(.attempts // "-")",
"import: \(.import_id // "-")",
"worker: \(.worker_id // "-")",
(.failures // [] | first
 | if . then
     "last error: \(.error_class): \(.message)",
     "last error at: \(.failed_at) (attempt \(.attempt), \(.outcome | gsub("_"; " ")))"
   else "last error: -" end)'
if [ "$traceback" = true ]; then
    json '.failures // [] | first | .traceback // empty'
fi
