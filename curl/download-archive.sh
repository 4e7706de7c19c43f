#!/bin/sh
# Download an import's images, or the images named, as one ZIP; run again to resume a cut one.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} (--import ID | IMAGE_ID...) [-o FILE]

Downloads an import's images (GET /imports/ID/archive), or the images named (POST /archives,
then its link), as one ZIP archive with their own names, and prints the file's name. The bytes
go to FILE.part first: run the same command again after a cut download and it asks for the
rest only (Range), if the archive is still the same (If-Range with its ETag); a changed one is
downloaded whole.

  --import ID   every image of this import
  -o FILE       where to save it (default: import-ID.zip, or images.zip; - for stdout,
                which cannot resume)
  -h, --help    show this help

Exit status:
  0    the archive was saved"

import_id=
target=
image_ids=
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) print_help; exit 0 ;;
        --import) need_value "$1" $#; import_id=$2; shift ;;
        -o) need_value "$1" $#; target=$2; shift ;;
        -*) usage_error "unknown option: $1" ;;
        *) image_ids="$image_ids $1" ;;
    esac
    shift
done
if [ -n "$import_id" ] && [ -n "$image_ids" ]; then
    usage_error "give --import ID or image ids, not both"
fi
[ -n "$import_id" ] || [ -n "$image_ids" ] || usage_error "give --import ID or image ids"
require_tools

if [ -n "$import_id" ]; then
    path="/imports/$(urlencode "$import_id")/archive"
    target=${target:-import-$import_id.zip}
else
    # shellcheck disable=SC2086 # the ids are words
    ids=$(jq -cn '$ARGS.positional' --args $image_ids)
    api_post_json /archives "{\"image_ids\": $ids}"
    path=$(json .url)
    target=${target:-images.zip}
fi

# `fetch FILE ETAG_FILE [curl options...]`: GET the archive into FILE; sets API_STATUS, and
# keeps a 2xx answer's ETag in ETAG_FILE at once, so that a cut download can resume.
fetch() {
    file=$1
    etag_file=$2
    shift 2
    config=$(
        if [ -n "${API_TOKEN:-}" ]; then
            printf 'header = %s\n' "$(curl_config_value "Authorization: Bearer $API_TOKEN")"
        fi
    )
    headers=$(mktemp)
    curl_rc=0
    API_STATUS=$(
        printf '%s\n' "$config" | curl --config - --silent --show-error \
            --connect-timeout "${API_CONNECT_TIMEOUT:-10}" -D "$headers" -o "$file" \
            --write-out '%{http_code}' "$@" "$API_URL$path" 2>"$headers.err"
    ) || curl_rc=$?
    etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]: *//p' "$headers" | tr -d '\r' | tail -n 1)
    if [ -n "$etag" ] && [ -n "$etag_file" ]; then
        printf '%s\n' "$etag" >"$etag_file"
    fi
    reason=$(sed -n 's/^curl: ([0-9]*) //p' "$headers.err" | head -n 1)
    rm -f "$headers" "$headers.err"
    case $curl_rc in
        0) ;;
        18 | 56) die "$EXIT_UNREACHABLE" "the download was cut (${reason:-curl exit $curl_rc}):" \
            "run the same command again to resume it" ;;
        *) die "$EXIT_UNREACHABLE" "cannot reach the API at $API_URL:" \
            "${reason:-curl exit $curl_rc} (is it running? set API_URL to its address)" ;;
    esac
}

# An error answer's body is in FILE: say it and stop.
fail_with() {
    API_BODY=$(cat "$1")
    rm -f "$1"
    api_error
}

if [ "$target" = - ]; then
    part=$(mktemp)
    fetch "$part" ""
    case $API_STATUS in 2??) ;; *) fail_with "$part" ;; esac
    cat "$part"
    rm -f "$part"
    exit 0
fi

part="$target.part"
if [ -s "$part" ] && [ -s "$part.etag" ]; then
    # Resume: the rest goes to its own file, so that an error answer never lands in the part.
    rest="$target.rest"
    offset=$(wc -c <"$part" | tr -d ' ')
    fetch "$rest" "" -H "Range: bytes=$offset-" -H "If-Range: $(cat "$part.etag")"
    case $API_STATUS in
        206) cat "$rest" >>"$part" && rm -f "$rest" ;;
        200) printf '%s: the archive changed since the cut download: downloaded it whole\n' \
            "$PROG" >&2
            mv "$rest" "$part" ;;
        *) fail_with "$rest" ;;
    esac
else
    rm -f "$part.etag"
    fetch "$part" "$part.etag"
    case $API_STATUS in 2??) ;; *) fail_with "$part" ;; esac
fi
mv "$part" "$target"
rm -f "$part.etag"
printf '%s\n' "$target"
