"""What both of S3's signatures here share (SigV4, as botocore computes it): where the S3 API is
and who we are there (`S3Account`), the day's signing key derived once (`SigningKeys`), and
the Host a signature covers. `request_signer` signs requests, `download_links` links.
"""

import hmac
from dataclasses import dataclass, field
from urllib.parse import SplitResult

import boto3

ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class S3Account:
    """Where an S3 API is and who we are there: each service builds it from its settings."""

    endpoint_url: str | None
    region: str
    access_key_id: str | None = None
    # None: botocore's chain (environment, profile, a role's refreshed credentials).
    secret_access_key: str | None = field(default=None, repr=False)

    def session(self) -> boto3.session.Session:
        return boto3.session.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
        )


class SigningKeys:
    """SigV4's signing key for a day, region and service: four chained HMACs, derived once
    (and again when the day or the credentials change) instead of for every signature."""

    def __init__(self) -> None:
        self._last: tuple[tuple[str, str, str, str], bytes] | None = None

    def key(self, secret_key: str, date: str, region: str, service: str) -> bytes:
        scope = (secret_key, date, region, service)
        if self._last is None or self._last[0] != scope:
            key = f"AWS4{secret_key}".encode()
            for part in (date, region, service, "aws4_request"):
                key = hmac.digest(key, part.encode(), "sha256")
            self._last = (scope, key)
        return self._last[1]


def signed_host(parts: SplitResult) -> str:
    """The Host a signature covers: the name lowercased, in brackets for IPv6, with its port
    unless it is the scheme's default."""
    hostname = parts.hostname or ""
    host = f"[{hostname}]" if ":" in hostname else hostname
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host
