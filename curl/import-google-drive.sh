#!/bin/sh
# Start importing a public Google Drive folder; prints the import id.
set -eu

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname -- "$0")/lib.sh"

USAGE="Usage: ${0##*/} LINK [--no-subfolders]

Start importing every image in a public Google Drive folder (shared as \"Anyone with the link\")
and print the import's id on stdout. If the folder already has a queued or running import, no
new one starts: that import's id is printed (with a note on stderr).

  LINK              the folder's link, e.g. https://drive.google.com/drive/folders/1Ab...xyz
  --no-subfolders   import only the folder itself, not its subfolders
  -h, --help        show this help

Then: watch-import.sh ID

Exit status:
  0    the import was started, or the folder's live import was found"

parse_import_args "folder's link" "$@"
require_tools

body=$(jq -nc --arg url "$link" --argjson recursive "$recursive" \
    '{url: $url, recursive: $recursive}')
start_import /import/google-drive "$body"
