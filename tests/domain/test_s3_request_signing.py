"""The worker's S3 requests are signed without botocore's per-request machinery: their headers
must be, byte for byte, those botocore's S3SigV4Auth adds for the same request, credentials and
time."""

from datetime import UTC, datetime

import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config

from domain.s3_signing import RequestSigner, S3Account

SIGNED_AT = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)

REQUESTS = [
    (
        "PUT",
        "http://127.0.0.1:8333/images/google_drive/1AbCdEf",
        {"Content-Type": "image/jpeg", "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="},
    ),
    # Keys are quoted once on the wire and hold '%' themselves (Dropbox ids).
    (
        "PUT",
        "https://s3.eu-west-3.amazonaws.com/images/dropbox/id%253Aa4ayc_80",
        {"Content-Type": "image/png", "Content-MD5": "  spaced   value  "},
    ),
    ("GET", "http://[::1]:9000/images/a%20b/%F0%9F%99%82.png", {}),
    ("DELETE", "https://Objects.Example.com:443/other-bucket/x~y", {}),
    ("HEAD", "http://localhost:8333/images", {"User-Agent": "not signed"}),
    ("GET", "http://localhost/images?uploads&partNumber=2&a=b", {}),
]


def botocore_headers(
    account: S3Account, method: str, url: str, headers: dict[str, str]
) -> dict[str, str]:
    """What botocore's own signer adds for the worker's configuration (payload unsigned)."""
    credentials = account.session().get_credentials()
    assert credentials is not None
    request = AWSRequest(method=method, url=url, headers=headers)
    request.context["client_config"] = Config(
        signature_version="s3v4", s3={"payload_signing_enabled": False}
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            botocore.auth,
            "get_current_datetime",
            lambda *_, **__: SIGNED_AT.replace(tzinfo=None),
        )
        botocore.auth.S3SigV4Auth(
            credentials.get_frozen_credentials(), "s3", account.region
        ).add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize(("method", "url", "headers"), REQUESTS)
@pytest.mark.parametrize("region", ["us-east-1", "eu-west-3"])
def test_request_headers_are_the_ones_botocore_signs(
    method: str, url: str, headers: dict[str, str], region: str
) -> None:
    account = S3Account(
        endpoint_url=None,
        region=region,
        access_key_id="AKIDEXAMPLE",
        secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    )
    signer = RequestSigner(account)
    # Twice: the second signature comes from the signing key kept from the first.
    for _ in range(2):
        signed = signer.headers(method, url, dict(headers), now=SIGNED_AT)
        assert signed == botocore_headers(account, method, url, dict(headers))


def test_requests_carry_a_session_token_as_botocore_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret/with+chars")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjE+/token==")
    account = S3Account(endpoint_url=None, region="eu-west-1")
    method, url, headers = REQUESTS[0]
    signed = RequestSigner(account).headers(method, url, dict(headers), now=SIGNED_AT)

    assert signed["X-Amz-Security-Token"] == "IQoJb3JpZ2luX2VjE+/token=="
    assert signed == botocore_headers(account, method, url, dict(headers))


def test_a_new_day_signs_with_that_day_s_key() -> None:
    account = S3Account(None, "us-east-1", "AKIDEXAMPLE", "secret")
    signer = RequestSigner(account)
    method, url, headers = REQUESTS[0]
    signer.headers(method, url, dict(headers), now=SIGNED_AT)
    next_day = signer.headers(
        method, url, dict(headers), now=datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC)
    )

    assert "Credential=AKIDEXAMPLE/20260302/us-east-1/s3/aws4_request" in next_day["Authorization"]
