"""Fixtures of the curl/ tests: the scripts run as a person runs them (POSIX sh, dash on Debian),
against the API served by uvicorn on a free port, on the module's stack.

The API runs with API_TOKEN set and the scripts send it, so they keep working once the API
checks tokens.
"""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Stack
from tests.servers import start_server

CURL_DIR = Path(__file__).resolve().parents[2] / "curl"
COLLECTION = CURL_DIR / "image-import.postman_collection.json"
SCRIPTS = sorted(path.name for path in CURL_DIR.glob("*.sh") if path.name != "lib.sh")
# Run through POSIX sh whatever the shebang says: dash where there is one, as on Debian.
SHELL = shutil.which("dash") or "/bin/sh"
API_TOKEN = "curl-test-token"


@pytest.fixture(scope="module")
def api_url(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API under uvicorn, on the module's database and bucket, expecting API_TOKEN."""
    log = tmp_path_factory.mktemp("api") / "api.log"
    # The scripts and the collection make more than the default 30 changes a minute between
    # them; the limit itself is tested in tests/api/test_security.py.
    env = {**stack.env, "API_TOKEN": API_TOKEN, "START_RATE_LIMIT_PER_MINUTE": "600"}
    api = start_server("api.app:app", env, log)
    try:
        yield api.url
    finally:
        api.stop()


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
