"""Download links are signed without botocore's per-URL machinery: they must be, byte for byte,
the links botocore's `generate_presigned_url` makes for the same key, credentials and time."""

from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.auth
import pytest

from api.settings import Settings
from api.storage import download_links
from domain.s3_signing import DownloadLinks

SIGNED_AT = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)

KEYS = [
    "google_drive/1AbCdEfGhIjKlMnOpQrStUvWxYz0123456",
    # The worker quotes Dropbox ids ("id:...") into keys, so keys hold '%'.
    "dropbox/id%3Aa4ayc_80_OEAAAAAAAAAXw",
    "a b+c~d&e=f?g#h;i,j'k(l)m*n!o$p@q:r/ü/🙂.png",
    "/leading//double/trailing/",
    "UPPER/lower.JPG",
]

ENDPOINTS = [
    # SeaweedFS or MinIO on a port, as in development and the tests.
    ("http://127.0.0.1:8333", "us-east-1"),
    # AWS itself: botocore picks the endpoint and the signing region.
    (None, "us-east-1"),
    (None, "eu-west-3"),
    # A default port is written into the URL but not into the signed Host.
    ("https://s3.example.com:443", "eu-central-1"),
    ("https://Objects.Example.com/", "auto"),
]


def botocore_url(links: DownloadLinks, bucket: str, key: str, at: datetime, ttl: int) -> str:
    """What botocore itself presigns with the same client, at the same time."""
    client: Any = links._client
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            botocore.auth, "get_current_datetime", lambda *_, **__: at.replace(tzinfo=None)
        )
        url: str = client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=ttl
        )
    return url


@pytest.mark.parametrize(("endpoint", "region"), ENDPOINTS)
def test_links_are_the_ones_botocore_presigns(endpoint: str | None, region: str) -> None:
    links = download_links(
        Settings(
            s3_endpoint_url=endpoint,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            aws_region=region,
            download_url_ttl_seconds=900,
        )
    )
    signer = links.signer(SIGNED_AT)
    for bucket in ("images", "other-bucket"):
        for key in KEYS:
            assert signer.url_for(bucket, key) == botocore_url(links, bucket, key, SIGNED_AT, 900)


def test_links_carry_a_session_token_as_botocore_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # Temporary credentials (a role's, say) come from botocore's chain with their token.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret/with+chars")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjE+/token==")
    links = download_links(
        Settings(aws_access_key_id=None, aws_secret_access_key=None, aws_region="eu-west-1")
    )
    url = links.signer(SIGNED_AT).url_for("images", KEYS[0])

    assert "X-Amz-Security-Token=IQoJb3JpZ2luX2VjE%2B%2Ftoken%3D%3D" in url
    assert url == botocore_url(links, "images", KEYS[0], SIGNED_AT, 3600)


def test_the_signing_key_follows_the_date() -> None:
    # The key is derived once per day: links of the next day must use the next day's key.
    links = download_links(
        Settings(
            s3_endpoint_url="http://127.0.0.1:8333",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
        )
    )
    for at in (SIGNED_AT, SIGNED_AT + timedelta(seconds=3), SIGNED_AT + timedelta(days=40)):
        assert links.signer(at).url_for("images", KEYS[1]) == botocore_url(
            links, "images", KEYS[1], at, 3600
        )
