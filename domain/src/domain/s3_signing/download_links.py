"""Presigned download links (the api's): time-limited GET URLs to objects, byte for byte those
of botocore's `generate_presigned_url`, signed locally in a batch at one time (a page of
images), and the Content-Disposition a link asks S3 to answer with.
"""

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from botocore.config import Config
from botocore.exceptions import NoCredentialsError

from domain.s3_signing.sigv4 import ALGORITHM, S3Account, SigningKeys, signed_host

# The object key of the one link per bucket botocore signs, to learn what every link shares.
_PROBE_KEY = "probe"
# Keys of only these characters are the same quoted (`quote(key, safe="/~")`): most of ours.
_NEEDS_NO_QUOTING = re.compile(r"[A-Za-z0-9_.~/-]*").fullmatch


@dataclass(frozen=True)
class _BucketLinks:
    """What every download link of one bucket shares, as botocore resolved it."""

    origin: str  # scheme://netloc, as botocore writes it into the URL
    path_prefix: str  # the URL's path up to the (quoted) object key
    host: str  # the signed Host header: netloc less userinfo and a default port
    region: str  # the credential scope's region and service
    service: str


class DownloadLinks:
    """Signs time-limited GET URLs. Signing is local computation: no call to S3.

    The links are SigV4 query-string presigned URLs, byte for byte those of botocore's
    `generate_presigned_url` (the tests compare them). That call costs about 0.2 ms a URL (the
    endpoint rules, the event hooks, the request object and the four HMACs that derive the
    signing key, every time): 10 ms for a page of 50. So botocore resolves once per bucket what a
    bucket's links share (endpoint, addressing style, signing region), the signing key is derived
    once a day (and again when the credentials change), and each URL costs one SHA-256 and one
    HMAC.
    """

    def __init__(self, account: S3Account, ttl_seconds: int) -> None:
        self._ttl = ttl_seconds
        session = account.session()
        self._client: Any = session.client(
            "s3",
            endpoint_url=account.endpoint_url,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        # The client's own credentials: static, or refreshed by botocore (a role's, say).
        self._credentials: Any = session.get_credentials()
        self._buckets: dict[str, _BucketLinks] = {}
        self._keys = SigningKeys()

    def url_for(self, bucket: str, key: str, *, download_name: str | None = None) -> str:
        return self.signer().url_for(bucket, key, download_name=download_name)

    def signer(self, now: datetime | None = None) -> "LinkSigner":
        """Signs a batch of links (a page of images) at one time `now` with one set of
        credentials."""
        if self._credentials is None:
            raise NoCredentialsError()
        return LinkSigner(
            self, self._credentials.get_frozen_credentials(), now or datetime.now(UTC)
        )

    def bucket_links(self, bucket: str) -> _BucketLinks:
        links = self._buckets.get(bucket)
        if links is None:
            links = self._buckets[bucket] = self._resolve(bucket)
        return links

    def signing_key(self, secret_key: str, date: str, region: str, service: str) -> bytes:
        return self._keys.key(secret_key, date, region, service)

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    def _resolve(self, bucket: str) -> _BucketLinks:
        probe: str = self._client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": _PROBE_KEY}, ExpiresIn=self._ttl
        )
        parts = urlsplit(probe)
        if not parts.path.endswith("/" + _PROBE_KEY) or parts.hostname is None:
            raise RuntimeError(f"unexpected presigned URL shape from botocore: {probe}")
        credential = parse_qs(parts.query)["X-Amz-Credential"][0]
        _access_key, _date, region, service, _terminator = credential.rsplit("/", 4)
        return _BucketLinks(
            origin=f"{parts.scheme}://{parts.netloc}",
            path_prefix=parts.path.removesuffix(_PROBE_KEY),
            host=signed_host(parts),
            region=region,
            service=service,
        )


class LinkSigner:
    """Presigned GET URLs at one signing time, as botocore's S3SigV4QueryAuth computes them."""

    def __init__(self, links: DownloadLinks, credentials: Any, now: datetime) -> None:
        self._links = links
        self._credentials = credentials
        self._timestamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        # Per bucket: (bucket's links, URL query, canonical query, credential scope, signing key).
        self._buckets: dict[str, tuple[_BucketLinks, str, str, str, bytes]] = {}

    def url_for(self, bucket: str, key: str, *, download_name: str | None = None) -> str:
        """A GET link to `key`; with `download_name`, S3 answers it with a Content-Disposition
        that saves the bytes under that name (response-content-disposition)."""
        signing = self._buckets.get(bucket)
        if signing is None:
            signing = self._buckets[bucket] = self._for_bucket(bucket)
        links, query, canonical_query, scope, signing_key = signing
        if download_name is not None:
            # botocore writes it first in the URL; sorted, it signs after the X-Amz-* ones.
            disposition = "response-content-disposition=" + quote(
                content_disposition(download_name), safe="-_.~"
            )
            query = f"{disposition}&{query}"
            canonical_query = f"{canonical_query}&{disposition}"
        # S3 signs the path as sent, not normalised; botocore quotes keys keeping '/' and '~'.
        path = links.path_prefix + (key if _NEEDS_NO_QUOTING(key) else quote(key, safe="/~"))
        canonical_request = (
            f"GET\n{path}\n{canonical_query}\nhost:{links.host}\n\nhost\nUNSIGNED-PAYLOAD"
        )
        string_to_sign = (
            f"{ALGORITHM}\n{self._timestamp}\n{scope}\n"
            f"{hashlib.sha256(canonical_request.encode()).hexdigest()}"
        )
        signature = hmac.digest(signing_key, string_to_sign.encode(), "sha256").hex()
        return f"{links.origin}{path}?{query}&X-Amz-Signature={signature}"

    def _for_bucket(self, bucket: str) -> tuple[_BucketLinks, str, str, str, bytes]:
        links = self._links.bucket_links(bucket)
        date = self._timestamp[:8]
        scope = f"{date}/{links.region}/{links.service}/aws4_request"
        params = [
            ("X-Amz-Algorithm", ALGORITHM),
            ("X-Amz-Credential", f"{self._credentials.access_key}/{scope}"),
            ("X-Amz-Date", self._timestamp),
            ("X-Amz-Expires", str(self._links.ttl_seconds)),
            ("X-Amz-SignedHeaders", "host"),
        ]
        if self._credentials.token is not None:
            params.append(("X-Amz-Security-Token", self._credentials.token))
        encoded = [(name, quote(value, safe="-_.~")) for name, value in params]
        # The URL keeps botocore's order; the signed (canonical) query is sorted.
        query = "&".join(f"{name}={value}" for name, value in encoded)
        canonical_query = "&".join(f"{name}={value}" for name, value in sorted(encoded))
        signing_key = self._links.signing_key(
            self._credentials.secret_key, date, links.region, links.service
        )
        return links, query, canonical_query, scope, signing_key


def content_disposition(name: str) -> str:
    """`attachment` under the file's own name: RFC 6266's `filename*` carries it whole (UTF-8),
    `filename` a plain ASCII stand-in for old clients. Only the last path segment is kept, and
    nothing that could end the header or the quoted string."""
    name = "".join(c for c in name if c.isprintable())
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "image"
    fallback = "".join(c if c.isascii() and c not in {'"', ";"} else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
