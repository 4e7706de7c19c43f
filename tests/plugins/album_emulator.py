"""The albums service of `album_source`, as a local HTTP server for the tests."""

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class AlbumFile:
    file_id: str
    name: str
    mime_type: str
    content: bytes
    # The kind of checksum the service lists for it.
    checksum: str = "md5"

    def listed(self) -> dict[str, object]:
        return {
            "id": self.file_id,
            "name": self.name,
            "type": self.mime_type,
            "size": len(self.content),
            "checksums": {self.checksum: hashlib.md5(self.content).hexdigest()},
        }


@dataclass
class Albums:
    albums: dict[str, list[AlbumFile]] = field(default_factory=dict)

    def file(self, file_id: str) -> AlbumFile | None:
        return next(
            (f for files in self.albums.values() for f in files if f.file_id == file_id), None
        )


@contextmanager
def serve(albums: Albums) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            segments = url.path.strip("/").split("/")
            if len(segments) == 2 and segments[0] == "albums" and segments[1] in albums.albums:
                query = parse_qs(url.query)
                files = albums.albums[segments[1]]
                start = int(query.get("page_token", ["0"])[0])
                size = int(query.get("page_size", ["100"])[0])
                page = files[start : start + size]
                more = start + size < len(files)
                body = {
                    "files": [f.listed() for f in page],
                    "next_page_token": str(start + size) if more else None,
                }
                self._send(200, json.dumps(body).encode(), "application/json")
            elif len(segments) == 2 and segments[0] == "files" and albums.file(segments[1]):
                found = albums.file(segments[1])
                assert found is not None
                self._send(200, found.content, found.mime_type)
            else:
                self._send(404, b'{"error": "not found"}', "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
