"""Public S3-compatible buckets: a bucket (or a prefix of one) that anyone may list and read,
on Amazon S3, Google Cloud Storage's XML API, or any S3-compatible server. This is the
source's registry entry: its settings, the check of a link's host, and its `SourceSpec`; which
links are buckets, and what each names, is `public_s3_links`.

Whatever the host, it is reached only at addresses the address policy allows
(`domain.address_policy`), plus PUBLIC_S3_ALLOWED_NETWORKS: a link cannot make the worker read
the machine's own network. The API resolves a link's host when it accepts an import or a sync
(`check_bucket_host`, the registry's `check_locator`) and the worker at each connection.
Amazon's and Google's own endpoints are not looked up by the API: they are public by name.
"""

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain import address_policy
from domain.sources import public_s3_links

# The locator and the endpoints are named here too: the worker and the tests take them from
# the source's module.
from domain.sources.public_s3_links import AWS_ENDPOINT as AWS_ENDPOINT
from domain.sources.public_s3_links import GCS_ENDPOINT as GCS_ENDPOINT
from domain.sources.public_s3_links import PublicS3Folder as PublicS3Folder
from domain.sources.public_s3_links import endpoint_base
from domain.sources.registry import Capabilities, InvalidLink, ReadingMode, SourceSpec

NAME = "public_s3"
ALLOWED_NETWORKS_SETTING = "PUBLIC_S3_ALLOWED_NETWORKS"


class PublicS3Settings(BaseSettings):
    """PUBLIC_S3_ENDPOINTS, PUBLIC_S3_ALLOWED_NETWORKS."""

    model_config = SettingsConfigDict(env_prefix="PUBLIC_S3_", env_file=".env", extra="ignore")

    # S3-compatible endpoints besides Amazon's and Google's (comma-separated base URLs, e.g.
    # `https://s3.wasabisys.com, https://minio.example.org:9000`) whose plain links are read
    # as buckets, path style `https://host/bucket/prefix/` or `https://bucket.host/prefix/`.
    # The API and the worker should list the same.
    endpoints: Annotated[list[str], NoDecode] = []
    # Networks (CIDR, comma-separated) a bucket's host may be reached at although they are not
    # public (loopback, private, link-local...): for a local S3 server in development and tests.
    allowed_networks: Annotated[list[str], NoDecode] = []

    @field_validator("endpoints", "allowed_networks", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return address_policy.comma_separated(value)

    @field_validator("endpoints")
    @classmethod
    def _base_urls(cls, value: list[str]) -> list[str]:
        return [endpoint_base(item) for item in value]

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        address_policy.parse_networks(value, setting=ALLOWED_NETWORKS_SETTING)
        return value

    def networks(self) -> tuple[address_policy.IPNetwork, ...]:
        return address_policy.parse_networks(self.allowed_networks)


def claims_link(text: str, host: str) -> bool:
    """Whether the link is a bucket's (see `public_s3_links`), offline."""
    return public_s3_links.claims_link(text, host, _configured_endpoints)


def parse_link(url: str) -> PublicS3Folder:
    """Every form of a public bucket's link (see `public_s3_links`); raise InvalidLink saying
    what is wrong."""
    return public_s3_links.parse_link(url, _configured_endpoints)


def _configured_endpoints() -> list[str]:
    return PublicS3Settings().endpoints


async def check_bucket_host(folder: PublicS3Folder) -> None:
    """The host of a bucket on an endpoint the link or the operator named, resolved without
    blocking, must be at addresses the policy allows (`SourceSpec.check_locator`); InvalidLink
    naming PUBLIC_S3_ALLOWED_NETWORKS otherwise."""
    if folder.endpoint in {AWS_ENDPOINT, GCS_ENDPOINT}:
        return
    parts = urlsplit(folder.endpoint)
    try:
        await address_policy.check_submitted_host(
            parts.hostname or "",
            parts.port or (443 if parts.scheme == "https" else 80),
            PublicS3Settings().networks(),
            setting=ALLOWED_NETWORKS_SETTING,
            what="the bucket",
        )
    except address_policy.RefusedAddress as exc:
        raise InvalidLink(str(exc)) from None


SPEC = SourceSpec(
    name=NAME,
    display_name="Public S3 bucket",
    link_examples=(
        "s3://<bucket>/<prefix>/",
        "https://<bucket>.s3.<region>.amazonaws.com/<prefix>/",
        "https://storage.googleapis.com/<bucket>/<prefix>/",
        "gs://<bucket>/<prefix>/",
        "s3+https://<host>[:<port>]/<bucket>/<prefix>/",
        "https://<host listed in PUBLIC_S3_ENDPOINTS>/<bucket>/<prefix>/",
    ),
    claims_link=claims_link,
    parse_link=parse_link,
    locator_type=PublicS3Folder,
    accepts_password=False,
    modes=(
        ReadingMode(
            name="anonymous",
            description=(
                "the S3 API without credentials (ListObjectsV2, GetObject); MD5 from "
                "single-part ETags, every ETag as the object's version"
            ),
            capabilities=Capabilities(
                sizes_known=True,
                checksums=("md5",),
                paged_listing=True,
                needs_credentials=False,
                versions_known=True,
            ),
        ),
    ),
    settings_type=PublicS3Settings,
    connector="worker.sources.public_s3:build_connector",
    check_locator=check_bucket_host,
)
