"""Services of the stack started as real processes (uvicorn on a free port), for the tests that
talk to them over HTTP from outside: the browser tests and the curl/newman tests.

Every server process the tests start (PostgreSQL, S3, the worker, uvicorn, Chromium) first
calls `refuse_in_fast_tier`: `make test-fast` (pytest --fast) runs only the tests that need
none, and a test that starts one without asking for a server fixture fails there instead of
slowing the fast tier down unnoticed."""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.ports import free_port

# Set by tests/conftest.py when pytest runs with --fast (in xdist's processes too).
FAST_TIER_ENV = "IMAGE_IMPORT_TESTS_FAST_TIER"


def refuse_in_fast_tier(what: str) -> None:
    if os.environ.get(FAST_TIER_ENV):
        raise RuntimeError(
            f"{what} started in the fast tier (make test-fast), which starts no servers: a test"
            " that needs one asks for it through a fixture of tests/conftest.py (stack,"
            " database_url, s3_server, api_url, browser...), or is marked @pytest.mark.stack"
            " when it starts a server itself"
        )


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(app: str, env: dict[str, str], log: Path, port: int | None = None) -> Server:
    """`uvicorn <app>` on a free port, once its /healthz answers."""
    refuse_in_fast_tier(f"uvicorn {app}")
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    # As the images run it: the app, not uvicorn, decides which proxies to believe.
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    command.append("--no-proxy-headers")
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = Server(url, process, log)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{app} did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)
