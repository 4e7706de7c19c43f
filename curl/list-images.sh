#!/bin/sh
# List imported images, newest first: one per line.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} [--source S] [--import ID] [--limit N] [--all]

List imported images, newest first, one per line: id, size in bytes, MIME type and name,
separated by tabs (a tab, newline or backslash in a name is written \\t, \\n, \\\\).
Without --all, prints one page and says on stderr when there are more.

  --source S    only images from this source: google_drive or dropbox
  --import ID   only images of this import
  --limit N     images per page, 1-500 (default 50)
  --all         follow the pages to the last image
  -h, --help    show this help

Exit status:
  0    the images were listed (none is not an error)"

source=
import_id=
limit=
all=false
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) print_help; exit 0 ;;
        --source) need_value "$1" $#; source=$2; shift ;;
        --import) need_value "$1" $#; import_id=$2; shift ;;
        --limit) need_value "$1" $#; limit=$2; shift ;;
        --all) all=true ;;
        *) usage_error "unexpected argument: $1" ;;
    esac
    shift
done
require_tools

cursor=
while :; do
    set -- -G
    if [ -n "$source" ]; then set -- "$@" --data-urlencode "source=$source"; fi
    if [ -n "$import_id" ]; then set -- "$@" --data-urlencode "import_id=$import_id"; fi
    if [ -n "$limit" ]; then set -- "$@" --data-urlencode "limit=$limit"; fi
    if [ -n "$cursor" ]; then set -- "$@" --data-urlencode "cursor=$cursor"; fi
    api_request GET /images "$@"
    json '.items[] | [.id, .size, .mime_type, .name] | @tsv'
    cursor=$(json '.next_cursor // empty')
    [ -n "$cursor" ] || break
    if ! $all; then
        printf '%s: more images: add --all to list them all\n' "$PROG" >&2
        break
    fi
done
