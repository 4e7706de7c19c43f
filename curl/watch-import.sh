#!/bin/sh
# Follow an import's progress on one line until it ends; the exit code says how it ended.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} ID

Follow an import until it ends: one progress line (files settled of those found, by outcome,
bytes imported, rate, time), or, while it waits its turn to start, how many imports are ahead. On a terminal the line is redrawn in place; otherwise a line is
printed each time the progress changes.

  ID          the import's id (import-google-drive.sh and import-dropbox.sh print it)
  -h, --help  show this help

  WATCH_INTERVAL  seconds between two looks (default 1)

Exit status:
  0    the import completed
  1    the import failed as a whole (its error is printed on stderr) or was cancelled
  2    the import completed with errors: some files failed for good (see failures.sh ID)"

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

path=/imports/$(urlencode "$id")
interval=${WATCH_INTERVAL:-1}

# Three lines: the status, what counts as a change, and the line to show.
# shellcheck disable=SC2016 # a jq program, not shell
PROGRESS='
def one: (. * 10 | round) / 10 | tostring;
def bytes: if . >= 1e9 then "\(. / 1e9 | one) GB" elif . >= 1e6 then "\(. / 1e6 | one) MB"
    elif . >= 1e3 then "\(. / 1e3 | one) kB" else "\(.) B" end;
.counts as $c
| $c.settled as $settled
| .status,
  ([.status, .queue_position, $c.discovered, $settled, $c.failed, .bytes_imported]
   | map(tostring) | join(" ")),
  (if .queue_position then
     "\(.status): waiting: \(.queue_position - 1) import\(if .queue_position == 2 then "" else "s" end) ahead"
   else
  "\(.status): \($settled)/\($c.discovered) files (\($c.imported) imported, \($c.unchanged) unchanged, "
   + "\($c.skipped) skipped, \($c.failed) failed), \(.bytes_imported | bytes)"
   + (if .rate then ", \(.rate.files_per_second | one) files/s, \(.rate.bytes_per_second | bytes)/s"
      else "" end)
   + (if .elapsed_seconds then ", \(.elapsed_seconds | one)s" else "" end)
   end)'

tty=false
if [ -t 1 ]; then tty=true; fi
shown=
while :; do
    api_request GET "$path"
    progress=$(json "$PROGRESS")
    status=${progress%%"$NL"*}
    rest=${progress#*"$NL"}
    key=${rest%%"$NL"*}
    line=${rest#*"$NL"}
    if $tty; then
        printf '\r%s\033[K' "$line"
    elif [ "$key" != "$shown" ]; then
        printf '%s\n' "$line"
    fi
    shown=$key
    case $status in
        completed | completed_with_errors | failed | cancelled) break ;;
    esac
    sleep "$interval"
done
if $tty; then printf '\n'; fi

case $status in
    completed) exit 0 ;;
    completed_with_errors)
        printf '%s: %s file(s) failed for good: failures.sh %s lists them, retry.sh %s retries them\n' \
            "$PROG" "$(json .counts.failed)" "$id" "$id" >&2
        exit 2
        ;;
    failed)
        printf '%s: import %s failed: %s\n' "$PROG" "$id" "$(json '.error // "no reason given"')" >&2
        exit 1
        ;;
    *)
        printf '%s: import %s was %s\n' "$PROG" "$id" "$status" >&2
        exit 1
        ;;
esac
