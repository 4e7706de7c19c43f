"""`python -m emulators.google_drive`: run the emulator in the foreground for demos."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from emulators.common.server import serve_in_foreground
from emulators.google_drive.app import build_app
from emulators.google_drive.fixture import DriveFixture
from emulators.google_drive.paging import ShortPages
from emulators.google_drive.state import SELF, EmulatorSettings

DEMO_KEY = "demo-key"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.google_drive",
        description=(
            "Serve an emulated Google Drive v3 API, and Drive's key-less web pages, over a "
            "fixture of public folders."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument(
        "--fixture", default="sample", help="'sample' (default) or a YAML fixture file"
    )
    parser.add_argument(
        "--files", type=int, default=0, metavar="N", help="add a folder of N small JPEGs"
    )
    parser.add_argument(
        "--key",
        action="append",
        dest="keys",
        metavar="KEY",
        help="accept only this API key (repeatable); default: any non-empty key",
    )
    parser.add_argument(
        "--short-pages",
        metavar="RATIOS",
        help="fill ratio per listing page, cycled, e.g. '1,0.5,0' (0 = empty page with a token)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="wait this long before answering every request to Drive (listing and downloads)",
    )
    parser.add_argument("--log-level", default="info")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    fixture = DriveFixture.load(args.fixture, extra_files=args.files)
    settings = EmulatorSettings(
        accepted_keys=frozenset(args.keys) if args.keys else None,
        short_pages=ShortPages.parse(args.short_pages),
        # A browser on the demo can then follow the virus-scan form of the web download.
        form_action_base=SELF,
        latency_ms=args.latency_ms,
    )
    app = build_app(fixture, settings)
    key = args.keys[0] if args.keys else DEMO_KEY

    def announce(base_url: str) -> None:
        for root in fixture.roots:
            link = fixture.link(root.path)
            print(f"Drive emulator on {base_url} — paste this link: {link}  ({root.name})")
        print(f"export GOOGLE_DRIVE_API_URL={base_url} GOOGLE_API_KEY={key}", flush=True)

    return serve_in_foreground(
        app, host=args.host, port=args.port, log_level=args.log_level, announce=announce
    )
