"""What every emulator's demo command line (`python -m emulators.<name>`) shares: where to
listen, which fixture to serve (`sample`, or a YAML file in the emulator's spec grammar), how
many extra files, and the log level. Each emulator adds its own options and announces its links
(`emulators.common.server.serve_in_foreground`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import yaml  # type: ignore[import-untyped]


def emulator_parser(
    prog: str, description: str, *, port: int, files_help: str
) -> argparse.ArgumentParser:
    """A parser with --host, --port (default `port`), --fixture, --files and --log-level."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument(
        "--fixture", default="sample", help="'sample' (default) or a YAML fixture file"
    )
    parser.add_argument("--files", type=int, default=0, metavar="N", help=files_help)
    parser.add_argument("--log-level", default="info")
    return parser


def read_spec(fixture: str, sample: Callable[[], dict[str, Any]]) -> Any:
    """The spec --fixture names: the emulator's `sample`, or a YAML file's document."""
    if fixture == "sample":
        return sample()
    with open(fixture, encoding="utf-8") as handle:
        return yaml.safe_load(handle)
