"""`devstack up` (what `make up` runs)."""

import argparse
import sys
from collections.abc import Sequence

from devstack.errors import DevstackError
from devstack.runner import up
from devstack.settings import load_settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description="The local image-import stack.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "up",
        help="start Postgres and S3 (unless DATABASE_URL / S3_ENDPOINT_URL are set), "
        "migrate, then run api, worker and web until Ctrl-C",
    )
    parser.parse_args(argv)
    try:
        return up(load_settings())
    except DevstackError as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
