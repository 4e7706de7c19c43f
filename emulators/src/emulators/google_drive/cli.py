"""`python -m emulators.google_drive`: run the emulator in the foreground for demos."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from emulators.common.cli import emulator_parser
from emulators.common.server import serve_in_foreground
from emulators.google_drive.app import build_app
from emulators.google_drive.fixture import DriveFixture
from emulators.google_drive.paging import ShortPages
from emulators.google_drive.state import RATE_LIMIT_ANSWERS, SELF, EmulatorSettings

DEMO_KEY = "demo-key"


def _parser() -> argparse.ArgumentParser:
    parser = emulator_parser(
        "python -m emulators.google_drive",
        "Serve an emulated Google Drive v3 API, and Drive's key-less web pages, over a "
        "fixture of public folders.",
        port=9100,
        files_help="add a folder of N small JPEGs",
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
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=0.0,
        metavar="RPS",
        help="per-user quota: each caller (token, quotaUser or API key) may make RPS API requests"
        " a second; beyond, --rate-limit-answer (default 0: no quota)",
    )
    parser.add_argument(
        "--rate-limit-burst",
        type=float,
        default=0.0,
        metavar="N",
        help="requests a caller may make at once (default: one second's worth)",
    )
    parser.add_argument(
        "--rate-limit-answer",
        choices=RATE_LIMIT_ANSWERS,
        default="user_rate_limit_exceeded",
        help="403 userRateLimitExceeded (default), 403 rateLimitExceeded or 429",
    )
    parser.add_argument(
        "--download-quota-files",
        type=int,
        default=0,
        metavar="N",
        help="N images, spread over the fixture, answer downloadQuotaExceeded from their first"
        " download for --download-quota-window seconds, then serve",
    )
    parser.add_argument("--download-quota-window", type=float, default=60.0, metavar="SECONDS")
    return parser


def spread(ids: Sequence[str], count: int) -> list[str]:
    """`count` of `ids`, evenly spaced from the first (all of them when there are fewer)."""
    if count >= len(ids):
        return list(ids)
    return [ids[i * len(ids) // count] for i in range(count)]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    fixture = DriveFixture.load(args.fixture, extra_files=args.files)
    settings = EmulatorSettings(
        accepted_keys=frozenset(args.keys) if args.keys else None,
        short_pages=ShortPages.parse(args.short_pages),
        # A browser on the demo can then follow the virus-scan form of the web download.
        form_action_base=SELF,
        latency_ms=args.latency_ms,
        rate_limit_per_s=args.rate_limit,
        rate_limit_burst=args.rate_limit_burst,
        rate_limit_answer=args.rate_limit_answer,
    )
    app = build_app(fixture, settings)
    key = args.keys[0] if args.keys else DEMO_KEY
    held: list[str] = []
    if args.download_quota_files > 0:
        images = [i.id for root in fixture.roots for i in fixture.expected_images(root.path)]
        held = spread(images, args.download_quota_files)
        app.state.hold_downloads(held, args.download_quota_window)

    def announce(base_url: str) -> None:
        for root in fixture.roots:
            link = fixture.link(root.path)
            print(f"Drive emulator on {base_url} — paste this link: {link}  ({root.name})")
        if held:
            print(
                f"downloadQuotaExceeded for {args.download_quota_window:g} s from their first"
                f" download: {' '.join(held)}"
            )
        print(f"export GOOGLE_DRIVE_API_URL={base_url} GOOGLE_API_KEY={key}", flush=True)

    return serve_in_foreground(
        app, host=args.host, port=args.port, log_level=args.log_level, announce=announce
    )
