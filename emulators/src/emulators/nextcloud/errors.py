"""SabreDAV's error answers, as Nextcloud, ownCloud and oCIS send them:

<?xml version="1.0" encoding="utf-8"?>
<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">
  <s:exception>Sabre\\DAV\\Exception\\NotFound</s:exception>
  <s:message>...</s:message>
</d:error>
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from emulators.common.asgi import Send, send_bytes

XML_TYPE = b"application/xml; charset=utf-8"


class SabreError(Exception):
    def __init__(
        self, status: int, exception: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.exception = exception
        self.message = message
        self.headers = headers or {}

    def body(self) -> bytes:
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">\n'
            f"  <s:exception>{escape(self.exception)}</s:exception>\n"
            f"  <s:message>{escape(self.message)}</s:message>\n"
            "</d:error>\n"
        ).encode()


async def send_error(send: Send, error: SabreError) -> None:
    await send_bytes(send, error.status, error.body(), XML_TYPE, error.headers)


def not_found(message: str = "") -> SabreError:
    return SabreError(404, "Sabre\\DAV\\Exception\\NotFound", message)


def not_authenticated(message: str = "", realm: str = "Nextcloud") -> SabreError:
    return SabreError(
        401,
        "Sabre\\DAV\\Exception\\NotAuthenticated",
        message,
        {"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'},
    )


def too_many_requests() -> SabreError:
    # Nextcloud's brute-force protection: 429, and no Retry-After.
    return SabreError(
        429,
        "OCA\\DAV\\Connector\\Sabre\\Exception\\TooManyRequests",
        "Reached maximum delay",
    )


def forbidden(message: str) -> SabreError:
    return SabreError(403, "Sabre\\DAV\\Exception\\Forbidden", message)


def not_implemented(message: str) -> SabreError:
    return SabreError(501, "Sabre\\DAV\\Exception\\NotImplemented", message)
