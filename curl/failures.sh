#!/bin/sh
# List the files of an import that failed for good, with why.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} ID [--limit N]

List every file of an import that failed for good (all pages), one per line: the file's id in
the source, attempts made, name and reason, separated by tabs. Nothing is printed when no file
failed. retry.sh ID queues them all for another try.

  ID           the import's id
  --limit N    files per request, 1-500 (default 50)
  -h, --help   show this help

Exit status:
  0    the failures were listed (none is not an error)"

id=
limit=
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) print_help; exit 0 ;;
        --limit) need_value "$1" $#; limit=$2; shift ;;
        -*) usage_error "unknown option: $1" ;;
        *) [ -z "$id" ] || usage_error "give one import id"; id=$1 ;;
    esac
    shift
done
[ -n "$id" ] || usage_error "give the import's id"
require_tools

path=/imports/$(urlencode "$id")/failures
cursor=
while :; do
    set -- -G
    if [ -n "$limit" ]; then set -- "$@" --data-urlencode "limit=$limit"; fi
    if [ -n "$cursor" ]; then set -- "$@" --data-urlencode "cursor=$cursor"; fi
    api_request GET "$path" "$@"
    json '.items[] | [.file_id, .attempts, .name, (.reason // "")] | @tsv'
    cursor=$(json '.next_cursor // empty')
    [ -n "$cursor" ] || break
done
