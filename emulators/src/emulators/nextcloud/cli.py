"""`python -m emulators.nextcloud`: run the Nextcloud emulator in the foreground for demos."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from emulators.common.cli import emulator_parser, read_spec
from emulators.common.server import serve_in_foreground
from emulators.nextcloud.app import build_app
from emulators.nextcloud.fixture import NextcloudFixture
from emulators.nextcloud.state import FLAVOURS, EmulatorSettings


def sample_spec(extra_files: int = 0) -> dict[str, Any]:
    """A nested share of real photos (see emulators.common.pictures) with the awkward cases a
    real one holds, a password-protected one, and optionally one folder of N small synthetic
    JPEGs (for large-folder listings)."""
    iphone = ["Apple", "iPhone 13"]
    photos: dict[str, Any] = {
        "name": "Holiday photos",
        "files": [
            {
                "name_pattern": "IMG_{i:04d}.jpg",
                "count": 20,
                "picture": {"taken_at": "2023-07-14T09:30:00", "camera": iphone},
            },
            {
                "name": "Fête à Noël 🎄.jpg",
                "checksums": ["SHA1", "MD5"],
                "picture": {"taken_at": "2023-12-24T19:03:44", "camera": iphone, "orientation": 6},
            },
            {"name": "日本語の写真.png", "picture": {"taken_at": "2024-04-02T14:10:00"}},
            {"name": "README.txt", "size": 1_200},
        ],
        "folders": [
            {
                "name": "2024 Winter",
                "files": [
                    {
                        "name_pattern": "snow-{i:02d}.png",
                        "count": 8,
                        "picture": {"taken_at": "2024-01-20T10:00:00"},
                    },
                    {"name": "sledge.gif", "picture": {"frames": 4}},
                ],
            },
        ],
    }
    shares: list[dict[str, Any]] = [
        photos,
        {
            "name": "Protected",
            "password": "open sesame",
            "files": [{"name_pattern": "secret-{i}.jpg", "count": 3, "picture": True}],
        },
    ]
    if extra_files:
        shares.append(
            {
                "name": "Bulk",
                "files": [
                    {"name_pattern": "IMG_{i:06d}.jpg", "count": extra_files, "size": [200, 4000]}
                ],
            }
        )
    return {"seed": 0, "shares": shares}


def _parser() -> argparse.ArgumentParser:
    parser = emulator_parser(
        "python -m emulators.nextcloud",
        "Serve emulated Nextcloud / ownCloud / oCIS public shares over WebDAV.",
        port=9300,
        files_help="a share of N JPEGs",
    )
    parser.add_argument("--flavour", choices=FLAVOURS, default="nextcloud")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    fixture = NextcloudFixture(read_spec(args.fixture, lambda: sample_spec(args.files)))
    app = build_app(fixture, EmulatorSettings(flavour=args.flavour))

    def announce(base_url: str) -> None:
        for share in fixture.shares:
            password = f"  (password: {share.password})" if share.password else ""
            print(
                f"Nextcloud emulator: {fixture.link(share.name, base_url)}  {share.name}{password}"
            )
        print("export NEXTCLOUD_ALLOWED_NETWORKS=127.0.0.0/8", flush=True)

    return serve_in_foreground(
        app, host=args.host, port=args.port, log_level=args.log_level, announce=announce
    )
