"""Services of the stack started as real processes (uvicorn on a free port), for the tests that
talk to them over HTTP from outside: the browser tests and the curl/newman tests."""

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack.ports import free_port


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
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
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
