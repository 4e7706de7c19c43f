"""Helpers of the curl/ tests: the scripts run as a person runs them (POSIX sh, dash on Debian),
against the API served by uvicorn on a free port (tests/conftest.py: api_url), on the module's
stack.

The API runs with API_TOKEN set and the scripts send it, so they keep working once the API
checks tokens.
"""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CURL_DIR = Path(__file__).resolve().parents[2] / "curl"
COLLECTION = CURL_DIR / "image-import.postman_collection.json"
SCRIPTS = sorted(path.name for path in CURL_DIR.glob("*.sh") if path.name != "lib.sh")
# Run through POSIX sh whatever the shebang says: dash where there is one, as on Debian.
SHELL = shutil.which("dash") or "/bin/sh"
API_TOKEN = "curl-test-token"


def script_env(api_url: str, **extra: str) -> dict[str, str]:
    """A terminal's environment: PATH and locale, where the API is, and its token."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    return {**env, "API_URL": api_url, "API_TOKEN": API_TOKEN, **extra}


def run(
    script: str,
    *args: str,
    env: dict[str, str],
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run one script of curl/ with POSIX sh; never raises on a non-zero exit."""
    return subprocess.run(
        [SHELL, str(CURL_DIR / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def requests_of(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every request of a Postman collection's items, through its folders."""
    for item in items:
        if "item" in item:
            yield from requests_of(item["item"])
        else:
            yield item
