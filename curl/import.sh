#!/bin/sh
# Start importing a shared folder of any source the API knows; prints the import id.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} LINK [--no-subfolders]

Start importing every image in a shared folder and print the import's id on stdout; the API
tells the source from the link (see GET /sources). If the folder already has a queued or
running import, no new one starts: that import's id is printed (with a note on stderr).

  LINK              the folder's link, e.g. https://drive.google.com/drive/folders/1AbC...
                    or https://www.dropbox.com/scl/fo/abc123/xyz?rlkey=...
                    or https://cloud.example.com/s/AbCdEfGh1234567 (Nextcloud, ownCloud)
                    or s3://bucket/prefix/ (a public bucket; s3+https://host/bucket/prefix/
                    for another S3-compatible server)
  --no-subfolders   import only the folder itself, not its subfolders
  -h, --help        show this help

  LINK_PASSWORD     the link's password, for a link its owner protected with one

Then: watch-import.sh ID

Exit status:
  0    the import was started, or the folder's live import was found"

parse_import_args "folder's link" "$@"
require_tools

# The password comes from the environment and reaches curl on stdin: it never shows in `ps`.
body=$(jq -nc --arg url "$link" --argjson recursive "$recursive" \
    --arg password "${LINK_PASSWORD:-}" \
    '{url: $url, recursive: $recursive} + (if $password == "" then {} else {password: $password} end)')
start_import /imports "$body"
