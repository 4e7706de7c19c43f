"""A webhook receiver for the tests: an HTTP server on 127.0.0.1 that records every request and
answers by path. `/ok/...` answers 200; `/flaky/<n>/...` answers 500 to its first n requests,
then 200; `/down/...` always 500; `/redirect/...` a 302 elsewhere. Whatever follows lets each
test use paths of its own."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def record(self, request: ReceivedRequest) -> int:
        """Keep the request; how many came to its path so far, this one included."""
        with self._lock:
            self._requests.append(request)
            return sum(1 for r in self._requests if r.path == request.path)

    def requests(self, path: str) -> list[ReceivedRequest]:
        with self._lock:
            return [r for r in self._requests if r.path == path]


def _status_for(path: str, seen: int) -> int:
    parts = path.strip("/").split("/")
    if parts[0] == "ok":
        return 200
    if parts[0] == "flaky":
        return 500 if seen <= int(parts[1]) else 200
    if parts[0] == "redirect":
        return 302
    return 500


@contextmanager
def running_receiver() -> Iterator[WebhookReceiver]:
    receiver: WebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            seen = receiver.record(ReceivedRequest(self.path, headers, body))
            status = _status_for(self.path, seen)
            self.send_response(status)
            if status == 302:
                self.send_header("location", "http://elsewhere.example/hook")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = WebhookReceiver(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
