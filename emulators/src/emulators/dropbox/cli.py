"""`python -m emulators.dropbox`: run the Dropbox emulator in the foreground for demos."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from emulators.common.cli import emulator_parser, read_spec
from emulators.common.server import serve_in_foreground
from emulators.dropbox.app import build_app
from emulators.dropbox.fixture import DropboxFixture
from emulators.dropbox.state import RATE_LIMIT_ANSWERS, EmulatorSettings

DEMO_TOKEN = "demo-token"


def sample_spec(extra_files: int = 0) -> dict[str, Any]:
    """A nested shared folder of real photos (see `emulators.common.pictures`: JPEGs with EXIF
    dates, cameras and orientations, PNGs, an animated GIF, a HEIC, exact duplicates) with the
    awkward cases a real one holds, and a legacy-link one. A bulk folder, if asked for, keeps
    synthetic bytes."""
    iphone = ["Apple", "iPhone 13"]
    beach = {"seed": 201, "taken_at": "2023-07-16T11:42:10", "camera": iphone}
    photos: dict[str, Any] = {
        "name": "Holiday photos",
        "files": [
            {
                "name_pattern": "IMG_{i:04d}.jpg",
                "count": 16,
                "picture": {"taken_at": "2023-07-14T09:30:00", "camera": iphone},
            },
            {
                "name_pattern": "IMG_{i:04d}.jpg",
                "start": 17,
                "count": 4,
                "picture": {
                    "taken_at": "2023-07-15T18:05:00",
                    "camera": iphone,
                    "orientation": 6,
                    "width": 360,
                    "height": 480,
                },
            },
            {"name": "beach.jpg", "picture": beach},
            {
                "name": "Fête à Noël 🎄.jpg",
                "picture": {"taken_at": "2023-12-24T19:03:44", "camera": iphone, "orientation": 8},
            },
            {"name": "日本語の写真.png", "picture": {"taken_at": "2024-04-02T14:10:00"}},
            {"name": "README.txt", "size": 1_200},
            {"name": "Plan.paper", "is_downloadable": False, "size": 0},
        ],
        "folders": [
            {
                "name": "2024 Winter",
                "files": [
                    {
                        "name_pattern": "snow-{i:02d}.png",
                        "count": 8,
                        "picture": {
                            "taken_at": "2024-01-20T10:00:00",
                            "camera": ["Canon", "Canon EOS R6"],
                        },
                    },
                    {"name": "sledge.gif", "picture": {"frames": 4}},
                    {
                        "name": "IMG_2041.heic",
                        "picture": {
                            "taken_at": "2024-01-23T09:41:00",
                            "camera": ["Apple", "iPhone 15 Pro"],
                        },
                    },
                    {"name": "beach (copy).jpg", "picture": beach},  # the same bytes again
                ],
            },
        ],
    }
    if extra_files:
        photos["folders"].append(
            {
                "name": "bulk",
                "files": [
                    {"name_pattern": "IMG_{i:06d}.jpg", "count": extra_files, "size": [200, 4000]}
                ],
            }
        )
    legacy = {
        "name": "Old share",
        "link": "sh",
        "files": [
            {
                "name_pattern": "old-{i}.jpg",
                "count": 3,
                "picture": {
                    "taken_at": "2009-08-02T16:20:00",
                    "camera": ["NIKON CORPORATION", "NIKON D90"],
                },
            }
        ],
    }
    return {"seed": 0, "folders": [photos, legacy]}


def _parser() -> argparse.ArgumentParser:
    parser = emulator_parser(
        "python -m emulators.dropbox",
        "Serve an emulated Dropbox API v2 (and shared-link zips) over a fixture.",
        port=9200,
        files_help="add N small JPEGs",
    )
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=0.0,
        metavar="RPS",
        help="each token or app may make RPS API requests a second; beyond, 429 with"
        " Retry-After (default 0: no limit)",
    )
    parser.add_argument(
        "--rate-limit-burst",
        type=float,
        default=0.0,
        metavar="N",
        help="requests a token or app may make at once (default: one second's worth)",
    )
    parser.add_argument(
        "--retry-after",
        type=int,
        default=15,
        metavar="SECONDS",
        help="the 429's Retry-After, at least (default 15; Dropbox's spec example says 300)",
    )
    parser.add_argument(
        "--rate-limit-answer", choices=RATE_LIMIT_ANSWERS, default="too_many_requests"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    fixture = DropboxFixture(read_spec(args.fixture, lambda: sample_spec(args.files)))
    settings = EmulatorSettings(
        rate_limit_per_s=args.rate_limit,
        rate_limit_burst=args.rate_limit_burst,
        rate_limit_retry_after_s=args.retry_after,
        rate_limit_answer=args.rate_limit_answer,
    )
    app = build_app(fixture, settings)

    def announce(base_url: str) -> None:
        for shared in fixture.shared:
            print(
                f"Dropbox emulator on {base_url} — paste this link: {shared.link.url()}"
                f"  ({shared.item.name})"
            )
        print(
            f"export DROPBOX_API_URL={base_url} DROPBOX_CONTENT_URL={base_url} "
            f"DROPBOX_WEB_URL={base_url} DROPBOX_ACCESS_TOKEN={DEMO_TOKEN}",
            flush=True,
        )

    return serve_in_foreground(
        app, host=args.host, port=args.port, log_level=args.log_level, announce=announce
    )
