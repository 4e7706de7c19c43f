"""S3's signatures, computed here rather than by a botocore call per request: presigned download
links (the api's) and signed requests (the worker's single PUTs, GETs, DELETEs and probes).

Both are SigV4 as botocore computes it (the tests compare them byte for byte); botocore still
resolves what it alone knows (endpoint rules, credentials from its chain).
"""

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult, parse_qs, quote, urlsplit

import boto3
from botocore.auth import SIGNED_HEADERS_BLACKLIST
from botocore.config import Config
from botocore.exceptions import NoCredentialsError


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


class RequestSigner:
    """SigV4 headers for a request to S3 sent by our own HTTP client, byte for byte those of
    botocore's S3SigV4Auth (the tests compare them), with the payload unsigned (a Content-MD5 or
    the part's checksum protects the bytes instead).

    Computed here because botocore's way costs about 0.2 CPU-ms a request (an AWSRequest, its
    header map built twice, the four HMACs of the signing key, every time), a tenth of what a
    whole small file costs the worker: the signing key is derived once a day, the Host of an
    endpoint once, and a request costs one SHA-256 and one HMAC. botocore still gives the
    credentials (static, or refreshed from its chain)."""

    def __init__(self, account: S3Account, service: str = "s3") -> None:
        # Static, or refreshed by botocore (a role's, say).
        self._credentials: Any = account.session().get_credentials()
        self._region = account.region
        self._service = service
        self._keys = SigningKeys()
        self._hosts: dict[str, str] = {}

    def headers(
        self, method: str, url: str, headers: dict[str, str], *, now: datetime | None = None
    ) -> dict[str, str]:
        """`headers` and the authorization for `method url`; NoCredentialsError without any."""
        if self._credentials is None:
            raise NoCredentialsError()
        credentials = self._credentials.get_frozen_credentials()
        timestamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        date = timestamp[:8]
        parts = urlsplit(url)
        signed = {
            name: value for name, value in headers.items() if name.lower() not in _UNSIGNED_HEADERS
        }
        signed["X-Amz-Date"] = timestamp
        if credentials.token:
            signed["X-Amz-Security-Token"] = credentials.token
        signed["X-Amz-Content-SHA256"] = _UNSIGNED_PAYLOAD
        canonical = {name.lower(): " ".join(value.split()) for name, value in signed.items()}
        if "host" not in canonical:
            canonical["host"] = self._host(parts.scheme, parts.netloc)
        names = sorted(canonical)
        signed_names = ";".join(names)
        canonical_request = "\n".join(
            (
                method.upper(),
                # S3 signs the path as sent, not normalised.
                parts.path,
                _canonical_query(parts.query),
                "".join(f"{name}:{canonical[name]}\n" for name in names),
                signed_names,
                _UNSIGNED_PAYLOAD,
            )
        )
        scope = f"{date}/{self._region}/{self._service}/aws4_request"
        string_to_sign = (
            f"{_ALGORITHM}\n{timestamp}\n{scope}\n"
            f"{hashlib.sha256(canonical_request.encode()).hexdigest()}"
        )
        key = self._keys.key(credentials.secret_key, date, self._region, self._service)
        signature = hmac.digest(key, string_to_sign.encode(), "sha256").hex()
        result = {**headers, **signed}
        result["Authorization"] = (
            f"{_ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )
        return result

    def _host(self, scheme: str, netloc: str) -> str:
        host = self._hosts.get(netloc)
        if host is None:
            host = self._hosts[netloc] = _signed_host(urlsplit(f"{scheme}://{netloc}"))
        return host


# What botocore leaves out of a signature (SIGNED_HEADERS_BLACKLIST), and the payload's stand-in.
_UNSIGNED_HEADERS = frozenset(SIGNED_HEADERS_BLACKLIST)
_UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


def _canonical_query(query: str) -> str:
    """The URL's query as botocore signs it: its pairs as written, sorted."""
    if not query:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&"))
    return "&".join(f"{name}={value}" for name, value in pairs)


def _signed_host(parts: SplitResult) -> str:
    """The Host a signature covers: the name lowercased, in brackets for IPv6, with its port
    unless it is the scheme's default."""
    hostname = parts.hostname or ""
    host = f"[{hostname}]" if ":" in hostname else hostname
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


_ALGORITHM = "AWS4-HMAC-SHA256"
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
            host=_signed_host(parts),
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
            f"{_ALGORITHM}\n{self._timestamp}\n{scope}\n"
            f"{hashlib.sha256(canonical_request.encode()).hexdigest()}"
        )
        signature = hmac.digest(signing_key, string_to_sign.encode(), "sha256").hex()
        return f"{links.origin}{path}?{query}&X-Amz-Signature={signature}"

    def _for_bucket(self, bucket: str) -> tuple[_BucketLinks, str, str, str, bytes]:
        links = self._links.bucket_links(bucket)
        date = self._timestamp[:8]
        scope = f"{date}/{links.region}/{links.service}/aws4_request"
        params = [
            ("X-Amz-Algorithm", _ALGORITHM),
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
