"""The links of public buckets, and the folder (`PublicS3Folder`) each names: the link forms on
their own, offline, apart from the source's registry entry (`public_s3.py`) and its settings,
whose PUBLIC_S3_ENDPOINTS reach the parsing as `endpoints`, read only when a plain link's host
is neither Amazon's nor Google's.

How a link is recognised, without taking another source's links:
- `s3://bucket/prefix/` is Amazon S3 (as the AWS CLI and rclone read it), `gs://bucket/prefix/`
  is Google Cloud Storage;
- `https://` links to Amazon's and Google's own hosts, in their virtual-hosted and path-style
  forms (and the consoles' browse links);
- any other host only when it is named: either in the link itself, `s3+https://host[:port]/
  bucket/prefix/` (path style), or by the operator in PUBLIC_S3_ENDPOINTS, whose hosts' plain
  `https://host/bucket/prefix/` links (and `https://bucket.host/prefix/`) are then buckets. A
  plain link to an unnamed host is never guessed to be S3: it could be any web server's, or
  another source's (a Nextcloud share, `https://host/s/<token>`, looks like bucket `s`).
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

from domain.sources.links import single
from domain.sources.records import FolderRef
from domain.sources.registry import InvalidLink, split_link

# The base URLs of PUBLIC_S3_ENDPOINTS, asked for when a link needs them.
ConfiguredEndpoints = Callable[[], Sequence[str]]

AWS_HOST = "s3.amazonaws.com"
GCS_HOST = "storage.googleapis.com"
AWS_ENDPOINT = f"https://{AWS_HOST}"
GCS_ENDPOINT = f"https://{GCS_HOST}"
# An S3 key is at most 1,024 bytes of UTF-8, so a prefix is too.
MAX_PREFIX_BYTES = 1024
# Amazon's hosts: `<bucket>.s3[.-]<region>.amazonaws.com` (virtual-hosted, legacy dash and
# dualstack forms, the website endpoint) and the same without a bucket (path style).
_AWS = re.compile(
    r"^(?:(?P<bucket>.+)\.)?s3(?:-website)?"
    r"(?:[.-](?:dualstack\.)?(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+))?\.amazonaws\.com$"
)
_AWS_CONSOLE = "s3.console.aws.amazon.com"
_GCS_CONSOLE = "console.cloud.google.com"
# Permissive on purpose: S3 allows 3-63 of [a-z0-9.-], Google Cloud Storage up to 222 with `_`,
# and older S3-compatible servers upper case; the server says no to a name it does not have.
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,220}[A-Za-z0-9]$")
_EXPLICIT_SCHEMES = {"s3+https": "https", "s3+http": "http"}
_FORMS = (
    "s3://<bucket>/<prefix>/, https://<bucket>.s3.<region>.amazonaws.com/<prefix>/, "
    "https://storage.googleapis.com/<bucket>/<prefix>/ or s3+https://<host>/<bucket>/<prefix>/"
)


@dataclass(frozen=True)
class PublicS3Folder:
    # `<host>/<bucket>/<prefix>`: one live import per folder, whichever form the link had
    # (every Amazon link's host is `s3.amazonaws.com`, Google's `storage.googleapis.com`).
    folder_id: str
    # The S3 API's base URL, `https://s3.amazonaws.com` for Amazon (the worker finds the
    # bucket's region), `https://storage.googleapis.com`, or another server's.
    endpoint: str
    bucket: str
    # `""` for the whole bucket, else ending with `/`: a folder, never part of a name.
    prefix: str
    # Amazon's region, when the link named it.
    region: str | None = None

    def root(self) -> FolderRef:
        return FolderRef(self.folder_id)

    @property
    def base_id(self) -> str:
        """The folder id of the bucket's root: a subfolder's id is this and its prefix."""
        return self.folder_id[: len(self.folder_id) - len(self.prefix)]

    @property
    def is_aws(self) -> bool:
        return self.endpoint == AWS_ENDPOINT


def endpoint_base(url: str) -> str:
    """`https://Host:9000/` → `https://host:9000`; ValueError for what is no http(s) base URL."""
    parts, host = split_link(url.strip())
    if parts.scheme not in {"http", "https"} or not host or parts.path.strip("/"):
        raise ValueError(f"PUBLIC_S3_ENDPOINTS: {url!r} is not a base URL (https://host[:port])")
    return f"{parts.scheme}://{_netloc(host, parts.port)}"


def claims_link(text: str, host: str, endpoints: ConfiguredEndpoints) -> bool:
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in {"s3", "gs", *_EXPLICIT_SCHEMES}:
        return True
    if scheme not in {"http", "https", ""}:
        return False
    if _AWS.match(host) or host in {GCS_HOST, _AWS_CONSOLE} or host.endswith(f".{GCS_HOST}"):
        return True
    if host == _GCS_CONSOLE:
        return "/storage/browser/" in text
    return _listed_endpoint(text, endpoints) is not None


def parse_link(url: str, endpoints: ConfiguredEndpoints) -> PublicS3Folder:
    """Every form of a public bucket's link (see the module's docstring); raise InvalidLink
    saying what is wrong."""
    text = url.strip()
    if not text:
        raise InvalidLink("url is empty: paste the link of a public bucket or a folder in one")
    parts, host = split_link(text)
    scheme = parts.scheme.lower()
    if scheme == "s3":
        # As the AWS CLI and rclone take them: the path is the key prefix, not URL-encoded.
        return _folder(AWS_ENDPOINT, parts.netloc, _raw_path(text))
    if scheme == "gs":
        return _folder(GCS_ENDPOINT, parts.netloc, _raw_path(text))
    if scheme in _EXPLICIT_SCHEMES:
        if not host:
            raise InvalidLink(f"the link names no host: expected {_FORMS}")
        endpoint = f"{_EXPLICIT_SCHEMES[scheme]}://{_netloc(host, parts.port)}"
        return _path_style(endpoint, parts.path)
    if scheme not in {"http", "https"}:
        raise InvalidLink(f"not a bucket link: expected {_FORMS}")
    if match := _AWS.match(host):
        region = match.group("region")
        if match.group("bucket"):
            return _folder(AWS_ENDPOINT, match.group("bucket"), unquote(parts.path), region)
        return _path_style(AWS_ENDPOINT, parts.path, region)
    if host == GCS_HOST:
        return _path_style(GCS_ENDPOINT, parts.path)
    if host.endswith(f".{GCS_HOST}"):
        return _folder(GCS_ENDPOINT, host.removesuffix(f".{GCS_HOST}"), unquote(parts.path))
    if host == _AWS_CONSOLE:
        return _aws_console(parts.path, parse_qs(parts.query))
    if host == _GCS_CONSOLE and "/storage/browser/" in parts.path:
        _, _, rest = parts.path.partition("/storage/browser/")
        return _path_style(GCS_ENDPOINT, "/" + rest)
    listed = _listed_endpoint(text, endpoints)
    if listed is None:
        raise InvalidLink(
            f"{host or '(no host)'} is not a known S3 endpoint: name it in the link "
            "(s3+https://<host>/<bucket>/<prefix>/), or ask the operator to list it in "
            "PUBLIC_S3_ENDPOINTS"
        )
    endpoint, bucket = listed
    if bucket is not None:
        return _folder(endpoint, bucket, unquote(parts.path))
    return _path_style(endpoint, parts.path)


def _aws_console(path: str, query: dict[str, list[str]]) -> PublicS3Folder:
    # https://s3.console.aws.amazon.com/s3/buckets/<bucket>?region=<region>&prefix=<prefix>
    segments = [segment for segment in path.split("/") if segment]
    if segments[:2] != ["s3", "buckets"] or len(segments) != 3:
        raise InvalidLink(
            "not a bucket's page of the S3 console: expected "
            "https://s3.console.aws.amazon.com/s3/buckets/<bucket>?prefix=<prefix>"
        )
    return _folder(
        AWS_ENDPOINT, segments[2], single(query, "prefix") or "", single(query, "region")
    )


def _path_style(endpoint: str, path: str, region: str | None = None) -> PublicS3Folder:
    bucket, _, prefix = path.lstrip("/").partition("/")
    return _folder(endpoint, unquote(bucket), unquote(prefix), region)


def _folder(endpoint: str, bucket: str, prefix: str, region: str | None = None) -> PublicS3Folder:
    if not bucket:
        raise InvalidLink(f"the link names no bucket: expected {_FORMS}")
    if not _BUCKET.match(bucket):
        raise InvalidLink(
            f"{bucket!r} is not a bucket name: 3 to 222 letters, digits, dots, hyphens or "
            "underscores, starting and ending with a letter or digit"
        )
    prefix = prefix.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # a folder: `photos` must not take in `photos-old/`
    if len(prefix.encode()) > MAX_PREFIX_BYTES:
        raise InvalidLink(f"the link's prefix is longer than S3's {MAX_PREFIX_BYTES} bytes")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in prefix):
        raise InvalidLink("the link's prefix contains control characters")
    host = endpoint.split("://", 1)[1]
    return PublicS3Folder(
        folder_id=f"{host}/{bucket}/{prefix}",
        endpoint=endpoint,
        bucket=bucket,
        prefix=prefix,
        region=region if endpoint == AWS_ENDPOINT else None,
    )


def _raw_path(text: str) -> str:
    """The path of an `s3://` or `gs://` link as typed (`%` and `?` are part of a key)."""
    rest = text.split("://", 1)[1]
    _, _, path = rest.partition("/")
    return path


def _listed_endpoint(text: str, endpoints: ConfiguredEndpoints) -> tuple[str, str | None] | None:
    """The PUBLIC_S3_ENDPOINTS base URL a plain link is on, and the bucket when the link is
    virtual-hosted (`https://bucket.host/...`); None for a host not listed there."""
    try:
        parts, host = split_link(text)
        port = parts.port
    except (InvalidLink, ValueError):
        return None
    if parts.scheme not in {"http", "https"} or not host:
        return None
    netloc = _netloc(host, port)
    for endpoint in endpoints():
        scheme, _, listed = endpoint.partition("://")
        if scheme != parts.scheme:
            continue
        if netloc == listed:
            return endpoint, None
        if netloc.endswith(f".{listed}"):
            return endpoint, netloc.removesuffix(f".{listed}")
    return None


def _netloc(host: str, port: int | None) -> str:
    name = f"[{host}]" if ":" in host else host
    return f"{name}:{port}" if port else name
