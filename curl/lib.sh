# shellcheck shell=sh
# Sourced by every script in this folder (keep it beside them): where the API is, how to call it,
# and how to fail. Needs only POSIX sh, curl and jq.
#
# A script sets USAGE (its synopsis, description and its own exit codes) for print_help.

PROG=${0##*/}
API_URL=${API_URL:-http://localhost:8000}
API_URL=${API_URL%/}
NL='
'

# Exit codes shared by every script; 1 and 2 are left to each script's own outcomes.
EXIT_API_ERROR=3
EXIT_UNREACHABLE=4
EXIT_USAGE=64
EXIT_MISSING_TOOL=127

print_help() {
    printf '%s\n' "$USAGE"
    cat <<EOF

Environment:
  API_URL    the API's base URL (default http://localhost:8000)
  API_TOKEN  when set, sent as "Authorization: Bearer <API_TOKEN>"

Errors (stderr, any script):
  $EXIT_API_ERROR    the API answered with an error; its {"error","detail"} is printed
  $EXIT_UNREACHABLE    the API could not be reached (connection refused, DNS, timeout, TLS)
  $EXIT_USAGE   wrong arguments
  $EXIT_MISSING_TOOL  curl or jq is not installed
EOF
}

die() {
    code=$1
    shift
    printf '%s: %s\n' "$PROG" "$*" >&2
    exit "$code"
}

usage_error() {
    printf "%s: %s\nTry '%s --help'.\n" "$PROG" "$1" "$PROG" >&2
    exit "$EXIT_USAGE"
}

# `need_value OPTION ARGC`: an option that takes a value was given one.
need_value() {
    [ "$2" -ge 2 ] || usage_error "$1 needs a value"
}

require_tools() {
    for tool in curl jq; do
        command -v "$tool" >/dev/null 2>&1 ||
            die "$EXIT_MISSING_TOOL" "$tool is not installed; install it first" \
                "(Debian/Ubuntu: apt-get install $tool; macOS: brew install $tool)"
    done
}

# A value made safe to put in a URL path segment.
urlencode() {
    jq -rn --arg value "$1" '$value | @uri'
}

# A value for a curl config line: inside double quotes, backslash and quote are escaped.
curl_config_value() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}

# `api_request METHOD PATH [curl options...]`: calls the API and sets API_STATUS and API_BODY
# for a 2xx answer. Any other answer, or no answer, ends the script with a message on stderr.
# The token and a request body go to curl as a config on stdin, never as arguments, so neither
# shows in the process list.
api_request() {
    method=$1
    path=$2
    shift 2
    curl_rc=0
    config=$(
        if [ -n "${API_TOKEN:-}" ]; then
            printf 'header = %s\n' "$(curl_config_value "Authorization: Bearer $API_TOKEN")"
        fi
        if [ -n "${API_JSON:-}" ]; then
            printf 'header = "content-type: application/json"\n'
            printf 'data-binary = %s\n' "$(curl_config_value "$API_JSON")"
        fi
    )
    out=$(
        printf '%s\n' "$config" | curl --config - --silent --show-error --stderr - \
            --connect-timeout "${API_CONNECT_TIMEOUT:-10}" --max-time "${API_MAX_TIME:-120}" \
            -H 'accept: application/json' -X "$method" --write-out "$NL%{http_code}" \
            "$@" "$API_URL$path"
    ) || curl_rc=$?
    if [ "$curl_rc" -ne 0 ]; then
        reason=$(printf '%s\n' "$out" | sed -n 's/^curl: ([0-9]*) //p' | head -n 1)
        die "$EXIT_UNREACHABLE" "cannot reach the API at $API_URL: ${reason:-curl exit $curl_rc}" \
            "(is it running? set API_URL to its address)"
    fi
    API_STATUS=${out##*"$NL"}
    API_BODY=${out%"$NL"*}
    case $API_STATUS in
        2??) return 0 ;;
    esac
    api_error
}

# `api_post_json PATH JSON`: POST a JSON body.
api_post_json() {
    API_JSON=$2
    api_request POST "$1"
    API_JSON=
}

api_error() {
    if message=$(printf '%s' "$API_BODY" | jq -er '
        select(type == "object" and has("error"))
        | "\(.error): \(.detail | if type == "string" then . else tojson end)"' 2>/dev/null); then
        :
    else
        message="$(printf '%.300s' "$API_BODY" | tr '\n\r' '  ')"
    fi
    printf '%s: the API answered HTTP %s: %s\n' "$PROG" "$API_STATUS" "$message" >&2
    if [ "$API_STATUS" = 401 ] && [ -z "${API_TOKEN:-}" ]; then
        printf '%s: this API wants a token: set API_TOKEN\n' "$PROG" >&2
    fi
    exit "$EXIT_API_ERROR"
}

# `json FILTER [jq options...]`: runs a jq filter over API_BODY, printing raw strings.
json() {
    filter=$1
    shift
    printf '%s' "$API_BODY" | jq -r "$@" "$filter"
}

# The arguments both import scripts take: LINK [--no-subfolders], after a first argument that
# names the link in the "missing link" message. Sets $link and $recursive for the caller.
# shellcheck disable=SC2034 # $recursive is read by the scripts that source this file
parse_import_args() {
    what=$1
    shift
    link=
    recursive=true
    while [ $# -gt 0 ]; do
        case $1 in
            -h | --help) print_help; exit 0 ;;
            --no-subfolders) recursive=false ;;
            -*) usage_error "unknown option: $1" ;;
            *) [ -z "$link" ] || usage_error "give one link"; link=$1 ;;
        esac
        shift
    done
    [ -n "$link" ] || usage_error "give the $what"
}

# POST an import request and print its id; a folder with a live import gives that one's id.
start_import() {
    api_post_json "$1" "$2"
    if [ "$API_STATUS" = 200 ]; then
        printf '%s: this folder already has a live import (%s): not starting another\n' \
            "$PROG" "$(json .status)" >&2
    fi
    json .import_id
}

# The arguments of the scripts that act on one import or sync: `parse_id_argument NOUN "$@"`
# takes ID and nothing else (but --help), and sets $id.
parse_id_argument() {
    noun=$1
    shift
    id=
    while [ $# -gt 0 ]; do
        case $1 in
            -h | --help) print_help; exit 0 ;;
            -*) usage_error "unknown option: $1" ;;
            *) [ -z "$id" ] || usage_error "give one $noun id"; id=$1 ;;
        esac
        shift
    done
    [ -n "$id" ] || usage_error "give the $noun's id"
}

# One line of a sync, from API_BODY: id, interval, next run (or "paused"), the last run's
# status and import id, runs, images found removed, link; tab-separated.
# shellcheck disable=SC2034 # read by the sync scripts that source this file
SYNC_TSV='[.sync_id, .every, (if .paused then "paused" else (.next_run_at // "-") end),
    (.last_run.status // "-"), (.last_run.import_id // "-"), .runs, .removed_images,
    .source_url] | @tsv'
